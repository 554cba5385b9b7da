"""What the sequencer publishes, and the senders waiting on it.

Owns the one event stream the sequencer publishes (DESIGN §1): ``BlockSealed`` (a
sealed ``MiniBlock`` with its transactions' outputs), ``MiniBlockPreconfirmed`` (in
two-tier mode, a mini-block added to the open EVM block: ``sequencer.two_tier``) and
``ChainReverted`` (dev reverts removed blocks), delivered in order to every subscriber (RPC subscriptions
and filters, worker processes, ``Waiters``); and ``Waiters``, the one map from a
transaction hash to the future its sender awaits, answered from the stream (mined)
or by the pool (dropped with an error, or no longer waiting for a block).

Runs on the event loop thread. A subscriber that raises is logged and skipped; the
others still get the event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sequencer.mini_block_signing import MiniBlockHeader, MiniBlockSignature
from sequencer.two_tier import MiniBlockInfo, MiniBlockSpan
from sequencer.types.blocks import MiniBlock
from statedb.types import Hash32, StateDiff

log = logging.getLogger("hummingbird.publication")


@dataclass(frozen=True, slots=True)
class BlockSealed:
    """Block ``block`` is committed; ``outputs[i]`` is transaction i's return or revert
    data (not in the block: a Hardhat-style send answers a revert with it) and
    ``console[i]`` the calldata of its console.log calls (for the node log). In two-tier
    mode ``span`` names the block's mini-blocks; with one tier (``span`` None) the block
    is its own mini-block, ``mini`` its header and ``signature`` the sequencer's."""

    block: MiniBlock
    outputs: tuple[bytes, ...]
    console: tuple[tuple[bytes, ...], ...] = ()
    span: MiniBlockSpan | None = None
    mini: MiniBlockHeader | None = None
    signature: MiniBlockSignature | None = None
    # Seconds the producer took from opening the block to its commit (execution, seal,
    # signature, commit): the node's metrics. 0.0 where not measured (dev blocks).
    build_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class MiniBlockPreconfirmed:
    """Two-tier mode: mini-block ``info`` was added to the open EVM block and journaled.
    ``block`` is the open block's preview after it (all its preconfirmed transactions,
    the placeholder hash); the mini-block's own are ``info.first_tx`` on, with their
    outputs in ``outputs``; ``diff`` is what the mini-block changed (read-only);
    ``mini`` its header and ``signature`` the sequencer's (None: no signer)."""

    info: MiniBlockInfo
    block: MiniBlock
    diff: StateDiff
    outputs: tuple[bytes, ...]
    mini: MiniBlockHeader
    signature: MiniBlockSignature | None = None


@dataclass(frozen=True, slots=True)
class ChainReverted:
    """``evm_revert`` / ``anvil_rollback`` / a reset removed blocks: the chain's head is
    now ``head`` (blocks ``head.number + 1 ..= removed_to`` are gone)."""

    head: MiniBlock
    removed_to: int


ChainEvent = BlockSealed | MiniBlockPreconfirmed | ChainReverted


class Publisher:
    """Delivers each event to every subscriber, in subscription order."""

    def __init__(self) -> None:
        self._listeners: list[Callable[[ChainEvent], None]] = []

    def subscribe(self, listener: Callable[[ChainEvent], None]) -> Callable[[], None]:
        """Add ``listener``; the returned function removes it (once)."""
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def publish(self, event: ChainEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("subscriber failed on %s", type(event).__name__)


@dataclass(frozen=True, slots=True)
class Mined:
    """A waiting sender's answer: its transaction is in block ``block_number`` (sealed,
    or open with the transaction preconfirmed in two-tier mode)."""

    block_number: int
    index: int
    success: bool
    output: bytes  # return or revert data


def _retrieve(future: asyncio.Future[Mined | None]) -> None:
    if not future.cancelled():
        future.exception()


class Waiters:
    """Senders waiting for their transaction's block: tx hash -> future.

    A future resolves with ``Mined`` when a published block holds the transaction, with
    None when the pool says it no longer waits for a block (it is queued behind a nonce
    gap now), or with the error that removed it from the pool."""

    def __init__(self) -> None:
        self._futures: dict[Hash32, asyncio.Future[Mined | None]] = {}

    def __len__(self) -> int:
        return len(self._futures)

    async def wait(self, tx_hash: Hash32) -> Mined | None:
        """Wait for ``tx_hash`` (one waiter per hash: a second one shares the first's)."""
        future = self._futures.get(tx_hash)
        if future is None:
            future = self._futures[tx_hash] = asyncio.get_running_loop().create_future()
            # A sender that went away leaves its future behind: its error is retrieved
            # here so that asyncio does not log it as never retrieved.
            future.add_done_callback(_retrieve)
        try:
            return await asyncio.shield(future)
        finally:
            if future.done() and self._futures.get(tx_hash) is future:
                del self._futures[tx_hash]

    def settle(self, tx_hash: Hash32, result: Exception | None) -> None:
        """The pool's answer: ``result`` is the error that removed the transaction, or
        None when it stopped waiting for a block without leaving the pool."""
        future = self._futures.pop(tx_hash, None)
        if future is None or future.done():
            return
        if result is None:
            future.set_result(None)
        else:
            future.set_exception(result)

    def on_event(self, event: ChainEvent) -> None:
        if not self._futures or isinstance(event, ChainReverted):
            return
        block = event.block
        futures = self._futures
        first = event.info.first_tx if isinstance(event, MiniBlockPreconfirmed) else 0
        for index in range(first, len(block.transactions)):
            future = futures.pop(block.transactions[index].hash, None)
            if future is not None and not future.done():
                future.set_result(
                    Mined(
                        block.number,
                        index,
                        block.receipts[index].status == 1,
                        event.outputs[index - first],
                    )
                )
