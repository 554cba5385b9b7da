"""Stack, memory and control-flow instructions, and their halts."""

from __future__ import annotations

from tests.helpers.asm import Asm
from tests.helpers.evm import run


def test_push_dup_swap() -> None:
    code = Asm().push(1).push(2).op("DUP2").op("SWAP2").op("ADD").op("ADD").store_top(0).build()
    assert run(code).storage() == {0: 4}


def test_push0_and_truncated_push_is_zero_padded() -> None:
    code = Asm().op("PUSH0").store_top(0).raw(b"\x61\x01").build()  # PUSH2 with one byte left
    assert run(code).outcome.success
    # The truncated PUSH2 at the end pushes 0x0100 and then code ends (STOP).
    code = Asm().push(0).push(1).op("SSTORE").raw(b"\x61\x01").build()
    assert run(code).outcome.success


def test_push_running_past_the_end_stops_normally() -> None:
    # A PUSH cut short by the end of the code reads zeros and then stops; its value
    # can never be used, but it must not look like a stack underflow.
    assert run(Asm().push(0).raw(b"\x60").build()).outcome.success
    assert run(Asm().push(0).raw(b"\x7f\x01").build()).outcome.success


def test_stack_underflow_halts_and_burns_gas() -> None:
    outcome = run(Asm().op("ADD").build(), gas=100_000).outcome
    assert outcome.error == "StackUnderflowError"
    assert outcome.gas_used == 100_000


def test_stack_overflow_at_1025() -> None:
    ok = Asm()
    for _ in range(1024):
        ok.op("PUSH0")
    assert run(ok.build()).outcome.success
    assert run(ok.op("PUSH0").build()).outcome.error == "StackOverflowError"


def test_memory_store_load_and_msize() -> None:
    code = (
        Asm()
        .mstore(0x20, 0xABCD)
        .push(0x20)
        .op("MLOAD")
        .store_top(0)
        .op("MSIZE")
        .store_top(1)
        .push(0x99)
        .push(0x5F)
        .op("MSTORE8")
        .op("MSIZE")
        .store_top(2)
        .build()
    )
    assert run(code).storage() == {0: 0xABCD, 1: 0x40, 2: 0x60}


def test_memory_expansion_gas_is_quadratic() -> None:
    def gas_for(offset: int) -> int:
        return run(Asm().push(offset).op("MLOAD", "POP").build()).outcome.gas_used

    words = 1024
    expected = 3 * words + words * words // 512
    assert gas_for(32 * (words - 1)) - gas_for(0) == expected - 3


def test_memory_offset_beyond_reason_is_out_of_gas() -> None:
    outcome = run(Asm().push(1 << 255).op("MLOAD").build()).outcome
    assert outcome.error == "OutOfGasError"


def test_mcopy_overlapping() -> None:
    code = (
        Asm()
        .mstore(0, 0x0102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F20)
        .push(8)
        .push(0)
        .push(4)
        .op("MCOPY")
        .push(0)
        .op("MLOAD")
        .store_top(0)
        .build()
    )
    value = run(code).storage()[0].to_bytes(32, "big")
    assert value[:12] == bytes([1, 2, 3, 4, 1, 2, 3, 4, 5, 6, 7, 8])


def test_jump_to_jumpdest_and_loop() -> None:
    # counter = 5; loop: counter -= 1; total += 2; if counter jump loop
    code = (
        Asm()
        .push(5)
        .push(0)
        .label("loop")
        .push(2)
        .op("ADD")
        .op("SWAP1")
        .push(1)
        .op("SWAP1")
        .op("SUB")
        .op("SWAP1")
        .op("DUP2")
        .push_label("loop")
        .op("JUMPI")
        .store_top(0)
        .build()
    )
    assert run(code).storage() == {0: 10}


def test_jump_into_push_data_is_invalid() -> None:
    code = Asm().push(3).op("JUMP").raw(b"\x60\x5b").build()  # 0x5b is PUSH1's immediate
    assert run(code).outcome.error == "InvalidJumpDestError"


def test_pc_and_gas() -> None:
    code = Asm().op("PC").store_top(0).op("GAS").store_top(1).build()
    result = run(code, gas=100_000)
    assert result.storage().get(0, 0) == 0
    assert 0 < result.storage()[1] < 100_000


def test_invalid_opcode_burns_all_gas() -> None:
    outcome = run(Asm().op("INVALID").build(), gas=50_000).outcome
    assert outcome.error == "InvalidOpcode" and outcome.gas_used == 50_000
    assert run(b"\x0c", gas=50_000).outcome.error == "InvalidOpcode"  # undefined byte


def test_out_of_gas_in_the_middle_keeps_nothing() -> None:
    code = Asm().sstore(0, 1).push(0).op("MLOAD").build()
    ok = run(code, gas=60_000)
    assert ok.outcome.success and ok.storage() == {0: 1}
    starved = run(code, gas=21_000 + 22_100 + 5)
    assert starved.outcome.error == "OutOfGasError" and starved.storage() == {}
