"""The mini-block producer: the single writer of the chain (DESIGN §4).

Owns opening a block (its environment: EIP-1559 base fee, EIP-4844/7918 excess
blob gas, wall-clock timestamp that never runs ahead of the clock nor behind
the parent), the per-block system calls (EIP-4788 and EIP-2935 before the
transactions, EIP-7002 and EIP-7251 after, EIP-7685 requests hash), handing
batches of ready pool transactions to the executor, and sealing: receipts,
logs bloom, ordered-trie roots, state root, one atomic commit, publication.

A block is sealed when the ready queue has drained or when it has been open
for ``block_time``, whichever comes first; an empty block is never sealed
(except on explicit request: ``mine``, interval mining).

The dev methods steer the next block through ``BlockParams`` (coinbase, gas limit,
a one-block base fee and prevRandao), the ``Clock`` (timestamps) and ``StateEdits``
(state changes made outside transactions, carried by the next block's diff).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from jit.evm.exceptions import InvalidTransaction, NonceTooHigh
from jit.evm.frame import BlockEnv
from jit.evm.gas import BLOB_BASE_COST, GAS_PER_BLOB
from jit.evm.state import CodeRunner
from jit.evm.transaction import TxOutcome, execute_system_call
from jit.forks import ForkRules
from sequencer.chain import Chain
from sequencer.clock import Clock
from sequencer.config import ChainConfig
from sequencer.edits import EDITS_RECORD, StateEdits
from sequencer.errors import TransactionRejected
from sequencer.executor import BlockProgress, Executor
from sequencer.genesis import (
    BEACON_ROOTS_ADDRESS,
    CONSOLIDATION_REQUEST_ADDRESS,
    HISTORY_STORAGE_ADDRESS,
    WITHDRAWAL_REQUEST_ADDRESS,
)
from sequencer.pool import PoolTx, TxPool
from sequencer.trie import EMPTY_TRIE_ROOT, ordered_trie_root
from sequencer.types.blocks import (
    EMPTY_BLOOM,
    EMPTY_REQUESTS_HASH,
    ZERO_HASH,
    ChainLog,
    Header,
    MiniBlock,
    Receipt,
    block_size,
    encode_logs,
    logs_bloom,
)
from statedb import PreparedBlock, StateDB
from statedb.keys import CF_CHAIN_META
from statedb.types import Address, StateDiff, keccak256
from statedb.views import OverlayView

ELASTICITY_MULTIPLIER: Final = 2
BASE_FEE_MAX_CHANGE_DENOMINATOR: Final = 8


def next_base_fee(parent: Header) -> int:
    """EIP-1559."""
    target = parent.gas_limit // ELASTICITY_MULTIPLIER
    base = parent.base_fee_per_gas
    if parent.gas_used == target or target == 0:
        return base
    if parent.gas_used > target:
        delta = base * (parent.gas_used - target) // target // BASE_FEE_MAX_CHANGE_DENOMINATOR
        return base + max(delta, 1)
    delta = base * (target - parent.gas_used) // target // BASE_FEE_MAX_CHANGE_DENOMINATOR
    return base - delta


def next_excess_blob_gas(parent: Header, rules: ForkRules) -> int:
    """EIP-4844, with EIP-7918's reserve price from Osaka."""
    target = rules.target_blob_gas_per_block
    if parent.excess_blob_gas + parent.blob_gas_used < target:
        return 0
    if rules.eip7918 and BLOB_BASE_COST * parent.base_fee_per_gas > GAS_PER_BLOB * (
        rules.blob_base_fee(parent.excess_blob_gas)
    ):
        schedule = rules.blob_schedule
        return (
            parent.excess_blob_gas
            + parent.blob_gas_used * (schedule.max - schedule.target) // schedule.max
        )
    return parent.excess_blob_gas + parent.blob_gas_used - target


