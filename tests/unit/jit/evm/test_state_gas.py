"""EIP-8037 (state gas) and EIP-7778 (block gas before refunds), Amsterdam, on both engines.

Every program runs on the interpreter and on the JIT and their outcomes (including
``block_gas`` and ``block_state_gas``) must be equal; the interpreter's figures are
checked against the EIP. Osaka runs of the same programs pin that earlier forks are
unchanged.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from jit.compiler import Engine
from jit.evm.exceptions import GasLimitExceeded, IntrinsicGasTooLow
from jit.evm.frame import BlockEnv
from jit.evm.state_gas import cost_per_state_byte
from jit.evm.transaction import (
    block_gas_bounds,
    execute_transaction,
    intrinsic_gas,
    intrinsic_state_gas,
)
from jit.forks import rules_for
from sequencer.types.transactions import sign_authorization
from statedb.types import DictState
from tests.helpers.asm import Asm, initcode_for
from tests.helpers.evm import (
    CONTRACT,
    ETHER,
    Run,
    outcome_fingerprint,
    run,
    transaction,
    world,
)

ENGINE = Engine("jit")
CAP = 1 << 24  # EIP-7825
LIMIT = 100_000_000  # block gas limit: 1,174 gas per state byte
CPSB = 1174
NEW_ACCOUNT = 112 * CPSB
SLOT = 32 * CPSB
CHILD = bytes.fromhex("00" * 19 + "cc")
FRESH = bytes.fromhex("00" * 19 + "ee")  # no account


def both(
    code: bytes,
    *,
    gas: int = 1_000_000,
    fork: str = "amsterdam",
    child: bytes | None = None,
    block_gas_limit: int = LIMIT,
) -> Run:
    """The interpreter's run of ``code`` (``child`` deployed at CHILD), after checking the
    JIT's run is identical."""

    def state() -> DictState:
        return world(code, **({} if child is None else {CHILD.hex(): child}))

    runs = [
        run(
            code,
            gas=gas,
            fork=fork,
            state=state(),
            engine=engine,
            block_gas_limit=block_gas_limit,
        )
        for engine in (None, ENGINE.runner)
    ]
    assert outcome_fingerprint(runs[1].outcome) == outcome_fingerprint(runs[0].outcome)
    return runs[0]


SSTORE_0_1 = Asm().sstore(0, 1).build()  # 6 gas of pushes, 2,100 cold + 2,900 + a slot


@pytest.mark.parametrize(
    ("block_gas_limit", "cpsb"),
    [
        (1_000_000, 1),  # quantized below the offset: the floor of 1
        (10_000_000, 1),
        (30_000_000, 150),
        (36_000_000, 150),
        (60_000_000, 662),
        (100_000_000, 1174),
        (120_000_000, 1174),  # the same quantization step
        (200_000_000, 2198),
        (300_000_000, 3222),
        (1_000_000_000, 11926),
    ],
)
def test_cost_per_state_byte_follows_the_block_gas_limit(block_gas_limit: int, cpsb: int) -> None:
    assert cost_per_state_byte(block_gas_limit) == cpsb


def test_sstore_from_zero_is_regular_plus_state_gas() -> None:
    result = both(SSTORE_0_1)
    assert result.storage() == {0: 1}
    outcome = result.outcome
    assert outcome.block_gas == 21_000 + 6 + 2_100 + 2_900
    assert outcome.block_state_gas == SLOT
    assert outcome.gas_used == outcome.block_gas + SLOT  # the sender pays both
    # Osaka: 20,000 flat, one dimension.
    osaka = both(SSTORE_0_1, fork="osaka").outcome
    assert (osaka.gas_used, osaka.block_gas, osaka.block_state_gas) == (43_106, 43_106, 0)


@pytest.mark.parametrize("block_gas_limit", [1_000_000, 30_000_000, 300_000_000])
def test_state_gas_scales_with_the_block_gas_limit(block_gas_limit: int) -> None:
    outcome = both(SSTORE_0_1, block_gas_limit=block_gas_limit).outcome
    assert outcome.block_state_gas == 32 * cost_per_state_byte(block_gas_limit)


def test_sstore_update_and_clear_charge_no_state_gas() -> None:
    code = Asm().sstore(0, 1).build()
    state = world(code)
    state.storage[CONTRACT] = {0: 5}
    outcome = run(code, fork="amsterdam", state=state, block_gas_limit=LIMIT).outcome
    assert outcome.block_state_gas == 0 and outcome.block_gas == 21_000 + 6 + 5_000


def test_sstore_restored_to_zero_returns_the_state_gas_at_once() -> None:
    code = Asm().sstore(0, 1).sstore(0, 0).build()
    outcome = both(code).outcome
    regular = 21_000 + 6 + 5_000 + 6 + 100
    assert outcome.block_state_gas == 0
    # EIP-7778: the block counts the gas before the 2,800 refund; the sender gets it.
    assert outcome.block_gas == regular
    assert outcome.gas_used == regular - 2_800


