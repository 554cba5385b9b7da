"""A contract's native code installed into its Python JIT program, and the calls into it.

``attach`` compiles every covered region of a ``Translation`` into one native function
and puts an entry function in place of each such region in the program's namespace (and
jump table), so the Python JIT's regions and trampoline reach native code exactly where
they would have run that region, and native code hands back at region boundaries.

A call copies ``evm.stack`` into a per-thread array of little-endian words, calls the
function and copies back the items above the low-water mark it reports. It honours the
region contract (the stack and gas exact on entry and on exit) and the function's exits
(``irgen``): the next region, STOP, a hand-over to the interpreter, memory growth
(charged and done here, with the interpreter's formula, then the instruction re-entered)
or an invalid jump.

Bounds: only the regions within ``selection``'s compile-time budget are compiled (the
rest stay with the Python JIT), so pathological bytecode costs bounded LLVM time. Frames with more gas than an int64
can carry safely (``MAX_GAS``, far above any block's gas limit) are interpreted from the
region on.
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jit.compiler.analysis import STACK_EFFECTS, UNDEFINED_EFFECT
from jit.compiler.codegen import Translation
from jit.compiler.loader import Program
from jit.compiler.profile import RegionProfile
from jit.evm.exceptions import InvalidJumpDestError, OutOfGasError
from jit.evm.frame import STACK_LIMIT, Evm
from jit.evm.memory import expansion_cost, extend_to
from jit.evm.message import interpret_from
from jit.forks import ForkRules
from jit.native.backend import Compiler, HostFunction, MachineCode, emit_object, load_object
from jit.native.cache import CachedCode, MachineCodeCache
from jit.native.coverage import covered_ops, host_memory_ops, host_ops, is_covered, native_keccak
from jit.native.irgen import (
    BAD_JUMP,
    EXIT_JUMP,
    FUNCTION_NAME,
    HAND_OVER,
    HOST_ERROR,
    KECCAK256,
    MEMORY_OPS,
    NEED_MEMORY,
    RUN_INSTRUCTION,
    STOP,
    ir_module,
)
from jit.native.selection import chosen_by_profile, within_budget, worth_compiling

MAX_GAS = 1 << 62  # g + R and the memory checks stay far inside int64
PROBATION_CALLS = 32
# Spare memory native code may grow into per entry: the memory's own size, at least 1 KB,
# at most 1 MB (so growth word by word exits to Python about log2(size / 1 KB) times).
MIN_SPARE = 1024
MAX_SPARE = 1 << 20
MIN_REGIONS_PER_CALL = 40  # measured: a crossing costs ~10 µs, ~40 short regions of the Python JIT
_WORD = 32

logger = logging.getLogger("hummingbird.jit")


class _Buffers(threading.local):
    """One stack array and io block per thread: native calls never nest on a thread
    (host calls run no nested frame, and a native function returns before any other
    frame runs). ``call`` is the native call in progress, for the host call."""

    def __init__(self) -> None:
        self.stack = (ctypes.c_uint64 * (4 * STACK_LIMIT))()
        self.io = (ctypes.c_int64 * 8)()
        self.stack_address = ctypes.addressof(self.stack)
        # The array's bytes, read and written from Python through a memoryview: a
        # ctypes.string_at or memmove call costs ~1 µs, a slice of this a few ns.
        self.words = memoryview(self.stack).cast("B")
        self.io_address = ctypes.addressof(self.io)
        self.call: _NativeCall | None = None


_buffers = _Buffers()


def _read_words(buffers: _Buffers, low: int, top: int) -> list[int]:
    words = buffers.words
    return [
        int.from_bytes(words[at : at + _WORD], "little")
        for at in range(low * _WORD, top * _WORD, _WORD)
    ]


def _sync_stack(stack: list[int], buffers: _Buffers, low: int, top: int) -> None:
    """Make ``stack`` the array's first ``top`` words; those below ``low`` (the low-water
    mark) are unchanged and not copied."""
    if low < top:
        stack[low:] = _read_words(buffers, low, top)
    else:
        del stack[top:]


def _write_words(buffers: _Buffers, low: int, values: list[int]) -> None:
    at = low * _WORD
    buffers.words[at : at + len(values) * _WORD] = b"".join(
        [value.to_bytes(_WORD, "little") for value in values]
    )


class _NativeCall:
    """One entry into native code: the frame, and the export of its memory that native
    code reads and writes (released around host calls and growth, which resize it)."""

    __slots__ = ("buffers", "error", "evm", "native", "view")

    def __init__(self, native: NativeCode, evm: Evm, buffers: _Buffers) -> None:
        self.native = native
        self.evm = evm
        self.buffers = buffers
        self.view: Any = None  # the export, while memory is extended by the spare
        self.error: BaseException | None = None

    def export_memory(self) -> int:
        """Extend the frame's memory by zeroed spare bytes (native code grows into them)
        and export it: io[4] its length, io[6] its address, io[7] the capacity."""
        memory = self.evm.memory
        length = len(memory)
        spare = min(max(length, MIN_SPARE), MAX_SPARE)
        memory.extend(bytes(spare))
        self.view = (ctypes.c_char * (length + spare)).from_buffer(memory)
        io = self.buffers.io
        io[4] = length
        io[6] = address = ctypes.addressof(self.view)
        io[7] = length + spare
        return address

    def release_memory(self) -> None:
        """End the export and cut the memory back to its length (io[4], which native code
        writes at every exit and before every host call)."""
        if self.view is not None:
            self.view = None
            del self.evm.memory[self.buffers.io[4] :]

    def host(self, pc: int) -> None:
        """The host call (``irgen``): run the handler of the instruction at ``pc`` as the
        Python JIT would, on its operands read from the array (a handler pops its
        operands, pushes its results and reads nothing deeper, so a list of them stands
        for the frame's stack; syncing the whole stack at every call cost more than the
        handler), and write back what it pushed."""
        evm = self.evm
        buffers = self.buffers
        native = self.native
        io = buffers.io
        top = io[0]
        op = evm.code[pc]
        low = top - native.pops[op]
        operands = _read_words(buffers, low, top)
        touches_memory = native.memory_handlers[op]
        if touches_memory:  # the handler sees the memory's real length, and may resize it
            self.release_memory()
        evm.gas_left = io[1]
        evm.pc = pc + 1
        stack = evm.stack
        evm.stack = operands
        try:
            native.handlers[op](evm)
        finally:
            evm.stack = stack
        if operands:
            _write_words(buffers, low, operands)
        io[0] = low + len(operands)
        io[1] = evm.gas_left
        if touches_memory:
            self.export_memory()


@HostFunction
def _host(pc: int) -> int:
    """The host-call table's entry (a C callback): exceptions cannot cross native
    frames, so one raised is kept for ``NativeCode.enter`` to re-raise."""
    call = _buffers.call
    assert call is not None
    try:
        call.host(pc)
    except BaseException as error:  # re-raised by enter, whatever it is
        call.error = error
        return 1
    return 0


@dataclass(frozen=True, slots=True)
class NativeStats:
    regions: int  # covered regions compiled
    instructions: int
    compile_seconds: float  # IR generation, optimisation, code generation (CPU)
    skipped: str | None  # why the code was not compiled natively, if it was not


class NativeCode:
    """A contract's compiled covered regions and the Python side of calling them.

    Each entry point measures how many regions a call runs before it returns; after
    ``PROBATION_CALLS`` calls, an entry point averaging fewer than
    ``MIN_REGIONS_PER_CALL`` is given back to the Python JIT (its region function is
    put back in the namespace and jump table): there the crossing costs more than the
    machine code saves. Native code still runs that region when it jumps to it."""

    def __init__(
        self,
        machine: MachineCode,
        rules: ForkRules,
        namespace: dict[str, Any],
        originals: dict[int, Any],
        adaptive: bool,
        entries: frozenset[int],
    ) -> None:
        self.machine = machine
        self.function = machine.function
        self.static_gas = rules.static_gas
        self.handlers = rules.ops
        self.entries = entries  # region starts and resume points the function accepts
        memory_ops = host_memory_ops(rules.opcode_table)
        self.memory_handlers = tuple(op in memory_ops for op in range(256))
        self.pops = tuple(STACK_EFFECTS.get(op, UNDEFINED_EFFECT)[0] for op in range(256))
        self.namespace = namespace
        self.originals = originals  # region start -> the Python JIT's function for it
        self.calls = 0  # entries from Python (tests, statistics)
        # Entry points no longer measured: kept or given back (all, when not adaptive).
        self.settled: set[int] = set() if adaptive else set(originals)
        self.given_back: set[int] = set()
        self._probation: dict[int, list[int]] = {}  # start -> [calls, regions run]

    def _measure(self, start: int, regions: int) -> None:
        """Count a call of entry point ``start`` that ran ``regions`` regions; give the
        entry point back once its probation shows it does not pay."""
        if start in self.settled:
            return
        record = self._probation.get(start)
        if record is None:
            record = self._probation[start] = [0, 0]
        record[0] += 1
        record[1] += regions
        if record[0] < PROBATION_CALLS:
            return
        del self._probation[start]
        self.settled.add(start)
        if record[1] < MIN_REGIONS_PER_CALL * record[0]:
            self.given_back.add(start)
            original = self.originals[start]
            self.namespace[f"r_{start}"] = original
            jump_table = self.namespace["JUMP_TABLE"]
            if start in jump_table:
                jump_table[start] = original

    def enter(self, evm: Evm, start: int, jump_table: dict[int, Any]) -> Any:
        """Run the frame natively from the region at ``start``; the next region function."""
        if evm.gas_left > MAX_GAS:
            interpret_from(evm, start)
            return None
        self.calls += 1
        buffers = _buffers
        regions = 0  # counted here: a call's nested frames may enter native code (io[5])
        entry = start
        while True:
            status, where = self._run(evm, entry, buffers)
            regions += buffers.io[5]
            if status != RUN_INSTRUCTION:
                break
            self._step(evm, where)  # a call or create, as the interpreter runs it
            entry = where + 1
            if entry not in self.entries:  # it ended its region: the next one is a JUMPDEST's
                self._measure(start, regions)
                return jump_table.get(entry)  # or None past the code's end: STOP
        self._measure(start, regions)
        if status == EXIT_JUMP:
            region = jump_table.get(where)
            if region is None:
                raise InvalidJumpDestError
            return region
        if status == STOP:
            return None
        if status in (HAND_OVER, NEED_MEMORY):  # NEED_MEMORY here: growth does not fit
            interpret_from(evm, where)
            return None
        if status == BAD_JUMP:
            raise InvalidJumpDestError
        raise AssertionError(f"native code returned an unknown status {status}")

    def _run(self, evm: Evm, entry: int, buffers: _Buffers) -> tuple[int, int]:
        """One call of the machine code from ``entry`` (a region start or resume point)
        with the frame's stack, gas and memory; syncs them back; (status, io[2])."""
        stack = evm.stack
        height = len(stack)
        if height:
            _write_words(buffers, 0, stack)
        io = buffers.io
        io[0] = height
        io[1] = evm.gas_left
        io[2] = entry
        io[3] = height
        io[5] = 0
        call = _NativeCall(self, evm, buffers)
        outer = buffers.call
        buffers.call = call
        try:
            while True:
                address = call.export_memory()
                status = self.function(buffers.stack_address, buffers.io_address, address, _host)
                call.release_memory()
                if status != NEED_MEMORY or not self._grow(evm, io, buffers):
                    break
        finally:
            buffers.call = outer
        if status == HOST_ERROR:
            assert call.error is not None
            raise call.error
        _sync_stack(stack, buffers, io[3], io[0])
        evm.gas_left = io[1]
        return status, io[2]

    def _step(self, evm: Evm, pc: int) -> None:
        """The interpreter's step for the instruction at ``pc`` (static gas, then the
        fork's handler), with the stack and gas exact before it."""
        op = evm.code[pc]
        gas_left = evm.gas_left - self.static_gas[op]
        if gas_left < 0:
            raise OutOfGasError
        evm.gas_left = gas_left
        evm.pc = pc + 1
        self.handlers[op](evm)

    def _grow(self, evm: Evm, io: Any, buffers: _Buffers) -> bool:
        """Charge and grow memory for the instruction at io[2] as the interpreter would;
        False (nothing done) when that instruction would run out of gas: the interpreter
        then runs it."""
        pc = io[2]
        top = io[0]
        raw = ctypes.string_at(buffers.stack_address + (top - 1) * _WORD, _WORD)
        end = int.from_bytes(raw, "little") + MEMORY_OPS[evm.code[pc]]
        cost = expansion_cost(len(evm.memory), end)
        gas = io[1]
        if self.static_gas[evm.code[pc]] + cost > gas:
            return False
        extend_to(evm.memory, end)
        io[1] = gas - cost
        return True


