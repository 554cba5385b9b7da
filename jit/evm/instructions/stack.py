"""Stack instructions: POP, PUSH0 (EIP-3855), PUSH1-PUSH32, DUP1-16, SWAP1-16."""

from __future__ import annotations

from collections.abc import Callable

from jit.evm.exceptions import StackOverflowError
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