def test_the_reservoir_holds_gas_above_the_cap_and_gas_excludes_it() -> None:
    code = Asm().op("GAS").store_top(0).build()  # GAS, then SSTORE from zero
    outcome = both(code, gas=CAP + 2 * SLOT)
    assert outcome.storage() == {0: CAP - 21_000 - 2}  # gas_left only
    assert outcome.outcome.block_state_gas == SLOT
    # The slot's state gas came from the reservoir: the sender pays what was used.
    assert outcome.outcome.gas_used == 21_000 + 2 + 3 + 5_000 + SLOT


def test_state_gas_spills_into_gas_left_and_runs_out_of_gas_exactly() -> None:
    used = 21_000 + 6 + 5_000 + SLOT
    assert both(SSTORE_0_1, gas=used).outcome.success
    short = both(SSTORE_0_1, gas=used - 1)
    assert short.outcome.error == "OutOfGasError" and short.storage() == {}
    assert short.outcome.block_state_gas == 0 and short.outcome.block_gas == used - 1
    # A reservoir of 1,000 covers part of the slot; the rest spills into gas_left.
    spilled = both(SSTORE_0_1, gas=CAP + 1_000).outcome
    assert spilled.success and spilled.gas_used == used


def test_sstore_stipend_check_ignores_the_reservoir() -> None:
    for child_gas, ok in ((6 + 2_300, False), (6 + 5_000, True)):
        code = Asm().call(gas=child_gas, to=CHILD).store_top(0).build()
        result = both(code, gas=CAP + 2 * SLOT, child=SSTORE_0_1)
        assert result.storage() == ({0: 1} if ok else {})


def test_a_reverted_child_returns_its_state_gas_to_the_reservoir() -> None:
    child = Asm().sstore(0, 1).sstore(1, 1).revert(0, 0).build()
    code = Asm().call(gas=200_000, to=CHILD).op("POP").sstore(0, 1).sstore(1, 1).build()
    # The reservoir covers two slots: the child's two, returned, then the caller's two.
    result = both(code, gas=CAP + 2 * SLOT, child=child)
    assert result.outcome.success and result.storage() == {0: 1, 1: 1}
    assert result.outcome.block_state_gas == 2 * SLOT


def test_a_halted_child_returns_its_state_gas_including_the_spill() -> None:
    child = Asm().sstore(0, 1).op("INVALID").build()
    code = Asm().call(gas=100_000, to=CHILD).op("POP").sstore(0, 1).build()
    # No reservoir: the child's slot spills into its gas_left, then it halts; the
    # spill goes back to the caller's reservoir, which pays the caller's slot.
    result = both(code, gas=CAP, child=child)
    assert result.outcome.success and result.storage() == {0: 1}
    assert result.outcome.block_state_gas == SLOT


def test_a_restoration_in_a_delegated_frame_refunds_the_ancestor_that_paid() -> None:
    # The caller sets slot 0 from the reservoir; a DELEGATECALLed frame clears it (its own
    # net state gas is 0, so the refund waits for the caller), then the caller sets slot 1
    # from the refunded reservoir: one slot's state gas in all.
    child = Asm().sstore(0, 0).build()
    code = Asm().sstore(0, 1).call(gas=50_000, to=CHILD, kind="DELEGATECALL").op("POP")
    result = both(code.sstore(1, 1).build(), gas=CAP + SLOT, child=child)
    assert result.outcome.success and result.storage() == {1: 1}
    assert result.outcome.block_state_gas == SLOT
    assert result.outcome.gas_used == result.outcome.block_gas + SLOT - 2_800  # EIP-3529


def test_a_failed_frame_forfeits_the_refunds_it_was_credited() -> None:
    # The child's slot spills into its gas_left, is cleared (state gas credited to its
    # reservoir) and the child reverts: the credit is not returned to the caller. The
    # sender pays it; neither block dimension counts it.
    child = Asm().sstore(0, 1).sstore(0, 0).revert(0, 0).build()
    code = Asm().call(gas=100_000, to=CHILD).op("POP").build()
    outcome = both(code, child=child).outcome
    assert outcome.success and outcome.block_state_gas == 0
    assert outcome.gas_used - outcome.block_gas == SLOT


def test_top_level_revert_bills_no_state_gas() -> None:
    code = Asm().sstore(0, 1).revert(0, 0).build()
    outcome = both(code).outcome
    assert outcome.result.name == "REVERT" and outcome.block_state_gas == 0
    assert outcome.gas_used == outcome.block_gas == 21_000 + 6 + 5_000 + 6


