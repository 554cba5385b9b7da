"""A replica node (issue 18): ``hummingbird replica --follow ws://HOST:PORT``.

Owns the replica's link to its sequencer and what it does not answer itself:

- **Bootstrap**: the sequencer's identity (``GET /``: chain id, hardfork,
  MegaETH mode) and, for an empty database, its genesis block with its diff (the
  replication stream from block 0); a data directory holding another chain is refused.
- **Following** (``ReplicaLink``): the replication stream from the block after the
  replica's head, each block applied with ``Node.apply_replicated`` (its state root
  checked, nothing executed; with ``--verify-execution`` each block is also executed
  again first and must come out the same), each revert with ``Node.revert_replicated``. On a
  reconnection the replica first finds where its chain and the sequencer's part (a
  revert it missed) and rolls back to there.
- **Liveness**: the stream sends a heartbeat every 0.2 s when idle; no message for
  ``STALL_AFTER`` (0.7 s, checked every 0.1 s) marks the sequencer silent (a log line,
  ``eth_syncing`` with the lag, ``/health`` 503) and drops the connection; reconnection
  backs off from 0.1 s to 5 s. A block whose diff does not give its header's root stops
  the link for good (``failed``): the replica keeps serving what it verified and reports
  unhealthy.
- **Forwarding** (``ReplicaRegistry``): sends, signing with the sequencer's dev keys,
  dev methods (``anvil_``/``hardhat_``/``evm_``), the pool (``txpool_``, pending nonces,
  pool transactions) go to the sequencer and come back as it answered (errors too);
  after a forwarded write the replica waits (at most ``CATCH_UP_WAIT``) until it holds
  the sequencer's head, so a client reads its own write from the replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp

from jit import rlp
from rpc.dispatch import Registry, RequestContext
from rpc.errors import RpcError
from sequencer.errors import NodeError, ReplicaMismatch
from sequencer.mini_block_signing import (
    MiniBlockSignature,
    SignedMiniBlockHeader,
    one_tier_header,
    verify_mini_block,
)
from sequencer.node import Node, ReplicaSnapshot
from sequencer.progress import Progress
from sequencer.two_tier import (
    JournaledEnv,
    MiniBlockInfo,
    PreconfirmedCopy,
    mini_block_header,
)
from sequencer.types.blocks import MiniBlock, Receipt, decode_stored_block
from sequencer.types.transactions import decode_transaction
from sequencer.types.wire import WireError, decode_block, decode_change
from statedb.types import Address

log = logging.getLogger("hummingbird.replica")

# Seconds without a message before the sequencer counts as silent: 3.5 heartbeat
# intervals (0.2 s each), checked every ``WATCH_EVERY``, so silence is noticed in < 1 s.
STALL_AFTER: Final = 0.7
WATCH_EVERY: Final = 0.1
BACKOFF_FIRST: Final = 0.1
BACKOFF_MOST: Final = 5.0
CATCH_UP_WAIT: Final = 2.0  # most a forwarded write waits for the replica to catch up
FORWARD_TIMEOUT: Final = 660.0  # a forwarded sync send may wait up to --txsync-max

# Methods the sequencer answers: writes, its keys, its pool, its dev state.
FORWARDED: Final = frozenset(
    {
        "eth_sendRawTransaction",
        "eth_sendRawTransactionSync",
        "realtime_sendRawTransaction",
        "eth_sendTransaction",
        "eth_sendTransactionSync",
        "eth_sendUnsignedTransaction",
        "eth_signTransaction",
        "eth_fillTransaction",
        "eth_sign",
        "personal_sign",
        "eth_signTypedData",
        "eth_signTypedData_v4",
        "eth_accounts",
        "eth_requestAccounts",
        "eth_pendingTransactions",
        "eth_mining",
    }
)
FORWARDED_PREFIXES: Final = ("anvil_", "hardhat_", "evm_", "txpool_")
# Forwarded reads: no need to wait for the replica to catch up after them.
FORWARDED_READS: Final = frozenset(
    {
        "eth_accounts",
        "eth_requestAccounts",
        "eth_pendingTransactions",
        "eth_mining",
        "eth_getTransactionCount",
        "eth_getTransactionByHash",
        "anvil_nodeInfo",
        "anvil_metadata",
        "hardhat_metadata",
        "anvil_dumpState",
        "hardhat_getAutomine",
        "anvil_getAutomine",
        "anvil_getIntervalMining",
        "txpool_content",
        "txpool_contentFrom",
        "txpool_inspect",
        "txpool_status",
    }
)


def forwarded(method: str, params: object) -> bool:
    if method in FORWARDED or method.startswith(FORWARDED_PREFIXES):
        return True
    # The pending nonce counts the sequencer's pool.
    return (
        method == "eth_getTransactionCount"
        and isinstance(params, list)
        and len(params) > 1
        and params[1] == "pending"
    )


def http_url_of(ws_url: str) -> str:
    if ws_url.startswith("ws://"):
        return "http://" + ws_url.removeprefix("ws://")
    if ws_url.startswith("wss://"):
        return "https://" + ws_url.removeprefix("wss://")
    raise ValueError(f"--follow takes a ws:// or wss:// URL, got {ws_url!r}")


class Sequencer:
    """JSON-RPC to the sequencer over HTTP (one session)."""

    def __init__(self, ws_url: str) -> None:
        self.ws_url = ws_url
        self.http_url = http_url_of(ws_url)
        self._session: aiohttp.ClientSession | None = None
        self._ids = itertools.count(1)

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def raw(self, method: str, params: object, timeout: float = 10.0) -> dict[str, Any]:
        body = {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}
        async with self.session.post(
            self.http_url, json=body, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as response:
            answer = await response.json(content_type=None)
        if not isinstance(answer, dict):
            raise NodeError(f"the sequencer answered {method} with {answer!r}")
        return answer

    async def call(self, method: str, params: object, timeout: float = 10.0) -> Any:
        answer = await self.raw(method, params, timeout)
        if "error" in answer:
            error = answer["error"]
            raise RpcError(
                str(error.get("message")), error.get("data"), code=int(error.get("code", -32000))
            )
        return answer.get("result")

    async def info(self) -> dict[str, Any]:
        """The node's own description (``GET /``: chain id, hardfork, MegaETH mode)."""
        async with self.session.get(
            self.http_url, timeout=aiohttp.ClientTimeout(total=10)
        ) as reply:
            info = await reply.json(content_type=None)
        if not isinstance(info, dict):
            raise NodeError(f"{self.http_url} answered GET / with {info!r}")
        return info

    async def snapshot(self) -> ReplicaSnapshot:
        """The sequencer's head with its whole state, and the blocks before it."""
        answer = await self.call("hummingbird_replicaSnapshot", [], timeout=120.0)
        if not isinstance(answer, dict) or not isinstance(answer.get("prior"), list):
            raise NodeError(f"the sequencer answered hummingbird_replicaSnapshot with {answer!r}")
        head = decode_block(bytes.fromhex(answer["block"][2:]))
        prior = []
        for item in answer["prior"]:
            records = rlp.decode(bytes.fromhex(item[2:]))
            if not (isinstance(records, list) and len(records) == 2):
                raise NodeError("an unreadable block in the sequencer's snapshot")
            block_bytes, receipts_bytes = records
            if not isinstance(block_bytes, bytes) or not isinstance(receipts_bytes, bytes):
                raise NodeError("an unreadable block in the sequencer's snapshot")
            prior.append(decode_stored_block(block_bytes, receipts_bytes))
        return ReplicaSnapshot(head, tuple(prior))

    async def genesis(self) -> MiniBlock:
        """Block 0 with its diff, from the replication stream."""
        async with self.session.ws_connect(self.ws_url, max_msg_size=0) as ws:
            await ws.send_json(
                {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "eth_subscribe",
                    "params": ["replication", {"fromBlock": "0x0"}],
                }
            )
            answer = await ws.receive_json(timeout=10)
            if "error" in answer:
                raise NodeError(
                    f"the sequencer cannot send its genesis block: {answer['error'].get('message')}"
                )
            while True:
                note = await ws.receive_json(timeout=10)
                result = note.get("params", {}).get("result", {})
                if "block" in result:
                    return decode_block(bytes.fromhex(result["block"][2:]))


