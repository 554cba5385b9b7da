"""A worker process: a copy of the head state, kept in step by sealed blocks, that
executes batches of transactions on request (DESIGN §7).

Owns the worker's side of the protocol (``sequencer.workers.protocol``): it holds
the state as plain dicts (``DictState``), seeded once with the sequencer's resident
state and then advanced by each sealed block's normalised diff, in block order; the
pipe is ordered, so a request always finds every block sealed before it applied.
It runs its own engine (``jit.compiler.Engine``, compiling inline: it is already off
the sequencer's core). It never writes anything but its own memory.

A request names the head it was made at; a worker at another head answers
``Stale`` (the sequencer then runs the batch itself and re-seeds the worker).
"""

from __future__ import annotations

import logging
import pickle
from dataclasses import replace
from multiprocessing.connection import Connection

from jit.compiler import Engine
from jit.evm.transaction import TxOutcome
from jit.forks import rules_for
from sequencer.executor.share import run_share
from sequencer.gc_tuning import tune_gc
from sequencer.workers.protocol import (
    ApplyBlock,
    Details,
    DetailsSent,
    Execute,
    Executed,
    Seed,
    Stale,
    Stop,
    WorkerConfig,
)
from statedb.conflicts import ReadSet
from statedb.types import DictState, StateDiff
from statedb.views import OverlayView

log = logging.getLogger("hummingbird.worker")

# What a compact outcome carries instead of its diff and read set (pickled once per
# reply, however many outcomes share it; never mutated).
_NO_DIFF = StateDiff()
_NO_READS = ReadSet()


class WorkerState:
    """The worker's copy of the chain head (single-threaded)."""

    def __init__(self, config: WorkerConfig) -> None:
        self.state = DictState()
        self.head = -1  # no state yet
        self.engine = Engine(config.engine, hot_threshold=config.hot_threshold)
        self._last: tuple[int, list[TxOutcome | None]] | None = None  # for ``Details``

    def seed(self, message: Seed) -> None:
        state = DictState()
        state.accounts = message.accounts
        state.storage = message.storage
        state.codes = message.codes
        self.state = state
        self.head = message.head
        # The state is long-lived: out of the collector's way, as the node's own is.
        tune_gc()

    def apply(self, message: ApplyBlock) -> None:
        if message.number != self.head + 1:
            self.head = -1  # out of step: every request is Stale until a new seed
            return
        self.state.apply(message.diff)
        self.head = message.number

    def execute(self, message: Execute) -> Executed | Stale:
        if message.head != self.head:
            return Stale(message.request_id, self.head)
        share = run_share(
            message.transactions,
            message.env,
            OverlayView(self.state, message.base),
            rules_for(message.fork),
            message.gas_used,
            message.blob_gas_used,
            self.engine.runner,
        )
        self._last = (message.request_id, share.results)
        compact = [
            None if outcome is None else replace(outcome, diff=_NO_DIFF, reads=_NO_READS)
            for outcome in share.results
        ]
        return Executed(message.request_id, replace(share, results=compact))

    def details(self, message: Details) -> DetailsSent:
        last = self._last
        if last is None or last[0] != message.request_id:
            return DetailsSent(message.request_id, None)
        return DetailsSent(message.request_id, last[1])

    def close(self) -> None:
        self.engine.close()


def worker_main(conn: Connection, config: WorkerConfig) -> None:
    """The process entry point: serve ``conn`` until ``Stop`` or the pipe closes."""
    worker = WorkerState(config)
    try:
        while True:
            try:
                payload = conn.recv_bytes()
            except (EOFError, OSError):
                return  # the sequencer went away
            try:
                message = pickle.loads(payload)
            except Exception:  # a bad message is dropped, the worker keeps serving
                log.exception("worker: unreadable message (%d bytes)", len(payload))
                continue
            if isinstance(message, ApplyBlock):
                worker.apply(message)
            elif isinstance(message, Execute):
                reply: Executed | Stale | DetailsSent = worker.execute(message)
                conn.send_bytes(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))
            elif isinstance(message, Details):
                reply = worker.details(message)
                conn.send_bytes(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))
            elif isinstance(message, Seed):
                worker.seed(message)
            elif isinstance(message, Stop):
                return
            else:
                log.error("worker: unknown message %r", type(message).__name__)
    except KeyboardInterrupt:
        return
    finally:
        worker.close()
