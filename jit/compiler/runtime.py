"""Runtime helpers the generated code calls, and the names it sees.

Everything stateful (storage, calls, creates, logs, copies, precompiles) runs
through the interpreter's own instruction handlers, called on the frame with
the stack written back, so both engines share one implementation. The pure
word functions the generated code calls (SDIV, SMOD, SIGNEXTEND, SAR,
CALLDATALOAD) are the ones those handlers call.
"""

from __future__ import annotations

from typing import Any

from jit.evm.exceptions import InvalidJumpDestError, StackUnderflowError
from jit.evm.frame import UINT256_MAX, Evm
from jit.evm.instructions.arithmetic import sign_extend, signed_div, signed_mod
from jit.evm.instructions.bitwise import shift_arithmetic_right
from jit.evm.instructions.environment import calldata_word
from jit.evm.memory import expansion_cost, extend_to
from jit.evm.message import StopExecution, interpret_from

_SIGN_BIT = 1 << 255
_MODULUS = 1 << 256


def grow_charged(memory: bytearray, end: int, gas: int) -> int:
    """Grow memory to cover ``end`` if its expansion gas fits in ``gas``: the
    gas left, or -1 (nothing done) when it does not."""
    cost = expansion_cost(len(memory), end)
    if cost > gas:
        return -1
    extend_to(memory, end)
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


def profiled_trampoline(region: Any, evm: Evm, transitions: dict[tuple[Any, Any], int]) -> None:
    """As ``trampoline``, counting each step from one region function to the next in
    ``transitions`` (the one before is None at the frame's entry): ``jit.compiler.profile``.
    A loop of its own, so the unprofiled one every compiled frame runs gains no test."""
    before = None
    try:
        while region is not None:
            step = (before, region)
            transitions[step] = transitions.get(step, 0) + 1
            before = region
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
        "_sdiv": signed_div,
        "_smod": signed_mod,
        "_signextend": sign_extend,
        "_sar": shift_arithmetic_right,
        "_cdl": calldata_word,
        "_mem": grow_charged,
        "_hand": hand_over,
        "_resume": resume,
        "_BadJump": InvalidJumpDestError,
    }
