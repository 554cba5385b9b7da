"""LLVM through llvmlite: IR text -> optimised machine code in this process.

Owns the one native target machine (initialised once, under a lock: llvmlite's
global initialisation is not thread-safe) and ``MachineCode``, which keeps a
module's MCJIT execution engine alive for as long as its function may be called.
"""

from __future__ import annotations

import ctypes
import threading
import time
from dataclasses import dataclass
from typing import Any

import llvmlite.binding as llvm

OPT_LEVEL = 2

# int64_t evm_native(uint256 *stack, int64_t *io, uint8_t *memory); see irgen.py.
NativeFunction = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)

_lock = threading.Lock()
_target_machine: Any = None


def _machine() -> Any:
    global _target_machine
    if _target_machine is None:
        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        target = llvm.Target.from_default_triple()
        _target_machine = target.create_target_machine(opt=OPT_LEVEL, jit=True)
    return _target_machine


@dataclass(frozen=True, slots=True)
class MachineCode:
    """A compiled module: ``function`` is callable while ``engine`` lives."""

    engine: Any  # llvmlite ExecutionEngine; dropping it frees the code
    function: Any  # a NativeFunction
    seconds: float  # CPU time: optimisation and code generation


def compile_ir(text: str, name: str) -> MachineCode:
    """Verify, optimise (O2) and generate code for ``text``; ``name`` is its function."""
    with _lock:
        started = time.thread_time()
        machine = _machine()
        module = llvm.parse_assembly(text)
        module.verify()
        options = llvm.create_pipeline_tuning_options(speed_level=OPT_LEVEL)
        passes = llvm.create_pass_builder(machine, options)
        passes.getModulePassManager().run(module, passes)
        engine = llvm.create_mcjit_compiler(module, machine)
        engine.finalize_object()
        function = NativeFunction(engine.get_function_address(name))
        return MachineCode(engine, function, time.thread_time() - started)
