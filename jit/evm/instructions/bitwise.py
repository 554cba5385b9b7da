"""Comparison and bitwise logic: LT ... SAR (EIP-145 shifts), CLZ (EIP-7939)."""

from __future__ import annotations

from jit.evm.frame import UINT256_MAX, Evm, to_signed


def lt(evm: Evm) -> None:
    stack = evm.stack
    a = stack.pop()
    stack.append(1 if a < stack.pop() else 0)


def gt(evm: Evm) -> None:
    stack = evm.stack
    a = stack.pop()
    stack.append(1 if a > stack.pop() else 0)


def slt(evm: Evm) -> None:
    stack = evm.stack
    a = to_signed(stack.pop())
    stack.append(1 if a < to_signed(stack.pop()) else 0)


def sgt(evm: Evm) -> None:
    stack = evm.stack
    a = to_signed(stack.pop())
    stack.append(1 if a > to_signed(stack.pop()) else 0)


def eq(evm: Evm) -> None:
    stack = evm.stack
    stack.append(1 if stack.pop() == stack.pop() else 0)


def iszero(evm: Evm) -> None:
    stack = evm.stack
    stack.append(0 if stack.pop() else 1)


def and_(evm: Evm) -> None:
    stack = evm.stack
    stack.append(stack.pop() & stack.pop())


def or_(evm: Evm) -> None:
    stack = evm.stack
    stack.append(stack.pop() | stack.pop())


def xor(evm: Evm) -> None:
    stack = evm.stack
    stack.append(stack.pop() ^ stack.pop())


def not_(evm: Evm) -> None:
    stack = evm.stack
    stack.append(UINT256_MAX ^ stack.pop())


def byte(evm: Evm) -> None:
    stack = evm.stack
    index = stack.pop()
    value = stack.pop()
    stack.append((value >> (248 - (index << 3))) & 0xFF if index < 32 else 0)


def shl(evm: Evm) -> None:
    stack = evm.stack
    shift = stack.pop()
    value = stack.pop()
    stack.append((value << shift) & UINT256_MAX if shift < 256 else 0)


def shr(evm: Evm) -> None:
    stack = evm.stack
    shift = stack.pop()
    value = stack.pop()
    stack.append(value >> shift if shift < 256 else 0)


def shift_arithmetic_right(shift: int, value: int) -> int:
    """SAR of two stack words (shared with the compiler's runtime)."""
    return (to_signed(value) >> (shift if shift < 256 else 255)) & UINT256_MAX


def sar(evm: Evm) -> None:
    stack = evm.stack
    stack.append(shift_arithmetic_right(stack.pop(), stack.pop()))


def clz(evm: Evm) -> None:
    """EIP-7939: number of leading zero bits (256 for zero)."""
    stack = evm.stack
    stack.append(256 - stack.pop().bit_length())
