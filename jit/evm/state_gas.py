"""EIP-8037 (Amsterdam) state gas: its price and the frame-level reservoir accounting.

State creation (a new account, a storage slot set from zero, deployed code, an EIP-7702
delegation) is priced in *state gas*: ``cost_per_state_byte(block gas limit)`` times the
bytes it adds. A transaction's execution gas is split in two: ``Evm.gas_left`` (capped so
that regular gas never exceeds the EIP-7825 limit) and the *reservoir*
(``Evm.state_gas_left``), the part of ``tx.gas`` above that cap. State gas is drawn from
the reservoir first and spills into ``gas_left``; regular gas only ever comes from
``gas_left`` (so GAS, the 63/64 rule and the SSTORE stipend check never see the
reservoir).

A frame hands its whole reservoir to a child (no 63/64 rule). On success the child's
reservoir, net state gas and refunds come back; on failure (revert or exceptional halt)
no state was grown, so everything the child charged is returned to the reservoir, both
what it drew from the reservoir and what spilled into ``gas_left``, minus the inline
refunds it was credited (those would otherwise count twice: the sender pays them, the
block counts them in neither dimension, ``TxState.state_gas_forfeited``). An inline refund (SSTORE
0 -> x -> 0, a CREATE that creates nothing) is credited to the reservoir up to the
frame's own net state gas; the rest waits (``state_gas_refund_pending``) for the
ancestor that paid the charge, as when the charge and the refund are in frames sharing
storage through DELEGATECALL or CALLCODE.

Execution-specs (tests-bal v5.7.0's Amsterdam): ``vm/__init__.py``
(``credit_state_gas_refund``, ``incorporate_child_on_*``) and ``vm/gas.py``
(``charge_state_gas``, the dynamic price).
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from jit.evm.exceptions import OutOfGasError

if TYPE_CHECKING:
    from jit.evm.frame import Evm

# The price: 100 GiB of new state a year at half the block gas limit, quantized to the
# top 5 significant bits of (raw + offset) so it does not move with every limit change.
TARGET_STATE_GROWTH_PER_YEAR = 100 * 1024**3
BLOCKS_PER_YEAR = 2_628_000
CPSB_SIGNIFICANT_BITS = 5
CPSB_OFFSET = 9578

# State bytes each operation adds.
STATE_BYTES_PER_NEW_ACCOUNT = 112
STATE_BYTES_PER_STORAGE_SET = 32
STATE_BYTES_PER_AUTH_BASE = 23  # an EIP-7702 delegation designator (0xef0100 || address)

# Regular gas that remains where a state charge replaced a flat one.
REGULAR_GAS_CREATE = 9_000  # CREATE, CREATE2 and a creation transaction (was 32,000)
REGULAR_GAS_STORAGE_SET = 2_900  # SSTORE 0 -> x (GAS_STORAGE_UPDATE - GAS_COLD_SLOAD)
REGULAR_GAS_PER_AUTH = 7_500  # per EIP-7702 authorization (was 25,000)
CODE_HASH_GAS_PER_WORD = 6  # deployed code: keccak256 of it, per word (was 200 per byte)


@lru_cache(maxsize=64)
def cost_per_state_byte(block_gas_limit: int) -> int:
    """Gas per byte of new state at ``block_gas_limit`` (at least 1)."""
    denominator = 2 * TARGET_STATE_GROWTH_PER_YEAR
    raw = (block_gas_limit * BLOCKS_PER_YEAR + denominator - 1) // denominator
    shifted = raw + CPSB_OFFSET
    shift = max(shifted.bit_length() - CPSB_SIGNIFICANT_BITS, 0)
    return max(((shifted >> shift) << shift) - CPSB_OFFSET, 1)


def state_bytes_gas(evm: Evm, state_bytes: int) -> int:
    """The state gas for ``state_bytes`` new bytes in ``evm``'s block."""
    return state_bytes * cost_per_state_byte(evm.block.gas_limit)


def charge_state_gas(evm: Evm, amount: int) -> None:
    """Take ``amount`` from the reservoir, the rest from ``gas_left``, or halt with
    out of gas (changing nothing). Callers charge the regular part first, so a regular
    shortfall never leaves state gas charged (which a failing frame would return)."""
    reservoir = evm.state_gas_left
    if reservoir >= amount:
        evm.state_gas_left = reservoir - amount
    else:
        spill = amount - reservoir
        if spill > evm.gas_left:
            raise OutOfGasError
        evm.gas_left -= spill
        evm.state_gas_left = 0
    evm.state_gas_used += amount


def credit_state_gas_refund(evm: Evm, amount: int) -> None:
    """Return ``amount`` of state gas to the reservoir, up to the frame's own net state
    gas; the remainder is owed by an ancestor (``incorporate_child`` passes it up)."""
    applied = min(amount, evm.state_gas_used)
    evm.state_gas_left += applied
    evm.state_gas_used -= applied
    evm.state_gas_refund += applied
    evm.state_gas_refund_pending += amount - applied


def incorporate_child(evm: Evm, child: Evm) -> None:
    """Take back the reservoir ``evm`` handed to ``child`` (its ``gas_left`` is the
    caller's business): on success with the child's state gas and refunds, on failure
    with all the state gas the child charged restored."""
    if child.error is None:
        evm.state_gas_left += child.state_gas_left
        evm.state_gas_used += child.state_gas_used
        evm.state_gas_refund += child.state_gas_refund
        if child.state_gas_refund_pending:
            credit_state_gas_refund(evm, child.state_gas_refund_pending)
    else:
        evm.state_gas_left += child.state_gas_used + child.state_gas_left - child.state_gas_refund
        evm.state.state_gas_forfeited += child.state_gas_refund


def restore_failed_frame(evm: Evm) -> None:
    """The top frame failed: nothing it charged was created, so its state gas goes
    back to the reservoir (as ``incorporate_child`` does for a failed child)."""
    evm.state_gas_left += evm.state_gas_used - evm.state_gas_refund
    evm.state.state_gas_forfeited += evm.state_gas_refund
    evm.state_gas_used = 0
    evm.state_gas_refund = 0
    evm.state_gas_refund_pending = 0
