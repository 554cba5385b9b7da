"""System instructions: CREATE, CREATE2 (EIP-1014), CALL, CALLCODE, DELEGATECALL
(EIP-7), STATICCALL (EIP-214), RETURN, REVERT (EIP-140), INVALID and
SELFDESTRUCT as EIP-6780 defines it.

Gas: EIP-150 (63/64 forwarding, or MegaETH's 98/100: ``ForkRules.forward_gas_withheld``),
EIP-2929 (cold access), EIP-3860 (initcode words), EIP-7702 (calls follow delegation
designators, paying for the delegate's access; precompiles are not run through a
delegation).
"""

from __future__ import annotations

from jit.evm import memory
from jit.evm.addresses import (
    compute_contract_address,
    compute_create2_address,
    delegation_target,
    to_address,
)
from jit.evm.exceptions import (
    InvalidOpcode,
    OutOfGasError,
    Revert,
    WriteInStaticContext,
)
from jit.evm.frame import CALL_DEPTH_LIMIT, Evm, Message, push
from jit.evm.gas import (
    GAS_CALL_STIPEND,
    GAS_CALL_VALUE,
    GAS_COLD_ACCOUNT_ACCESS,
    GAS_INIT_CODE_WORD,
    GAS_KECCAK256_WORD,
    GAS_NEW_ACCOUNT,
    GAS_SELF_DESTRUCT_NEW_ACCOUNT,
    GAS_WARM_ACCESS,
)
from jit.evm.message import StopExecution, process_create_message, process_message
from jit.evm.state_gas import (
    STATE_BYTES_PER_NEW_ACCOUNT,
    charge_state_gas,
    credit_state_gas_refund,
    incorporate_child,
    state_bytes_gas,
)
from jit.evm.transfer_logs import burn_log, transfer_log
from statedb.types import Address

_COLD_ACCOUNT_EXTRA = GAS_COLD_ACCOUNT_ACCESS - GAS_WARM_ACCESS
_MAX_NONCE = (1 << 64) - 1


# ------------------------------------------------------------------ creates


def _generic_create(evm: Evm, endowment: int, address: Address, offset: int, size: int) -> None:
    init_code = memory.read(evm, offset, size)
    rules = evm.rules
    if len(init_code) > rules.max_initcode_size:
        raise OutOfGasError  # EIP-3860
    new_account_gas = 0
    if rules.eip8037:
        if evm.msg.is_static:
            raise WriteInStaticContext
        new_account_gas = state_bytes_gas(evm, STATE_BYTES_PER_NEW_ACCOUNT)
        charge_state_gas(evm, new_account_gas)
    gas_left = evm.gas_left
    withheld, denominator = rules.forward_gas_withheld  # EIP-150 (MegaETH: 98/100)
    create_gas = gas_left - gas_left * withheld // denominator
    evm.gas_left -= create_gas
    if evm.msg.is_static:
        raise WriteInStaticContext
    evm.return_data = b""
    state = evm.state
    sender = evm.msg.current_target
    if (
        state.balance(sender) < endowment
        or state.nonce(sender) == _MAX_NONCE
        or evm.msg.depth + 1 > CALL_DEPTH_LIMIT
    ):
        evm.gas_left += create_gas
        _refund_new_account(evm, new_account_gas)
        push(evm, 0)
        return
    state.warm_address(address)
    if state.has_code_or_nonce(address) or state.has_storage(address):
        # EIP-684/EIP-7610 collision: the forwarded gas is lost.
        state.increment_nonce(sender)
        _refund_new_account(evm, new_account_gas)
        push(evm, 0)
        return
    state.increment_nonce(sender)
    reservoir = evm.state_gas_left
    evm.state_gas_left = 0
    child = process_create_message(
        Message(
            caller=sender,
            target=None,
            current_target=address,
            code_address=None,
            value=endowment,
            data=b"",
            code=init_code,
            gas=create_gas,
            depth=evm.msg.depth + 1,
            is_static=False,
            state_gas=reservoir,
        ),
        state,
        rules,
        evm.block,
        evm.tx,
    )
    evm.gas_left += child.gas_left
    if rules.eip8037:
        incorporate_child(evm, child)
    if child.error is not None:
        _refund_new_account(evm, new_account_gas)
        evm.return_data = child.output
        push(evm, 0)
    else:
        push(evm, int.from_bytes(address, "big"))


