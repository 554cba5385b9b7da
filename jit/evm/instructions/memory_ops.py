"""Memory instructions: MLOAD, MSTORE, MSTORE8, MSIZE, MCOPY (EIP-5656)."""

from __future__ import annotations

from jit.evm import memory
from jit.evm.exceptions import OutOfGasError, StackOverflowError
from jit.evm.frame import STACK_LIMIT, Evm
from jit.evm.gas import GAS_COPY


def mload(evm: Evm) -> None:
    stack = evm.stack
    offset = stack.pop()
    memory.expand(evm, offset, 32)
    stack.append(int.from_bytes(evm.memory[offset : offset + 32], "big"))


def mstore(evm: Evm) -> None:
    stack = evm.stack
    offset = stack.pop()
    value = stack.pop()
    memory.expand(evm, offset, 32)
    evm.memory[offset : offset + 32] = value.to_bytes(32, "big")


def mstore8(evm: Evm) -> None:
    stack = evm.stack
    offset = stack.pop()
    value = stack.pop()
    memory.expand(evm, offset, 1)
    evm.memory[offset] = value & 0xFF


def msize(evm: Evm) -> None:
    stack = evm.stack
    stack.append(len(evm.memory))
    if len(stack) > STACK_LIMIT:
        raise StackOverflowError


def mcopy(evm: Evm) -> None:
    # STACK
    stack = evm.stack
    destination = stack.pop()
    source = stack.pop()
    length = stack.pop()
    # GAS
    if length:
        cost = GAS_COPY * ((length + 31) >> 5) + memory.expansion_cost(
            len(evm.memory), max(destination, source) + length
        )
        if cost > evm.gas_left:
            raise OutOfGasError
        evm.gas_left -= cost
        memory.resize(evm, max(destination, source) + length)
        # OPERATION
        mem = evm.memory
        mem[destination : destination + length] = mem[source : source + length]
