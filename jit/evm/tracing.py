"""The tracer seam: what a traced execution tells an observer (issue 16).

Owns ``Tracer`` (the hooks, each a no-op here; a tracer overrides what it needs) and
``traced_runner`` (the ``CodeRunner`` a traced execution runs contract code with).
After revm's ``Inspector`` and execution-specs' trace events, but per execution: a
tracer is given to one ``execute_transaction`` call (``TxState.tracer``), never set
globally, so nothing else the process runs is traced.

Hooks, in the order they fire:

- ``enter(evm)``: a frame starts (a call, a create, a precompile call, a call to an
  account without code), before its value transfer; ``evm.msg`` says what it is.
- ``step(evm, pc, op)``: before each instruction, gas not yet charged (``evm.gas_left``
  is what the instruction starts with), stack and memory as they are before it.
- ``step_end(evm, op, error)``: after it, with the halt or revert it raised (None when
  it completed; STOP, RETURN and SELFDESTRUCT end with ``StopExecution``, which is not
  an error). For CALL-family and CREATE instructions the child frame's ``enter`` ...
  ``exit`` fire in between.
- ``precompile(evm, gas_used)``: ``evm``'s frame is a precompile call that succeeded
  (``evm.msg.data`` in, ``evm.output`` out), between its ``enter`` and ``exit``;
- ``log(evm, log)``: a LOG instruction emitted ``log`` (before its ``step_end``);
- ``selfdestruct(evm, beneficiary, value)``: SELFDESTRUCT sent the contract's ``value`` to
  ``beneficiary`` (before its ``step_end``);
- ``exit(evm)``: the frame ended: ``evm.error`` (None, an ``ExceptionalHalt`` or
  ``Revert``), ``evm.output``, ``evm.gas_left``; for a create, after the code deposit.
- ``done(state)``: the transaction is finished (refunds paid, self-destructed accounts
  deleted; the coinbase's fee credit is the block's, not in ``state``): its
  ``TxState``, with every account and slot it read as they were before it
  (``original_accounts``, ``original_storage``) and as they are now.

The cost when no tracer is given: one attribute test per frame (``process_message``);
the instruction loop is untouched. A traced execution runs every frame on the
interpreter (``traced_runner``: the JIT hands over), whose loop calls ``step`` and
``step_end`` around each instruction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from jit.evm.analysis import valid_jump_destinations
from jit.evm.exceptions import OutOfGasError, StackUnderflowError
from jit.evm.message import StopExecution

if TYPE_CHECKING:
    from jit.evm.frame import Evm
    from jit.evm.state import CodeRunner, Log, TxState
    from statedb.types import Address

# PUSH32 at the last byte reads 32 bytes past the end; STOP (0) pads both.
_CODE_PADDING = b"\x00" * 33
_SELFDESTRUCT = 0xFF
_LOG0, _LOG4 = 0xA0, 0xA4
_ADDRESS_MASK = (1 << 160) - 1


class Tracer:
    """Observes one execution; every hook does nothing unless overridden."""

    def enter(self, evm: Evm) -> None:
        """A frame starts."""

    def exit(self, evm: Evm) -> None:
        """A frame ended (``evm.error`` says how)."""

    def step(self, evm: Evm, pc: int, op: int) -> None:
        """Instruction ``op`` at ``pc`` is about to run."""

    def step_end(self, evm: Evm, op: int, error: BaseException | None) -> None:
        """Instruction ``op`` ran (``error``: the halt or revert it raised)."""

    def precompile(self, evm: Evm, gas_used: int) -> None:
        """``evm``'s frame ran a precompile, which used ``gas_used``."""

    def log(self, evm: Evm, log: Log) -> None:
        """A LOG instruction of ``evm``'s frame emitted ``log``."""

    def selfdestruct(self, evm: Evm, beneficiary: Address, value: int) -> None:
        """``evm``'s contract SELFDESTRUCTed, sending ``value`` wei to ``beneficiary``."""

    def done(self, state: TxState) -> None:
        """The transaction finished; ``state`` is its journaled state."""


def traced_runner(tracer: Tracer) -> CodeRunner:
    """A code runner that interprets every frame with ``tracer``'s step hooks."""

    def run(evm: Evm) -> None:
        evm.code = evm.msg.code + _CODE_PADDING
        evm.jumpdests = valid_jump_destinations(evm.msg.code)
        _interpret_traced(evm, tracer)

    return run


def _interpret_traced(evm: Evm, tracer: Tracer) -> None:
    """``jit.evm.message.interpret_from`` with the step hooks (kept apart so the untraced
    loop pays nothing for them)."""
    code = evm.code
    rules = evm.rules
    ops = rules.ops
    static_gas = rules.static_gas
    step, step_end = tracer.step, tracer.step_end
    logs = evm.state.logs
    pc = 0
    while True:
        op = code[pc]
        step(evm, pc, op)
        destroying: tuple[Address, int] | None = None
        if op == _SELFDESTRUCT and evm.stack:
            target = evm.msg.current_target
            destroying = (
                (evm.stack[-1] & _ADDRESS_MASK).to_bytes(20, "big"),
                evm.state.balance(target),
            )
        logged = len(logs)
        try:
            gas_left = evm.gas_left - static_gas[op]
            if gas_left < 0:
                raise OutOfGasError
            evm.gas_left = gas_left
            evm.pc = pc + 1
            ops[op](evm)
        except StopExecution:
            if destroying is not None:
                tracer.selfdestruct(evm, *destroying)
            step_end(evm, op, None)
            return
        except IndexError as error:
            # Handlers pop before acting, so an empty stack surfaces here.
            halt = StackUnderflowError()
            step_end(evm, op, halt)
            raise halt from error
        except Exception as error:
            step_end(evm, op, error)
            raise
        if _LOG0 <= op <= _LOG4 and len(logs) > logged:
            tracer.log(evm, logs[-1])
        step_end(evm, op, None)
        pc = evm.pc