@dataclass(slots=True)
class ReplicaStatus:
    """What the replica knows of its sequencer (read by eth_syncing and /health)."""

    connected: bool = False
    sequencer_head: int = -1
    last_heard: float = field(default_factory=time.monotonic)
    stalled: bool = False
    failed: str | None = None
    reconnects: int = 0
    signed_blocks: int = 0  # blocks whose mini-block signature was checked


class ReplicaLink:
    """Follows the sequencer's replication stream into ``node``."""

    def __init__(
        self,
        node: Node,
        sequencer: Sequencer,
        *,
        verify: bool = False,
        signer: Address | None = None,
    ) -> None:
        self.node = node
        self.sequencer = sequencer
        self.verify = verify  # --verify-execution: execute each block again before applying
        # The sequencer's mini-block key (GET / at bootstrap): a signed block must be its.
        self.signer = signer
        self.status = ReplicaStatus()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._task: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._task = loop.create_task(self.run())
        self._watchdog = loop.create_task(self.watch())

    async def stop(self) -> None:
        for task in (self._task, self._watchdog):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def lag(self) -> int:
        """Blocks behind the sequencer's last announced head (the metrics' gauge)."""
        return max(0, self.status.sequencer_head - self.node.head_number)

    def health(self) -> tuple[bool, dict[str, Any]]:
        status = self.status
        healthy = status.connected and not status.stalled and status.failed is None
        return healthy, {
            "ok": healthy,
            "head": self.node.head_number,
            "sequencerHead": status.sequencer_head,
            "lag": self.lag(),
            "connected": status.connected,
            "stalled": status.stalled,
            "failed": status.failed,
            "reconnects": status.reconnects,
            "signedBlocks": status.signed_blocks,
        }

    def syncing(self) -> dict[str, str] | bool:
        """eth_syncing: geth's progress object while behind the sequencer (or cut off from
        it: then the last head it announced), else false."""
        status = self.status
        head = self.node.head_number
        if head >= status.sequencer_head and status.connected and not status.stalled:
            return False
        return {
            "startingBlock": hex(head),
            "currentBlock": hex(head),
            "highestBlock": hex(max(head, status.sequencer_head)),
        }

    async def watch(self) -> None:
        """Mark a silent sequencer within ``STALL_AFTER`` and drop its connection."""
        status = self.status
        while True:
            await asyncio.sleep(WATCH_EVERY)
            silent = time.monotonic() - status.last_heard
            if status.connected and silent > STALL_AFTER and not status.stalled:
                status.stalled = True
                log.warning("the sequencer has been silent for %.1f s: reconnecting", silent)
                if self._ws is not None:
                    await self._ws.close()

    async def run(self) -> None:
        backoff = BACKOFF_FIRST
        while self.status.failed is None:
            try:
                await self._follow()
                backoff = BACKOFF_FIRST
            except ReplicaMismatch as error:
                self.status.failed = str(error)
                log.error("replica stopped following: %s", error)
                return
            except (
                aiohttp.ClientError,
                OSError,
                TimeoutError,
                RpcError,
                NodeError,
                WireError,
            ) as error:
                log.warning("replication link lost (%s); retrying in %.1f s", error, backoff)
            self.status.connected = False
            self.status.reconnects += 1
            await asyncio.sleep(backoff)
            backoff = min(BACKOFF_MOST, backoff * 2)

    async def _common_head(self) -> int:
        """The newest block this replica and the sequencer agree on (a revert missed while
        disconnected leaves the replica's newer blocks on an abandoned line)."""
        number = self.node.head_number
        while number > 0:
            theirs = await self.sequencer.call("eth_getBlockByNumber", [hex(number), False])
            ours = self.node.block(number)
            if theirs is not None and ours is not None and theirs["hash"] == "0x" + ours.hash.hex():
                return number
            number -= 1
        return 0

    async def _follow(self) -> None:
        node = self.node
        common = await self._common_head()
        if common < node.head_number:
            log.info("the sequencer left blocks %d..%d: rolling back", common + 1, node.head_number)
            node.revert_replicated(common)
        session = self.sequencer.session
        async with session.ws_connect(self.sequencer.ws_url, max_msg_size=0, heartbeat=None) as ws:
            self._ws = ws
            await ws.send_json(
                {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "eth_subscribe",
                    "params": [
                        "replication",
                        {"fromBlock": hex(node.head_number + 1), "preconfirmations": True},
                    ],
                }
            )
            answer = await ws.receive_json(timeout=10)
            if "error" in answer:
                raise NodeError(
                    f"the sequencer refused the stream: {answer['error'].get('message')}"
                )
            status = self.status
            status.connected = True
            status.stalled = False
            status.last_heard = time.monotonic()
            log.info("following %s from block %d", self.sequencer.ws_url, node.head_number + 1)
            target = int(await self.sequencer.call("eth_blockNumber", []), 16)
            start = node.head_number
            catching_up: Progress | None = None
            if target > start:
                catching_up = Progress("catching up", target - start, "blocks")
            async for message in ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                status.last_heard = time.monotonic()
                status.stalled = False
                note = message.json()
                self._apply(note.get("params", {}).get("result", {}))
                if catching_up is not None:
                    catching_up.advance(node.head_number - start - catching_up.done)
                    if node.head_number >= target:
                        catching_up.finish()
                        catching_up = None
        self._ws = None

    def _apply(self, result: dict[str, Any]) -> None:
        node = self.node
        status = self.status
        if "block" in result:
            block = decode_block(bytes.fromhex(result["block"][2:]))
            signed = self._check_signature(block, result.get("signature"))
            raw_edits = result.get("edits")
            edits = bytes.fromhex(raw_edits[2:]) if isinstance(raw_edits, str) else None
            node.apply_replicated(block, edits, verify=self.verify, signed=signed)
            status.sequencer_head = max(status.sequencer_head, block.number)
        elif isinstance(result.get("preconfirmed"), dict):
            self._preconfirmed(result["preconfirmed"])
        elif "reverted" in result:
            head = int(result["reverted"]["head"], 16)
            node.revert_replicated(head)
            status.sequencer_head = head
        elif "heartbeat" in result:
            status.sequencer_head = int(result["heartbeat"]["head"], 16)
        elif "error" in result:
            raise NodeError(f"the sequencer ended the stream: {result['error']}")

    def _preconfirmed(self, note: dict[str, Any]) -> None:
        """A two-tier sequencer's mini-block (or its open block so far): decoded, its
        signature checked over its own roots, kept as the replica's open block."""
        try:
            number = int(note["number"], 16)
            head = self.node.chain_head
            pairs = _pairs(bytes.fromhex(note["transactions"][2:]))
            raws = tuple(raw for raw, _ in pairs)
            txs = tuple(decode_transaction(raw, known_sender=sender) for raw, sender in pairs)
            receipts = _receipts(bytes.fromhex(note["receipts"][2:]))
            index = int(note["index"], 16)
            mini_number = int(note["miniBlockNumber"], 16)
            stamp = int(note["miniBlockTimestamp"], 16)
            info = MiniBlockInfo(
                mini_number,
                index,
                number,
                int(note["firstTx"], 16),
                len(txs),
                sum(r.gas_used for r in receipts),
                stamp,
            )
            diff = decode_change(bytes.fromhex(note["diff"][2:]))
            saved = JournaledEnv(
                coinbase=bytes.fromhex(note["coinbase"][2:]),
                number=number,
                timestamp=int(note["timestamp"], 16),
                gas_limit=int(note["gasLimit"], 16),
                base_fee=int(note["baseFee"], 16),
                prev_randao=bytes.fromhex(note["prevRandao"][2:]),
                excess_blob_gas=int(note["excessBlobGas"], 16),
                first_mini=mini_number - index,
            )
        except (KeyError, TypeError, ValueError, AssertionError, IndexError) as error:
            raise ReplicaMismatch(f"unreadable preconfirmation: {error}") from None
        mini = signature = None
        sig = note.get("signature")
        if isinstance(sig, dict) and self.signer is not None and not note.get("snapshot"):
            mini = mini_block_header(info, saved.timestamp, raws, receipts)
            signature = MiniBlockSignature(
                int(sig["r"], 16), int(sig["s"], 16), int(sig["yParity"], 16)
            )
            if not verify_mini_block(SignedMiniBlockHeader(mini, signature), self.signer):
                raise ReplicaMismatch(
                    f"mini-block {mini_number} is not signed by the sequencer's key"
                )
            self.status.signed_blocks += 1
        copy = PreconfirmedCopy(
            bytes.fromhex(note["parentHash"][2:]), txs, raws, receipts, diff, info, mini, signature
        )
        if number != head.number + 1:
            return  # for a block this replica has not reached yet: the snapshot will come
        self.node.preconfirm_replicated(saved, copy, snapshot=bool(note.get("snapshot")))

    def _check_signature(self, block: MiniBlock, signature: object) -> SignedMiniBlockHeader | None:
        """A signed block's signature must be the sequencer's over this block's own header
        fields (an unsigned one, sealed in two-tier mode or before signing, passes)."""
        if not isinstance(signature, dict) or self.signer is None:
            return None
        try:
            stamp = int(signature["timestamp"], 16)
            sig = MiniBlockSignature(
                int(signature["r"], 16), int(signature["s"], 16), int(signature["yParity"], 16)
            )
        except (KeyError, TypeError, ValueError):
            raise ReplicaMismatch(f"block {block.number}: unreadable signature") from None
        signed = SignedMiniBlockHeader(one_tier_header(block, stamp), sig)
        if not verify_mini_block(signed, self.signer):
            raise ReplicaMismatch(
                f"block {block.number} is not signed by the sequencer's key 0x{self.signer.hex()}"
            )
        self.status.signed_blocks += 1
        return signed

    async def caught_up(self, result: object = None) -> None:
        """Wait (at most ``CATCH_UP_WAIT``) until this replica holds the sequencer's head
        and, when ``result`` (a forwarded send's answer) names a transaction that the
        sequencer has mined or preconfirmed, that transaction."""
        deadline = time.monotonic() + CATCH_UP_WAIT
        tx_hash = _sent_hash(result)
        if tx_hash is not None:
            try:
                found = await self.sequencer.call(
                    "eth_getTransactionReceipt", ["0x" + tx_hash.hex()]
                )
            except (aiohttp.ClientError, OSError, TimeoutError, RpcError):
                found = None
            while found is not None and time.monotonic() < deadline:
                if self.node.locate_transaction(tx_hash) is not None:
                    break
                await asyncio.sleep(0.002)
        try:
            latest = await self.sequencer.call("eth_getBlockByNumber", ["latest", False])
        except (aiohttp.ClientError, OSError, TimeoutError, RpcError):
            return
        if not isinstance(latest, dict):
            return
        wanted = latest.get("hash")
        while time.monotonic() < deadline:
            if "0x" + self.node.chain_head.hash.hex() == wanted:
                return
            await asyncio.sleep(0.002)


