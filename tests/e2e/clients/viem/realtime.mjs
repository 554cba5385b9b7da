// viem over a WebSocket against the node at NODE_URL: watchBlocks (newHeads), watchContractEvent
// (logs), sendRawTransactionSync (EIP-7966); on Hummingbird (E2E_NODE=hummingbird, started with
// --evm-block-time) also MegaETH's miniBlocks subscription, each mini-block's signature checked
// as MegaETH's documentation does it with viem (keccak256 of the RLP of eight header fields,
// recoverAddress) against the SequencerRegistry's sequencerAt(block).
import {
  createPublicClient,
  keccak256,
  parseAbi,
  recoverAddress,
  toBytes,
  toRlp,
  webSocket,
} from "viem";

import { DEV0, DEV1, assert, check, report, testClient, url, walletClient } from "./lib.mjs";

const client = createPublicClient({
  transport: webSocket(url.replace(/^http:/, "ws:"), { retryCount: 0, timeout: 30_000 }),
});
const hummingbird = process.env.E2E_NODE === "hummingbird";
const EMITTER = "0x5e11de00000000000000000000000000000000e1";
const PING = keccak256(toBytes("Ping()"));
// Runtime code: LOG1(0, 0, keccak256("Ping()")) and stop, whatever the calldata.
const EMITTER_CODE = `0x7f${PING.slice(2)}5f5fa100`;
const REGISTRY = "0x6342000000000000000000000000000000000006";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Runs `action` every 250 ms until `done()` holds (20 s at most): a watcher subscribes
// asynchronously, so what is sent before its subscription lands is never delivered.
async function until(done, action, what) {
  const deadline = Date.now() + 20_000;
  while (!done()) {
    assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
    if (action) await action();
    await sleep(250);
  }
}

const send = (to, value = 0n) =>
  walletClient.sendTransaction({ account: DEV0, to, value, chain: null });

await testClient.setCode({ address: EMITTER, bytecode: EMITTER_CODE });

await check("watchBlocks delivers the block holding a send", async () => {
  // newHeads carries headers only: the block is the one numbered as the send's receipt.
  const seen = [];
  const unwatch = client.watchBlocks({ onBlock: (block) => seen.push(block.number) });
  await until(() => seen.length > 0, () => send(DEV1, 1n), "a first block");
  const receipt = await client.waitForTransactionReceipt({ hash: await send(DEV1, 1n) });
  await until(() => seen.includes(receipt.blockNumber), null, `block ${receipt.blockNumber}`);
  unwatch();
});

await check("watchContractEvent delivers the emitted log", async () => {
  const logs = [];
  const unwatch = client.watchContractEvent({
    address: EMITTER,
    abi: parseAbi(["event Ping()"]),
    eventName: "Ping",
    onLogs: (batch) => logs.push(...batch),
  });
  await until(() => logs.length > 0, () => send(EMITTER), "a first Ping log");
  const hash = await send(EMITTER);
  await until(() => logs.some((log) => log.transactionHash === hash), null, "the Ping log");
  const log = logs.find((item) => item.transactionHash === hash);
  assert.equal(log.eventName, "Ping");
  assert.equal(log.topics[0], PING);
  unwatch();
});

await check("sendRawTransactionSync answers with the receipt", async () => {
  const request = await walletClient.prepareTransactionRequest({
    account: DEV0,
    to: DEV1,
    value: 7n,
    chain: null,
  });
  const serializedTransaction = await walletClient.signTransaction({ ...request, chain: null });
  const receipt = await client.sendRawTransactionSync({ serializedTransaction });
  assert.equal(receipt.status, "success");
  assert.equal(receipt.to, DEV1);
});

if (hummingbird) {
  // MegaETH's "minimal" integer: big-endian without leading zeros, zero as the empty string.
  const int = (quantity) => {
    const n = BigInt(quantity);
    if (n === 0n) return "0x";
    const hex = n.toString(16);
    return `0x${hex.length % 2 ? "0" : ""}${hex}`;
  };

  await check("miniBlocks carry the send, signed by sequencerAt(block)", async () => {
    const minis = [];
    await client.transport.subscribe({
      params: ["miniBlocks"],
      onData: (data) => minis.push(data.result),
      onError: () => {},
    });
    const hash = await send(DEV1, 3n);
    const holds = (mb) => mb.transactions.some((tx) => tx.hash === hash);
    await until(() => minis.some(holds), null, "the send's mini-block");
    const mb = minis.find(holds);
    const digest = keccak256(
      toRlp([
        int(mb.block_number),
        int(mb.block_timestamp),
        int(mb.index),
        int(mb.mini_block_number),
        int(mb.mini_block_timestamp),
        int(mb.gas_used),
        mb.transaction_root,
        mb.receipt_root,
      ]),
    );
    const signer = await recoverAddress({
      hash: digest,
      signature: { r: mb.signature.r, s: mb.signature.s, yParity: Number(mb.signature.yParity) },
    });
    const sequencer = await client.readContract({
      address: REGISTRY,
      abi: parseAbi(["function sequencerAt(uint256) view returns (address)"]),
      functionName: "sequencerAt",
      args: [BigInt(mb.block_number)],
    });
    assert.equal(signer.toLowerCase(), sequencer.toLowerCase());
    // Preconfirmed: the receipt is there before the EVM block seals, under the placeholder.
    const receipt = mb.receipts.find((r) => r.transactionHash === hash);
    assert.equal(receipt.blockHash, `0x${"ff".repeat(32)}`);
  });
}

report();
process.exit(0); // the WebSocket would keep the process alive
