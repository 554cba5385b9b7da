"""Running messages: the interpreter loop, message calls and contract creation.

Implements the frame lifecycle of ethereum/execution-specs' ``interpreter.py``:
value transfer (with its EIP-7708 log under Amsterdam's rules), precompile dispatch, the
opcode loop, halts vs reverts, and the create epilogue (EIP-3541 0xEF prefix, EIP-170 size
limit, code deposit gas, under EIP-8037 a code hash charge and state gas per byte; MegaETH's
code deposit storage gas and storage call stipend when the rules have them).
Reverting a frame rolls the journal back to the frame's checkpoint.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from jit.evm.addresses import CONSOLE_ADDRESS
from jit.evm.analysis import valid_jump_destinations
from jit.evm.exceptions import (
    ExceptionalHalt,
    InvalidContractPrefix,
    OutOfGasError,
    PrecompileHalt,
    Revert,
    StackUnderflowError,
)
from jit.evm.frame import BlockEnv, Evm, Message, TxEnv
from jit.evm.gas import GAS_CODE_DEPOSIT
from jit.evm.precompiles.base import PrecompileFailure
from jit.evm.state import TxState
from jit.evm.state_gas import CODE_HASH_GAS_PER_WORD, charge_state_gas, state_bytes_gas
from jit.evm.transfer_logs import transfer_log

if TYPE_CHECKING:
    from jit.forks import ForkRules

# PUSH32 at the last byte reads 32 bytes past the end; STOP (0) pads both.
_CODE_PADDING = b"\x00" * 33

# 1024 nested calls take a few Python frames each.
if sys.getrecursionlimit() < 20000:
    sys.setrecursionlimit(20000)


class StopExecution(Exception):
    """Raised by STOP, RETURN and SELFDESTRUCT to leave the loop."""


def execute_code(evm: Evm) -> None:
    """Run ``evm.msg.code`` until it stops, returns, reverts or halts.

    ``evm.code`` becomes the padded copy, so PUSH handlers read immediates from
    it without length checks; CODESIZE and CODECOPY use ``evm.msg.code``.
    """
    evm.code = evm.msg.code + _CODE_PADDING
    evm.jumpdests = valid_jump_destinations(evm.msg.code)
    interpret_from(evm, 0)


def interpret_from(evm: Evm, pc: int) -> None:
    """The interpreter loop from ``pc`` on a prepared frame (padded code, jump
    table set): compiled code hands a frame over here when a block's up-front
    gas or stack check fails, so the interpreter decides what exactly happens."""
    code = evm.code
    rules = evm.rules
    ops = rules.ops
    static_gas = rules.static_gas
    try:
        while True:
            op = code[pc]
            gas_left = evm.gas_left - static_gas[op]
            if gas_left < 0:
                raise OutOfGasError
            evm.gas_left = gas_left
            evm.pc = pc + 1
            ops[op](evm)
            pc = evm.pc
    except StopExecution:
        return
    except IndexError as error:
        # Handlers pop before acting, so an empty stack surfaces here.
        raise StackUnderflowError from error


def process_message(
    msg: Message, state: TxState, rules: ForkRules, block: BlockEnv, tx: TxEnv
) -> Evm:
    """Transfer value and run the target's code (or precompile) in a new frame."""
    evm = Evm(msg, state, rules, block, tx)
    stipend = rules.storage_call_stipend
    if stipend and msg.value and msg.should_transfer_value and msg.depth:
        # MegaETH: a CALL or CALLCODE with value below the top frame (not DELEGATECALL,
        # which does not transfer) grants the callee a storage gas allowance.
        evm.storage_allowance = stipend
    tracer = state.tracer
    if tracer is None:
        _run_message(evm, msg, state, rules)
    else:
        tracer.enter(evm)
        _run_message(evm, msg, state, rules)
        tracer.exit(evm)
    return evm


