// Hardhat 3 project that tests/e2e/clients/test_clients.py runs against an external node
// (http networks, never an in-process EDR network), with scripts/peers/node22's Node 22:
// `hardhat test nodejs --network externalRemote` and
// `hardhat ignition deploy ignition/modules/Lock.js --network external`, with NODE_URL pointing
// at the node under test (always http://127.0.0.1:<port>) and E2E_NODE naming it.
//
// Compilation is offline: the compiler `path` option points at the pinned npm solc-js
// (soljson.js, solc 0.8.30), so nothing is downloaded from binaries.soliditylang.org.
import { createRequire } from "node:module";

import { defineConfig } from "hardhat/config";
import hardhatEthers from "@nomicfoundation/hardhat-ethers";
import hardhatIgnitionEthers from "@nomicfoundation/hardhat-ignition-ethers";
import hardhatNetworkHelpers from "@nomicfoundation/hardhat-network-helpers";
import hardhatNodeTestRunner from "@nomicfoundation/hardhat-node-test-runner";

const require = createRequire(import.meta.url);

const url = process.env.NODE_URL ?? "http://127.0.0.1:8545";
if (!/^http:\/\/127\.0\.0\.1:\d+\/?$/.test(url)) {
  throw new Error(`NODE_URL must be http://127.0.0.1:<port>, got ${url}`);
}

const MNEMONIC = "test test test test test test test test test test test junk";

export default defineConfig({
  plugins: [hardhatEthers, hardhatIgnitionEthers, hardhatNetworkHelpers, hardhatNodeTestRunner],
  // `test` builds with the default profile, `ignition deploy` with the production one
  // (optimised, isolated); both use this compiler.
  solidity: {
    version: "0.8.30",
    path: require.resolve("solc/soljson.js"),
  },
  networks: {
    // Locally signed transactions (eth_sendRawTransaction) from the mnemonic's accounts.
    external: {
      type: "http",
      chainType: "l1",
      url,
      chainId: 31337,
      accounts: { mnemonic: MNEMONIC },
    },
    // The node's own unlocked accounts (the same mnemonic's): eth_sendTransaction, which is
    // also how an impersonated account sends (local accounts refuse a sender without a key).
    externalRemote: {
      type: "http",
      chainType: "l1",
      url,
      chainId: 31337,
      accounts: "remote",
    },
  },
});
