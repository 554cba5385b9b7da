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


def sdiv(evm: Evm) -> None:
    stack = evm.stack
    a = to_signed(stack.pop())
    b = to_signed(stack.pop())
    if b == 0:
        quotient = 0
    else:
        quotient = abs(a) // abs(b)
        if (a < 0) != (b < 0):
            quotient = -quotient
    stack.append(quotient & UINT256_MAX)


def mod(evm: Evm) -> None:
    stack = evm.stack
    a = stack.pop()
    b = stack.pop()
    stack.append(a % b if b else 0)


def smod(evm: Evm) -> None:
    stack = evm.stack
    a = to_signed(stack.pop())
    b = to_signed(stack.pop())
    if b == 0:
        remainder = 0
    else:
        remainder = abs(a) % abs(b)
        if a < 0:
            remainder = -remainder
    stack.append(remainder & UINT256_MAX)


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


def signextend(evm: Evm) -> None:
    stack = evm.stack
    byte_index = stack.pop()
    value = stack.pop()
    if byte_index < 31:
        sign_bit = (byte_index << 3) + 7
        if value >> sign_bit & 1:
            value |= UINT256_MAX ^ ((1 << sign_bit) - 1)
        else:
            value &= (1 << sign_bit) - 1
    stack.append(value)
