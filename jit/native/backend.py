"""LLVM through llvmlite: IR text -> optimised object code -> machine code in this process.

``Compiler`` runs the optimisation and code generation (``emit_object``) in a child
process of its own, so an LLVM abort (an assertion, as the one ``irgen`` works around)
ends that build, not the node: the build fails, the code stays with the Python JIT, and
the next build starts a new child. Only linking the object (``load_object``) runs here.

Owns LLVM's initialisation (once, under a lock: llvmlite's global state is not
thread-safe) and ``MachineCode``, which keeps a module's MCJIT execution engine
alive for as long as its function may be called. Each module gets its own target
machine: an execution engine owns (and on disposal frees) the one it was made with.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import threading
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any, TypeVar

import llvmlite.binding as llvm

OPT_LEVEL = 2

# int64_t host(int64_t pc): the host-call table's entry; see irgen.py.
HostFunction = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_int64)
# int64_t evm_native(uint256 *stack, int64_t *io, uint8_t *memory, host); see irgen.py.
NativeFunction = ctypes.CFUNCTYPE(
    ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, HostFunction
)

_lock = threading.Lock()
_initialised = False


def _machine() -> Any:
    global _initialised
    if not _initialised:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        _initialised = True
    return llvm.Target.from_default_triple().create_target_machine(opt=OPT_LEVEL, jit=True)


@dataclass(frozen=True, slots=True)
class MachineCode:
    """A compiled module: ``function`` is callable while ``engine`` lives."""

    engine: Any  # llvmlite ExecutionEngine; dropping it frees the code
    function: Any  # a NativeFunction
    seconds: float  # CPU time: optimisation and code generation


def compile_ir(text: str, name: str) -> MachineCode:
    """Verify, optimise (O2) and generate code for ``text``; ``name`` is its function."""
    return load_object(emit_object(text), name)


def emit_object(text: str) -> bytes:
    """Verify and optimise (O2) ``text`` and return its relocatable object code (what
    ``load_object`` loads, here or in another process: ``cache``)."""
    with _lock:
        machine = _machine()
        module = llvm.parse_assembly(text)
        module.verify()
        options = llvm.create_pipeline_tuning_options(speed_level=OPT_LEVEL)
        passes = llvm.create_pass_builder(machine, options)
        passes.getModulePassManager().run(module, passes)
        return bytes(machine.emit_object(module))


def load_object(object_code: bytes, name: str) -> MachineCode:
    """Link ``object_code`` into an MCJIT execution engine of its own; ``name`` is its
    function. ``seconds``: the CPU time of linking (emitting it is the caller's)."""
    with _lock:
        started = time.thread_time()
        engine = llvm.create_mcjit_compiler(llvm.parse_assembly(""), _machine())
        engine.add_object_file(llvm.ObjectFileRef.from_data(object_code))
        engine.finalize_object()
        address = engine.get_function_address(name)
        if not address:
            raise ValueError(f"the object code defines no function {name!r}")
        return MachineCode(engine, NativeFunction(address), time.thread_time() - started)


T = TypeVar("T")


def _timed_emit_object(text: str) -> tuple[bytes, float]:
    started = time.thread_time()
    object_code = emit_object(text)
    return object_code, time.thread_time() - started


class CompilerCrashed(RuntimeError):
    """LLVM's child process ended during a build (an abort): that build is lost."""


class Compiler:
    """LLVM's optimisation and code generation in a child process (module docstring),
    started on the first build; thread-safe (builds queue for the one child)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool: ProcessPoolExecutor | None = None

    def emit_object(self, text: str) -> tuple[bytes, float]:
        """``emit_object(text)`` in the child, and the child's CPU seconds for it."""
        return self.call(_timed_emit_object, text)

    def call(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in the child (a module-level function); raises
        ``CompilerCrashed`` if the child dies on it, and starts a new one next time.
        In a daemonic process (the node's worker processes, which may have no children)
        it runs here: such a process is itself the isolation, an abort costs the worker
        and the sequencer goes on without it."""
        if multiprocessing.current_process().daemon:
            return function(*args)
        with self._lock:
            if self._pool is None:
                # spawn: a fresh interpreter, not a copy of this multi-threaded process.
                context = multiprocessing.get_context("spawn")
                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
            pool = self._pool
        try:
            return pool.submit(function, *args).result()
        except BrokenProcessPool as error:
            with self._lock:
                if self._pool is pool:
                    self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
            raise CompilerCrashed(
                "LLVM's process ended during the build (an abort in LLVM); "
                "the code stays with the Python JIT"
            ) from error

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


_shared: Compiler | None = None
_shared_lock = threading.Lock()


def shared_compiler() -> Compiler:
    """The process's one ``Compiler`` (one LLVM child for all its engines: the node's,
    the simulation threads', a worker's); it lives as long as the process."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Compiler()
        return _shared
