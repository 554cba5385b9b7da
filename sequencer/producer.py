"""The mini-block producer: the single writer of the chain (DESIGN §4).

Owns scheduling (when a block opens and seals), the next block's environment
(the dev parameters, a wall-clock timestamp that never runs ahead of the clock nor
behind the parent; fee rules from ``sequencer.builder``), handing batches of ready
pool transactions to the executor, settling each one with the pool, and the seal:
one atomic commit, then publication. Building the block itself (system calls,
folding outcomes, receipts, roots, the state diff) is ``sequencer.builder``'s.

A block is sealed when the ready queue has drained or when it has been open
for ``block_time``, whichever comes first; an empty block is never sealed
(except on explicit request: ``mine``, interval mining).

The dev methods steer the next block through ``BlockParams`` (coinbase, gas limit,
a one-block base fee and prevRandao), the ``Clock`` (timestamps) and ``StateEdits``
(state changes made outside transactions, carried by the next block's diff).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from jit.evm.exceptions import InvalidTransaction, NonceTooHigh
from jit.evm.frame import BlockEnv
from jit.evm.gas import GAS_PER_BLOB
from jit.evm.state import CodeRunner
from jit.evm.transaction import TxOutcome
from jit.forks import ForkRules
from sequencer.builder import (
    BlockBuilder,
    Included,
    OpenBlock,
    next_base_fee,
    next_excess_blob_gas,
    requests_hash,
)
from sequencer.chain import FRESH_CHAIN_CFS, Chain
from sequencer.clock import Clock
from sequencer.config import ChainConfig
from sequencer.edits import EDITS_RECORD, StateEdits, block_edits_key
from sequencer.errors import TransactionRejected
from sequencer.executor import Executor
from sequencer.pool import PoolTx, TxPool
from sequencer.publication import BlockSealed
from sequencer.types.blocks import ZERO_HASH, MiniBlock
from statedb import StateDB
from statedb.keys import CF_CHAIN_META
from statedb.types import Address, StateDiff, keccak256

# Re-exported for callers that know them from here.
__all__ = [
    "BlockParams",
    "PendingBlock",
    "Producer",
    "next_base_fee",
    "next_excess_blob_gas",
    "requests_hash",
]


@dataclass(slots=True)
class BlockParams:
    """What the dev methods set for coming blocks (mutable; one per producer)."""

    coinbase: Address
    gas_limit: int
    next_base_fee: int | None = None  # anvil_setNextBlockBaseFeePerGas: the next block only
    next_prev_randao: bytes | None = None  # hardhat_setPrevRandao: the next block only

    def copy(self) -> BlockParams:
        return BlockParams(self.coinbase, self.gas_limit, self.next_base_fee, self.next_prev_randao)


@dataclass(frozen=True, slots=True)
class PendingBlock:
    """The block the producer would seal now with nothing ready (geth's "pending" block).

    Its system calls have run and its roots are real, but nothing is committed. ``diff``
    is its state change against the head (the system contracts' storage); it must not be
    mutated. Ready transactions are not in it: they seal within one block time.
    """

    block: MiniBlock
    env: BlockEnv
    diff: StateDiff


class Producer:
    """Builds and commits blocks. Runs on the event loop thread; never re-entered."""

    def __init__(
        self,
        db: StateDB,
        chain: Chain,
        pool: TxPool,
        executor: Executor,
        config: ChainConfig,
        rules: ForkRules,
        block_time: float,
        publish: Callable[[BlockSealed], None],
        engine: CodeRunner | None = None,
        clock: Clock | None = None,
        edits: StateEdits | None = None,
    ) -> None:
        self.db = db
        self.chain = chain
        self.pool = pool
        self.executor = executor
        self.config = config
        self.rules = rules
        self.block_time = block_time
        self.publish = publish
        self.builder = BlockBuilder(db, rules, engine)
        self.clock = clock if clock is not None else Clock()
        self.edits = edits if edits is not None else StateEdits()
        self.params = BlockParams(config.coinbase, config.gas_limit)
        self._pending: tuple[int, PendingBlock] | None = None  # (edits generation, preview)

    # ------------------------------------------------------------ environment

    def next_env(self) -> BlockEnv:
        parent = self.chain.head
        assert parent is not None, "genesis is committed before the producer starts"
        header = parent.header
        params = self.params
        excess = next_excess_blob_gas(header, self.rules)
        base_fee = params.next_base_fee
        prev_randao = params.next_prev_randao
        return BlockEnv(
            chain_id=self.config.chain_id,
            coinbase=params.coinbase,
            number=header.number + 1,
            timestamp=self.clock.next_timestamp(header.timestamp),
            gas_limit=params.gas_limit,
            base_fee=next_base_fee(header) if base_fee is None else base_fee,
            prev_randao=keccak256(parent.hash) if prev_randao is None else prev_randao,
            excess_blob_gas=excess,
            blob_base_fee=self.rules.blob_base_fee(excess),
            block_hashes=self.chain.block_hashes_at(header.number + 1),
            parent_beacon_block_root=ZERO_HASH,
        )

    def pending(self) -> PendingBlock:
        """The empty next block as it would be sealed now (memoised per head and env:
        eth_estimateGas at ``pending`` asks for it once per probe)."""
        parent = self.chain.head
        assert parent is not None
        env = self.next_env()
        generation = self.edits.generation
        if self._pending is not None:
            cached_generation, cached = self._pending
            if (
                cached_generation == generation
                and cached.block.header.parent_hash == parent.hash
                and cached.env == env
            ):
                return cached
        open_block = self._open(env)
        sealed = self.builder.seal(open_block, ())
        pending = PendingBlock(sealed.block, env, open_block.diff)
        self._pending = (generation, pending)
        return pending

    def _open(self, env: BlockEnv) -> OpenBlock:
        """The next block, opened: the pending edits, then the pre-block system calls."""
        parent = self.chain.head
        assert parent is not None
        return self.builder.open(parent, env, self.edits.diff if self.edits else None)

    # ------------------------------------------------------------ building

    def produce(self, *, allow_empty: bool = False) -> MiniBlock | None:
        """Build, commit and publish one block from the ready queue; None if it would be
        empty (unless ``allow_empty``).

        Every transaction taken from the ready queue ends the call answered or back in
        the pool: included (sealed), dropped alone with its error (execution refused
        it; the rest of the batch is mined), queued again (a nonce gap), or returned to
        the front of the ready queue (it did not fit, the deadline came, or building
        the block failed before the seal)."""
        pool = self.pool
        first = pool.next_ready()
        if first is None and not allow_empty:
            return None
        taken: list[PoolTx] = []
        if first is not None:
            taken.append(first)
        try:
            return self._produce(first, taken, allow_empty)
        except BaseException:
            # Nothing was sealed: what this block took and did not settle goes back, in
            # order, so no sender is left waiting on a transaction the pool forgot.
            for entry in reversed(taken):
                if not entry.removed and not entry.ready:
                    pool.push_back(entry)
            raise

    def _produce(
        self, first: PoolTx | None, taken: list[PoolTx], allow_empty: bool
    ) -> MiniBlock | None:
        pool = self.pool
        start = time.monotonic()
        deadline = start + self.block_time
        env = self.next_env()
        open_block = self._open(env)
        included: list[tuple[PoolTx, TxOutcome]] = []
        # Every ready transaction that fits the gas limit, in one batch: nothing can join
        # the pool while this synchronous code runs.
        batch: list[PoolTx] = []
        max_blob_gas = self.rules.max_blob_gas_per_block
        room, blob_room = env.gas_limit, max_blob_gas
        entry = first
        while entry is not None:
            blob_gas = GAS_PER_BLOB * len(entry.tx.blob_versioned_hashes)
            if entry.tx.gas_limit > env.gas_limit or blob_gas > max_blob_gas:
                # Not even an empty block holds it (the gas limit was lowered after
                # admission): pushed back, it would head the queue forever and the
                # miner would spin on a block it can never fill.
                pool.drop(
                    entry,
                    TransactionRejected(
                        f"exceeds block gas limit: have {entry.tx.gas_limit}, limit {env.gas_limit}"
                        if entry.tx.gas_limit > env.gas_limit
                        else f"blob gas limit exceeded: have {blob_gas}, limit {max_blob_gas}"
                    ),
                )
            else:
                if entry.tx.gas_limit > room or blob_gas > blob_room:
                    pool.push_back(entry)
                    break
                room -= entry.tx.gas_limit
                blob_room -= blob_gas
                batch.append(entry)
            entry = pool.next_ready()
            if entry is not None:
                taken.append(entry)
        if batch:
            results = self.executor.execute(open_block, self.rules, [p.tx for p in batch], deadline)
            for entry, result in zip(batch, results, strict=False):
                if isinstance(result, NonceTooHigh):
                    # A gap opened after admission (an earlier nonce of its sender was
                    # dropped above, or a dev edit lowered the nonce): it waits queued.
                    pool.requeue(entry)
                elif isinstance(result, InvalidTransaction):
                    # The batch was sized to fit, so a gas-limit error is permanent too.
                    pool.drop(entry, TransactionRejected(str(result)))
                else:
                    included.append((entry, result))
            # What the deadline left unrun goes back to the front, in arrival order.
            for entry in reversed(batch[len(results) :]):
                pool.push_back(entry)
        taken[:] = [entry for entry, _ in included]  # the rest is settled
        if not included and not allow_empty:
            self.pool.on_block()
            return None
        sealed = self.builder.seal(
            open_block, [Included(entry.tx, entry.raw, outcome) for entry, outcome in included]
        )
        block = sealed.block
        records = self.chain.records(block, [outcome.touched for _, outcome in included])
        if self.edits:
            # The block carries them now: the pending copy goes with the seal, and the
            # block keeps its own (a replay of the block starts with them).
            records[CF_CHAIN_META] = {
                EDITS_RECORD: None,
                block_edits_key(block.number): self.edits.encode(),
            }
        self.db.commit(block.number, sealed.prepared, records, fresh=FRESH_CHAIN_CFS)  # the seal
        taken.clear()  # sealed: nothing to give back from here on
        self.chain.appended(block)
        if self.edits:
            self.edits.clear()
        self.clock.sealed(env.timestamp)
        self.params.next_base_fee = None
        self.params.next_prev_randao = None
        for entry, _ in included:
            pool.mark_included(entry)
        pool.on_block()
        self.publish(
            BlockSealed(
                block,
                tuple(outcome.output for _, outcome in included),
                tuple(outcome.console for _, outcome in included),
            )
        )
        return block