@dataclass(frozen=True, slots=True)
class NativeBuild:
    """A contract's machine code, built without touching its program (so a worker
    thread can build it while the program runs), to be installed by ``install``."""

    rules: ForkRules
    jumpdests: frozenset[int]
    machine: MachineCode | None  # None: nothing worth machine code
    region_starts: frozenset[int]
    resume_points: frozenset[int]
    instructions: int
    every_region: bool
    compile_seconds: float
    loaded: bool = False  # from the machine-code cache (``cache``), not compiled here


def build(
    translation: Translation,
    *,
    every_region: bool = False,
    profile: RegionProfile | None = None,
    cache: MachineCodeCache | None = None,
    compiler: Compiler | None = None,
) -> NativeBuild:
    """Compile ``translation``'s covered regions that are worth it (``selection``: by
    the runs' ``profile`` when there is one, else by the bytecode), or with
    ``every_region`` all of them. With a ``cache``, machine code another process (or an
    earlier start) built for the same code and fork is loaded instead, and what is built
    here is stored there. With a ``compiler``, LLVM runs in its child process (an abort
    there fails this build only); else in this one."""
    started = time.thread_time()
    if cache is not None:
        loaded = _load_cached(translation, cache, started)
        if loaded is not None:
            return loaded
    table = translation.rules.opcode_table
    ops = covered_ops(table)
    covered = [region for region in translation.regions if is_covered(region, ops)]
    hashing = native_keccak(table)
    host = host_ops(table)
    # KECCAK256 in machine code costs no crossing: selection does not count it.
    inline = frozenset({KECCAK256}) if hashing else frozenset()
    host_memory = host_memory_ops(table) - inline
    if every_region:
        covered = within_budget(covered, host)
    elif profile is not None:
        covered = chosen_by_profile(covered, profile, host - inline, host_memory, inline)
    else:
        covered = worth_compiling(
            covered, translation.jumpdests, host - inline, host_memory, inline
        )
    machine = None
    starts: frozenset[int] = frozenset()
    resumes: frozenset[int] = frozenset()
    instructions = sum(len(region.instructions) for region in covered)
    child_seconds = 0.0
    if covered:
        module = ir_module(covered, translation.jumpdests, len(translation.code), host, hashing)
        if compiler is None:
            object_code = emit_object(module.text)
        else:  # its CPU time is the child's: counted with this thread's
            object_code, child_seconds = compiler.emit_object(module.text)
        machine = load_object(object_code, FUNCTION_NAME)
        starts = module.region_starts
        resumes = module.resume_points
        if cache is not None:
            entry = CachedCode(object_code, starts, resumes, instructions)
            cache.store(translation.code, translation.rules, entry)
    return NativeBuild(
        translation.rules,
        translation.jumpdests,
        machine,
        starts,
        resumes,
        instructions,
        every_region,
        time.thread_time() - started + child_seconds,
    )


