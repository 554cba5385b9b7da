"""Off-loop execution of read-only verbs: one worker thread, a deadline per job.

Owns ``SimulationWorker``, ``CallTimeout`` and ``PerThread``. DESIGN §8: no request stalls the
node. ``eth_call``, ``eth_estimateGas``, ``eth_createAccessList``,
``eth_simulateV1`` and ``eth_getLogs`` run here rather than on the event loop, so
block production and every other client keep going while one of them runs, and
each job is bounded by a timeout (``--rpc-timeout``, geth's ``--rpc.evmtimeout``
of 5 s) on top of the gas cap (``--rpc-gas-cap``).

Threads and worker processes: with ``--workers N`` (issue 15) eth_call,
eth_estimateGas and eth_createAccessList at the head or the pending block go to an
idle worker process instead (``Node._simulate``, ``sequencer.workers``), which holds
the head state kept in step by the published blocks and has a core of its own. This
thread pool serves everything else (older blocks, eth_simulateV1, eth_getLogs, the
dev verbs' searches) and those calls when no worker is idle or there are none. A
thread reads the node's own state through views that are safe while the loop
commits (``HistoricalView`` reads the resident head before the history entry, and
a commit writes history before it updates the head), so nothing is copied. It
gets no second core under the GIL; what it buys is that the loop is never held
for longer than the interpreter's switch interval (``SWITCH_INTERVAL``), and that
a job past its deadline can be stopped.

Stopping a job: CPython cannot kill a thread, but it can raise an exception in
one (``PyThreadState_SetAsyncExc``), which the thread sees at its next bytecode.
The exception is ``_Abort``, a ``BaseException``, so the EVM's ``except
Exception`` handlers (which turn faults into halts) cannot swallow it. It is only
ever sent to the worker thread while the job it was meant for is running (one
lock orders "abort job J" against "job J finished"), and the worker clears any
undelivered one before it takes the next job, so an abort never lands elsewhere.
A job whose deadline passes while it is still queued never starts.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Final, Generic, TypeVar

from sequencer.config import DEFAULT_RPC_TIMEOUT
from sequencer.errors import NodeError

logger = logging.getLogger("hummingbird.sequencer")

T = TypeVar("T")

# While the worker runs Python, the loop waits at most this long for the GIL each
# time it comes back from I/O (CPython's default is 5 ms, which would put up to
# 5 ms on every step of every other client's request).
SWITCH_INTERVAL: Final = 0.0005
DEFAULT_THREADS: Final = 4
MAX_THREADS: Final = 64

_SET_ASYNC_EXC = ctypes.pythonapi.PyThreadState_SetAsyncExc
_SET_ASYNC_EXC.argtypes = (ctypes.c_ulong, ctypes.c_void_p)
_SET_ASYNC_EXC.restype = ctypes.c_int


def _raise_in(thread_id: int, exc_type: type[BaseException] | None) -> None:
    """Have ``thread_id`` raise ``exc_type`` at its next bytecode; None clears a
    pending one (the C API takes NULL for that, not Python's None)."""
    pointer = None if exc_type is None else id(exc_type)  # a borrowed reference, kept alive
    _SET_ASYNC_EXC(thread_id, pointer)


class CallTimeout(NodeError):
    """A job ran past its deadline (geth's words and code -32000)."""

    def __init__(self, timeout: float) -> None:
        super().__init__(f"execution aborted (timeout = {_seconds(timeout)})")
        self.timeout = timeout


def _seconds(timeout: float) -> str:
    return f"{timeout:g}s"


class _Abort(BaseException):
    """Raised inside the worker thread to stop a job past its deadline."""


class _Job(Generic[T]):
    __slots__ = ("deadline", "fn", "thread_id", "timeout")

    def __init__(self, fn: Callable[[], T], deadline: float, timeout: float) -> None:
        self.fn = fn
        self.deadline = deadline
        self.timeout = timeout
        self.thread_id: int | None = None  # set while a worker thread runs it


class SimulationWorker:
    """Runs read-only jobs on ``threads`` worker threads, each under a deadline.

    Several threads, so that a light job (a wallet's gas estimate) is not queued
    behind a heavy one: under the GIL they share a core, and a 1 ms job next to a
    running 5 s one still answers in a few ms. Jobs must not mutate node state: they
    read through views pinned on the loop before submission (``Node`` builds them)
    and return values. ``thread_index()`` tells a job which thread it is on, so
    per-thread resources (the JIT engine, whose cache is written by the thread that
    executes) need no locks.
    """

    def __init__(
        self, timeout: float = DEFAULT_RPC_TIMEOUT, threads: int = DEFAULT_THREADS
    ) -> None:
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, got {timeout!r}")
        if not 1 <= threads <= MAX_THREADS:
            raise ValueError(f"threads must be in 1..{MAX_THREADS}, got {threads!r}")
        self.timeout = timeout
        self.threads = threads
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="simulation")
        self._lock = threading.Lock()
        self._running: set[_Job[Any]] = set()
        self.aborted = 0  # jobs stopped at their deadline (for stats and tests)
        if sys.getswitchinterval() > SWITCH_INTERVAL:
            sys.setswitchinterval(SWITCH_INTERVAL)

    async def run(self, fn: Callable[[], T], timeout: float | None = None) -> T:
        """``fn()`` on a worker thread; ``CallTimeout`` once ``timeout`` seconds
        (default: the worker's) have passed since this call, queued time included."""
        limit = self.timeout if timeout is None else timeout
        job = _Job(fn, time.monotonic() + limit, limit)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.run_in_executor(self._executor, self._execute, job)
        abort = loop.call_later(limit, self._abort, job)
        try:
            # The answer goes out at the deadline even if the thread is inside C code
            # (a long precompile) and sees the abort only later.
            done, _ = await asyncio.wait({future}, timeout=limit)
        finally:
            abort.cancel()
        if not done:
            future.cancel()
            raise CallTimeout(limit)
        result: T = future.result()
        return result

    def _execute(self, job: _Job[T]) -> T:
        thread_id = threading.get_ident()
        with self._lock:
            if time.monotonic() >= job.deadline:
                raise CallTimeout(job.timeout)
            job.thread_id = thread_id
            self._running.add(job)
        try:
            try:
                return job.fn()
            finally:
                with self._lock:
                    self._running.discard(job)
                    job.thread_id = None
                    # An abort sent just as the job returned must not hit the next one.
                    _raise_in(thread_id, None)
        except _Abort:
            raise CallTimeout(job.timeout) from None

    def _abort(self, job: _Job[T]) -> None:
        with self._lock:
            if job not in self._running or job.thread_id is None:
                return
            _raise_in(job.thread_id, _Abort)
            self.aborted += 1
        logger.info("simulation: job stopped at its %s deadline", _seconds(job.timeout))

    def close(self) -> None:
        with self._lock:
            running = list(self._running)
        for job in running:
            self._abort(job)
        self._executor.shutdown(wait=True, cancel_futures=True)


class PerThread(Generic[T]):
    """One ``T`` per thread, made by ``factory`` on first use in that thread; ``all()``
    lists those made so far (to close them)."""

    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._local = threading.local()
        self._made: list[T] = []
        self._lock = threading.Lock()

    def get(self) -> T:
        try:
            value: T = self._local.value
        except AttributeError:
            value = self._factory()
            self._local.value = value
            with self._lock:
                self._made.append(value)
        return value

    def all(self) -> list[T]:
        with self._lock:
            return list(self._made)
