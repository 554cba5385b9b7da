"""Transaction validation errors (before any state change) and fee accounting."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jit.evm import exceptions as ex
from jit.evm.addresses import compute_contract_address
from jit.evm.frame import BlockEnv
from jit.evm.state import TxState
from jit.evm.transaction import coinbase_credit_diff, execute_transaction, intrinsic_gas
from jit.forks import rules_for
from statedb.conflicts import conflicts, write_set
from statedb.types import EMPTY_CODE_HASH, Account, DictState, StateDiff
from tests.helpers.evm import COINBASE, CONTRACT, ETHER, OTHER, SENDER, transaction, world

BLOCK = BlockEnv(
    chain_id=1, coinbase=COINBASE, number=1, timestamp=1, gas_limit=30_000_000, base_fee=7
)
BASE = transaction(gas_limit=100_000)


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"nonce": 1}, ex.NonceTooHigh),
        ({"gas_limit": 20_999}, ex.IntrinsicGasTooLow),
        ({"max_fee_per_gas": 6}, ex.FeeCapTooLow),
        ({"max_priority_fee_per_gas": 11}, ex.PriorityFeeTooHigh),
        ({"value": 1000 * ETHER}, ex.InsufficientFunds),
        ({"gas_limit": 40_000_000}, ex.GasLimitExceeded),
        ({"nonce": (1 << 64) - 1}, ex.NonceOverflow),
        ({"tx_type": 3, "blob_versioned_hashes": ()}, ex.BlobError),
        (
            {
                "tx_type": 3,
                "max_fee_per_blob_gas": 1,
                "blob_versioned_hashes": (b"\x02" + b"\x00" * 31,),
            },
            ex.BlobError,
        ),
        (
            {
                "tx_type": 3,
                "max_fee_per_blob_gas": 1,
                "blob_versioned_hashes": (b"\x01" + b"\x00" * 31,) * 7,
            },
            ex.BlobError,
        ),
        ({"tx_type": 4}, ex.AuthorizationListError),
        ({"to": None, "data": b"\x00" * 0xC001, "gas_limit": 10_000_000}, ex.InitcodeTooLarge),
        ({"value": 1 << 256}, ex.InvalidTransaction),
    ],
)
def test_invalid_transactions_change_nothing(
    change: dict[str, object], error: type[Exception]
) -> None:
    state = world(b"")
    before = (dict(state.accounts), dict(state.storage))
    with pytest.raises(error):
        execute_transaction(replace(BASE, **change), BLOCK, state, rules_for("osaka"))  # type: ignore[arg-type]
    assert (state.accounts, state.storage) == before


def test_osaka_caps_transaction_gas_but_prague_does_not() -> None:
    tx = replace(BASE, gas_limit=(1 << 24) + 1)
    with pytest.raises(ex.GasLimitExceeded):
        execute_transaction(tx, BLOCK, world(b""), rules_for("osaka"))
    assert execute_transaction(tx, BLOCK, world(b""), rules_for("prague")).success


def test_sender_with_code_is_rejected() -> None:
    state = world(b"")
    state.set_account(SENDER, balance=ETHER, code=b"\x00")
    with pytest.raises(ex.SenderNotEOA):
        execute_transaction(BASE, BLOCK, state, rules_for("osaka"))


def test_calldata_floor_applies_from_prague() -> None:
    tx = replace(BASE, data=b"\x01" * 1000, gas_limit=100_000)
    intrinsic, floor = intrinsic_gas(tx, rules_for("prague"))
    assert (intrinsic, floor) == (21_000 + 16_000, 21_000 + 40_000)
    assert intrinsic_gas(tx, rules_for("cancun"))[1] == 0
    assert execute_transaction(tx, BLOCK, world(b""), rules_for("prague")).gas_used == floor
    assert execute_transaction(tx, BLOCK, world(b""), rules_for("cancun")).gas_used == intrinsic


def test_fees_go_to_sender_refund_and_coinbase_credit() -> None:
    state = world(b"")
    outcome = execute_transaction(BASE, BLOCK, state, rules_for("osaka"))
    assert outcome.gas_used == 21_000
    assert outcome.fee_credit == 21_000 * 1
    sender = outcome.diff.accounts[SENDER]
    assert sender is not None and sender.balance == 100 * ETHER - 21_000 * 8 and sender.nonce == 1
    assert outcome.account_reads >= {SENDER, CONTRACT}


@given(
    present=st.booleans(),
    nonce=st.integers(0, 3),
    balance=st.integers(0, 2**256 - 2),
    has_code=st.booleans(),
    amount=st.integers(0, 2**64),
)
def test_coinbase_credit_fast_path_equals_the_general_one(
    present: bool, nonce: int, balance: int, has_code: bool, amount: int
) -> None:
    """A positive credit skips TxState; the diff must be the one TxState gives (an empty
    coinbase credited 0 is still deleted, through the general path)."""
    state = DictState()
    if present:
        code_hash = b"\x11" * 32 if has_code else EMPTY_CODE_HASH
        diff = StateDiff()
        diff.accounts[COINBASE] = Account(nonce, balance, code_hash)
        state.apply(diff)
    general = TxState(state)
    general.add_balance(COINBASE, amount)
    assert coinbase_credit_diff(state, COINBASE, amount) == general.diff()


def test_create_records_the_collision_check_as_account_and_has_storage_reads() -> None:
    """EIP-7610 reads has-storage of the new address: recorded as its own kind, and the
    account read that precedes it is still there (eth_createAccessList lists accounts)."""
    create = replace(BASE, to=None, data=b"")
    target = compute_contract_address(SENDER, 0)
    outcome = execute_transaction(create, BLOCK, world(b""), rules_for("osaka"))
    assert outcome.success and outcome.contract_address == target
    assert target in outcome.reads.accounts and target in outcome.account_reads
    assert outcome.reads.has_storage == {target}
    # Storage already at the address (no code, no nonce): a collision, same reads.
    state = world(b"")
    state.storage[target] = {7: 1}
    collided = execute_transaction(create, BLOCK, state, rules_for("osaka"))
    assert collided.error == "AddressCollision"
    assert collided.reads.has_storage == {target}
    # A read of has-storage conflicts with what can flip it, not with other writes.
    assert conflicts(outcome.reads, write_set(StateDiff(storage={target: {1: 1}}), world(b"")))
    assert not conflicts(outcome.reads, write_set(StateDiff(storage={OTHER: {1: 1}}), world(b"")))


def test_write_set_counts_the_coinbase_credit_only_with_the_coinbase() -> None:
    state = world(b"")
    outcome = execute_transaction(BASE, BLOCK, state, rules_for("osaka"))
    assert outcome.fee_credit > 0
    assert COINBASE not in outcome.write_set(state).accounts
    assert outcome.write_set(state, coinbase=COINBASE).accounts == {SENDER, COINBASE}
    # A zero credit changes the coinbase only if it exists and is empty (EIP-161).
    free = replace(BASE, max_priority_fee_per_gas=0)
    zero = execute_transaction(free, BLOCK, state, rules_for("osaka"))
    assert zero.fee_credit == 0
    assert COINBASE not in zero.write_set(state, coinbase=COINBASE).accounts
    state.accounts[COINBASE] = Account()
    assert COINBASE in zero.write_set(state, coinbase=COINBASE).accounts
    state.accounts[COINBASE] = Account(0, 1)
    assert COINBASE not in zero.write_set(state, coinbase=COINBASE).accounts