def _refund_new_account(evm: Evm, new_account_gas: int) -> None:
    """EIP-8037: a CREATE that creates no account returns its new-account state gas."""
    if new_account_gas:
        credit_state_gas_refund(evm, new_account_gas)


def _charge_create(evm: Evm, offset: int, size: int, per_word: int) -> None:
    cost = per_word * ((size + 31) >> 5)
    if size:
        cost += memory.expansion_cost(len(evm.memory), offset + size)
    if cost > evm.gas_left:
        raise OutOfGasError
    evm.gas_left -= cost
    if size:
        memory.resize(evm, offset + size)


def create(evm: Evm) -> None:
    stack = evm.stack
    endowment = stack.pop()
    offset = stack.pop()
    size = stack.pop()
    _charge_create(evm, offset, size, GAS_INIT_CODE_WORD)
    sender = evm.msg.current_target
    address = compute_contract_address(sender, evm.state.nonce(sender))
    _generic_create(evm, endowment, address, offset, size)


def create2(evm: Evm) -> None:
    stack = evm.stack
    endowment = stack.pop()
    offset = stack.pop()
    size = stack.pop()
    salt = stack.pop().to_bytes(32, "big")
    _charge_create(evm, offset, size, GAS_INIT_CODE_WORD + GAS_KECCAK256_WORD)
    address = compute_create2_address(evm.msg.current_target, salt, memory.read(evm, offset, size))
    _generic_create(evm, endowment, address, offset, size)


# -------------------------------------------------------------------- calls


def _call_memory(
    evm: Evm, in_offset: int, in_size: int, out_offset: int, out_size: int
) -> tuple[int, int]:
    """(expansion cost, new end) for a call's input and output regions."""
    end = in_offset + in_size if in_size else 0
    if out_size:
        end = max(end, out_offset + out_size)
    return memory.expansion_cost(len(evm.memory), end), end


def _resolve_code(evm: Evm, code_address: Address, due: int) -> tuple[Address, bytes, bool, int]:
    """(code address, code, precompiles disabled, extra access gas), following
    an EIP-7702 delegation designator one hop. ``due``: what the call costs so far; the
    frame must afford it plus the delegate's access before the delegate is read."""
    state = evm.state
    code = state.get_code(code_address)
    if evm.rules.eip7702:
        delegate = delegation_target(code)
        if delegate is not None:
            extra = GAS_COLD_ACCOUNT_ACCESS if state.warm_address(delegate) else GAS_WARM_ACCESS
            if evm.gas_left < due + extra:
                raise OutOfGasError
            return delegate, state.get_code(delegate), True, extra
    return code_address, code, False, 0