def test_call_with_value_to_a_new_account_is_state_gas() -> None:
    code = Asm().call(gas=0, to=FRESH, value=1).op("POP").build()
    amsterdam = both(code).outcome
    osaka = both(code, fork="osaka").outcome
    assert amsterdam.block_state_gas == NEW_ACCOUNT
    # The 25,000 regular new-account charge is gone, the state gas is there instead.
    assert amsterdam.gas_used - osaka.gas_used == NEW_ACCOUNT - 25_000
    # CALLCODE with value creates nothing: no state gas.
    callcode = Asm().call(gas=0, to=FRESH, value=1, kind="CALLCODE").op("POP").build()
    assert both(callcode).outcome.block_state_gas == 0


def test_call_new_account_regular_gas_is_charged_before_state_gas() -> None:
    # The child has the CALL's regular gas and one gas less than its state gas: it
    # halts. Had the state gas been taken first (and the regular part then failed), the
    # halt would return it to the caller's reservoir and the sender would pay less than
    # for a child that burns the same gas and charges nothing.
    inner = Asm().call(gas=0, to=FRESH, value=1).op("POP").build()
    code = Asm().call(gas=21 + 2_600 + 9_000 + NEW_ACCOUNT - 1, to=CHILD).op("POP").build()
    charged = both(code, child=inner).outcome
    burned = both(code, child=Asm().op("INVALID").build()).outcome
    assert charged.success and charged.block_state_gas == 0
    assert (charged.gas_used, charged.block_gas) == (burned.gas_used, burned.block_gas)


def test_create_charges_a_new_account_and_its_code_as_state_gas() -> None:
    runtime = bytes(40)
    init = initcode_for(runtime)
    code = Asm().raw(_memory_copy(init)).push(len(init)).push(0).push(0).op("CREATE")
    code = code.store_top(0).build()
    amsterdam = both(code, gas=2_000_000)
    assert amsterdam.outcome.success and amsterdam.storage() != {}
    assert amsterdam.outcome.block_state_gas == NEW_ACCOUNT + 40 * CPSB + SLOT
    osaka = both(code, gas=2_000_000, fork="osaka").outcome
    # 32,000 -> 9,000 regular; 200 per byte -> 6 per word; state gas for both.
    regular_difference = (9_000 - 32_000) + (6 * 2 - 200 * 40) + (2_900 - 20_000)
    assert amsterdam.outcome.block_gas - osaka.gas_used == regular_difference


def test_a_failed_create_returns_its_new_account_state_gas() -> None:
    init = Asm().sstore(0, 1).revert(0, 0).build()
    code = Asm().raw(_memory_copy(init)).push(len(init)).push(0).push(0).op("CREATE")
    code = code.op("POP").build()
    outcome = both(code, gas=2_000_000).outcome
    assert outcome.success and outcome.block_state_gas == 0


def test_selfdestruct_to_a_new_beneficiary_is_state_gas() -> None:
    code = Asm().push(int.from_bytes(FRESH, "big")).op("SELFDESTRUCT").build()
    amsterdam = both(code).outcome
    osaka = both(code, fork="osaka").outcome
    assert amsterdam.block_state_gas == NEW_ACCOUNT
    assert amsterdam.gas_used - osaka.gas_used == NEW_ACCOUNT - 25_000


def test_a_contract_created_and_destroyed_in_one_transaction_returns_its_state_gas() -> None:
    runtime = Asm().push(int.from_bytes(CONTRACT, "big")).op("SELFDESTRUCT").build()
    init = initcode_for(runtime)
    code = (
        Asm()
        .raw(_memory_copy(init))
        .push(len(init))
        .push(0)
        .push(0)
        .op("CREATE")
        .push(0)
        .op("DUP1", "DUP1", "DUP1", "DUP1", "DUP6")  # CALL(0 gas... ) to the new contract
        .op("GAS", "CALL", "POP", "POP")
        .build()
    )
    outcome = both(code, gas=2_000_000).outcome
    assert outcome.success
    assert outcome.block_state_gas == 0  # account and code returned at the end


def test_creation_transaction_intrinsic_state_gas() -> None:
    rules = rules_for("amsterdam")
    init = b""  # deploys nothing; runs nothing
    block = BlockEnv(
        chain_id=1, coinbase=bytes(20), number=1, timestamp=1, gas_limit=LIMIT, base_fee=7
    )
    tx = transaction(to=None, data=init)
    regular, _ = intrinsic_gas(tx, rules)
    assert regular == 21_000 + 9_000  # the rest of Osaka's 32,000 is state gas
    assert intrinsic_state_gas(tx, rules, LIMIT) == NEW_ACCOUNT
    needed = regular + NEW_ACCOUNT
    outcome = execute_transaction(replace(tx, gas_limit=needed), block, world(b""), rules)
    assert outcome.success and outcome.block_state_gas == NEW_ACCOUNT
    with pytest.raises(IntrinsicGasTooLow):
        execute_transaction(replace(tx, gas_limit=needed - 1), block, world(b""), rules)


