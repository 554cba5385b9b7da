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

import contextlib
import logging
import math
import time
from collections.abc import Callable, MutableSet, Sequence
from dataclasses import dataclass
from typing import Final, TypeVar

from jit.evm.exceptions import InvalidTransaction, NonceTooHigh
from jit.evm.frame import BlockEnv
from jit.evm.gas import GAS_PER_BLOB
from jit.evm.state import CodeRunner
from jit.evm.transaction import TxOutcome, block_gas_bounds
from jit.forks import ForkRules
from sequencer.access_list import record_key
from sequencer.builder import (
    BlockBuilder,
    Included,
    OpenBlock,
    SealedBlock,
    next_base_fee,
    next_excess_blob_gas,
    requests_hash,
)
from sequencer.chain import FRESH_CHAIN_CFS, Chain, index_keys
from sequencer.clock import Clock, slot_number
from sequencer.config import ChainConfig
from sequencer.edits import EDITS_RECORD, StateEdits, block_edits_key
from sequencer.errors import NodeError, TransactionRejected
from sequencer.executor import Executor
from sequencer.genesis import BEACON_ROOTS_ADDRESS, HISTORY_STORAGE_ADDRESS
from sequencer.mini_block_signing import (
    MiniBlockHeader,
    MiniBlockSignature,
    MiniBlockSigner,
    encode_signature_record,
    one_tier_header,
    signature_key,
)
from sequencer.pool import PoolTx, TxPool
from sequencer.publication import BlockSealed, ChainEvent, MiniBlockPreconfirmed
from sequencer.two_tier import (
    JOURNAL_ENV,
    JOURNAL_MINI,
    JournaledEnv,
    JournalEntry,
    JournalError,
    MiniBlockInfo,
    MiniBlockSpan,
    OpenEvmBlock,
    decode_env,
    encode_env,
    journal_mini_key,
    mini_block_diff,
    mini_block_header,
    span_key,
)
from sequencer.types.blocks import ZERO_HASH, Header, MiniBlock
from sequencer.types.transactions import InvalidTransactionEncoding, decode_transaction
from statedb import StateDB
from statedb.keys import CF_BLOCKS, CF_CHAIN_META
from statedb.types import Address, Hash32, StateDiff, keccak256

