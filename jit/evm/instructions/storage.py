"""Storage: SLOAD/SSTORE (EIP-2200 net metering, EIP-2929 cold access, EIP-3529
refunds; Amsterdam's EIP-8037 SSTORE prices a slot set from zero in state gas) and
transient storage TLOAD/TSTORE (EIP-1153)."""

from __future__ import annotations

from jit.evm.exceptions import OutOfGasError, WriteInStaticContext
from jit.evm.frame import Evm
from jit.evm.gas import (
    GAS_CALL_STIPEND_SSTORE_GUARD,
    GAS_COLD_SLOAD,
    GAS_STORAGE_CLEAR_REFUND,
    GAS_STORAGE_SET,
    GAS_STORAGE_UPDATE,
    GAS_WARM_ACCESS,
)
from jit.evm.state_gas import (
    REGULAR_GAS_STORAGE_SET,
    STATE_BYTES_PER_STORAGE_SET,
    charge_state_gas,
    credit_state_gas_refund,
    state_bytes_gas,
)

_COLD_SLOAD_EXTRA = GAS_COLD_SLOAD - GAS_WARM_ACCESS


def sload(evm: Evm) -> None:
    # STACK
    stack = evm.stack
    slot = stack.pop()
    # GAS: the table charged the warm cost.
    address = evm.msg.current_target
    state = evm.state
    if state.warm_slot(address, slot):
        if evm.gas_left < _COLD_SLOAD_EXTRA:
            raise OutOfGasError
        evm.gas_left -= _COLD_SLOAD_EXTRA
    # OPERATION
    stack.append(state.get_storage(address, slot))


def sstore(evm: Evm) -> None:
    # STACK
    stack = evm.stack
    slot = stack.pop()
    new_value = stack.pop()
    # GAS (nothing in the table: the stipend guard looks at the gas before any charge)
    if evm.gas_left <= GAS_CALL_STIPEND_SSTORE_GUARD:
        raise OutOfGasError
    state = evm.state
    address = evm.msg.current_target
    original = state.get_original_storage(address, slot)
    current = state.get_storage(address, slot)
    cost = GAS_COLD_SLOAD if state.warm_slot(address, slot) else 0
    if original == current and current != new_value:
        cost += GAS_STORAGE_SET if original == 0 else GAS_STORAGE_UPDATE - GAS_COLD_SLOAD
    else:
        cost += GAS_WARM_ACCESS
    refund = 0
    if current != new_value:
        refund = _clear_refund(original, current, new_value)
        if original == new_value:
            if original == 0:
                refund += GAS_STORAGE_SET - GAS_WARM_ACCESS
            else:
                refund += GAS_STORAGE_UPDATE - GAS_COLD_SLOAD - GAS_WARM_ACCESS
    if cost > evm.gas_left:
        raise OutOfGasError
    evm.gas_left -= cost
    if evm.msg.is_static:
        raise WriteInStaticContext
    # OPERATION
    if refund:
        state.add_refund(refund)
    if current != new_value:
        state.set_storage(address, slot, new_value)


def _clear_refund(original: int, current: int, new_value: int) -> int:
    """EIP-2200/3529, for a write that changes the slot: the refund for clearing a slot
    that held a value at the transaction's start, or its return when a slot cleared
    earlier in the transaction is written again (both SSTORE variants share it)."""
    if original == 0:
        return 0
    if new_value == 0:  # current != new_value, so current != 0
        return GAS_STORAGE_CLEAR_REFUND
    if current == 0:
        return -GAS_STORAGE_CLEAR_REFUND
    return 0


def sstore_state_gas(evm: Evm) -> None:
    """EIP-8037 SSTORE: a slot set from zero costs 2,900 regular gas plus 32 bytes of
    state gas (regular first, so a regular shortfall leaves no state gas charged); a
    slot restored to zero in the same transaction returns the state gas to the
    reservoir at once and 2,800 through the refund counter. The stipend check sees
    ``gas_left`` only."""
    # STACK
    stack = evm.stack
    slot = stack.pop()
    new_value = stack.pop()
    # GAS
    if evm.gas_left <= GAS_CALL_STIPEND_SSTORE_GUARD:
        raise OutOfGasError
    if evm.msg.is_static:
        raise WriteInStaticContext  # before the slot is read (EIP-7928) or state gas charged
    state = evm.state
    address = evm.msg.current_target
    original = state.get_original_storage(address, slot)
    current = state.get_storage(address, slot)
    cost = GAS_COLD_SLOAD if state.warm_slot(address, slot) else 0
    sets_slot = original == current != new_value and original == 0
    if original == current != new_value:
        cost += REGULAR_GAS_STORAGE_SET
    else:
        cost += GAS_WARM_ACCESS
    refund = 0
    restores_zero = False
    if current != new_value:
        refund = _clear_refund(original, current, new_value)
        if original == new_value:
            refund += GAS_STORAGE_UPDATE - GAS_COLD_SLOAD - GAS_WARM_ACCESS
            restores_zero = original == 0
    if cost > evm.gas_left:
        raise OutOfGasError
    evm.gas_left -= cost
    if sets_slot:
        charge_state_gas(evm, state_bytes_gas(evm, STATE_BYTES_PER_STORAGE_SET))
    # OPERATION
    if refund:
        state.add_refund(refund)
    if restores_zero:
        credit_state_gas_refund(evm, state_bytes_gas(evm, STATE_BYTES_PER_STORAGE_SET))
    if current != new_value:
        state.set_storage(address, slot, new_value)


def tload(evm: Evm) -> None:
    stack = evm.stack
    stack.append(evm.state.get_transient(evm.msg.current_target, stack.pop()))


def tstore(evm: Evm) -> None:
    stack = evm.stack
    slot = stack.pop()
    value = stack.pop()
    if evm.msg.is_static:
        raise WriteInStaticContext
    evm.state.set_transient(evm.msg.current_target, slot, value)
