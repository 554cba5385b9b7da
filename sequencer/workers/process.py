"""A worker process: a copy of the head state, kept in step by sealed blocks, that
executes batches of transactions on request (DESIGN §7).

Owns the worker's side of the protocol (``sequencer.workers.protocol``): it holds
the state as plain dicts (``DictState``), seeded once with the sequencer's resident
state and then advanced by each sealed block's normalised diff, in block order; the
pipe is ordered, so a request always finds every block sealed before it applied.
It runs its own engine (``jit.compiler.Engine``, compiling on the engine's thread as the
sequencer's does, machine code included). It never writes anything but its own memory.

A request names the head it was made at; a worker at another head answers
``Stale`` (the sequencer then runs the batch itself and re-seeds the worker).

Simulations (``Simulate``: eth_call, eth_estimateGas, eth_createAccessList) come on a
second pipe, which the worker serves first whenever both have something: a
simulation was pinned at the head when it was sent, and serving it before the blocks
sealed since keeps it from going stale. One that names a later head than the worker's
first applies the blocks already in the first pipe (they were sent before it). Each
runs under its deadline: a ``SIGALRM`` timer raises ``_Deadline`` (a
``BaseException``, which the EVM's fault handlers do not catch) in the worker's only
thread, so a runaway call stops itself and the worker serves the next request.
"""

from __future__ import annotations

import logging
import pickle
import signal
from dataclasses import replace
from multiprocessing.connection import Connection, wait
from typing import Any

from jit.evm.transaction import TxOutcome
from jit.forks import rules_named
from sequencer.config import engine_from
from sequencer.errors import NodeError
from sequencer.executor.share import run_share
from sequencer.gc_tuning import tune_gc
from sequencer.simulation import pinned_simulator
from sequencer.workers.protocol import (
    ApplyBlock,
    Details,
    DetailsSent,
    Execute,
    Executed,
    Seed,
    Simulate,
    Simulated,
    Stale,
    Stop,
    WorkerConfig,
)
from statedb.conflicts import ReadSet
from statedb.types import DictState, StateDiff, StateReader
from statedb.views import OverlayView

log = logging.getLogger("hummingbird.worker")

# What a compact outcome carries instead of its diff and read set (pickled once per
# reply, however many outcomes share it; never mutated).
_NO_DIFF = StateDiff()
_NO_READS = ReadSet()
CATCH_UP_WAIT = 1.0  # seconds to wait for a block a simulation's head says was sent


class _Deadline(BaseException):
    """Raised by the SIGALRM handler in the middle of a simulation past its deadline."""


def _on_alarm(signum: int, frame: object) -> None:
    raise _Deadline


class WorkerState:
    """The worker's copy of the chain head (single-threaded)."""

    def __init__(self, config: WorkerConfig) -> None:
        self.state = DictState()
        self.head = -1  # no state yet
        # As in the sequencer: compiled on the engine's thread (background), and machine
        # code (auto with llvmlite, native) only where the runs' profile says it pays.
        self.engine = engine_from(config, background=True)
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
        rules = rules_named(message.fork)
        share = run_share(
            message.transactions,
            message.env,
            OverlayView(self.state, message.base),
            rules,
            message.gas_used,
            message.blob_gas_used,
            self.engine.runner,
        )
        self._last = (message.request_id, share.results)
        if rules.eip7928:
            # The seal builds the block's access list from every outcome's diff and read
            # set (independent shares included): they travel whole.
            return Executed(message.request_id, share)
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

    def simulate(self, message: Simulate) -> Simulated:
        if message.head != self.head:
            return Simulated(message.request_id, stale=True)
        call = message.call
        reader: StateReader = (
            self.state if message.base is None else OverlayView(self.state, message.base)
        )
        simulator = pinned_simulator(
            call.number,
            reader,
            message.env,
            rules_named(message.fork),
            self.engine.runner,
            message.chain_id,
            message.gas_cap,
        )
        try:
            signal.setitimer(signal.ITIMER_REAL, message.timeout)
            try:
                value = simulator.run(call)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
        except _Deadline:
            log.info("worker: simulation stopped at its %gs deadline", message.timeout)
            return Simulated(message.request_id, timed_out=True)
        except NodeError as error:
            return Simulated(message.request_id, error=error, console=simulator.console)
        except Exception as error:  # a bug: reported to the caller, the worker goes on
            log.exception("worker: simulation failed")
            return Simulated(
                message.request_id, error=NodeError(f"internal error in simulation: {error}")
            )
        return Simulated(message.request_id, value=value, console=simulator.console)

    def close(self) -> None:
        self.engine.close()


def worker_main(conn: Connection, sim_conn: Connection, config: WorkerConfig) -> None:
    """The process entry point: serve ``conn`` (blocks and batches) and ``sim_conn``
    (simulations) until ``Stop`` or the sequencer goes away."""
    worker = WorkerState(config)
    signal.signal(signal.SIGALRM, _on_alarm)
    try:
        while True:
            ready = wait([sim_conn, conn])
            if sim_conn in ready:
                if not _serve_simulation(worker, conn, sim_conn):
                    return
            elif not _serve(worker, conn):
                return
    except KeyboardInterrupt:
        return
    finally:
        worker.close()


def _receive(conn: Connection) -> Any:
    """The next message on ``conn``; None if it is unreadable (dropped, logged);
    raises EOFError / OSError when the sequencer is gone."""
    payload = conn.recv_bytes()
    try:
        return pickle.loads(payload)
    except Exception:  # a bad message is dropped, the worker keeps serving
        log.exception("worker: unreadable message (%d bytes)", len(payload))
        return None


def _serve(worker: WorkerState, conn: Connection) -> bool:
    """One message from the block-and-batch pipe; False to exit."""
    try:
        message = _receive(conn)
    except (EOFError, OSError):
        return False  # the sequencer went away
    if message is None:
        return True
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
        return False
    else:
        log.error("worker: unknown message %r", type(message).__name__)
    return True


def _serve_simulation(worker: WorkerState, conn: Connection, sim_conn: Connection) -> bool:
    """One message from the simulation pipe; False to exit."""
    try:
        message = _receive(sim_conn)
    except (EOFError, OSError):
        return False
    if message is None:
        return True
    if not isinstance(message, Simulate):
        log.error("worker: unknown simulation message %r", type(message).__name__)
        return True
    # Blocks sealed before the simulation was pinned are already in the other pipe.
    while worker.head < message.head and conn.poll(CATCH_UP_WAIT):
        if not _serve(worker, conn):
            return False
    reply = worker.simulate(message)
    try:
        sim_conn.send_bytes(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))
    except (EOFError, OSError):
        return False
    return True