def _load_cached(
    translation: Translation, cache: MachineCodeCache, started: float
) -> NativeBuild | None:
    """The build ``cache`` holds for ``translation``, linked here; None on a miss."""
    entry = cache.load(
        translation.code,
        translation.rules,
        frozenset(region.start for region in translation.regions),
    )
    if entry is None:
        return None
    try:
        machine = load_object(entry.object_code, FUNCTION_NAME)
    except Exception as error:  # a file that passed the checks but does not link
        logger.warning("jit: the cached machine code does not link, building it: %s", error)
        return None
    return NativeBuild(
        translation.rules,
        translation.jumpdests,
        machine,
        entry.region_starts,
        entry.resume_points,
        entry.instructions,
        False,
        time.thread_time() - started,
        loaded=True,
    )


def install(program: Program, native_build: NativeBuild) -> NativeStats:
    """Put ``native_build``'s entry points in place of their regions' functions (on the
    thread that runs ``program``, between its runs)."""
    if native_build.machine is None:
        return NativeStats(
            0, 0, native_build.compile_seconds, "no covered region worth native code"
        )
    namespace = program.namespace
    jump_table = namespace["JUMP_TABLE"]
    starts = native_build.region_starts
    originals = {start: namespace[f"r_{start}"] for start in starts}
    native = NativeCode(
        native_build.machine,
        native_build.rules,
        namespace,
        originals,
        adaptive=not native_build.every_region,
        entries=starts | native_build.resume_points,
    )
    for start in starts:
        entry = _entry(native, start, jump_table)
        namespace[f"r_{start}"] = entry
        if start in native_build.jumpdests:
            jump_table[start] = entry
    namespace["__native__"] = native  # keeps the machine code alive with the program
    return NativeStats(len(starts), native_build.instructions, native_build.compile_seconds, None)


def attach(
    program: Program, translation: Translation, *, every_region: bool = False
) -> NativeStats:
    """``build`` and ``install`` at once."""
    return install(program, build(translation, every_region=every_region))


def _entry(native: NativeCode, start: int, jump_table: dict[int, Any]) -> Callable[[Evm], Any]:
    enter = native.enter

    def region(evm: Evm) -> Any:
        return enter(evm, start, jump_table)

    region.__name__ = f"native_r_{start}"
    return region
