"""KECCAK256 (Frontier)."""

from __future__ import annotations

import sha3

from jit.evm import memory
from jit.evm.exceptions import OutOfGasError
from jit.evm.frame import Evm
from jit.evm.gas import GAS_KECCAK256_WORD

_keccak = sha3.keccak_256


def keccak256(evm: Evm) -> None:
    # STACK
    stack = evm.stack
    offset = stack.pop()
    size = stack.pop()
    # GAS
    cost = GAS_KECCAK256_WORD * ((size + 31) >> 5)
    if cost > evm.gas_left:
        raise OutOfGasError
    evm.gas_left -= cost
    memory.expand(evm, offset, size)
    # OPERATION
    data = evm.memory[offset : offset + size] if size else b""
    stack.append(int.from_bytes(_keccak(data).digest(), "big"))
