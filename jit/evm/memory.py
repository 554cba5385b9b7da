"""EVM memory: expansion gas (Yellow Paper C_mem) and bounded reads/writes."""

from __future__ import annotations

from jit.evm.exceptions import OutOfGasError
from jit.evm.frame import Evm


def expansion_cost(current_length: int, end: int) -> int:
    """Gas to grow memory from ``current_length`` bytes to cover ``end`` bytes."""
    if end <= current_length:
        return 0
    new_words = (end + 31) >> 5
    old_words = current_length >> 5
    return 3 * (new_words - old_words) + (new_words * new_words >> 9) - (old_words * old_words >> 9)


def expand(evm: Evm, offset: int, size: int) -> None:
    """Charge for and grow memory to cover [offset, offset + size)."""
    if size == 0:
        return
    memory = evm.memory
    end = offset + size
    if end > len(memory):
        cost = expansion_cost(len(memory), end)
        if cost > evm.gas_left:
            raise OutOfGasError
        evm.gas_left -= cost
        extend_to(memory, end)


def extend_to(memory: bytearray, end: int) -> None:
    """Grow ``memory`` (by whole words) to cover ``end`` bytes; gas is the caller's."""
    memory.extend(bytes((((end + 31) >> 5) << 5) - len(memory)))


def resize(evm: Evm, end: int) -> None:
    """Grow memory to cover ``end`` bytes; the caller has charged for it."""
    if end > len(evm.memory):
        extend_to(evm.memory, end)


def read(evm: Evm, offset: int, size: int) -> bytes:
    if size == 0:
        return b""
    return bytes(evm.memory[offset : offset + size])


def words(size: int) -> int:
    return (size + 31) >> 5
