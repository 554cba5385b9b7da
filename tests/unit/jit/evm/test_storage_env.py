"""Storage (EIP-2200/2929/3529), transient storage (EIP-1153), environment and block info."""

from __future__ import annotations

from tests.helpers.asm import Asm
from tests.helpers.evm import CONTRACT, SENDER, run, world

TX = 21_000


def test_sstore_gas_and_refund_for_set_then_clear() -> None:
    code = Asm().sstore(0, 1).sstore(0, 0).build()
    outcome = run(code).outcome
    # cold set 22100 + warm reset 100 + 4 pushes; refund 19900 capped at a fifth.
    used = TX + 22_100 + 100 + 4 * 3
    assert outcome.gas_used == used - min(19_900, used // 5)


def test_sstore_with_stipend_or_less_fails() -> None:
    code = Asm().sstore(0, 1).build()
    assert run(code, gas=TX + 6 + 2300).outcome.error == "OutOfGasError"


def test_sload_cold_then_warm() -> None:
    cold = run(Asm().push(7).op("SLOAD", "POP").build()).outcome.gas_used
    twice = run(
        Asm().push(7).op("SLOAD", "POP").push(7).op("SLOAD", "POP").build()
    ).outcome.gas_used
    assert cold == TX + 3 + 2100 + 2
    assert twice - cold == 3 + 100 + 2


def test_transient_storage_is_cleared_after_the_transaction() -> None:
    code = Asm().push(5).push(1).op("TSTORE").push(1).op("TLOAD").store_top(0).build()
    result = run(code)
    assert result.storage() == {0: 5}
    again = run(Asm().push(1).op("TLOAD").store_top(1).build(), state=result.state)
    assert again.storage() == {0: 5}  # slot 1 stays 0: transient storage did not persist


def test_environment_values() -> None:
    code = (
        Asm()
        .op("ADDRESS")
        .store_top(0)
        .op("CALLER")
        .store_top(1)
        .op("ORIGIN")
        .store_top(2)
        .op("CALLVALUE")
        .store_top(3)
        .op("CALLDATASIZE")
        .store_top(4)
        .push(0)
        .op("CALLDATALOAD")
        .store_top(5)
        .op("CODESIZE")
        .store_top(6)
        .op("SELFBALANCE")
        .store_top(7)
        .op("CHAINID")
        .store_top(8)
        .op("NUMBER")
        .store_top(9)
        .op("TIMESTAMP")
        .store_top(10)
        .op("BASEFEE")
        .store_top(11)
        .op("GASPRICE")
        .store_top(12)
        .build()
    )
    result = run(code, data=b"\x01\x02", value=5)
    storage = result.storage()
    assert storage[0] == int.from_bytes(CONTRACT, "big")
    assert storage[1] == storage[2] == int.from_bytes(SENDER, "big")
    assert storage[3] == 5 and storage[4] == 2
    assert storage[5] == 0x0102 << 240
    assert storage[6] == len(code)
    assert storage[7] == 10**18 + 5
    assert (storage[8], storage[9], storage[10], storage[11]) == (1, 1, 1000, 7)
    assert storage[12] == 8  # base fee 7 + priority 1


def test_extcodehash_of_missing_and_empty_accounts_is_zero() -> None:
    code = (
        Asm()
        .push(0xDEAD)
        .op("EXTCODEHASH")
        .store_top(0)
        .push(int.from_bytes(CONTRACT, "big"))
        .op("EXTCODEHASH")
        .store_top(1)
        .build()
    )
    storage = run(code).storage()
    assert 0 not in storage and storage[1] != 0


def test_returndatacopy_out_of_bounds_halts() -> None:
    code = Asm().push(1).push(0).push(0).op("RETURNDATACOPY").build()
    assert run(code).outcome.error == "OutOfBoundsRead"


def test_blockhash_window() -> None:
    code = Asm().push(0).op("BLOCKHASH").store_top(0).push(5).op("BLOCKHASH").store_top(1).build()
    assert run(code).storage() == {}  # no known hashes: both zero


def test_static_context_forbids_sstore() -> None:
    callee = Asm().sstore(0, 1).build()
    caller = (
        Asm().call(100_000, bytes.fromhex("00" * 19 + "bb"), kind="STATICCALL").store_top(0).build()
    )
    state = world(caller, **{"00" * 19 + "bb": callee})
    result = run(caller, state=state)
    assert result.outcome.success
    assert result.storage() == {}  # STATICCALL returned 0 and stored 0
