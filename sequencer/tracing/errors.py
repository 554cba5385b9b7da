"""geth's words for why a frame failed, as its tracers print them (``error`` fields)."""

from __future__ import annotations

from typing import Final

from jit.evm.exceptions import InvalidOpcode, Revert

HALT_MESSAGES: Final = {
    "OutOfGasError": "out of gas",
    "InvalidOpcode": "invalid opcode",
    "InvalidJumpDestError": "invalid jump destination",
    "StackUnderflowError": "stack underflow",
    "StackOverflowError": "stack limit reached 1024",
    "WriteInStaticContext": "write protection",
    "OutOfBoundsRead": "return data out of bounds",
    "InvalidContractPrefix": "invalid code: must not begin with 0xef",
    "AddressCollision": "contract address collision",
    "PrecompileHalt": "precompiled contract failed",
}


def error_message(error: BaseException | None, op: int | None = None) -> str | None:
    """The message for a frame's ``error`` (None when it succeeded); ``op`` is the
    instruction that failed, for an invalid opcode."""
    if error is None:
        return None
    if isinstance(error, Revert):
        return "execution reverted"
    if isinstance(error, InvalidOpcode):
        return "invalid opcode: INVALID" if op in (None, 0xFE) else f"invalid opcode: 0x{op:02x}"
    return halt_message(type(error).__name__)


def halt_message(reason: str | None) -> str:
    """geth's words for a halt named by its exception's class (``TxOutcome.error``)."""
    return HALT_MESSAGES.get(reason or "", reason or "execution halted")
