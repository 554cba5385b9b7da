"""Parity's (OpenEthereum's) ``vmTrace``: every instruction of every frame, nested.

Owns ``VmTrace`` (a frame's code and its operations), ``VmOp`` (pc, cost, what it left:
gas remaining, the stack words it pushed, the memory it wrote, the slot it stored, and
the child frame it made) and ``VmTracer``. The rules are OpenEthereum's
(``trace/src/executive_tracer.rs``): ``cost`` is what the instruction charged (a CALL's
includes the gas it forwards, as the struct logger counts it); ``used`` is the gas left
after it; ``push`` the words it left on the stack (its outputs: one for most, n + 1 for
DUPn and SWAPn); ``mem`` the bytes it wrote to memory (MSTORE, MSTORE8, the *COPY family,
MCOPY, a call's returned output); ``store`` an SSTORE's slot and value; ``sub`` the
trace of the frame a CALL-family or CREATE instruction made that ran code (none for a
precompile or an account without code). A halting instruction (out of gas, an invalid
opcode) leaves ``used`` 0 and pushes nothing; REVERT is not a halt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from jit.compiler.analysis import STACK_EFFECTS, UNDEFINED_EFFECT
from jit.evm.exceptions import OutOfGasError, Revert
from jit.evm.frame import Evm
from jit.evm.tracing import Tracer
from sequencer.tracing.struct import TraceTooLarge

_SSTORE: Final = 0x55
_MSTORE, _MSTORE8 = 0x52, 0x53
# op -> (stack index of the destination offset, of the size; None: a fixed size)
_MEMORY_WRITES: Final[dict[int, tuple[int, int | None, int]]] = {
    _MSTORE: (0, None, 32),
    _MSTORE8: (0, None, 1),
    0x37: (0, 2, 0),  # CALLDATACOPY dest, offset, size
    0x39: (0, 2, 0),  # CODECOPY
    0x3E: (0, 2, 0),  # RETURNDATACOPY
    0x3C: (1, 3, 0),  # EXTCODECOPY address, dest, offset, size
    0x5E: (0, 2, 0),  # MCOPY dest, src, size
    0xF1: (5, 6, 0),  # CALL gas, to, value, in off, in size, out off, out size
    0xF2: (5, 6, 0),  # CALLCODE
    0xF4: (4, 5, 0),  # DELEGATECALL gas, to, in off, in size, out off, out size
    0xFA: (4, 5, 0),  # STATICCALL
}
_OP_BYTES: Final = 100  # estimated JSON bytes of one operation, before its words


@dataclass(slots=True)
class VmOp:
    pc: int
    op: str  # the instruction's name (reth's and anvil's extension of the format)
    cost: int
    gas_before: int
    used: int | None = None  # gas left after it (0 after a halt)
    push: tuple[int, ...] = ()
    mem: tuple[int, bytes] | None = None
    store: tuple[int, int] | None = None
    sub: VmTrace | None = None


@dataclass(slots=True)
class VmTrace:
    code: bytes
    ops: list[VmOp] = field(default_factory=list)


@dataclass(slots=True)
class _Frame:
    trace: VmTrace
    evm: Evm
    op: VmOp | None = None
    cost_set: bool = False
    write: tuple[int, int] | None = None  # (offset, size) the current op will write
    store: tuple[int, int] | None = None


class VmTracer(Tracer):
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._size = 0
        self._frames: list[_Frame] = []
        self.root: VmTrace | None = None

    def enter(self, evm: Evm) -> None:
        msg = evm.msg
        trace = VmTrace(msg.code)
        if self._frames:
            parent = self._frames[-1]
            if parent.op is not None:
                parent.op.sub = trace
                if not parent.cost_set:
                    parent.op.cost = parent.op.gas_before - parent.evm.gas_left
                    parent.cost_set = True
        else:
            self.root = trace
        self._frames.append(_Frame(trace, evm))

    def exit(self, evm: Evm) -> None:
        done = self._frames.pop()
        if not done.trace.ops and self._frames:
            parent = self._frames[-1].op
            if parent is not None and parent.sub is done.trace:
                parent.sub = None  # a precompile or an account without code: no frame

    def step(self, evm: Evm, pc: int, op: int) -> None:
        frame = self._frames[-1]
        info = evm.rules.opcode_table.get(op)
        vm_op = VmOp(pc, info.name if info is not None else "INVALID", 0, evm.gas_left)
        frame.trace.ops.append(vm_op)
        frame.op, frame.cost_set = vm_op, False
        stack = evm.stack
        write = _MEMORY_WRITES.get(op)
        frame.write = None
        if write is not None:
            offset_at, size_at, fixed = write
            if len(stack) > max(offset_at, size_at or 0):
                offset = stack[-1 - offset_at]
                size = fixed if size_at is None else stack[-1 - size_at]
                frame.write = (offset, size)
        frame.store = (stack[-1], stack[-2]) if op == _SSTORE and len(stack) >= 2 else None
        self._grow(_OP_BYTES)

    def step_end(self, evm: Evm, op: int, error: BaseException | None) -> None:
        frame = self._frames[-1]
        vm_op = frame.op
        if vm_op is None:
            return
        if not frame.cost_set:
            vm_op.cost = vm_op.gas_before - evm.gas_left
        if error is not None and not isinstance(error, Revert):
            # A halt: the frame's gas is gone (an out-of-gas step "cost" what it had,
            # as the struct logger and anvil count it); nothing pushed or written.
            if isinstance(error, OutOfGasError):
                vm_op.cost = vm_op.gas_before
            vm_op.used = 0
            return
        vm_op.used = evm.gas_left
        pushed = STACK_EFFECTS.get(op, UNDEFINED_EFFECT)[1]
        if pushed:
            vm_op.push = tuple(evm.stack[-pushed:])
            self._grow(70 * pushed)
        if frame.write is not None:
            offset, size = frame.write
            if size:
                vm_op.mem = (offset, bytes(evm.memory[offset : offset + size]))
                self._grow(2 * size + 30)
        if frame.store is not None:
            vm_op.store = frame.store
            self._grow(150)

    def _grow(self, size: int) -> None:
        self._size += size
        if self._size > self.max_bytes:
            raise TraceTooLarge(self.max_bytes)

    def result(self) -> VmTrace:
        return self.root if self.root is not None else VmTrace(b"")
