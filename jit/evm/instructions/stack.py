"""Stack instructions: POP, PUSH0 (EIP-3855), PUSH1-PUSH32, DUP1-16, SWAP1-16, and
Amsterdam's DUPN, SWAPN and EXCHANGE (EIP-8024).

EIP-8024's instructions take a one-byte immediate (0 past the end of the code, as
for PUSH). The encodings leave out the bytes JUMPDEST and PUSH1-PUSH32 could be, so
JUMPDEST analysis is unchanged: an immediate in the excluded range is an exceptional
halt, and the byte after the opcode is then still an instruction a jump may reach.
"""

from __future__ import annotations

from collections.abc import Callable

from jit.evm.exceptions import InvalidOpcode, StackOverflowError, StackUnderflowError
from jit.evm.frame import STACK_LIMIT, Evm

Handler = Callable[[Evm], None]


def pop(evm: Evm) -> None:
    evm.stack.pop()


def push0(evm: Evm) -> None:
    stack = evm.stack
    stack.append(0)
    if len(stack) > STACK_LIMIT:
        raise StackOverflowError


def push1(evm: Evm) -> None:
    stack = evm.stack
    pc = evm.pc
    # evm.code carries 33 bytes of zero padding, so immediates never run short.
    stack.append(evm.code[pc])
    evm.pc = pc + 1
    if len(stack) > STACK_LIMIT:
        raise StackOverflowError


def make_push(size: int) -> Handler:
    def push(evm: Evm) -> None:
        stack = evm.stack
        pc = evm.pc
        stack.append(int.from_bytes(evm.code[pc : pc + size], "big"))
        evm.pc = pc + size
        if len(stack) > STACK_LIMIT:
            raise StackOverflowError

    push.__name__ = f"push{size}"
    return push


def make_dup(depth: int) -> Handler:
    index = -depth

    def dup(evm: Evm) -> None:
        stack = evm.stack
        stack.append(stack[index])
        if len(stack) > STACK_LIMIT:
            raise StackOverflowError

    dup.__name__ = f"dup{depth}"
    return dup


def make_swap(depth: int) -> Handler:
    index = -depth - 1

    def swap(evm: Evm) -> None:
        stack = evm.stack
        stack[-1], stack[index] = stack[index], stack[-1]

    swap.__name__ = f"swap{depth}"
    return swap


# ---------------------------------------------------------------- EIP-8024


def _decode_single(x: int) -> int | None:
    """DUPN/SWAPN: the immediate's stack depth n, 17 <= n <= 235 (None: invalid)."""
    if 90 < x < 128:
        return None
    return (x + 145) % 256


def _decode_pair(x: int) -> tuple[int, int] | None:
    """EXCHANGE: the immediate's pair (n, m), 1 <= n < m <= 30 - n (None: invalid)."""
    if 81 < x < 128:
        return None
    q, r = divmod(x ^ 143, 16)
    if q < r:
        return q + 1, r + 1
    return r + 1, 29 - q


# Immediate byte -> decoded operand (None for the excluded bytes).
SINGLE_IMMEDIATES: tuple[int | None, ...] = tuple(_decode_single(x) for x in range(256))
PAIR_IMMEDIATES: tuple[tuple[int, int] | None, ...] = tuple(_decode_pair(x) for x in range(256))


def dupn(evm: Evm) -> None:
    """DUPN: push a copy of the n-th stack item (DUP1 copies the 1st)."""
    pc = evm.pc
    depth = SINGLE_IMMEDIATES[evm.code[pc]]
    if depth is None:
        raise InvalidOpcode
    stack = evm.stack
    if depth > len(stack):
        raise StackUnderflowError
    stack.append(stack[-depth])
    evm.pc = pc + 1
    if len(stack) > STACK_LIMIT:
        raise StackOverflowError


def swapn(evm: Evm) -> None:
    """SWAPN: swap the top with the (n + 1)-th stack item (SWAP1 swaps with the 2nd)."""
    pc = evm.pc
    depth = SINGLE_IMMEDIATES[evm.code[pc]]
    if depth is None:
        raise InvalidOpcode
    stack = evm.stack
    if depth + 1 > len(stack):
        raise StackUnderflowError
    index = -depth - 1
    stack[-1], stack[index] = stack[index], stack[-1]
    evm.pc = pc + 1


def exchange(evm: Evm) -> None:
    """EXCHANGE: swap the (n + 1)-th and (m + 1)-th stack items."""
    pc = evm.pc
    pair = PAIR_IMMEDIATES[evm.code[pc]]
    if pair is None:
        raise InvalidOpcode
    n, m = pair
    stack = evm.stack
    if m + 1 > len(stack):  # m > n
        raise StackUnderflowError
    stack[-n - 1], stack[-m - 1] = stack[-m - 1], stack[-n - 1]
    evm.pc = pc + 1
