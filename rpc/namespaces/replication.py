"""The replication stream (issue 18): ``eth_subscribe("replication", {"fromBlock": N}?)``.

Owns what a follower (a replica node, an indexer) is sent: every sealed block from
``fromBlock`` (default: the next one) in order, with no gap and no duplicate, each as
compact bytes (``sequencer.types.wire.encode_block``: header, transactions with their
senders, receipts and the block's normalised state diff; ``edits``, the dev edits record
of a block that carried some, so the follower can replay and trace it; ``signature``, a
one-tier block's mini-block signature with its publication time, which the follower
checks against the sequencer's key), then each new one
as it is sealed; and each revert (``evm_revert``, ``anvil_rollback``, a reset, a reorg)
as ``{"reverted": {...}}``, after which the blocks of the new line follow. A follower
that resumes passes the block after the last one it applied.

Blocks sealed before the subscription (the catch-up) are read from the chain and their
diffs rebuilt from the history window (``StateDB.block_diff``), a chunk per event-loop
step, waiting while the connection's queue is long (back-pressure: a follower that
stops reading is closed by the connection's own cap and resumes where it stopped).
Events published during the catch-up are delivered at the next chunk boundary, in
order, so a revert in the middle is sent before any block of the new line.

Once live, a stream that has sent nothing for ``HEARTBEAT_INTERVAL`` sends a heartbeat
with the sequencer's head, so a follower tells a quiet sequencer (no transactions, no
blocks) from a silent one (stopped, partitioned) within a second.

Notification shapes::

    {"number": "0x..", "hash": "0x..", "block": "0x<encode_block>", "edits"?: "0x..",
     "signature"?: {"timestamp": "0x..", "r": "0x..", "s": "0x..", "yParity": "0x.."}}
    {"reverted": {"head": "0x..", "hash": "0x..", "removedTo": "0x.."}}
    {"heartbeat": {"head": "0x..", "hash": "0x.."}}
    {"preconfirmed": {"snapshot": bool, "number", "parentHash", "coinbase", "timestamp",
                      "gasLimit", "baseFee", "prevRandao", "excessBlobGas", "index",
                      "miniBlockNumber", "miniBlockTimestamp", "firstTx", "transactions",
                      "receipts", "diff", "mini"?, "signature"?}}

With ``{"preconfirmations": true}``, a two-tier sequencer's mini-blocks of the block after
the last one sent come too (and, when the stream goes live, the open block so far as one
``snapshot``): a follower keeps them as its open block until the sealed block arrives.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Final, Protocol

from jit import rlp
from rpc.codecs import data, quantity
from rpc.dispatch import RequestContext, method
from rpc.errors import InvalidParams
from rpc.namespaces.dev import parse_number
from rpc.namespaces.eth import node_of
from sequencer.errors import NodeError
from sequencer.mini_block_signing import MiniBlockHeader, MiniBlockSignature
from sequencer.node import BlockSealed, ChainEvent, ChainReverted, MiniBlockPreconfirmed, Node
from sequencer.two_tier import MiniBlockInfo
from sequencer.types.blocks import MiniBlock
from sequencer.types.wire import encode_block, encode_change
from statedb.types import StateDiff

log = logging.getLogger("hummingbird.replication")

CATCH_UP_CHUNK: Final = 64  # blocks read per event-loop step during the catch-up
QUEUE_HIGH_WATER: Final = 1_000  # messages queued to the follower before the catch-up waits
HEARTBEAT_INTERVAL: Final = 0.2  # seconds of silence before a live stream says it is alive


class Follower(Protocol):
    """What the stream needs of a WebSocket connection."""

    @property
    def closed(self) -> bool: ...

    @property
    def queued(self) -> int: ...

    def notify(self, subscription_id: str, result: object) -> bool: ...


def block_notification(node: Node, block: MiniBlock) -> dict[str, Any]:
    out: dict[str, Any] = {
        "number": quantity(block.number),
        "hash": data(block.hash),
        "block": data(encode_block(block)),
    }
    edits = node.block_edits(block.number)
    if edits is not None:
        out["edits"] = data(edits)
    signed = node.block_signature(block.number)
    if signed is not None:
        sig = signed.signature
        out["signature"] = {
            "timestamp": quantity(signed.header.mini_block_timestamp),
            "r": quantity(sig.r),
            "s": quantity(sig.s),
            "yParity": quantity(sig.y_parity),
        }
    return out


def revert_notification(event: ChainReverted) -> dict[str, Any]:
    return {
        "reverted": {
            "head": quantity(event.head.number),
            "hash": data(event.head.hash),
            "removedTo": quantity(event.removed_to),
        }
    }


def preconfirmed_notification(
    block: MiniBlock,
    first_tx: int,
    diff: StateDiff,
    info: MiniBlockInfo,
    mini: MiniBlockHeader | None,
    signature: MiniBlockSignature | None,
    *,
    snapshot: bool = False,
) -> dict[str, Any]:
    """A preconfirmed mini-block (two-tier sequencer) for a follower: the open block's
    environment, the mini-block's transactions (raw, sender), receipts (storage
    encoding), its state change (wipes allowed) and signature; ``snapshot``: the open
    block so far (every transaction, the whole change), sent when a follower goes live."""
    header = block.header
    out: dict[str, Any] = {
        "snapshot": snapshot,
        "number": quantity(block.number),
        "parentHash": data(header.parent_hash),
        "coinbase": data(header.coinbase),
        "timestamp": quantity(header.timestamp),
        "gasLimit": quantity(header.gas_limit),
        "baseFee": quantity(header.base_fee_per_gas),
        "prevRandao": data(header.prev_randao),
        "excessBlobGas": quantity(header.excess_blob_gas),
        "index": quantity(info.index),
        "miniBlockNumber": quantity(info.number),
        "miniBlockTimestamp": quantity(info.timestamp_us),
        "firstTx": quantity(first_tx),
        "transactions": data(
            rlp.encode(
                [
                    [raw, tx.sender]
                    for raw, tx in zip(
                        block.encoded[first_tx:], block.transactions[first_tx:], strict=True
                    )
                ]
            )
        ),
        "receipts": data(rlp.encode([r.storage_fields() for r in block.receipts[first_tx:]])),  # type: ignore[misc]
        "diff": data(encode_change(diff)),
    }
    if mini is not None and signature is not None:
        out["mini"] = {
            "gasUsed": quantity(mini.gas_used),
            "transactionRoot": data(mini.transaction_root),
            "receiptRoot": data(mini.receipt_root),
        }
        out["signature"] = {
            "r": quantity(signature.r),
            "s": quantity(signature.s),
            "yParity": quantity(signature.y_parity),
        }
    return {"preconfirmed": out}


def _from_block(node: Node, options: object) -> int:
    head = node.head_number
    if options is None:
        return head + 1
    if not isinstance(options, dict) or set(options) - {"fromBlock", "preconfirmations"}:
        raise InvalidParams(
            'invalid argument 1: expected {"fromBlock": quantity, "preconfirmations": bool} '
            "or nothing"
        )
    if not isinstance(options.get("preconfirmations", False), bool):
        raise InvalidParams("invalid argument 1: preconfirmations must be true or false")
    raw = options.get("fromBlock")
    start = head + 1 if raw is None else parse_number(raw, 1, bits=64)
    if start > head + 1:
        raise InvalidParams(
            f"invalid argument 1: fromBlock {start} is after the next block ({head + 1})"
        )
    oldest = node.replication_floor
    if start < oldest:
        raise NodeError(
            f"block {start} left the history window (oldest block a follower can start "
            f"from: {oldest}); start from a later block"
        )
    return start


@method("hummingbird_replicaSnapshot")
async def replica_snapshot(ctx: RequestContext) -> dict[str, Any]:
    """A replica's bootstrap when the sequencer's genesis has left its history window:
    the head block with the whole state as its diff (``wire.encode_block``) and up to
    256 blocks before it (their chain records: ``[block record, receipts record]``)."""
    node = node_of(ctx)
    snapshot = node.replica_snapshot()
    return {
        "block": data(encode_block(snapshot.head)),
        "prior": [
            data(rlp.encode([block.encode_for_storage(), block.encode_receipts()]))
            for block in snapshot.prior
        ],
    }


def replication_subscription(
    node: Node, follower: Follower, sub_id: str, options: object
) -> Callable[[], None]:
    """Start the stream for ``sub_id``; the returned function stops it."""
    stream = _Stream(node, follower, sub_id, _from_block(node, options))
    stream.preconfirmations = isinstance(options, dict) and options.get("preconfirmations") is True
    return stream.start()


class _Stream:
    def __init__(self, node: Node, follower: Follower, sub_id: str, start: int) -> None:
        self.node = node
        self.follower = follower
        self.sub_id = sub_id
        self.last_sent = start - 1
        self.buffer: deque[ChainEvent] = deque()
        self.live = False
        self.stopped = False
        self.task: asyncio.Task[None] | None = None
        self.heartbeat: asyncio.Task[None] | None = None
        self.last_notified = time.monotonic()
        self.preconfirmations = False  # also send a two-tier sequencer's mini-blocks

    def start(self) -> Callable[[], None]:
        unsubscribe = self.node.subscribe(self.on_event)
        loop = asyncio.get_running_loop()
        self.task = loop.create_task(self.catch_up())
        self.heartbeat = loop.create_task(self.beat())

        def cancel() -> None:
            self.stopped = True
            unsubscribe()
            for task in (self.task, self.heartbeat):
                if task is not None and not task.done():
                    task.cancel()

        return cancel

    def notify(self, result: dict[str, Any]) -> None:
        self.follower.notify(self.sub_id, result)
        self.last_notified = time.monotonic()

    async def beat(self) -> None:
        while not self.stopped and not self.follower.closed:
            await asyncio.sleep(HEARTBEAT_INTERVAL / 2)
            if self.live and time.monotonic() - self.last_notified >= HEARTBEAT_INTERVAL:
                head = self.node.chain_head
                self.notify({"heartbeat": {"head": quantity(head.number), "hash": data(head.hash)}})

    def on_event(self, event: ChainEvent) -> None:
        if self.live:
            self.deliver(event)
        else:
            self.buffer.append(event)

    def deliver(self, event: ChainEvent) -> None:
        if isinstance(event, ChainReverted):
            if event.head.number < self.last_sent:
                self.notify(revert_notification(event))
                self.last_sent = event.head.number
            return
        if isinstance(event, MiniBlockPreconfirmed):
            # Mini-blocks of the block after the last one sent (a follower behind gets
            # the open block's snapshot when it goes live instead).
            if self.preconfirmations and event.block.number == self.last_sent + 1:
                self.notify(
                    preconfirmed_notification(
                        event.block,
                        event.info.first_tx,
                        event.diff,
                        event.info,
                        event.mini,
                        event.signature,
                    )
                )
            return
        if not isinstance(event, BlockSealed):
            return
        number = event.block.number
        if number <= self.last_sent:
            return  # sent by the catch-up already
        if number != self.last_sent + 1:
            # Behind (only while catching up): the catch-up reads it from the chain.
            if self.live:
                log.error(
                    "replication %s: block %d after %d; catching up",
                    self.sub_id,
                    number,
                    self.last_sent,
                )
                self.live = False
                self.task = asyncio.get_running_loop().create_task(self.catch_up())
            return
        self.notify(block_notification(self.node, event.block))
        self.last_sent = number

    def send_open_block(self) -> None:
        """Going live: the open EVM block so far, so the follower's ``latest`` is the
        sequencer's at once (later mini-blocks follow as events)."""
        open_evm = self.node.open_evm_block
        if not self.preconfirmations or open_evm is None or not open_evm.minis:
            return
        self.notify(
            preconfirmed_notification(
                open_evm.preview(),
                0,
                open_evm.frozen_diff(),
                open_evm.minis[-1],
                None,
                None,
                snapshot=True,
            )
        )

    async def catch_up(self) -> None:
        node = self.node
        follower = self.follower
        try:
            while not self.stopped and not follower.closed:
                while self.buffer:
                    self.deliver(self.buffer.popleft())
                head = node.head_number
                if self.last_sent >= head:
                    self.live = True
                    self.send_open_block()
                    return
                end = min(head, self.last_sent + CATCH_UP_CHUNK)
                for number in range(self.last_sent + 1, end + 1):
                    self.notify(block_notification(node, node.replicated_block(number)))
                    self.last_sent = number
                await asyncio.sleep(0)
                while follower.queued > QUEUE_HIGH_WATER and not follower.closed:
                    await asyncio.sleep(0.005)
        except NodeError as error:
            # A block of the catch-up left the window meanwhile: the follower must
            # resume from a later block; the connection's error says why.
            log.warning("replication %s stopped: %s", self.sub_id, error)
            self.notify({"error": str(error)})
