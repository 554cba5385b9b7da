"""The sequencer's side of its worker processes: start, seed, keep in step, stop.

Owns the processes (``multiprocessing`` with the spawn start method: the node already
runs threads, RocksDB's among them, which a fork would copy half-way) and their pipes.
Every sealed block's diff goes to every worker as soon as it is published, so a
worker is never more than the blocks still in its pipe behind the head; requests use
the same pipe, so they are served after those blocks. Runs on the event loop thread.

Simulations go over a second pipe per worker and are answered asynchronously (the
loop reads the pipe when it is readable): ``simulate`` sends one to an idle worker
(``idle_for_simulation``) and awaits its ``Simulated``. A worker with a simulation
outstanding is left out of the executor's batches (``free_for_batch``), so block
production never waits behind a call.

A worker that dies or stops answering makes the pool ``broken``: callers fall back to
running everything themselves (and the node logs it once), never wait on it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import multiprocessing
import pickle
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess

from sequencer.types.blocks import MiniBlock
from sequencer.workers.process import worker_main
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
from statedb.types import DictState

log = logging.getLogger("hummingbird.workers")

_PROTOCOL = pickle.HIGHEST_PROTOCOL
_GRACE = 0.5  # seconds past a simulation's deadline before its worker is given up on


class WorkerPool:
    """``count`` worker processes holding the head state after block ``head``."""

    def __init__(self, count: int, config: WorkerConfig, state: DictState, head: int) -> None:
        if count < 1:
            raise ValueError("a worker pool needs at least one worker")
        context = multiprocessing.get_context("spawn")
        self._conns: list[Connection] = []
        self._sim_conns: list[Connection] = []
        self._processes: list[BaseProcess] = []
        self.broken = False
        self.head = -1
        # Simulations: the futures awaiting each request's answer, and how many each
        # worker has outstanding (its pipe is read by the loop while any are).
        self._waiting: dict[int, asyncio.Future[Simulated | None]] = {}
        self._outstanding = [0] * count
        self._watching: list[asyncio.AbstractEventLoop | None] = [None] * count
        self._ids = itertools.count(1)
        for index in range(count):
            parent, child = context.Pipe(duplex=True)
            sim_parent, sim_child = context.Pipe(duplex=True)
            process = context.Process(
                target=worker_main,
                args=(child, sim_child, config),
                name=f"hummingbird-worker-{index}",
                daemon=True,
            )
            process.start()
            child.close()
            sim_child.close()
            self._conns.append(parent)
            self._sim_conns.append(sim_parent)
            self._processes.append(process)
        self.seed(state, head)

    @property
    def count(self) -> int:
        return len(self._conns)

    @property
    def busy(self) -> int:
        """Workers with a request in flight (the node's metrics)."""
        return sum(1 for outstanding in self._outstanding if outstanding)

    def _broadcast(self, payload: bytes) -> None:
        try:
            for conn in self._conns:
                conn.send_bytes(payload)
        except (OSError, ValueError) as error:
            self._break(f"sending to a worker failed: {error}")

    def _break(self, reason: str) -> None:
        if not self.broken:
            log.error("worker processes disabled (%s): executing on the sequencer", reason)
        self.broken = True

    def seed(self, state: DictState, head: int) -> None:
        """Give every worker the whole state after ``head`` (start, after a revert)."""
        self._broadcast(
            pickle.dumps(Seed(head, state.accounts, state.storage, state.codes), protocol=_PROTOCOL)
        )
        self.head = head

    def apply(self, block: MiniBlock, state: DictState) -> None:
        """Block ``block`` was sealed; ``state`` is the head after it (for a re-seed when
        the block carries no diff or does not follow the workers' head)."""
        if self.broken:
            return
        if block.diff is None or block.number != self.head + 1:
            self.seed(state, block.number)
            return
        self._broadcast(pickle.dumps(ApplyBlock(block.number, block.diff), protocol=_PROTOCOL))
        self.head = block.number

    def wait_ready(self, timeout: float) -> bool:
        """Block until every worker has started and applied its seed (a round trip on
        each pipe, which is served after the seed); False (and broken) if one does not
        answer within ``timeout`` seconds."""
        for index in range(self.count):
            if self.details(index, 0, timeout) is None and self.broken:
                return False
        return not self.broken

    def invalidate(self) -> None:
        """The chain moved without a block (a revert): the workers are re-seeded with the
        next block, and no batch is given to them before."""
        self.head = -1

    def details(self, index: int, request_id: int, timeout: float) -> DetailsSent | None:
        """Worker ``index``'s full outcomes of request ``request_id``; None if it cannot
        give them (the pool is broken then, or the worker no longer has them)."""
        if not self.send(index, Details(request_id)):
            return None
        reply = self.receive(index, timeout)
        if not isinstance(reply, DetailsSent) or reply.request_id != request_id:
            return None
        return reply

    def send(self, index: int, request: Execute | Details) -> bool:
        """Hand ``request`` to worker ``index``; False if the pool is broken."""
        if self.broken:
            return False
        try:
            self._conns[index].send_bytes(pickle.dumps(request, protocol=_PROTOCOL))
        except (OSError, ValueError) as error:
            self._break(f"sending to worker {index} failed: {error}")
            return False
        return True

    def receive(self, index: int, timeout: float) -> Executed | Stale | DetailsSent | None:
        """Worker ``index``'s answer to its last request; None if it did not come within
        ``timeout`` seconds or the worker died (the pool is then broken)."""
        conn = self._conns[index]
        try:
            if not conn.poll(timeout):
                self._break(f"worker {index} did not answer within {timeout:.1f} s")
                return None
            reply = pickle.loads(conn.recv_bytes())
        except (OSError, EOFError, pickle.UnpicklingError) as error:
            self._break(f"worker {index} failed: {error!r}")
            return None
        if not isinstance(reply, Executed | Stale | DetailsSent):
            self._break(f"worker {index} answered {type(reply).__name__}")
            return None
        return reply

    # ------------------------------------------------------------ simulations

    def next_request_id(self) -> int:
        return next(self._ids)

    def idle_for_simulation(self) -> int | None:
        """A worker with no simulation outstanding, at a known head; None if none."""
        if self.broken or self.head < 0:
            return None
        for index, outstanding in enumerate(self._outstanding):
            if not outstanding:
                return index
        return None

    def free_for_batch(self) -> list[int]:
        """The workers the executor may give a share to: those not simulating."""
        return [index for index, outstanding in enumerate(self._outstanding) if not outstanding]

    async def simulate(self, index: int, message: Simulate, timeout: float) -> Simulated | None:
        """``message`` on worker ``index``; its answer, or None if the pool broke or no
        answer came within ``timeout`` seconds and a grace (the worker stops itself at
        ``message.timeout``; only code in C outlasts that)."""
        if self.broken:
            return None
        loop = asyncio.get_running_loop()
        conn = self._sim_conns[index]
        if self._watching[index] is not loop:
            loop.add_reader(conn.fileno(), self._on_simulated, index)
            self._watching[index] = loop
        future: asyncio.Future[Simulated | None] = loop.create_future()
        self._waiting[message.request_id] = future
        self._outstanding[index] += 1
        try:
            conn.send_bytes(pickle.dumps(message, protocol=_PROTOCOL))
        except (OSError, ValueError) as error:
            self._waiting.pop(message.request_id, None)
            self._outstanding[index] -= 1
            self._break(f"sending a simulation to worker {index} failed: {error}")
            return None
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout + _GRACE)
        except TimeoutError:
            # Still outstanding: the worker is busy until its answer arrives.
            return Simulated(message.request_id, timed_out=True)

    def _on_simulated(self, index: int) -> None:
        """The loop's reader callback: every answer waiting on worker ``index``'s pipe."""
        conn = self._sim_conns[index]
        try:
            while conn.poll():
                reply = pickle.loads(conn.recv_bytes())
                if not isinstance(reply, Simulated):
                    raise TypeError(f"answered {type(reply).__name__}")
                self._outstanding[index] = max(0, self._outstanding[index] - 1)
                future = self._waiting.pop(reply.request_id, None)
                if future is not None and not future.done():
                    future.set_result(reply)
        except (OSError, EOFError, pickle.UnpicklingError, TypeError) as error:
            self._unwatch(index)
            self._break(f"worker {index}'s simulation pipe failed: {error!r}")
            self._fail_waiting()

    def _unwatch(self, index: int) -> None:
        loop = self._watching[index]
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(ValueError, OSError):
                loop.remove_reader(self._sim_conns[index].fileno())
        self._watching[index] = None

    def _fail_waiting(self) -> None:
        waiting, self._waiting = self._waiting, {}
        for future in waiting.values():
            if not future.done():
                future.set_result(None)

    def close(self) -> None:
        """Stop every worker (a second call does nothing)."""
        stop = pickle.dumps(Stop(), protocol=_PROTOCOL)
        for conn in self._conns:
            with contextlib.suppress(OSError, ValueError):  # already gone
                conn.send_bytes(stop)
        for process in self._processes:
            process.join(timeout=5)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
        for index in range(len(self._sim_conns)):
            self._unwatch(index)
        self._fail_waiting()
        for conn in (*self._conns, *self._sim_conns):
            conn.close()
        self._conns = []
        self._sim_conns = []
        self._processes = []
        self.broken = True
