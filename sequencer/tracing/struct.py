"""geth's struct logger (``debug_traceTransaction`` without a ``tracer``): one record
per executed instruction.

Owns ``StructLog`` (pc, op, gas before it, its cost, depth, and, as configured, the
stack, memory, return data and the storage the contract touched so far), the typed
``StructTrace`` result, and ``StructLogger``. The rules are geth's
(``eth/tracers/logger/logger.go``): depth starts at 1; ``gasCost`` of a CALL-family or
CREATE instruction is what it charged, gas forwarded to the callee included; ``storage``
appears on SLOAD and SSTORE with every slot of that contract seen so far; stack on by
default, memory, return data off; ``limit`` records at most that many steps.

``max_bytes`` bounds the trace's size (estimated as it grows, in the JSON bytes geth
would print): past it the execution stops with ``TraceTooLarge``, so a 30M-gas loop
cannot make the node hold gigabytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from jit.evm.exceptions import OutOfGasError, Revert
from jit.evm.frame import Evm
from jit.evm.tracing import Tracer
from jit.evm.transaction import TxOutcome
from sequencer.errors import NodeError
from sequencer.tracing.errors import error_message
from statedb.types import Address

_SLOAD: Final = 0x54
_SSTORE: Final = 0x55
# Estimated JSON bytes of a record without stack/memory/storage, and of each entry.
_RECORD_BYTES: Final = 110
_WORD_BYTES: Final = 70
_SLOT_BYTES: Final = 140


class TraceTooLarge(NodeError):
    """The trace passed its byte budget; the execution is stopped (raised inside the
    EVM, which lets anything but its own halts through)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"trace exceeds the {limit}-byte limit (--max-trace-bytes)")
        self.limit = limit


@dataclass(frozen=True, slots=True)
class StructConfig:
    disable_stack: bool = False
    disable_storage: bool = False
    enable_memory: bool = False
    enable_return_data: bool = False
    limit: int = 0  # 0: no limit


@dataclass(slots=True)
class StructLog:
    pc: int
    op: str
    gas: int
    gas_cost: int
    depth: int
    refund: int
    stack: tuple[int, ...] | None = None
    memory: bytes | None = None
    return_data: bytes | None = None
    storage: dict[int, int] | None = None
    error: str | None = None


@dataclass(slots=True)
class _Frame:
    """A running frame: its Evm and the step it is executing (None past ``limit``)."""

    evm: Evm
    log: StructLog | None = None
    cost_set: bool = False  # a child frame already fixed the step's cost


@dataclass(frozen=True, slots=True)
class StructTrace:
    gas: int
    failed: bool
    return_value: bytes
    logs: tuple[StructLog, ...]


class StructLogger(Tracer):
    def __init__(self, config: StructConfig, max_bytes: int) -> None:
        self.config = config
        self.max_bytes = max_bytes
        self.logs: list[StructLog] = []
        self._size = 0
        self._frames: list[_Frame] = []
        self._storage: dict[Address, dict[int, int]] = {}
        self._slot: tuple[int, int] = (0, 0)

    def step(self, evm: Evm, pc: int, op: int) -> None:
        config = self.config
        frame = self._frames[-1]
        frame.cost_set = False
        if config.limit and len(self.logs) >= config.limit:
            frame.log = None
            return
        info = evm.rules.opcode_table.get(op)
        log = StructLog(
            pc,
            info.name if info is not None else f"opcode 0x{op:02x} not defined",
            evm.gas_left,
            0,
            evm.msg.depth + 1,
            evm.state.refund,
        )
        size = _RECORD_BYTES
        if not config.disable_stack:
            log.stack = tuple(evm.stack)
            size += _WORD_BYTES * len(evm.stack)
        if config.enable_memory:
            log.memory = bytes(evm.memory)
            size += _WORD_BYTES * (len(evm.memory) // 32)
        if config.enable_return_data:
            log.return_data = evm.return_data
            size += 2 * len(evm.return_data)
        if not config.disable_storage and op in (_SLOAD, _SSTORE):
            stack = evm.stack
            # (slot, value stored); SLOAD's value is read from the stack after it.
            self._slot = (stack[-1] if stack else 0, stack[-2] if len(stack) >= 2 else 0)
        self._grow(size)
        self.logs.append(log)
        frame.log = log

    def step_end(self, evm: Evm, op: int, error: BaseException | None) -> None:
        frame = self._frames[-1]
        log = frame.log
        if log is None:
            return
        if not frame.cost_set:
            log.gas_cost = log.gas - evm.gas_left
        if error is not None:
            if isinstance(error, OutOfGasError):
                log.gas_cost = log.gas  # it took all there was, as anvil reports it
            if not isinstance(error, Revert):  # anvil marks no error on REVERT itself
                log.error = error_message(error, op)
            return
        if self.config.disable_storage:
            return
        if op in (_SLOAD, _SSTORE):
            slots = self._storage.setdefault(evm.msg.current_target, {})
            key, stored = self._slot
            slots[key] = evm.stack[-1] if op == _SLOAD else stored
            log.storage = dict(slots)
            self._grow(_SLOT_BYTES * len(slots))

    def enter(self, evm: Evm) -> None:
        if self._frames:
            # The instruction that made this frame has charged everything it will,
            # the gas it forwards included: that is its cost, as geth reports it.
            parent = self._frames[-1]
            if parent.log is not None and not parent.cost_set:
                parent.log.gas_cost = parent.log.gas - parent.evm.gas_left
                parent.cost_set = True
        self._frames.append(_Frame(evm))

    def exit(self, evm: Evm) -> None:
        self._frames.pop()

    def _grow(self, size: int) -> None:
        self._size += size
        if self._size > self.max_bytes:
            raise TraceTooLarge(self.max_bytes)

    def result(self, outcome: TxOutcome) -> StructTrace:
        return StructTrace(outcome.gas_used, not outcome.success, outcome.output, tuple(self.logs))
