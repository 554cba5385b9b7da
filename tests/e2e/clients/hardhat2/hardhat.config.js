// Hardhat 2 project that tests/e2e/clients/test_clients.py runs against an external node
// (never Hardhat's in-process network): `hardhat test --network external test/Lock.js`,
// `hardhat test --network externalRemote test/Helpers.js` and
// `hardhat ignition deploy ignition/modules/Lock.js --network external`, with NODE_URL pointing
// at the node under test (always http://127.0.0.1:<port>) and E2E_NODE naming it.
//
// Compilation is offline: the solc build subtask is overridden to answer with the pinned npm
// solc-js (soljson.js, solc 0.8.30) instead of downloading from binaries.soliditylang.org.
require("@nomicfoundation/hardhat-chai-matchers");
require("@nomicfoundation/hardhat-ethers");
require("@nomicfoundation/hardhat-ignition-ethers");

const { subtask } = require("hardhat/config");
const { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } = require("hardhat/builtin-tasks/task-names");

const SOLC_VERSION = "0.8.30";

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args, _hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) {
    return runSuper(args);
  }
  const solc = require("solc");
  return {
    compilerPath: require.resolve("solc/soljson.js"),
    isSolcJs: true,
    version: args.solcVersion,
    longVersion: solc.version(),
  };
});

const url = process.env.NODE_URL || "http://127.0.0.1:8545";
if (!/^http:\/\/127\.0\.0\.1:\d+\/?$/.test(url)) {
  throw new Error(`NODE_URL must be http://127.0.0.1:<port>, got ${url}`);
}

module.exports = {
  solidity: SOLC_VERSION,
  networks: {
    external: {
      url,
      chainId: 31337,
      accounts: { mnemonic: "test test test test test test test test test test test junk" },
      timeout: 60_000,
    },
    // The same node, with the node's own accounts (the same mnemonic's, unlocked there):
    // transactions go out as eth_sendTransaction, which is also how an impersonated account
    // sends (a local-accounts network refuses a sender it has no key for, HH103).
    externalRemote: {
      url,
      chainId: 31337,
      accounts: "remote",
      timeout: 60_000,
    },
  },
  mocha: { timeout: 60_000 },
};