def requests_hash(requests: list[bytes]) -> bytes:
    """EIP-7685: sha256 over sha256(type || data) of each non-empty request list."""
    digest = hashlib.sha256()
    for request in requests:
        if len(request) > 1:
            digest.update(hashlib.sha256(request).digest())
    return digest.digest()


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
        publish: Callable[[MiniBlock], None],
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
        self.engine = engine  # runs the system contracts' code (None: the interpreter)
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
            block_hashes=self.chain.block_hashes,
            parent_beacon_block_root=ZERO_HASH,
        )

    def _pre_block(self, env: BlockEnv, diff: StateDiff) -> None:
        parent = self.chain.head
        assert parent is not None
        view = OverlayView(self.db.head, diff)
        calls = [(BEACON_ROOTS_ADDRESS, env.parent_beacon_block_root or ZERO_HASH)]
        if self.rules.eip2935:
            calls.append((HISTORY_STORAGE_ADDRESS, parent.hash))
        for target, data in calls:
            result = execute_system_call(target, data, env, view, self.rules, engine=self.engine)
            if result is not None:
                diff.merge(result.diff)

    def _post_block(self, env: BlockEnv, diff: StateDiff) -> bytes:
        if not self.rules.system_requests:
            return EMPTY_REQUESTS_HASH
        view = OverlayView(self.db.head, diff)
        requests: list[bytes] = [b"\x00"]  # EIP-6110 deposits: no deposit contract here
        for kind, target in ((1, WITHDRAWAL_REQUEST_ADDRESS), (2, CONSOLIDATION_REQUEST_ADDRESS)):
            result = execute_system_call(target, b"", env, view, self.rules, engine=self.engine)
            if result is None or not result.success:
                requests.append(bytes((kind,)))
                continue
            diff.merge(result.diff)
            requests.append(bytes((kind,)) + result.output)
        return requests_hash(requests)

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
        progress = self._open(env)
        requests = self._post_block(env, progress.diff)
        block, _ = self._assemble(env, progress, [], requests)
        pending = PendingBlock(block, env, progress.diff)
        self._pending = (generation, pending)
        return pending

    def _open(self, env: BlockEnv) -> BlockProgress:
        """A block's progress before its transactions: the pending edits, then the
        pre-block system calls."""
        progress = BlockProgress()
        if self.edits:
            progress.diff.merge(self.edits.copy())
        self._pre_block(env, progress.diff)
        return progress

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
        progress = self._open(env)
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
            results = self.executor.execute(
                env, self.db.head, self.rules, [p.tx for p in batch], progress, deadline
            )
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
        requests = self._post_block(env, progress.diff)
        block, prepared = self._assemble(env, progress, included, requests)
        records = self.chain.records(block)
        if self.edits:  # the block carries them now: the persisted copy goes with the seal
            records[CF_CHAIN_META] = {EDITS_RECORD: None}
        self.db.commit(block.number, prepared, records)  # the seal
        taken.clear()  # sealed: nothing to give back from here on
        self.chain.appended(block)
        if self.edits:
            self.edits.clear()
        self.clock.sealed(env.timestamp)
        self.params.next_base_fee = None
        self.params.next_prev_randao = None
        for index, (entry, outcome) in enumerate(included):
            pool.mark_included(entry, block.number, index, outcome.success, outcome.output)
        pool.on_block()
        self.publish(block)
        return block

    def _assemble(
        self,
        env: BlockEnv,
        progress: BlockProgress,
        included: list[tuple[PoolTx, TxOutcome]],
        requests: bytes,
    ) -> tuple[MiniBlock, PreparedBlock]:
        """The block and its staged state change: receipts, bloom, roots; commits nothing."""
        parent = self.chain.head
        assert parent is not None
        receipts: list[Receipt] = []
        cumulative = 0
        for entry, outcome in included:
            cumulative += outcome.gas_used
            logs = tuple(ChainLog(log.address, tuple(log.topics), log.data) for log in outcome.logs)
            receipts.append(
                Receipt(
                    tx_type=entry.tx.tx_type,
                    status=1 if outcome.success else 0,
                    cumulative_gas_used=cumulative,
                    gas_used=outcome.gas_used,
                    effective_gas_price=outcome.effective_gas_price,
                    contract_address=outcome.contract_address,
                    blob_gas_used=outcome.blob_gas_used,
                    logs=logs,
                    logs_bloom=logs_bloom(logs) if logs else EMPTY_BLOOM,
                    logs_rlp=encode_logs(logs),
                )
            )
        transactions = tuple(entry.tx for entry, _ in included)
        encoded = tuple(entry.raw for entry, _ in included)
        bloom = 0
        for receipt in receipts:
            if receipt.logs:
                bloom |= int.from_bytes(receipt.logs_bloom, "big")
        prepared = self.db.prepare(progress.diff)
        header = Header(
            parent_hash=parent.hash,
            coinbase=env.coinbase,
            state_root=prepared.state_root,
            transactions_root=ordered_trie_root(encoded),
            receipts_root=ordered_trie_root([r.consensus_encoding() for r in receipts]),
            logs_bloom=bloom.to_bytes(256, "big"),
            number=env.number,
            gas_limit=env.gas_limit,
            gas_used=progress.gas_used,
            timestamp=env.timestamp,
            base_fee_per_gas=env.base_fee,
            withdrawals_root=EMPTY_TRIE_ROOT,
            blob_gas_used=progress.blob_gas_used,
            excess_blob_gas=env.excess_blob_gas,
            parent_beacon_block_root=env.parent_beacon_block_root or ZERO_HASH,
            requests_hash=requests,
            prev_randao=env.prev_randao,
        )
        block = MiniBlock(
            header,
            header.hash(),
            transactions,
            tuple(receipts),
            block_size(header, encoded),
            encoded,
        )
        return block, prepared