def _charge_call(
    evm: Evm, gas: int, extra: int, memory_cost: int, value: int, state_gas: int = 0
) -> int:
    """Charge a call's cost (EIP-150); return the gas the callee receives. EIP-8037's
    ``state_gas`` (a new account) is charged after the regular part and before the
    forwarded gas is worked out from what is left."""
    gas_left = evm.gas_left
    if gas_left < extra + memory_cost:
        raise OutOfGasError
    if state_gas:
        evm.gas_left = gas_left - extra - memory_cost
        charge_state_gas(evm, state_gas)
        gas_left = evm.gas_left
        extra = memory_cost = 0
    available = gas_left - memory_cost - extra
    withheld, denominator = evm.rules.forward_gas_withheld  # EIP-150 (MegaETH: 98/100)
    forwarded = min(gas, available - available * withheld // denominator)
    evm.gas_left = gas_left - forwarded - extra - memory_cost
    return forwarded + (GAS_CALL_STIPEND if value else 0)


def _generic_call(
    evm: Evm,
    gas: int,
    value: int,
    caller: Address,
    to: Address,
    code_address: Address,
    code: bytes,
    should_transfer_value: bool,
    is_static: bool,
    disable_precompiles: bool,
    in_offset: int,
    in_size: int,
    out_offset: int,
    out_size: int,
) -> None:
    evm.return_data = b""
    if evm.msg.depth + 1 > CALL_DEPTH_LIMIT:
        evm.gas_left += gas
        push(evm, 0)
        return
    reservoir = evm.state_gas_left
    evm.state_gas_left = 0
    child = process_message(
        Message(
            caller=caller,
            target=to,
            current_target=to,
            code_address=code_address,
            value=value,
            data=memory.read(evm, in_offset, in_size),
            code=code,
            gas=gas,
            depth=evm.msg.depth + 1,
            is_static=is_static or evm.msg.is_static,
            should_transfer_value=should_transfer_value,
            disable_precompiles=disable_precompiles,
            state_gas=reservoir,
        ),
        evm.state,
        evm.rules,
        evm.block,
        evm.tx,
    )
    evm.gas_left += child.gas_left
    if evm.rules.eip8037:
        incorporate_child(evm, child)
    output = child.output
    evm.return_data = output
    push(evm, 0 if child.error is not None else 1)
    if out_size and output:
        count = min(out_size, len(output))
        evm.memory[out_offset : out_offset + count] = output[:count]


def _pop_regions(stack: list[int]) -> tuple[int, int, int, int]:
    return stack.pop(), stack.pop(), stack.pop(), stack.pop()


def _prepare_call(
    evm: Evm,
    gas: int,
    target: Address,
    value: int,
    regions: tuple[int, int, int, int],
    *,
    is_call: bool,
) -> tuple[int, Address, bytes, bool]:
    """Charge a call's gas (the table charged the warm access) and grow memory.

    Returns (callee gas, code address, code, precompiles disabled). Only CALL
    pays for creating an account and may not move value in a static frame.

    As execution-specs orders it (Amsterdam), a static frame's value transfer fails
    before any charge, and the access, value and memory costs are checked before the
    target is read, the delegate's access before the delegate is read: a call that
    cannot pay for them reads neither (EIP-7928 leaves them out of the block's access
    list). The halts are the same as charging everything at once, only the reads differ.
    """
    if is_call and value and evm.msg.is_static:
        raise WriteInStaticContext
    memory_cost, end = _call_memory(evm, *regions)
    state = evm.state
    extra = _COLD_ACCOUNT_EXTRA if state.warm_address(target) else 0
    if value:
        extra += GAS_CALL_VALUE
    if evm.gas_left < extra + memory_cost:
        raise OutOfGasError
    code_address, code, disable_precompiles, delegate_cost = _resolve_code(
        evm, target, extra + memory_cost
    )
    extra += delegate_cost
    new_account_state_gas = 0
    if is_call and value and not state.is_alive(target):
        if evm.rules.eip8037:
            new_account_state_gas = state_bytes_gas(evm, STATE_BYTES_PER_NEW_ACCOUNT)
        else:
            extra += GAS_NEW_ACCOUNT
    callee_gas = _charge_call(evm, gas, extra, memory_cost, value, new_account_state_gas)
    memory.resize(evm, end)
    return callee_gas, code_address, code, disable_precompiles


def _can_pay(evm: Evm, value: int, callee_gas: int) -> bool:
    """A call whose value exceeds the balance fails at once and returns its gas."""
    if value and evm.state.balance(evm.msg.current_target) < value:
        push(evm, 0)
        evm.return_data = b""
        evm.gas_left += callee_gas
        return False
    return True


def call(evm: Evm) -> None:
    stack = evm.stack
    gas = stack.pop()
    to = to_address(stack.pop())
    value = stack.pop()
    regions = _pop_regions(stack)
    callee_gas, code_address, code, disable = _prepare_call(
        evm, gas, to, value, regions, is_call=True
    )
    if _can_pay(evm, value, callee_gas):
        me = evm.msg.current_target
        _generic_call(
            evm, callee_gas, value, me, to, code_address, code, True, False, disable, *regions
        )


def callcode(evm: Evm) -> None:
    stack = evm.stack
    gas = stack.pop()
    target = to_address(stack.pop())
    value = stack.pop()
    regions = _pop_regions(stack)
    callee_gas, code_address, code, disable = _prepare_call(
        evm, gas, target, value, regions, is_call=False
    )
    if _can_pay(evm, value, callee_gas):
        me = evm.msg.current_target
        _generic_call(
            evm, callee_gas, value, me, me, code_address, code, True, False, disable, *regions
        )


def delegatecall(evm: Evm) -> None:
    stack = evm.stack
    gas = stack.pop()
    target = to_address(stack.pop())
    regions = _pop_regions(stack)
    callee_gas, code_address, code, disable = _prepare_call(
        evm, gas, target, 0, regions, is_call=False
    )
    msg = evm.msg
    _generic_call(
        evm,
        callee_gas,
        msg.value,
        msg.caller,
        msg.current_target,
        code_address,
        code,
        False,
        False,
        disable,
        *regions,
    )


def staticcall(evm: Evm) -> None:
    stack = evm.stack
    gas = stack.pop()
    to = to_address(stack.pop())
    regions = _pop_regions(stack)
    callee_gas, code_address, code, disable = _prepare_call(evm, gas, to, 0, regions, is_call=False)
    me = evm.msg.current_target
    _generic_call(evm, callee_gas, 0, me, to, code_address, code, True, True, disable, *regions)


# ------------------------------------------------------------- terminators


def return_(evm: Evm) -> None:
    stack = evm.stack
    offset = stack.pop()
    size = stack.pop()
    memory.expand(evm, offset, size)
    evm.output = memory.read(evm, offset, size)
    raise StopExecution


def revert(evm: Evm) -> None:
    stack = evm.stack
    offset = stack.pop()
    size = stack.pop()
    memory.expand(evm, offset, size)
    evm.output = memory.read(evm, offset, size)
    raise Revert


def invalid(evm: Evm) -> None:
    raise InvalidOpcode


def selfdestruct(evm: Evm) -> None:
    # STACK
    beneficiary = to_address(evm.stack.pop())
    # A static frame halts before anything is read (as execution-specs orders it; under
    # EIP-7928 the beneficiary stays out of the access list, under EIP-8037 no state gas
    # is charged that the halt would return). The halt is the same as checking it later.
    if evm.msg.is_static:
        raise WriteInStaticContext
    # GAS (the table charged GAS_SELF_DESTRUCT)
    state = evm.state
    originator = evm.msg.current_target
    cost = GAS_COLD_ACCOUNT_ACCESS if state.warm_address(beneficiary) else 0
    if cost > evm.gas_left:
        # Before the beneficiary is read, as execution-specs checks it (EIP-7928: a
        # SELFDESTRUCT that cannot pay for the access leaves it out of the access list).
        raise OutOfGasError
    new_account_state_gas = 0
    if not state.is_alive(beneficiary) and state.balance(originator) != 0:
        if evm.rules.eip8037:
            new_account_state_gas = state_bytes_gas(evm, STATE_BYTES_PER_NEW_ACCOUNT)
        else:
            cost += GAS_SELF_DESTRUCT_NEW_ACCOUNT
    if cost > evm.gas_left:
        raise OutOfGasError
    evm.gas_left -= cost
    if new_account_state_gas:
        charge_state_gas(evm, new_account_state_gas)
    # OPERATION
    state.touched.append(beneficiary)
    balance = state.balance(originator)
    state.transfer(originator, beneficiary, balance)
    eip7708 = evm.rules.eip7708
    if eip7708 and balance and beneficiary != originator:
        state.logs.append(transfer_log(originator, beneficiary, balance))
    if originator in state.created:
        # EIP-6780: only an account created in this transaction is deleted. A
        # beneficiary equal to the originator burns the ether at once (EIP-7708: with a
        # burn log; what reaches the account later is burned, with another, when the
        # transaction removes it).
        if eip7708 and balance and beneficiary == originator:
            state.logs.append(burn_log(originator, balance))
        state.set_balance(originator, 0)
        state.mark_to_delete(originator)
    raise StopExecution