def _run_message(evm: Evm, msg: Message, state: TxState, rules: ForkRules) -> None:
    state.touched.append(msg)
    checkpoint = state.checkpoint()
    if msg.should_transfer_value and msg.value:
        state.transfer(msg.caller, msg.current_target, msg.value)
        if rules.eip7708 and msg.caller != msg.current_target:
            # After the checkpoint: a frame that fails takes its transfer log with it.
            state.logs.append(transfer_log(msg.caller, msg.current_target, msg.value))
    try:
        precompile = rules.precompiles.get(msg.code_address) if msg.code_address else None
        if precompile is not None:
            if not msg.disable_precompiles:
                try:
                    output, gas_used = precompile(msg.data, evm.gas_left)
                except PrecompileFailure as error:
                    raise PrecompileHalt(str(error)) from error
                evm.gas_left -= gas_used
                evm.output = output
                if state.tracer is not None:
                    state.tracer.precompile(evm, gas_used)
        elif evm.code:
            run_code = state.run_code
            if run_code is None:
                execute_code(evm)
            else:
                run_code(evm)
        elif msg.code_address == CONSOLE_ADDRESS:
            state.console_calls.append(msg.data)  # console.log: the node prints it
    except ExceptionalHalt as error:
        evm.gas_left = 0
        evm.output = b""
        evm.error = error
        if isinstance(error, OutOfGasError):
            state.out_of_gas_halts += 1
    except Revert as error:
        evm.error = error
    if evm.error is not None:
        state.revert(checkpoint)


def process_create_message(
    msg: Message, state: TxState, rules: ForkRules, block: BlockEnv, tx: TxEnv
) -> Evm:
    """Run init code at ``msg.current_target`` and deposit the returned code."""
    checkpoint = state.checkpoint()
    address = msg.current_target
    state.mark_created(address)
    state.increment_nonce(address)
    evm = Evm(msg, state, rules, block, tx)
    tracer = state.tracer
    if tracer is not None:
        tracer.enter(evm)
    _run_message(evm, msg, state, rules)
    if evm.error is None:
        code = evm.output
        try:
            storage_gas = rules.code_deposit_storage_gas * len(code)
            if storage_gas:
                # MegaETH: the code deposit's storage gas, charged before the EIP-3541 and
                # EIP-170 checks (mega-evm's after_frame_run_instructions).
                if storage_gas > evm.gas_left:
                    state.out_of_gas_halts += 1
                    raise OutOfGasError
                evm.gas_left -= storage_gas
            if code and code[0] == 0xEF:
                raise InvalidContractPrefix  # EIP-3541
            if rules.eip8037:
                _charge_code_deposit_state_gas(evm, state, code)
            else:
                evm.gas_left -= GAS_CODE_DEPOSIT * len(code)
            if evm.gas_left < 0:
                state.out_of_gas_halts += 1
                raise OutOfGasError
            if len(code) > rules.max_code_size:
                raise OutOfGasError  # EIP-170 counts as running out of gas
        except ExceptionalHalt as error:
            state.revert(checkpoint)
            evm.gas_left = 0
            evm.output = b""
            evm.error = error
        else:
            state.set_code(address, code)
    else:
        state.revert(checkpoint)
    if tracer is not None:
        tracer.exit(evm)
    return evm


def _charge_code_deposit_state_gas(evm: Evm, state: TxState, code: bytes) -> None:
    """EIP-8037's code deposit: the code's hash (6 regular gas a word), then one byte of
    state gas per byte of code. A code over the size limit pays neither (it fails)."""
    if len(code) > evm.rules.max_code_size:
        raise OutOfGasError  # EIP-170 counts as running out of gas
    hash_gas = CODE_HASH_GAS_PER_WORD * ((len(code) + 31) // 32)
    if hash_gas > evm.gas_left:
        state.out_of_gas_halts += 1
        raise OutOfGasError
    evm.gas_left -= hash_gas
    try:
        charge_state_gas(evm, state_bytes_gas(evm, len(code)))
    except OutOfGasError:
        state.out_of_gas_halts += 1
        raise