def test_gas_limits_above_the_cap_are_valid_and_the_cap_bounds_regular_gas() -> None:
    block = BlockEnv(
        chain_id=1, coinbase=bytes(20), number=1, timestamp=1, gas_limit=LIMIT, base_fee=7
    )
    tx = transaction(gas_limit=CAP + 1)
    with pytest.raises(GasLimitExceeded):
        execute_transaction(tx, block, world(b""), rules_for("osaka"))
    assert execute_transaction(tx, block, world(b""), rules_for("amsterdam")).success
    # A calldata floor above the cap can never fit the regular dimension.
    floored = transaction(gas_limit=20_000_000, data=bytes(262_000))
    with pytest.raises(GasLimitExceeded):
        execute_transaction(floored, block, world(b""), rules_for("amsterdam"))


def test_block_room_is_checked_per_dimension() -> None:
    rules = rules_for("amsterdam")
    block = BlockEnv(
        chain_id=1, coinbase=bytes(20), number=1, timestamp=1, gas_limit=LIMIT, base_fee=7
    )
    tx = transaction(gas_limit=CAP + 1_000_000)
    regular, state = block_gas_bounds(tx, rules, LIMIT)
    assert (regular, state) == (CAP, CAP + 1_000_000 - 21_000)
    assert block_gas_bounds(tx, rules_for("osaka"), LIMIT) == (tx.gas_limit, 0)
    fits = execute_transaction(
        tx,
        block,
        world(b""),
        rules,
        block_gas_used=LIMIT - regular,
        block_state_gas_used=LIMIT - state,
    )
    assert fits.success
    for regular_used, state_used in ((LIMIT - regular + 1, 0), (0, LIMIT - state + 1)):
        with pytest.raises(GasLimitExceeded):
            execute_transaction(
                tx,
                block,
                world(b""),
                rules,
                block_gas_used=regular_used,
                block_state_gas_used=state_used,
            )


def test_authorizations_are_intrinsic_state_gas_and_existing_authorities_refund_it() -> None:
    rules = rules_for("amsterdam")
    block = BlockEnv(
        chain_id=1, coinbase=bytes(20), number=1, timestamp=1, gas_limit=LIMIT, base_fee=7
    )
    fresh_key = (7).to_bytes(32, "big")
    sender_key = bytes.fromhex("45a915e4d060149eb4365960e6a7a45f334393093061116b197e3240065ff2d8")
    fresh_auth = sign_authorization(1, CHILD, 0, fresh_key)
    own_auth = sign_authorization(1, CHILD, 1, sender_key)  # the sender exists
    per_auth = (112 + 23) * CPSB
    for auths, credit in (((fresh_auth,), 0), ((own_auth,), NEW_ACCOUNT)):
        tx = transaction(tx_type=4, authorization_list=auths, gas_limit=1_000_000)
        assert intrinsic_gas(tx, rules)[0] == 21_000 + 7_500
        assert intrinsic_state_gas(tx, rules, LIMIT) == per_auth
        outcome = execute_transaction(tx, block, world(b""), rules)
        assert outcome.success
        # The block counts the worst case; the sender gets an existing authority's
        # new-account state gas back (it went to the reservoir).
        assert outcome.block_state_gas == per_auth
        assert outcome.gas_used == 21_000 + 7_500 + per_auth - credit


def test_eip7778_block_gas_is_before_refunds() -> None:
    code = Asm().sstore(0, 0).build()  # clears a set slot: a 4,800 refund
    state = world(code)
    state.storage[CONTRACT] = {0: 5}
    outcome = run(code, fork="amsterdam", state=state, block_gas_limit=LIMIT).outcome
    before = 21_000 + 6 + 5_000
    assert outcome.block_gas == before and outcome.gas_used == before - min(before // 5, 4_800)
    state = world(code)
    state.storage[CONTRACT] = {0: 5}
    osaka = run(code, fork="osaka", state=state).outcome
    assert osaka.block_gas == osaka.gas_used == before - min(before // 5, 4_800)


def test_value_transfers_and_balances_are_unaffected() -> None:
    code = Asm().call(gas=0, to=FRESH, value=ETHER // 2).op("POP").build()
    result = both(code)
    assert result.state.accounts[FRESH].balance == ETHER // 2


def _memory_copy(data: bytes) -> bytes:
    """Code that writes ``data`` to memory from offset 0 (32-byte MSTOREs)."""
    asm = Asm()
    for offset in range(0, len(data), 32):
        word = data[offset : offset + 32].ljust(32, b"\x00")
        asm.mstore(offset, int.from_bytes(word, "big"))
    return asm.build()
