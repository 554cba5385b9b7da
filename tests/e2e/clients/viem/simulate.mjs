// viem's publicClient.simulateBlocks (eth_simulateV1) against the node at NODE_URL: two
// simulated blocks with block and state overrides (balance, code, storage), ETH transfers with
// traceTransfers, a call reading state the previous block left, a revert; then checks that
// nothing of it reached the real chain.
import { parseEther } from "viem";

import { COUNTER_CODE, assert, check, publicClient as client, report, word } from "./lib.mjs";

const SENDER = "0x5e11de0000000000000000000000000000000001";
const RECIPIENT = "0x5e11de0000000000000000000000000000000002";
const COUNTER = "0x5e11de00000000000000000000000000000000c0";
const MAX = 2n ** 256n - 1n;
// ERC-7528's pseudo-address, the emitter of the logs traceTransfers adds for ETH transfers.
const ETH_TRANSFER_EMITTER = "0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";

const head = await client.getBlock({ blockTag: "latest" });
const time = head.timestamp + 1_000n;

let blocks;
await check("simulateBlocks answers three blocks", async () => {
  blocks = await client.simulateBlocks({
    traceTransfers: true,
    blocks: [
      {
        blockOverrides: { time },
        stateOverrides: [
          { address: SENDER, balance: parseEther("1") },
          { address: COUNTER, code: COUNTER_CODE, stateDiff: [{ slot: word(0), value: word(41) }] },
        ],
        calls: [
          { account: SENDER, to: RECIPIENT, value: 1000n },
          { to: COUNTER, data: "0x" },
          { account: SENDER, to: COUNTER, data: "0x01" },
        ],
      },
      {
        calls: [
          { to: COUNTER, data: "0x" },
          { account: SENDER, to: RECIPIENT, value: 2000n },
        ],
      },
      {
        stateOverrides: [{ address: COUNTER, stateDiff: [{ slot: word(0), value: word(MAX) }] }],
        calls: [{ account: SENDER, to: COUNTER, data: "0x01" }],
      },
    ],
  });
  assert.equal(blocks.length, 3);
});

await check("simulated blocks follow the head, with the overridden timestamp", async () => {
  // geth numbers the first simulated block head + 1; anvil 1.7.1 gives it the head's own
  // number (an anvil quirk, checked so the test notices if that changes).
  const first = process.env.E2E_NODE === "anvil" ? head.number : head.number + 1n;
  assert.equal(blocks[0].number, first);
  assert.equal(blocks[1].number, first + 1n);
  assert.equal(blocks[2].number, first + 2n);
  assert.equal(blocks[0].timestamp, time);
  assert.ok(blocks[1].timestamp > time);
  if (process.env.E2E_NODE !== "anvil") {
    // anvil 1.7.1 leaves simulated blocks' parentHash zero; geth chains them.
    assert.equal(blocks[1].parentHash, blocks[0].hash);
  }
});

await check("calls run against the overridden balance, code and storage", async () => {
  const [transfer, read, increment] = blocks[0].calls;
  assert.equal(transfer.status, "success");
  assert.equal(read.status, "success");
  assert.equal(read.data, word(41));
  assert.equal(increment.status, "success");
  assert.equal(increment.data, word(42));
  assert.ok(increment.gasUsed > 21_000n);
});

await check("traceTransfers adds an ERC-7528 Transfer log for the ETH transfer", async () => {
  const [log] = blocks[0].calls[0].logs;
  assert.equal(log.address.toLowerCase(), ETH_TRANSFER_EMITTER);
  assert.equal(BigInt(log.topics[1]), BigInt(SENDER));
  assert.equal(BigInt(log.topics[2]), BigInt(RECIPIENT));
  assert.equal(BigInt(log.data), 1000n);
});

await check("a later block sees the state the earlier one left", async () => {
  const [read, transfer] = blocks[1].calls;
  assert.equal(read.data, word(42));
  assert.equal(transfer.status, "success");
});

await check("a reverting call is reported as a failure", async () => {
  const [overflow] = blocks[2].calls;
  assert.equal(overflow.status, "failure");
});

await check("nothing reached the real chain", async () => {
  assert.equal(await client.getBlockNumber({ cacheTime: 0 }), head.number);
  assert.equal(await client.getBalance({ address: RECIPIENT }), 0n);
  assert.equal(await client.getCode({ address: COUNTER }), undefined);
});

report();
