"""The optimistic parallel executor (Block-STM / Monad style, over worker processes).

Owns running one batch on several cores with results identical to
``SerialExecutor`` (the oracle). The batch's transactions are shared out by sender
(all of one sender's transactions on one executor, so its nonce chain never
conflicts with itself) between the sequencer itself and the worker processes. Each
executor runs its share in block order on the block's state as it was when the batch
started, plus its own earlier results. Then the sequencer merges every outcome in
block order, exactly as the serial executor would fold it (``OpenBlock.apply``), after
checking its read set against the keys written since the batch started by anything
its executor did not see (``last_writer``): the other executors' transactions, the
coinbase fee credits (applied only here) and transactions re-run here. An outcome
that read such a key is thrown away and the transaction re-run on the exact state
(with the serial executor's rules); its writes then count as unseen by everyone.
A transaction that was invalid on its executor's view is re-run the same way.

Why this is exact: an outcome is a function of what the transaction read. If nothing
it read changed between the state its executor saw and the state the serial order
gives it, it reads the same values, so it computes the same outcome.

Workers with a simulation outstanding (``WorkerPool.free_for_batch``) get no share,
so block production never waits behind an eth_call.

Fallback (where parallelism cannot pay, or cannot be exact): batches smaller than
``min_batch``, a pool that is broken or not at the head, no worker free, a batch whose gas limits (or
blob gas) do not all fit in the block's room (each share checks a transaction's gas
against the room at the batch's start, which is exact only if the whole batch fits: the
producer sizes its batches so; a fixture's block that overfills its gas limit must fail
exactly where the serial order fails it); after a batch in which more than
``max_conflict_ratio`` of the transactions had to be re-run, the next ``cooldown``
batches run serially; and by measurement: the first large batch runs serially to
time it (the first parallel one, which compiles in the workers, is not timed), and
whenever the parallel cost per transaction (an exponential average of
wall time) exceeds the serial one, the next ``8 * cooldown`` batches run serially, then
it measures again. So a machine whose cores do not run two processes at full speed
each, or a workload the overheads eat, costs at most one batch in 65.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Container, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Final

from jit.evm.exceptions import InvalidTransaction
from jit.evm.gas import GAS_PER_BLOB
from jit.evm.state import CodeRunner
from jit.evm.transaction import TxOutcome, block_gas_bounds, coinbase_credit_diff
from jit.forks import ForkRules
from sequencer.executor.serial import SerialExecutor
from sequencer.executor.share import HAS_STORAGE, run_share, write_keys
from sequencer.types.transactions import Transaction
from sequencer.workers.pool import WorkerPool
from sequencer.workers.protocol import Execute, Executed, ShareResult
from statedb.types import Address, Hash32, StateDiff

if TYPE_CHECKING:
    from sequencer.builder import OpenBlock

log = logging.getLogger("hummingbird.executor")

SEQUENCER: Final = -1  # the writer of fee credits and of transactions re-run here
# The sequencer's share of a batch relative to a worker's: it also sends the requests,
# unpickles the answers and merges them (measured in docs/benchmarks.md).
DEFAULT_OWN_WEIGHT: Final = 1.25
WORKER_TIMEOUT: Final = 30.0  # seconds a batch may take on a worker before it is given up


class BatchStats:
    """What the last batches did (for the fallback rule and the benchmark)."""

    __slots__ = ("batches", "parallel_batches", "reexecuted", "transactions")

    def __init__(self) -> None:
        self.batches = 0
        self.parallel_batches = 0
        self.transactions = 0
        self.reexecuted = 0


class OptimisticExecutor:
    def __init__(
        self,
        workers: WorkerPool,
        engine: CodeRunner | None = None,
        unsigned: Container[Hash32] = frozenset(),
        *,
        min_batch: int = 16,
        max_conflict_ratio: float = 0.5,
        cooldown: int = 8,
        measured: bool = True,
        first_share: int = 0,
        own_weight: float = DEFAULT_OWN_WEIGHT,
    ) -> None:
        """``measured``: choose by measured cost (below); False runs every batch that is
        large enough in parallel (tests, the executor benchmark). ``first_share``: the
        share the batch's first sender is dealt to (0, the sequencer's own, by default;
        the fixture trial deals it to a worker so one-sender blocks cross the pipe too)."""
        if not 0 <= first_share <= workers.count:
            raise ValueError(f"first_share {first_share} is not one of 0..{workers.count}")
        self.workers = workers
        self.engine = engine
        self.unsigned = unsigned
        self.serial = SerialExecutor(engine, unsigned)
        self.min_batch = min_batch
        self.max_conflict_ratio = max_conflict_ratio
        self.cooldown = cooldown
        self.measured = measured
        self.first_share = first_share
        if not 0.0 < own_weight <= 8.0:
            raise ValueError(f"own_weight must be in (0, 8], got {own_weight}")
        self.own_weight = own_weight
        self._serial_left = 0  # batches still to run serially after high contention
        self._request_id = 0
        # Seconds per transaction of recent batches that ran each way (None: not yet).
        self._serial_cost: float | None = None
        self._parallel_cost: float | None = None
        self._parallel_warm = False
        self._since_serial = 0  # batches since the last serial one
        self.stats = BatchStats()

    def execute(
        self,
        block: OpenBlock,
        rules: ForkRules,
        batch: Sequence[Transaction],
        deadline: float,
    ) -> list[TxOutcome | InvalidTransaction]:
        stats = self.stats
        stats.batches += 1
        stats.transactions += len(batch)
        workers = self.workers
        free = workers.free_for_batch()  # not busy with a simulation
        if (
            len(batch) < self.min_batch
            or workers.broken
            or workers.head != block.parent.number
            or not free
            or not _fits(block, rules, batch)
        ):
            return self.serial.execute(block, rules, batch, deadline)
        # Serial while cooling down, to take the first measurement, and once in a while
        # to measure it again (the machine's load changes, e.g. workers that were still
        # starting when the first serial batch was timed).
        self._since_serial += 1
        serial = self._serial_left > 0 or (
            self.measured and (self._serial_cost is None or self._since_serial > 8 * self.cooldown)
        )
        start = time.perf_counter()
        if serial:
            self._since_serial = 0
            self._serial_left = max(0, self._serial_left - 1)
            results = self.serial.execute(block, rules, batch, deadline)
            if results:
                self._serial_cost = _ewma(
                    self._serial_cost, (time.perf_counter() - start) / len(results)
                )
            return results
        stats.parallel_batches += 1
        results = self._parallel(block, rules, batch, free)
        if not self._parallel_warm:
            # The first parallel batch pays for the workers' first compiles: not a sample.
            self._parallel_warm = True
            return results
        self._parallel_cost = _ewma(self._parallel_cost, (time.perf_counter() - start) / len(batch))
        if (
            self.measured
            and self._serial_cost is not None
            and self._parallel_cost > self._serial_cost
        ):
            # Parallelism does not pay on this machine and workload now: serial for a
            # while, then measure again (the workload or the machine's load may change).
            self._serial_left = max(self._serial_left, self.cooldown * 8)
        return results

    # ------------------------------------------------------------ parallel

    def _parallel(
        self, block: OpenBlock, rules: ForkRules, batch: Sequence[Transaction], free: list[int]
    ) -> list[TxOutcome | InvalidTransaction]:
        """Share ``s`` >= 1 runs on worker ``free[s - 1]``."""
        workers = self.workers
        shares = len(free) + 1  # the sequencer runs share 0 itself
        owner = _share_by_sender(batch, shares, min(self.first_share, shares - 1), self.own_weight)
        unsigned = self.unsigned
        members: list[list[tuple[Transaction, bool]]] = [[] for _ in range(shares)]
        for tx, share in zip(batch, owner, strict=True):
            members[share].append((tx, tx.hash not in unsigned))
        self._request_id += 1
        sent = [False] * shares
        for share in range(1, shares):
            if members[share]:
                sent[share] = workers.send(
                    free[share - 1],
                    Execute(
                        self._request_id,
                        block.parent.number,
                        rules.key,
                        block.env,
                        block.diff,
                        block.gas_used,
                        block.blob_gas_used,
                        tuple(members[share]),
                    ),
                )
        # Share 0 here, meanwhile, on the same starting state.
        results: list[ShareResult | None] = [
            run_share(
                members[0],
                block.env,
                block.state,
                rules,
                block.gas_used,
                block.blob_gas_used,
                self.engine,
            )
        ]
        for share in range(1, shares):
            reply = workers.receive(free[share - 1], WORKER_TIMEOUT) if sent[share] else None
            if isinstance(reply, Executed) and reply.request_id == self._request_id:
                results.append(reply.share)
            else:
                results.append(None)  # stale, dead or late: its transactions re-run here
        if self._independent(block, results, members):
            return self._merge_independent(block, batch, owner, results)
        # The per-transaction check needs each outcome's diff and read set: the workers
        # sent compact outcomes (whole from Amsterdam), so ask for the full ones (a
        # share that cannot give them is re-run here).
        for share in range(1, shares):
            result = results[share]
            if result is None or rules.eip7928:
                continue
            full = workers.details(free[share - 1], self._request_id, WORKER_TIMEOUT)
            results[share] = (
                None
                if full is None or full.results is None
                else replace(result, results=full.results)
            )
        return self._merge(block, rules, batch, owner, results)

    def _independent(
        self,
        block: OpenBlock,
        results: list[ShareResult | None],
        members: list[list[tuple[Transaction, bool]]],
    ) -> bool:
        """Whether no share read a key another share wrote, every transaction was valid
        on its executor, nothing was wiped, and nobody read the coinbase while fees were
        credited: then every outcome is what the serial order gives."""
        coinbase = block.env.coinbase
        credited = False
        for index, result in enumerate(results):
            if result is None:
                if members[index]:
                    return False
                continue
            if result.wipes or None in result.results:
                return False
            credited = credited or any(o.fee_credit for o in result.results if o is not None)
        present = [r for r in results if r is not None]
        for reader in present:
            if credited and coinbase in reader.reads:
                return False
            for writer in present:
                if writer is not reader and not reader.reads.isdisjoint(writer.writes):
                    return False
        return True

    def _merge_independent(
        self,
        block: OpenBlock,
        batch: Sequence[Transaction],
        owner: list[int],
        results: list[ShareResult | None],
    ) -> list[TxOutcome | InvalidTransaction]:
        """Fold independent shares whole: their writes are disjoint, so the order they are
        applied in does not matter, and one credit of all the fees leaves the coinbase as
        the per-transaction credits would (nobody read it in between)."""
        credit = 0
        for result in results:
            if result is not None:
                block.diff.merge(result.diff)
        merged: list[TxOutcome | InvalidTransaction] = []
        positions = [0] * len(results)
        for share in owner:
            result = results[share]
            assert result is not None
            outcome = result.results[positions[share]]
            assert outcome is not None
            positions[share] += 1
            credit += outcome.fee_credit
            block.count_gas(outcome)
            merged.append(outcome)
        if credit:
            block.diff.merge(coinbase_credit_diff(block.state, block.env.coinbase, credit))
        return merged

    def _merge(
        self,
        block: OpenBlock,
        rules: ForkRules,
        batch: Sequence[Transaction],
        owner: list[int],
        results: list[ShareResult | None],
    ) -> list[TxOutcome | InvalidTransaction]:
        """Transaction by transaction, in block order, checking each read set against the
        keys last written by someone its executor did not see."""
        coinbase = block.env.coinbase
        positions = [0] * len(results)
        last_writer: dict[object, int] = {}
        wiped = False  # any storage wipe merged yet (slot reads must then check it)
        merged: list[TxOutcome | InvalidTransaction] = []
        reexecuted = 0
        for tx, share in zip(batch, owner, strict=True):
            result = results[share]
            outcome: TxOutcome | None = None
            if result is not None:
                outcome = result.results[positions[share]]
                positions[share] += 1
            if outcome is not None and _valid(outcome, share, last_writer, wiped):
                wiped |= _record_writes(outcome.diff, share, last_writer)
                block.apply(outcome)
                if outcome.fee_credit:
                    last_writer[coinbase] = SEQUENCER
                merged.append(outcome)
                continue
            reexecuted += 1
            if outcome is not None:  # its executor's later transactions saw these
                wiped |= _record_writes(outcome.diff, SEQUENCER, last_writer)
            exact = self.serial.execute(block, rules, (tx,), float("inf"))[0]
            merged.append(exact)  # folded by the serial executor when valid
            if isinstance(exact, InvalidTransaction):
                continue
            wiped |= _record_writes(exact.diff, SEQUENCER, last_writer)
            if exact.fee_credit:
                last_writer[coinbase] = SEQUENCER
        self.stats.reexecuted += reexecuted
        if reexecuted > self.max_conflict_ratio * len(batch):
            self._serial_left = self.cooldown
        return merged


def _fits(block: OpenBlock, rules: ForkRules, batch: Sequence[Transaction]) -> bool:
    """Whether every transaction of ``batch`` fits the block's gas and blob gas room
    together (in each EIP-8037 dimension), so no order of them can run out of it."""
    gas_limit = block.env.gas_limit
    gas = state_gas = 0
    for tx in batch:
        tx_gas, tx_state_gas = block_gas_bounds(tx, rules, gas_limit)
        gas += tx_gas
        state_gas += tx_state_gas
    blobs = sum(len(tx.blob_versioned_hashes) for tx in batch)
    return (
        gas <= gas_limit - block.gas_used
        and state_gas <= gas_limit - block.state_gas_used
        and GAS_PER_BLOB * blobs <= rules.max_blob_gas_per_block - block.blob_gas_used
    )


def _ewma(previous: float | None, sample: float) -> float:
    return sample if previous is None else 0.7 * previous + 0.3 * sample


def _share_by_sender(
    batch: Sequence[Transaction], shares: int, first: int, own_weight: float = 1.0
) -> list[int]:
    """Each transaction's executor: all of a sender's transactions on one share; a new
    sender (in order of first appearance, the first on share ``first``) goes to the share
    with the fewest transactions per unit of weight, the sequencer's share 0 weighing
    ``own_weight`` (it also unpickles and merges the others' results) and each worker 1,
    so the shares finish together."""
    assigned: dict[Address, int] = {}
    load = [0] * shares
    weight = [own_weight] + [1.0] * (shares - 1)
    owner: list[int] = []
    for tx in batch:
        share = assigned.get(tx.sender)
        if share is None:
            if not assigned:
                share = first
            else:
                share = min(range(shares), key=lambda s: (load[s] + 1) / weight[s])
            assigned[tx.sender] = share
        load[share] += 1
        owner.append(share)
    return owner


def _valid(outcome: TxOutcome, share: int, last_writer: dict[object, int], wiped: bool) -> bool:
    """Whether everything ``outcome`` read is what its executor saw: no key it read was
    last written (since the batch started) by anyone but that executor."""
    if not last_writer:
        return True
    get = last_writer.get
    reads = outcome.reads
    for address in reads.accounts:
        writer = get(address)
        if writer is not None and writer != share:
            return False
    for key in reads.slots:
        writer = get(key)
        if writer is not None and writer != share:
            return False
        if wiped:
            writer = get((key[0], None))
            if writer is not None and writer != share:
                return False
    for address in reads.has_storage:
        writer = get((address, HAS_STORAGE))
        if writer is not None and writer != share:
            return False
    return True


def _record_writes(diff: StateDiff, writer: int, last_writer: dict[object, int]) -> bool:
    """Note ``writer`` as the last writer of every key ``diff`` writes; True if it wipes."""
    keys: set[object] = set()
    wipes = write_keys(diff, keys)
    for key in keys:
        last_writer[key] = writer
    return wipes
