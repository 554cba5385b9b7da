// viem's test client in anvil mode (createTestClient({ mode: "anvil" })) against the node at
// NODE_URL: each action, then a read asserting its effect.
//   node test-client.mjs core    the actions every anvil-compatible node is expected to serve
//   node test-client.mjs extras  interval mining, timestamp intervals, txpool inspection,
//                                eth_sendUnsignedTransaction, dumpState/loadState
// viem's reset() is left out: without a fork URL it sends anvil_reset with
// {"forking": {"blockNumber": null}}, which anvil 1.7.1 refuses (-32602 "Forking not enabled");
// Hardhat 2's reset() helper covers hardhat_reset.
import { parseEther } from "viem";

import { COUNTER_CODE, DEV0, DEV1, DEV2, assert, check, report, testClient as client, word } from "./lib.mjs";

const STRANGER = "0x1234567890123456789012345678901234567890";
const WHALE = "0x00000000000000000000000000000000000f00d5";
const CODE_AT = "0x000000000000000000000000000000000000c0de";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const latest = () => client.getBlock({ blockTag: "latest" });

async function core() {
  await check("getAutomine is on at start", async () => {
    assert.equal(await client.getAutomine(), true);
  });

  await check("setBalance", async () => {
    await client.setBalance({ address: STRANGER, value: 123_456_789n });
    assert.equal(await client.getBalance({ address: STRANGER }), 123_456_789n);
  });

  await check("mine", async () => {
    const before = await client.getBlockNumber({ cacheTime: 0 });
    await client.mine({ blocks: 1 });
    assert.equal(await client.getBlockNumber({ cacheTime: 0 }), before + 1n);
  });

  await check("mine with interval", async () => {
    const before = await client.getBlockNumber({ cacheTime: 0 });
    await client.mine({ blocks: 4, interval: 12 });
    assert.equal(await client.getBlockNumber({ cacheTime: 0 }), before + 4n);
    const first = await client.getBlock({ blockNumber: before + 1n });
    const last = await client.getBlock({ blockNumber: before + 4n });
    assert.equal(last.timestamp - first.timestamp, 36n);
  });

  await check("snapshot and revert", async () => {
    const blockBefore = await client.getBlockNumber({ cacheTime: 0 });
    const id = await client.snapshot();
    await client.setBalance({ address: STRANGER, value: 1n });
    // anvil answers a send before its automined block is in (seen once on a loaded machine).
    const hash = await client.sendTransaction({ account: DEV0, to: STRANGER, value: 5n });
    await client.waitForTransactionReceipt({ hash, pollingInterval: 20 });
    assert.equal(await client.getBalance({ address: STRANGER }), 6n);
    await client.revert({ id });
    assert.equal(await client.getBalance({ address: STRANGER }), 123_456_789n);
    assert.equal(await client.getBlockNumber({ cacheTime: 0 }), blockBefore);
  });

  await check("impersonateAccount, sendTransaction, stopImpersonatingAccount", async () => {
    await client.setBalance({ address: WHALE, value: parseEther("5") });
    await assert.rejects(client.sendTransaction({ account: WHALE, to: STRANGER, value: 1n }));
    await client.impersonateAccount({ address: WHALE });
    const hash = await client.sendTransaction({ account: WHALE, to: STRANGER, value: 1000n });
    const receipt = await client.waitForTransactionReceipt({ hash, pollingInterval: 50 });
    assert.equal(receipt.status, "success");
    assert.equal(receipt.from, WHALE);
    assert.equal(await client.getBalance({ address: STRANGER }), 123_457_789n);
    await client.stopImpersonatingAccount({ address: WHALE });
    await assert.rejects(client.sendTransaction({ account: WHALE, to: STRANGER, value: 1n }));
  });

  await check("increaseTime", async () => {
    const before = (await latest()).timestamp;
    await client.increaseTime({ seconds: 3600 });
    await client.mine({ blocks: 1 });
    const after = (await latest()).timestamp;
    assert.ok(after >= before + 3600n && after < before + 3600n + 120n, `${before} -> ${after}`);
  });

  await check("setNextBlockTimestamp", async () => {
    const target = (await latest()).timestamp + 10_000n;
    await client.setNextBlockTimestamp({ timestamp: target });
    await client.mine({ blocks: 1 });
    assert.equal((await latest()).timestamp, target);
  });

  await check("setCode", async () => {
    await client.setCode({ address: CODE_AT, bytecode: COUNTER_CODE });
    assert.equal(await client.getCode({ address: CODE_AT }), COUNTER_CODE);
    assert.equal((await client.call({ to: CODE_AT })).data, word(0));
  });

  await check("setStorageAt", async () => {
    await client.setStorageAt({ address: CODE_AT, index: 0, value: word(41) });
    assert.equal(await client.getStorageAt({ address: CODE_AT, slot: word(0) }), word(41));
    assert.equal((await client.call({ to: CODE_AT })).data, word(41));
    const hash = await client.sendTransaction({ account: DEV0, to: CODE_AT, data: "0x01" });
    await client.waitForTransactionReceipt({ hash, pollingInterval: 50 });
    assert.equal(await client.getStorageAt({ address: CODE_AT, slot: word(0) }), word(42));
  });

  await check("setNonce", async () => {
    await client.setNonce({ address: DEV2, nonce: 300 });
    assert.equal(await client.getTransactionCount({ address: DEV2 }), 300);
    const hash = await client.sendTransaction({ account: DEV2, to: STRANGER, value: 1n });
    const tx = await client.getTransaction({ hash });
    assert.equal(tx.nonce, 300);
  });

  await check("setCoinbase", async () => {
    const coinbase = "0x00000000000000000000000000000000000c01b5";
    await client.setCoinbase({ address: coinbase });
    await client.mine({ blocks: 1 });
    assert.equal((await latest()).miner, coinbase);
  });

  await check("setNextBlockBaseFeePerGas", async () => {
    await client.setNextBlockBaseFeePerGas({ baseFeePerGas: 5_000_000_000n });
    await client.mine({ blocks: 1 });
    assert.equal((await latest()).baseFeePerGas, 5_000_000_000n);
  });

  await check("setBlockGasLimit", async () => {
    await client.setBlockGasLimit({ gasLimit: 20_000_000n });
    await client.mine({ blocks: 1 });
    assert.equal((await latest()).gasLimit, 20_000_000n);
  });

  await check("setAutomine, getAutomine, dropTransaction", async () => {
    await client.setAutomine(false);
    assert.equal(await client.getAutomine(), false);
    const blockBefore = await client.getBlockNumber({ cacheTime: 0 });
    const dropped = await client.sendTransaction({ account: DEV1, to: STRANGER, value: 7n });
    const kept = await client.sendTransaction({ account: DEV0, to: STRANGER, value: 9n });
    assert.equal((await client.getTransaction({ hash: dropped })).blockNumber, null);
    await client.dropTransaction({ hash: dropped });
    await assert.rejects(client.getTransaction({ hash: dropped }));
    const balance = await client.getBalance({ address: STRANGER });
    await client.mine({ blocks: 1 });
    assert.equal(await client.getBlockNumber({ cacheTime: 0 }), blockBefore + 1n);
    const receipt = await client.getTransactionReceipt({ hash: kept });
    assert.equal(receipt.blockNumber, blockBefore + 1n);
    await assert.rejects(client.getTransactionReceipt({ hash: dropped }));
    assert.equal(await client.getBalance({ address: STRANGER }), balance + 9n);
    await client.setAutomine(true);
    assert.equal(await client.getAutomine(), true);
  });
}