HISTORY_RING: Final = 8191  # EIP-4788's HISTORY_BUFFER_LENGTH, EIP-2935's HISTORY_SERVE_WINDOW
log = logging.getLogger("hummingbird.producer")
T = TypeVar("T")

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
        publish: Callable[[ChainEvent], None],
        engine: CodeRunner | None = None,
        clock: Clock | None = None,
        edits: StateEdits | None = None,
        evm_block_time: float | None = None,
        unsigned: MutableSet[Hash32] | None = None,
        signer: MiniBlockSigner | None = None,
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
        # Two-tier mode (``sequencer.two_tier``): None, every block is its own mini-block;
        # else mini-blocks preconfirm into ``open`` and the miner's interval seals it.
        self.evm_block_time = evm_block_time
        self.open: OpenEvmBlock | None = None
        self.unsigned: MutableSet[Hash32] = unsigned if unsigned is not None else set()
        # Signs every mini-block's header (MegaETH Rex5); None: unsigned (library use).
        self.signer = signer

    # ------------------------------------------------------------ environment

    def next_env(self) -> BlockEnv:
        parent = self.chain.head
        assert parent is not None, "genesis is committed before the producer starts"
        header = parent.header
        params = self.params
        excess = next_excess_blob_gas(header, self.rules)
        base_fee = params.next_base_fee
        prev_randao = params.next_prev_randao
        timestamp = self.clock.next_timestamp(header.timestamp)
        return BlockEnv(
            chain_id=self.config.chain_id,
            coinbase=params.coinbase,
            number=header.number + 1,
            timestamp=timestamp,
            gas_limit=params.gas_limit,
            base_fee=self.next_base_fee(header) if base_fee is None else base_fee,
            prev_randao=keccak256(parent.hash) if prev_randao is None else prev_randao,
            excess_blob_gas=excess,
            blob_base_fee=self.rules.blob_base_fee(excess),
            block_hashes=self.chain.block_hashes_at(header.number + 1),
            parent_beacon_block_root=ZERO_HASH,
            slot_number=self.slot_number(timestamp),
        )

    def slot_number(self, timestamp: int) -> int:
        """The EIP-7843 slot of a block at ``timestamp`` (``clock.slot_number``; 0 before
        Amsterdam, whose headers have none), counted from the chain's first block: its
        genesis, or in fork mode the fork block (the upstream's beacon slots are not
        known here)."""
        if not self.rules.eip7928:
            return 0
        first = self.chain.first_block
        assert first is not None, "genesis is committed before the producer starts"
        return slot_number(timestamp, first.header.timestamp)

    def next_base_fee(self, parent: Header) -> int:
        """The base fee of the block after ``parent`` without a dev override: EIP-1559's,
        or the configured one when it is fixed (MegaETH mode)."""
        if self.config.fixed_base_fee:
            return self.config.base_fee
        return next_base_fee(parent)

    def pending(self) -> PendingBlock:
        """The next block as it would be sealed now (memoised per head and env:
        eth_estimateGas at ``pending`` asks for it once per probe). With one tier it is
        empty: ready transactions seal within one block time. In two-tier mode, while an
        EVM block is open, it is that block's preview: its preconfirmed transactions and
        state, the placeholder hash and no roots (sealing pays for those)."""
        parent = self.chain.head
        assert parent is not None
        if self.open is not None:
            open_evm = self.open
            return PendingBlock(open_evm.preview(), open_evm.env, open_evm.frozen_diff())
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
        # The slots the system calls write (EIP-4788's ring of 8191 timestamps and roots,
        # EIP-2935's 8191 parent hashes): one round trip, not three.
        self._prefetch(
            slots=(
                (BEACON_ROOTS_ADDRESS, env.timestamp % HISTORY_RING),
                (BEACON_ROOTS_ADDRESS, env.timestamp % HISTORY_RING + HISTORY_RING),
                (HISTORY_STORAGE_ADDRESS, (env.number - 1) % HISTORY_RING),
            )
        )
        return self.builder.open(parent, env, self.edits.diff if self.edits else None)

    # ------------------------------------------------------------ building

    def _prefetch(
        self, accounts: Sequence[Address] = (), slots: Sequence[tuple[Address, int]] = ()
    ) -> None:
        """Fork mode: these fetched from the upstream in one round trip instead of one
        each as execution reaches them. An upstream failure here is left for execution
        to report."""
        if self.db.forked:
            with contextlib.suppress(NodeError):
                self.db.prefetch(accounts, slots)

    def produce(self, *, allow_empty: bool = False) -> MiniBlock | None:
        """Build, commit and publish one block from the ready queue; None if it would be
        empty (unless ``allow_empty``).

        In two-tier mode a call without ``allow_empty`` adds one mini-block to the open
        EVM block (answering its senders) and returns None; with ``allow_empty`` it adds
        what is ready and seals the EVM block (``seal_open``).

        Every transaction taken from the ready queue ends the call answered or back in
        the pool: included (sealed or preconfirmed), dropped alone with its error
        (execution refused it; the rest of the batch is mined), queued again (a nonce
        gap), or returned to the front of the ready queue (it did not fit, the deadline
        came, or building the block failed before the seal)."""
        if self.evm_block_time is not None:
            self._settled(self._preconfirm)
            return self.seal_open() if allow_empty else None
        return self._settled(lambda first, taken: self._produce(first, taken, allow_empty))

    def _settled(self, build: Callable[[PoolTx | None, list[PoolTx]], T]) -> T:
        """Run ``build`` with the first ready transaction and the list of what it took;
        if it fails, what it took and did not settle goes back to the pool, in order, so
        no sender is left waiting on a transaction the pool forgot."""
        pool = self.pool
        first = pool.next_ready()
        taken: list[PoolTx] = [] if first is None else [first]
        try:
            return build(first, taken)
        except BaseException:
            for entry in reversed(taken):
                if not entry.removed and not entry.ready:
                    pool.push_back(entry)
            raise

    def _fill(
        self, block: OpenBlock, first: PoolTx | None, taken: list[PoolTx], deadline: float
    ) -> tuple[list[tuple[PoolTx, TxOutcome]], bool]:
        """Run every ready transaction that fits what is left of ``block``'s gas, in one
        batch (nothing can join the pool while this synchronous code runs), and settle
        each with the pool; the included ones with their outcomes, and whether one was
        left for lack of room (the block is full)."""
        pool = self.pool
        env = block.env
        included: list[tuple[PoolTx, TxOutcome]] = []
        batch: list[PoolTx] = []
        max_blob_gas = self.rules.max_blob_gas_per_block
        # Room in each of the block's gas dimensions (EIP-8037: regular and state; before
        # it the second is never used), taken by what a transaction can use at most.
        room = env.gas_limit - block.gas_used
        state_room = env.gas_limit - block.state_gas_used
        blob_room = max_blob_gas - block.blob_gas_used
        full = False
        entry = first
        while entry is not None:
            blob_gas = GAS_PER_BLOB * len(entry.tx.blob_versioned_hashes)
            gas, state_gas = block_gas_bounds(entry.tx, self.rules, env.gas_limit)
            if max(gas, state_gas) > env.gas_limit or blob_gas > max_blob_gas:
                # Not even an empty block holds it (the gas limit was lowered after
                # admission): pushed back, it would head the queue forever and the
                # miner would spin on a block it can never fill.
                pool.drop(
                    entry,
                    TransactionRejected(
                        f"exceeds block gas limit: have {entry.tx.gas_limit}, limit {env.gas_limit}"
                        if max(gas, state_gas) > env.gas_limit
                        else f"blob gas limit exceeded: have {blob_gas}, limit {max_blob_gas}"
                    ),
                )
            else:
                if gas > room or state_gas > state_room or blob_gas > blob_room:
                    pool.push_back(entry)
                    full = True
                    break
                room -= gas
                state_room -= state_gas
                blob_room -= blob_gas
                batch.append(entry)
            entry = pool.next_ready()
            if entry is not None:
                taken.append(entry)
        if batch:
            # The batch's senders, recipients and the coinbase, together.
            self._prefetch(
                list(
                    dict.fromkeys(
                        [env.coinbase]
                        + [p.tx.sender for p in batch]
                        + [p.tx.to for p in batch if p.tx.to is not None]
                    )
                )
            )
            results = self.executor.execute(block, self.rules, [p.tx for p in batch], deadline)
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
        return included, full

    def _produce(
        self, first: PoolTx | None, taken: list[PoolTx], allow_empty: bool
    ) -> MiniBlock | None:
        if first is None and not allow_empty:
            return None
        started = time.perf_counter()
        env = self.next_env()
        open_block = self._open(env)
        # A block asked for (evm_mine, anvil_mine, interval mining) takes everything ready
        # up to its gas limit, as anvil's and Hardhat's do; the 10 ms bound is for the
        # automined stream, where the next block follows at once.
        deadline = math.inf if allow_empty else time.monotonic() + self.block_time
        included, _ = self._fill(open_block, first, taken, deadline)
        if not included and not allow_empty:
            self.pool.on_block()
            return None
        items = [Included(entry.tx, entry.raw, outcome) for entry, outcome in included]
        sealed = self.builder.seal(open_block, items)
        block = sealed.block
        records = self.chain.records(block, [outcome.touched for _, outcome in included])
        block = block.published(block.diff, index_keys(records))
        # The block is its own mini-block: signed now, the signature kept with the block
        # (a follower catching up gets it from the chain).
        mini = one_tier_header(block, time.time_ns() // 1000)
        signature = self._sign(mini)
        if signature is not None:
            # Beside the block's own record (a family a new block only adds to: no read
            # of a previous value at the commit).
            records[CF_BLOCKS][signature_key(block.number)] = encode_signature_record(
                mini.mini_block_timestamp, signature
            )
        self._commit(block, sealed, records)
        taken.clear()  # sealed: nothing to give back from here on
        self.params.next_base_fee = None
        self.params.next_prev_randao = None
        for entry, _ in included:
            self.pool.mark_included(entry)
        self.pool.on_block()
        self.publish(
            BlockSealed(
                block,
                tuple(outcome.output for _, outcome in included),
                tuple(outcome.console for _, outcome in included),
                mini=mini,
                signature=signature,
                build_seconds=time.perf_counter() - started,
            )
        )
        return block

    def _sign(self, header: MiniBlockHeader) -> MiniBlockSignature | None:
        return None if self.signer is None else self.signer.sign(header).signature

    def _commit(
        self,
        block: MiniBlock,
        sealed: SealedBlock,
        records: dict[str, dict[bytes, bytes | None]],
    ) -> None:
        """The seal: one atomic commit of the block, its chain records, its EIP-7928
        access list (Amsterdam: served from there) and the pending edits it carries;
        then the chain, the edits and the clock move on."""
        if sealed.access_list_rlp is not None:
            records.setdefault(CF_CHAIN_META, {})[record_key(block.number)] = sealed.access_list_rlp
        if self.edits:
            # The block carries them now: the pending copy goes with the seal, and the
            # block keeps its own (a replay of the block starts with them).
            meta = records.setdefault(CF_CHAIN_META, {})
            meta[EDITS_RECORD] = None
            meta[block_edits_key(block.number)] = self.edits.encode()
        self.db.commit(block.number, sealed.prepared, records, fresh=FRESH_CHAIN_CFS)
        self.chain.appended(block)
        if self.edits:
            self.edits.clear()
        self.clock.sealed(block.header.timestamp)

    # ------------------------------------------------------------ two tiers

    def _open_evm(self) -> OpenEvmBlock:
        """The open EVM block, opened now if there is none (its environment and the
        next-block-only dev parameters are taken here)."""
        if self.open is None:
            head = self.chain.head
            assert head is not None
            self.open = OpenEvmBlock(self._open(self.next_env()), self._next_mini_number(head))
            self.params.next_base_fee = None
            self.params.next_prev_randao = None
        return self.open

    def _next_mini_number(self, head: MiniBlock) -> int:
        """The global number of the first mini-block after ``head``."""
        raw = self.chain.meta(span_key(head.number))
        if raw is None:  # sealed with one tier: one mini-block, numbered as the block
            return head.number + 1
        try:
            span = MiniBlockSpan.decode(raw)
        except JournalError:
            return head.number + 1
        return span.offset + span.count

    def _preconfirm(self, first: PoolTx | None, taken: list[PoolTx]) -> MiniBlockInfo | None:
        """One mini-block of what is ready: run it on the open EVM block, journal it,
        answer its senders (``MiniBlockPreconfirmed``). A full EVM block is sealed."""
        if first is None:
            return None
        open_evm = self._open_evm()
        included, full = self._fill(
            open_evm.block, first, taken, time.monotonic() + self.block_time
        )
        info = None
        if included:
            info = self._record_mini(open_evm, included)
        taken.clear()  # journaled (or nothing was included): settled
        self.pool.on_block()
        if full:
            self.seal_open()
        return info

    def _record_mini(
        self, open_evm: OpenEvmBlock, included: list[tuple[PoolTx, TxOutcome]]
    ) -> MiniBlockInfo:
        items = [Included(entry.tx, entry.raw, outcome) for entry, outcome in included]
        pre_block = open_evm.block.pre_block.diff if not open_evm.minis else None
        info = open_evm.add(
            items,
            [outcome.output for _, outcome in included],
            [outcome.console for _, outcome in included],
            time.time_ns() // 1000,
        )
        entry = JournalEntry(
            info.timestamp_us,
            tuple((item.raw, item.tx.sender, item.tx.hash in self.unsigned) for item in items),
        )
        journal: dict[bytes, bytes | None] = {journal_mini_key(info.index): entry.encode()}
        if info.index == 0:
            journal[JOURNAL_ENV] = encode_env(open_evm.env, open_evm.first_mini)
        # The preconfirmation's durability: on disk (the WAL) before any sender hears.
        self.db.put_records({CF_CHAIN_META: journal})
        for pool_entry, _ in included:
            self.pool.mark_included(pool_entry)
        self._publish_mini(open_evm, info, items, pre_block)
        return info

    def _publish_mini(
        self,
        open_evm: OpenEvmBlock,
        info: MiniBlockInfo,
        items: list[Included],
        pre_block: StateDiff | None,
    ) -> None:
        diff = mini_block_diff(items, pre_block)
        coinbase = open_evm.env.coinbase
        if any(item.outcome.fee_credit for item in items):
            # The fee credits are folded per transaction into the EVM block's diff only.
            diff.accounts[coinbase] = open_evm.block.state.get_account(coinbase)
        outputs = tuple(open_evm.outputs[info.first_tx :])
        header = mini_block_header(
            info,
            open_evm.env.timestamp,
            [item.raw for item in items],
            open_evm.receipts[info.first_tx :],
        )
        self.publish(
            MiniBlockPreconfirmed(
                info, open_evm.preview(), diff, outputs, header, self._sign(header)
            )
        )

    def seal_open(self) -> MiniBlock:
        """Seal the open EVM block (opening an empty one if none is open): its
        post-block system calls, header and roots, one atomic commit that also deletes
        its journal, then ``BlockSealed``. A block without mini-blocks gets one empty
        mini-block first, so every EVM block has at least one."""
        open_evm = self._open_evm()
        if not open_evm.minis:
            info = open_evm.add((), (), (), time.time_ns() // 1000)
            self._publish_mini(open_evm, info, [], open_evm.block.pre_block.diff)
        sealed = self.builder.seal(open_evm.block, open_evm.included)
        block = sealed.block
        records = self.chain.records(block, open_evm.touched)
        block = block.published(block.diff, index_keys(records))
        meta = records.setdefault(CF_CHAIN_META, {})
        meta[span_key(block.number)] = open_evm.span().encode()
        meta[JOURNAL_ENV] = None
        for info in open_evm.minis:
            meta[journal_mini_key(info.index)] = None
        self._commit(block, sealed, records)
        self.open = None
        self.pool.on_block()
        self.publish(
            BlockSealed(block, tuple(open_evm.outputs), tuple(open_evm.console), open_evm.span())
        )
        return block

    def resume_open(self) -> int:
        """Re-open the EVM block a stop or a kill left open, from its journal: the same
        environment, each journaled mini-block's transactions run again in order (the
        EVM is deterministic, so they preconfirm as they did). Returns the number of
        transactions restored; a journal that does not fit the head is dropped with a
        log line."""
        raw_env = self.chain.meta(JOURNAL_ENV)
        records = list(self.db.records(CF_CHAIN_META, JOURNAL_MINI, JOURNAL_MINI + b"\xff"))
        if raw_env is None:
            if records:
                self._drop_journal(records, "no open-block environment")
            return 0
        head = self.chain.head
        assert head is not None
        try:
            saved = decode_env(raw_env)
            entries = [JournalEntry.decode(value) for _, value in records]
            if saved.number != head.number + 1:
                raise JournalError(f"it opens block {saved.number}, the head is {head.number}")
        except JournalError as error:
            self._drop_journal(records, str(error))
            return 0
        env = self.env_of(saved)
        open_evm = OpenEvmBlock(self._open(env), saved.first_mini)
        try:
            restored = self._rerun(open_evm, entries)
        except JournalError as error:
            self._drop_journal(records, str(error))
            return 0
        self.open = open_evm
        return restored

    def env_of(self, saved: JournaledEnv) -> BlockEnv:
        """The ``BlockEnv`` of an open EVM block from its travelling form (the journal
        on a restart, a replica's copy of the sequencer's open block)."""
        return BlockEnv(
            chain_id=self.config.chain_id,
            coinbase=saved.coinbase,
            number=saved.number,
            timestamp=saved.timestamp,
            gas_limit=saved.gas_limit,
            base_fee=saved.base_fee,
            prev_randao=saved.prev_randao,
            excess_blob_gas=saved.excess_blob_gas,
            blob_base_fee=self.rules.blob_base_fee(saved.excess_blob_gas),
            block_hashes=self.chain.block_hashes_at(saved.number),
            parent_beacon_block_root=ZERO_HASH,
            slot_number=self.slot_number(saved.timestamp),
        )

    def _rerun(self, open_evm: OpenEvmBlock, entries: list[JournalEntry]) -> int:
        restored = 0
        for entry in entries:
            try:
                txs = [
                    decode_transaction(raw, known_sender=sender)
                    for raw, sender, _ in entry.transactions
                ]
            except InvalidTransactionEncoding as error:
                raise JournalError(f"a journaled transaction does not decode: {error}") from None
            for tx, (_, _, unsigned) in zip(txs, entry.transactions, strict=True):
                if unsigned:
                    self.unsigned.add(tx.hash)
            results = self.executor.execute(open_evm.block, self.rules, txs, float("inf"))
            items = []
            for tx, (raw, _, _), result in zip(txs, entry.transactions, results, strict=True):
                if not isinstance(result, TxOutcome):
                    raise JournalError(
                        f"journaled transaction 0x{tx.hash.hex()} no longer runs: {result}"
                    )
                items.append(Included(tx, raw, result))
            open_evm.add(
                items,
                [item.outcome.output for item in items],
                [item.outcome.console for item in items],
                entry.timestamp_us,
            )
            restored += len(items)
        return restored

    def _drop_journal(self, records: list[tuple[bytes, bytes]], reason: str) -> None:
        log.error("dropping the open EVM block's journal: %s", reason)
        dropped: dict[bytes, bytes | None] = {key: None for key, _ in records}
        dropped[JOURNAL_ENV] = None
        self.db.put_records({CF_CHAIN_META: dropped})
