"""Arithmetic: ADD ... SIGNEXTEND (Frontier), with EXP's per-byte gas (EIP-160)."""

from __future__ import annotations

from jit.evm.exceptions import OutOfGasError
from jit.evm.frame import UINT256_MAX, Evm, to_signed
from jit.evm.gas import GAS_EXPONENTIATION_PER_BYTE

_MODULUS = 1 << 256


def add(evm: Evm) -> None:
    stack = evm.stack
    stack.append((stack.pop() + stack.pop()) & UINT256_MAX)


def mul(evm: Evm) -> None:
    stack = evm.stack
    stack.append((stack.pop() * stack.pop()) & UINT256_MAX)


def sub(evm: Evm) -> None:
    stack = evm.stack
    a = stack.pop()
    stack.append((a - stack.pop()) & UINT256_MAX)


def div(evm: Evm) -> None:
    stack = evm.stack
    a = stack.pop()
    b = stack.pop()
    stack.append(a // b if b else 0)


def signed_div(a: int, b: int) -> int:
    """SDIV of two stack words (shared with the compiler's runtime)."""
    if b == 0:
        return 0
    a = to_signed(a)
    b = to_signed(b)
    quotient = abs(a) // abs(b)
    if (a < 0) != (b < 0):
        quotient = -quotient
    return quotient & UINT256_MAX


def sdiv(evm: Evm) -> None:
    stack = evm.stack
    stack.append(signed_div(stack.pop(), stack.pop()))


def mod(evm: Evm) -> None:
    stack = evm.stack
    a = stack.pop()
    b = stack.pop()
    stack.append(a % b if b else 0)


def signed_mod(a: int, b: int) -> int:
    """SMOD of two stack words (shared with the compiler's runtime)."""
    if b == 0:
        return 0
    a = to_signed(a)
    remainder = abs(a) % abs(to_signed(b))
    if a < 0:
        remainder = -remainder
    return remainder & UINT256_MAX


def smod(evm: Evm) -> None:
    stack = evm.stack
    stack.append(signed_mod(stack.pop(), stack.pop()))


def addmod(evm: Evm) -> None:
    stack = evm.stack
    a = stack.pop()
    b = stack.pop()
    n = stack.pop()
    stack.append((a + b) % n if n else 0)


def mulmod(evm: Evm) -> None:
    stack = evm.stack
    a = stack.pop()
    b = stack.pop()
    n = stack.pop()
    stack.append((a * b) % n if n else 0)


def exp(evm: Evm) -> None:
    # STACK
    stack = evm.stack
    base = stack.pop()
    exponent = stack.pop()
    # GAS
    cost = GAS_EXPONENTIATION_PER_BYTE * ((exponent.bit_length() + 7) >> 3)
    if cost > evm.gas_left:
        raise OutOfGasError
    evm.gas_left -= cost
    # OPERATION
    stack.append(pow(base, exponent, _MODULUS))


def sign_extend(byte_index: int, value: int) -> int:
    """SIGNEXTEND of two stack words (shared with the compiler's runtime)."""
    if byte_index < 31:
        sign_bit = (byte_index << 3) + 7
        if value >> sign_bit & 1:
            value |= UINT256_MAX ^ ((1 << sign_bit) - 1)
        else:
            value &= (1 << sign_bit) - 1
    return value


def signextend(evm: Evm) -> None:
    stack = evm.stack
    stack.append(sign_extend(stack.pop(), stack.pop()))
