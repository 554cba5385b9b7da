// Shared by the viem scripts: the clients on NODE_URL (only ever http://127.0.0.1:<port>), a
// check recorder, and a tiny hand-assembled contract used with setCode / state overrides.
import assert from "node:assert/strict";

import { createPublicClient, createTestClient, createWalletClient, http, publicActions, walletActions } from "viem";
import { foundry } from "viem/chains";

export const url = process.env.NODE_URL ?? "";
if (!/^http:\/\/127\.0\.0\.1:\d+\/?$/.test(url)) {
  throw new Error(`NODE_URL must be http://127.0.0.1:<port>, got ${JSON.stringify(url)}`);
}

const chain = { ...foundry, rpcUrls: { default: { http: [url] } } };
const transport = http(url, { retryCount: 0, timeout: 30_000 });

export const testClient = createTestClient({ chain, mode: "anvil", transport })
  .extend(publicActions)
  .extend(walletActions);
export const publicClient = createPublicClient({ chain, transport });
export const walletClient = createWalletClient({ chain, transport });

// The first accounts of `test test ... junk`, unlocked on the node.
export const DEV0 = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";
export const DEV1 = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";
export const DEV2 = "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc";

// Runtime code: every call returns slot 0 as a word; a call with calldata first increments
// slot 0 (and reverts with empty data if that overflows). No constructor: use with setCode or
// state overrides only.
//   PUSH0 SLOAD CALLDATASIZE ISZERO PUSH1 0x12 JUMPI PUSH1 1 ADD DUP1 ISZERO PUSH1 0x19 JUMPI
//   DUP1 PUSH0 SSTORE JUMPDEST PUSH0 MSTORE PUSH1 0x20 PUSH0 RETURN JUMPDEST PUSH0 PUSH0 REVERT
export const COUNTER_CODE = "0x5f5436156012576001018015601957805f555b5f5260205ff35b5f5ffd";

export const word = (n) => `0x${BigInt(n).toString(16).padStart(64, "0")}`;

const done = [];

// check(name, fn): runs one named check; the script exits non-zero on the first failure and
// otherwise prints {"checks": [...names]} last, so the caller can tell every check ran.
export async function check(name, fn) {
  try {
    await fn();
  } catch (error) {
    console.error(`check failed: ${name}`);
    throw error;
  }
  done.push(name);
}

export function report() {
  console.log(JSON.stringify({ checks: done }));
}

export { assert };
