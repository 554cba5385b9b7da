"""Control flow: STOP, JUMP, JUMPI, PC, GAS, JUMPDEST."""

from __future__ import annotations

from jit.evm.exceptions import InvalidJumpDestError, StackOverflowError
from jit.evm.frame import STACK_LIMIT, Evm
from jit.evm.message import StopExecution


def stop(evm: Evm) -> None:
    raise StopExecution


def jump(evm: Evm) -> None:
    destination = evm.stack.pop()
    if destination not in evm.jumpdests:  # type: ignore[operator]
        raise InvalidJumpDestError
    evm.pc = destination


def jumpi(evm: Evm) -> None:
    stack = evm.stack
    destination = stack.pop()
    if stack.pop():
        if destination not in evm.jumpdests:  # type: ignore[operator]
            raise InvalidJumpDestError
        evm.pc = destination


def pc(evm: Evm) -> None:
    stack = evm.stack
    stack.append(evm.pc - 1)
    if len(stack) > STACK_LIMIT:
        raise StackOverflowError


def gas(evm: Evm) -> None:
    stack = evm.stack
    stack.append(evm.gas_left)
    if len(stack) > STACK_LIMIT:
        raise StackOverflowError


def jumpdest(evm: Evm) -> None:
    pass
