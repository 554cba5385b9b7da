"""The optimistic parallel executor on trial against the blockchain fixtures (issue 15).

``FixtureParallelExecutor`` is an ``Executor`` for ``blockchaintest.apply_block``: it
seeds its worker processes with the block's parent state (a fixture is not a chain the
workers follow block by block) and hands the block to ``OptimisticExecutor``, with the
fallbacks that only serve speed turned off (every block with a transaction runs in
parallel, whatever it costs) and the first sender dealt to a worker, so every fixture
block crosses the process boundary (seed, request with the pre-block calls' diff as
base, compact and full outcomes) and, with two or more senders, is shared out, merged
and, where it conflicts, re-executed; it must then give the fixture's exact receipts,
roots and post state. A pool that breaks fails the
run instead of falling back quietly.

One pool per process (``executor_for``), closed at exit.
"""

from __future__ import annotations

import atexit
from collections.abc import Sequence
from dataclasses import dataclass

from jit.evm.exceptions import InvalidTransaction
from jit.evm.transaction import TxOutcome
from jit.forks import ForkRules
from sequencer.builder import OpenBlock
from sequencer.executor.optimistic import OptimisticExecutor
from sequencer.types.transactions import Transaction
from sequencer.workers.pool import WorkerPool
from sequencer.workers.protocol import WorkerConfig
from statedb.types import DictState
from tests.conformance.engines import runner

WORKER_START_TIMEOUT = 60.0  # seconds for a spawned worker to import and start


class WorkerPoolBroken(RuntimeError):
    """A worker died or stopped answering: the run cannot judge the parallel path."""


@dataclass(frozen=True, slots=True)
class ParallelStats:
    """What the executor did so far in this process."""

    blocks: int  # blocks with at least one transaction
    parallel_blocks: int  # of those, shared out to the workers
    transactions: int
    reexecuted: int  # outcomes thrown away at the merge and re-run on the exact state


class FixtureParallelExecutor:
    def __init__(self, engine: str, workers: int, min_batch: int = 1) -> None:
        self.pool = WorkerPool(workers, WorkerConfig(engine, 0), DictState(), -1)
        if not self.pool.wait_ready(WORKER_START_TIMEOUT):
            self.pool.close()
            raise WorkerPoolBroken(f"{workers} worker processes did not start")
        self.optimistic = OptimisticExecutor(
            self.pool,
            runner(engine),
            min_batch=min_batch,
            max_conflict_ratio=1.0,
            measured=False,
            first_share=1,
        )

    def execute(
        self, block: OpenBlock, rules: ForkRules, batch: Sequence[Transaction], deadline: float
    ) -> list[TxOutcome | InvalidTransaction]:
        base = block.base
        if not isinstance(base, DictState):
            raise TypeError("fixture blocks are opened on a DictState")
        # The workers take the parent state as the fixture has it now (pickled at once;
        # the pre-block system calls' diff travels with the request as its base).
        self.pool.seed(base, block.parent.number)
        results = self.optimistic.execute(block, rules, batch, deadline)
        if self.pool.broken:
            raise WorkerPoolBroken("a worker process failed during a fixture block")
        return results

    def stats(self) -> ParallelStats:
        stats = self.optimistic.stats
        return ParallelStats(
            stats.batches, stats.parallel_batches, stats.transactions, stats.reexecuted
        )

    def close(self) -> None:
        self.pool.close()


_EXECUTORS: dict[tuple[str, int], FixtureParallelExecutor] = {}


def executor_for(engine: str, workers: int) -> FixtureParallelExecutor:
    """This process's executor for ``engine`` with ``workers`` worker processes."""
    key = (engine, workers)
    executor = _EXECUTORS.get(key)
    if executor is None or executor.pool.broken:
        executor = _EXECUTORS[key] = FixtureParallelExecutor(engine, workers)
    return executor


@atexit.register
def _close_all() -> None:
    for executor in _EXECUTORS.values():
        executor.close()
    _EXECUTORS.clear()
