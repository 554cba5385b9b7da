"""Calls, creates, logs, REVERT, SELFDESTRUCT (EIP-6780) and EIP-7702 delegation."""

from __future__ import annotations

from jit.evm.addresses import compute_contract_address, compute_create2_address
from sequencer.types.transactions import sign_authorization
from tests.helpers.asm import Asm, initcode_for
from tests.helpers.evm import CONTRACT, ETHER, run, world

CALLEE = bytes.fromhex("00" * 19 + "bb")


def test_call_returns_data_and_value() -> None:
    callee = Asm().mstore(0, 42).ret(0, 32).build()
    caller = (
        Asm()
        .call(50_000, CALLEE, value=3, out_size=32)
        .store_top(0)
        .push(0)
        .op("MLOAD")
        .store_top(1)
        .op("RETURNDATASIZE")
        .store_top(2)
        .build()
    )
    result = run(caller, state=world(caller, **{CALLEE.hex(): callee}))
    assert result.storage() == {0: 1, 1: 42, 2: 32}
    assert result.state.accounts[CALLEE].balance == 3


def test_revert_rolls_back_callee_and_returns_reason() -> None:
    callee = Asm().sstore(0, 9).mstore(0, 0xEE).revert(31, 1).build()
    caller = (
        Asm()
        .call(100_000, CALLEE, out_size=1)
        .store_top(0)
        .op("RETURNDATASIZE")
        .store_top(1)
        .build()
    )
    result = run(caller, state=world(caller, **{CALLEE.hex(): callee}))
    assert result.storage() == {1: 1}
    assert result.storage(CALLEE) == {}


def test_top_level_revert_keeps_gas_and_output() -> None:
    code = Asm().mstore(0, 0xAB).revert(31, 1).build()
    outcome = run(code, gas=100_000).outcome
    assert outcome.error == "Revert" and outcome.output == b"\xab"
    assert outcome.gas_used < 30_000


def test_delegatecall_runs_in_the_callers_storage() -> None:
    library = Asm().op("CALLER").store_top(0).build()
    caller = Asm().call(100_000, CALLEE, kind="DELEGATECALL").op("POP").build()
    result = run(caller, state=world(caller, **{CALLEE.hex(): library}))
    assert 0 in result.storage(CONTRACT) and result.storage(CALLEE) == {}


def test_call_depth_limit() -> None:
    # Recursive self call: each frame calls ADDRESS with all gas and stores its depth marker.
    code = Asm().call(0xFFFFFFFF, CONTRACT).op("POP").build()
    code = (
        Asm()
        .push(0)
        .push(0)
        .push(0)
        .push(0)
        .push(0)
        .op("ADDRESS")
        .op("GAS")
        .op("CALL")
        .op("POP")
        .build()
    )
    assert run(code, gas=15_000_000).outcome.success


def test_create_and_create2_addresses() -> None:
    runtime = Asm().push(0x77).store_top(0).build()
    init = initcode_for(runtime)
    creator = Asm()
    for index in range(0, len(init), 32):
        creator.mstore(index, int.from_bytes(init[index : index + 32].ljust(32, b"\x00"), "big"))
    creator.push(len(init)).push(0).push(0).op("CREATE").store_top(0)
    creator.push(0x5A17).push(len(init)).push(0).push(0).op("CREATE2").store_top(1)
    result = run(creator.build())
    storage = result.storage()
    first = compute_contract_address(CONTRACT, 0)
    second = compute_create2_address(CONTRACT, (0x5A17).to_bytes(32, "big"), init)
    assert storage[0] == int.from_bytes(first, "big")
    assert storage[1] == int.from_bytes(second, "big")
    assert result.state.get_code(result.state.accounts[first].code_hash) == runtime
    assert result.state.accounts[CONTRACT].nonce == 2


def test_create_with_0xef_prefix_fails() -> None:
    init = Asm().mstore(0, 0xEF << 248).ret(0, 1).build()
    outcome = run(b"", to=None, data=init).outcome
    assert outcome.error == "InvalidContractPrefix"


def test_create_transaction_deploys_code() -> None:
    runtime = Asm().op("STOP").build()
    result = run(b"", to=None, data=initcode_for(runtime))
    assert result.outcome.success and result.outcome.contract_address is not None
    account = result.state.accounts[result.outcome.contract_address]
    assert account.nonce == 1


def test_logs() -> None:
    code = Asm().mstore(0, 0xCAFE).push(0xAA).push(0xBB).push(32).push(0).op("LOG2").build()
    logs = run(code).outcome.logs
    assert len(logs) == 1
    assert logs[0].address == CONTRACT
    assert [int.from_bytes(t, "big") for t in logs[0].topics] == [0xBB, 0xAA]
    assert int.from_bytes(logs[0].data, "big") == 0xCAFE


def test_selfdestruct_only_deletes_accounts_created_in_the_same_transaction() -> None:
    beneficiary = 0xBEEF
    code = Asm().push(beneficiary).op("SELFDESTRUCT").build()
    result = run(code)
    assert CONTRACT in result.state.accounts  # EIP-6780: still there, code kept
    assert result.state.accounts[beneficiary.to_bytes(20, "big")].balance == ETHER

    init = Asm().push(beneficiary).op("SELFDESTRUCT").build()
    created = run(b"", to=None, data=init, value=5)
    assert created.outcome.success
    assert (
        created.outcome.contract_address is None
        or created.outcome.contract_address not in created.state.accounts
    )


def test_eip7702_delegation_executes_delegate_code() -> None:
    key = bytes.fromhex("45a915e4d060149eb4365960e6a7a45f334393093061116b197e3240065ff2d8")
    from dataclasses import replace

    from jit.evm.frame import BlockEnv
    from jit.evm.transaction import execute_transaction
    from jit.forks import rules_for
    from tests.helpers.evm import SENDER, transaction

    delegate_code = Asm().sstore(1, 0x77).build()
    state = world(b"", **{CALLEE.hex(): delegate_code})
    auth = sign_authorization(1, CALLEE, 1, key)  # the sender is the authority: nonce after bump
    tx = transaction(tx_type=4, gas_limit=200_000, to=SENDER, authorization_list=(auth,))
    block = BlockEnv(
        chain_id=1, coinbase=b"\x00" * 20, number=1, timestamp=1, gas_limit=30_000_000, base_fee=7
    )
    outcome = execute_transaction(tx, block, state, rules_for("prague"))
    assert outcome.success
    state.apply(outcome.diff)
    assert state.get_code(state.accounts[SENDER].code_hash) == b"\xef\x01\x00" + CALLEE
    assert state.storage[SENDER] == {1: 0x77}
    # EXTCODESIZE sees the 23-byte designator, not the delegate's code.
    probe = Asm().push(int.from_bytes(SENDER, "big")).op("EXTCODESIZE").store_top(0).build()
    state.set_account(CONTRACT, code=probe, balance=0)
    follow = replace(tx, tx_type=2, nonce=2, to=CONTRACT, authorization_list=())
    outcome = execute_transaction(follow, block, state, rules_for("prague"))
    state.apply(outcome.diff)
    assert state.storage[CONTRACT] == {0: 23}
