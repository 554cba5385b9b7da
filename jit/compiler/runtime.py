"""Runtime helpers the generated code calls, and the names it sees.

Everything stateful (storage, calls, creates, logs, copies, precompiles) runs
through the interpreter's own instruction handlers, called on the frame with
the stack written back, so both engines share one implementation. The helpers
here are the few pure functions the generated code inlines calls to; each is
the interpreter handler's arithmetic, word for word.
"""

from __future__ import annotations

from typing import Any

from jit.evm.exceptions import InvalidJumpDestError, StackUnderflowError
from jit.evm.frame import UINT256_MAX, Evm
from jit.evm.memory import expansion_cost
from jit.evm.message import StopExecution, interpret_from

_SIGN_BIT = 1 << 255
_MODULUS = 1 << 256


def sdiv(a: int, b: int) -> int:
    if b == 0:
        return 0
    a = a - _MODULUS if a & _SIGN_BIT else a
    b = b - _MODULUS if b & _SIGN_BIT else b
    quotient = abs(a) // abs(b)
    if (a < 0) != (b < 0):
        quotient = -quotient
    return quotient & UINT256_MAX


def smod(a: int, b: int) -> int:
    if b == 0:
        return 0
    a = a - _MODULUS if a & _SIGN_BIT else a
    b = b - _MODULUS if b & _SIGN_BIT else b
    remainder = abs(a) % abs(b)
    if a < 0:
        remainder = -remainder
    return remainder & UINT256_MAX


def signextend(byte_index: int, value: int) -> int:
    if byte_index < 31:
        sign_bit = (byte_index << 3) + 7
        if value >> sign_bit & 1:
            value |= UINT256_MAX ^ ((1 << sign_bit) - 1)
        else:
            value &= (1 << sign_bit) - 1
    return value


def sar(shift: int, value: int) -> int:
    signed = value - _MODULUS if value & _SIGN_BIT else value
    return (signed >> (shift if shift < 256 else 255)) & UINT256_MAX


def calldataload(data: bytes, start: int) -> int:
    chunk = data[start : start + 32] if start < len(data) else b""
    value = int.from_bytes(chunk, "big")
    if len(chunk) < 32:
        value <<= (32 - len(chunk)) << 3
    return value


def grow(memory: bytearray, end: int) -> None:
    """Extend memory to cover ``end`` bytes (whole words); gas already taken."""
    memory.extend(bytes((((end + 31) >> 5) << 5) - len(memory)))


def grow_charged(memory: bytearray, end: int, gas: int) -> int:
    """Grow memory to cover ``end`` if its expansion gas fits in ``gas``: the
    gas left, or -1 (nothing done) when it does not."""
    cost = expansion_cost(len(memory), end)
    if cost > gas:
        return -1
    memory.extend(bytes((((end + 31) >> 5) << 5) - len(memory)))
    return gas - cost


def hand_over(evm: Evm, pc: int, gas: int, consumed: int, items: tuple[int, ...]) -> None:
    """Write back the stack and gas as they are before the instruction at
    ``pc`` and let the interpreter run the frame from there."""
    stack = evm.stack
    if consumed:
        stack[-consumed:] = items
    else:
        stack.extend(items)
    evm.gas_left = gas
    interpret_from(evm, pc)


def resume(evm: Evm, pc: int) -> None:
    """Hand the frame to the interpreter at ``pc``: the stack and gas are exact
    as the interpreter would have them before the instruction at ``pc``."""
    interpret_from(evm, pc)


def trampoline(region: Any, evm: Evm) -> None:
    """Run region functions until one returns None (the frame is done)."""
    try:
        while region is not None:
            region = region(evm)
    except StopExecution:
        return
    except IndexError as error:  # as in the interpreter loop
        raise StackUnderflowError from error


def base_namespace() -> dict[str, Any]:
    """The globals every generated module starts from."""
    return {
        "__builtins__": __builtins__,
        "M": UINT256_MAX,
        "SIGN": _SIGN_BIT,
        "MOD": _MODULUS,
        "_sdiv": sdiv,
        "_smod": smod,
        "_signextend": signextend,
        "_sar": sar,
        "_cdl": calldataload,
        "_mem_cost": expansion_cost,
        "_grow": grow,
        "_mem": grow_charged,
        "_hand": hand_over,
        "_resume": resume,
        "_Stop": StopExecution,
        "_BadJump": InvalidJumpDestError,
        "_Underflow": StackUnderflowError,
    }