async function extras() {
  await check("txpool status, content and inspect", async () => {
    await client.setAutomine(false);
    const hash = await client.sendTransaction({ account: DEV1, to: STRANGER, value: 3n });
    const status = await client.getTxpoolStatus();
    assert.equal(status.pending, 1);
    const content = await client.getTxpoolContent();
    const [pending] = Object.values(content.pending[DEV1] ?? content.pending[Object.keys(content.pending)[0]]);
    assert.equal(pending.hash, hash);
    const inspect = await client.inspectTxpool();
    assert.equal(Object.keys(inspect.pending).length, 1);
    await client.mine({ blocks: 1 });
    assert.equal((await client.getTxpoolStatus()).pending, 0);
    await client.setAutomine(true);
  });

  await check("setIntervalMining", async () => {
    await client.setAutomine(false);
    const before = await client.getBlockNumber({ cacheTime: 0 });
    await client.setIntervalMining({ interval: 1 });
    await sleep(2500);
    const after = await client.getBlockNumber({ cacheTime: 0 });
    assert.ok(after >= before + 1n, `no block mined by interval mining: ${before} -> ${after}`);
    await client.setIntervalMining({ interval: 0 });
    await client.setAutomine(true);
    assert.equal(await client.getAutomine(), true);
  });

  await check("setBlockTimestampInterval, removeBlockTimestampInterval", async () => {
    await client.setBlockTimestampInterval({ interval: 100 });
    await client.mine({ blocks: 1 });
    const a = (await client.getBlock({ blockTag: "latest" })).timestamp;
    await client.mine({ blocks: 1 });
    const b = (await client.getBlock({ blockTag: "latest" })).timestamp;
    assert.equal(b - a, 100n);
    await client.removeBlockTimestampInterval();
    await client.mine({ blocks: 1 });
    const c = (await client.getBlock({ blockTag: "latest" })).timestamp;
    assert.ok(c - b < 100n, `interval still applied: ${b} -> ${c}`);
  });

  await check("sendUnsignedTransaction", async () => {
    await client.setBalance({ address: WHALE, value: parseEther("1") });
    const before = await client.getBalance({ address: STRANGER });
    const hash = await client.sendUnsignedTransaction({ from: WHALE, to: STRANGER, value: 11n });
    const receipt = await client.waitForTransactionReceipt({ hash, pollingInterval: 50 });
    assert.equal(receipt.from, WHALE);
    assert.equal(await client.getBalance({ address: STRANGER }), before + 11n);
  });

  await check("dumpState and loadState", async () => {
    await client.setBalance({ address: STRANGER, value: 555n });
    const state = await client.dumpState();
    assert.match(state, /^0x[0-9a-f]+$/);
    await client.setBalance({ address: STRANGER, value: 777n });
    assert.equal(await client.getBalance({ address: STRANGER }), 777n);
    await client.loadState({ state });
    assert.equal(await client.getBalance({ address: STRANGER }), 555n);
  });
}

const group = process.argv[2];
if (group === "core") {
  await core();
} else if (group === "extras") {
  await extras();
} else {
  throw new Error(`usage: node test-client.mjs core|extras, got ${group}`);
}
report();
