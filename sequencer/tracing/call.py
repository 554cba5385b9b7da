"""geth's ``callTracer``: the tree of calls a transaction made.

Owns ``CallFrame`` (one call, create or self-destruct, with its children and logs) and
``CallTracer`` (builds the tree from the tracer hooks). The rules are geth's native
callTracer's (``eth/tracers/native/call.go``): the top frame's gas is the
transaction's gas limit and its gasUsed the receipt's; a failed frame keeps its output
only when it reverted (with ``revertReason`` when that decodes), a failed create has
no ``to``; a frame's kind is the instruction that made it (CALL, CALLCODE,
DELEGATECALL, STATICCALL, CREATE, CREATE2), SELFDESTRUCT is a child frame of the
contract that ran it (to the beneficiary, with the balance it sent); ``withLog`` adds
each frame's logs with their position among its child calls, and the logs of a frame
that failed, and of everything under it, are dropped; ``onlyTopCall`` keeps no
children.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Final

from jit.evm.exceptions import Revert
from jit.evm.frame import Evm
from jit.evm.state import Log
from jit.evm.tracing import Tracer
from jit.evm.transaction import TransactionLike, TxOutcome
from sequencer.revert import trace_revert_reason
from sequencer.tracing.errors import error_message, halt_message
from statedb.types import Address

CALL_KINDS: Final = {
    0xF0: "CREATE",
    0xF1: "CALL",
    0xF2: "CALLCODE",
    0xF4: "DELEGATECALL",
    0xF5: "CREATE2",
    0xFA: "STATICCALL",
}


@dataclass(frozen=True, slots=True)
class CallLog:
    address: Address
    topics: tuple[bytes, ...]
    data: bytes
    position: int  # how many of the frame's child calls came before it
    index: int  # its index among the transaction's logs


@dataclass(frozen=True, slots=True)
class CallFrame:
    kind: str
    sender: Address
    to: Address | None
    value: int | None  # None: the frame carries none (STATICCALL)
    gas: int
    gas_used: int
    input: bytes
    output: bytes = b""
    error: str | None = None
    revert_reason: str | None = None
    calls: tuple[CallFrame, ...] = ()
    logs: tuple[CallLog, ...] = ()
    precompile: bool = False  # a call into a precompile (flatCallTracer leaves them out)


@dataclass(slots=True)
class _Open:
    """A frame still running."""

    evm: Evm
    kind: str
    sender: Address
    to: Address | None
    value: int | None
    calls: list[CallFrame] = field(default_factory=list)
    logs: list[CallLog] = field(default_factory=list)
    precompile: bool = False


class CallTracer(Tracer):
    def __init__(self, only_top_call: bool = False, with_log: bool = False) -> None:
        self.only_top_call = only_top_call
        self.with_log = with_log
        self._stack: list[_Open] = []
        self._root: CallFrame | None = None

    # ------------------------------------------------------------ hooks

    def enter(self, evm: Evm) -> None:
        msg = evm.msg
        stack = self._stack
        if not stack:
            kind = "CREATE" if msg.target is None else "CALL"
        else:
            parent = stack[-1].evm
            kind = CALL_KINDS.get(parent.code[parent.pc - 1], "CALL")
        if kind in ("DELEGATECALL", "CALLCODE"):
            # geth: from the calling contract, to the code it borrows.
            sender = stack[-1].evm.msg.current_target
            to: Address | None = msg.code_address
        else:
            sender, to = msg.caller, msg.current_target
        value = None if kind == "STATICCALL" else msg.value
        precompile = msg.code_address is not None and msg.code_address in evm.rules.precompiles
        stack.append(_Open(evm, kind, sender, to, value, precompile=precompile))

    def log(self, evm: Evm, log: Log) -> None:
        if self.with_log:
            frame = self._stack[-1]
            position, index = len(frame.calls), len(evm.state.logs) - 1
            frame.logs.append(CallLog(log.address, tuple(log.topics), log.data, position, index))

    def selfdestruct(self, evm: Evm, beneficiary: Address, value: int) -> None:
        if not self.only_top_call:
            self._stack[-1].calls.append(
                CallFrame("SELFDESTRUCT", evm.msg.current_target, beneficiary, value, 0, 0, b"")
            )

    def exit(self, evm: Evm) -> None:
        frame = self._stack.pop()
        msg = evm.msg
        error = evm.error
        output = evm.output
        creates = frame.kind in ("CREATE", "CREATE2")
        revert_reason = None
        if error is not None and not isinstance(error, Revert):
            output = b""
        elif isinstance(error, Revert):
            revert_reason = trace_revert_reason(output)
        done = CallFrame(
            frame.kind,
            frame.sender,
            None if creates and error is not None else frame.to,
            frame.value,
            msg.gas,
            msg.gas - evm.gas_left,
            msg.code if creates else msg.data,
            output,
            error_message(error, _failed_op(evm) if error is not None else None),
            revert_reason,
            tuple(frame.calls),
            () if error is not None else tuple(frame.logs),
            frame.precompile,
        )
        if self._stack:
            if not self.only_top_call:
                self._stack[-1].calls.append(done)
        else:
            self._root = done

    # ------------------------------------------------------------ result

    def frames(self, tx: TransactionLike, outcome: TxOutcome) -> CallFrame:
        """The tree as the frames ran: the top frame's gasUsed is what its execution
        used (no intrinsic gas, no refund), as Parity-style traces report it."""
        root = self._root
        if root is None:
            return self.result(tx, outcome)
        return without_failed_logs(root) if self.with_log else root

    def result(self, tx: TransactionLike, outcome: TxOutcome) -> CallFrame:
        """The tree, its top frame finished as geth and anvil do: the gas the
        call started with (the limit less intrinsic gas) and the receipt's gas used (after
        refunds); a transaction that never ran a
        frame (a create onto a used address) gets one from its outcome."""
        root = self._root
        if root is None:
            return CallFrame(
                "CREATE" if tx.to is None else "CALL",
                tx.sender,
                None if tx.to is None else tx.to,
                tx.value,
                tx.gas_limit,
                outcome.gas_used,
                tx.data,
                error=error_message_of(outcome),
            )
        root = replace(root, gas_used=outcome.gas_used, value=tx.value)
        return without_failed_logs(root) if self.with_log else root


def error_message_of(outcome: TxOutcome) -> str | None:
    """The top frame's error from an outcome that ran no frame."""
    if outcome.success:
        return None
    if outcome.result.name == "REVERT":
        return "execution reverted"
    return halt_message(outcome.error)


def _failed_op(evm: Evm) -> int | None:
    """The instruction a frame stopped at (for an invalid opcode's message)."""
    code = evm.code
    pc = evm.pc - 1
    return code[pc] if 0 <= pc < len(code) else None


def without_failed_logs(frame: CallFrame) -> CallFrame:
    """geth drops the logs of every frame under one that failed (its own are already
    gone): a reverted call's children's logs never happened."""
    if frame.error is not None:
        return replace(frame, logs=(), calls=tuple(_drop_logs(c) for c in frame.calls))
    return replace(frame, calls=tuple(without_failed_logs(c) for c in frame.calls))


def _drop_logs(frame: CallFrame) -> CallFrame:
    return replace(frame, logs=(), calls=tuple(_drop_logs(c) for c in frame.calls))