def _sent_hash(result: object) -> bytes | None:
    """The transaction a send's answer names: its hash, or a receipt's."""
    if isinstance(result, dict):
        result = result.get("transactionHash")
    if isinstance(result, str) and len(result) == 66 and result.startswith("0x"):
        try:
            return bytes.fromhex(result[2:])
        except ValueError:
            return None
    return None


def _pairs(raw: bytes) -> list[tuple[bytes, bytes]]:
    """[[raw transaction, sender], ...] as the stream sends a mini-block's transactions."""
    items = rlp.decode(raw)
    if not isinstance(items, list):
        raise ValueError("the transactions are not a list")
    out = []
    for item in items:
        if not (
            isinstance(item, list)
            and len(item) == 2
            and isinstance(item[0], bytes)
            and isinstance(item[1], bytes)
            and len(item[1]) == 20
        ):
            raise ValueError("a transaction entry is not [raw, sender]")
        out.append((item[0], item[1]))
    return out


def _receipts(raw: bytes) -> tuple[Receipt, ...]:
    items = rlp.decode(raw)
    if not isinstance(items, list) or not all(
        isinstance(item, list) and len(item) == 8 for item in items
    ):
        raise ValueError("the receipts are not a list of stored receipts")
    return tuple(Receipt.from_storage(item) for item in items)  # type: ignore[arg-type]


class ReplicaRegistry(Registry):
    """The default registry, with the sequencer's methods forwarded to it."""

    def __init__(self, base: Registry, link: ReplicaLink) -> None:
        super().__init__()
        self._base = base
        self._link = link

    def resolve_all(self) -> None:
        self._base.resolve_all()

    def names(self) -> list[str]:
        return self._base.names()

    def __contains__(self, name: object) -> bool:
        return name in self._base

    def __len__(self) -> int:
        return len(self._base)

    async def call(self, ctx: RequestContext, method: str, params: object) -> Any:
        if method == "eth_syncing":
            return self._link.syncing()
        if method not in self._base or not forwarded(method, params):
            result = await self._base.call(ctx, method, params)
            if result is None and method == "eth_getTransactionByHash":
                # Not mined (or not applied here yet): the sequencer's pool may hold it.
                return await self._link.sequencer.call(method, params)
            return result
        result = await self._link.sequencer.call(method, params, timeout=FORWARD_TIMEOUT)
        if method not in FORWARDED_READS:
            await self._link.caught_up(result)
        return result
