"""Pathological bytecode compiles natively in bounded time or stays with the Python JIT,
and still runs exactly as the interpreter runs it; and which regions get machine code."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("llvmlite")

from jit.compiler import Engine
from jit.compiler.analysis import regions
from jit.compiler.engine import compile_program
from jit.compiler.loader import CompileClock
from jit.evm.analysis import valid_jump_destinations
from jit.forks import rules_for
from jit.native.selection import MAX_COST, cost, worth_compiling
from tests.helpers.asm import Asm
from tests.helpers.evm import outcome_fingerprint, run

RULES = rules_for("osaka")
BOUND_SECONDS = 10.0  # the budget is ~2 s here; generous for a loaded machine


def jump_cycle(count: int) -> bytes:
    """``count`` regions, each jumping to the next and the last back to the first."""
    code = bytearray()
    for index in range(count):
        destination = (index + 1) * 5 if index + 1 < count else 0
        code += b"\x5b\x61" + destination.to_bytes(2, "big") + b"\x56"
    return bytes(code)


PATHOLOGICAL = {
    "24 KB of JUMPDESTs": b"\x5b" * 24_576,
    "a 3,500-region jump cycle": jump_cycle(3_500),
    "8,000 PUSH1/ADD in one region": b"\x60\x01" + b"\x60\x01\x01" * 8_000,
    "4,000 MSTOREs": b"\x60\x01\x60\x00\x52" * 4_000,
    "5,000 EXPs": b"\x60\x02" + b"\x60\x03\x0a" * 5_000,
    "a 24 KB PUSH32 chain": (b"\x7f" + b"\xff" * 32 + b"\x50") * 716,
}


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL))
@pytest.mark.parametrize("every_region", [False, True])
def test_pathological_code_compiles_in_bounded_time(name: str, every_region: bool) -> None:
    code = PATHOLOGICAL[name]
    clock = CompileClock()
    started = time.process_time()
    compile_program(
        code, RULES, lazy=True, clock=clock, native=True, native_every_region=every_region
    )
    assert time.process_time() - started < BOUND_SECONDS
    covered_cost = sum(
        cost(region)
        for region in regions(code, RULES.opcode_table)
        if region.start == 0 or region.start in valid_jump_destinations(code)
    )
    if covered_cost > MAX_COST:
        assert clock.native_regions < len(regions(code, RULES.opcode_table))


def test_a_bounded_program_still_runs_exactly() -> None:
    """The jump cycle, cut by the budget: part native, part Python JIT, the same outcome
    as the interpreter's (it loops until it runs out of gas)."""
    code = jump_cycle(3_500)
    engine = Engine("native", native_every_region=True)
    expected = run(code, gas=3_000_000)
    actual = run(code, gas=3_000_000, engine=engine.runner)
    assert outcome_fingerprint(actual.outcome) == outcome_fingerprint(expected.outcome)
    assert 0 < engine.stats().native_regions < 3_500


def test_loops_of_covered_regions_are_chosen_and_straight_lines_are_not() -> None:
    loop = (
        Asm()
        .push(10)
        .label("top")
        .push(1)
        .op("SWAP1", "SUB", "DUP1")
        .push_label("top")
        .op("JUMPI")
        .label("after")
        .push(0)
        .op("SSTORE", "STOP")
        .build()
    )
    found = regions(loop, RULES.opcode_table)
    chosen = {region.start for region in worth_compiling(found, valid_jump_destinations(loop))}
    top = next(r.start for r in found if r.start != 0 and r.instructions[0].op == 0x5B)
    assert chosen == {top}


def test_entry_points_that_return_at_once_go_back_to_the_python_jit() -> None:
    """A long covered region (native on its own) inside a loop that makes a call (calls
    are never native): each round enters it from Python and leaves after one region.
    After the probation its
    entry point is the Python JIT's function again, and the outcome never changes."""
    asm = Asm().label("top")
    for _ in range(30):
        asm.push(1).op("POP")
    code = (
        asm.label("work")
        .push(0)
        .push(0)
        .push(0)
        .push(0)
        .push(4)  # the identity precompile
        .push(100)
        .op("STATICCALL", "POP")
        .push(200_000)
        .op("GAS", "LT")  # GAS < 200,000: done
        .push_label("done")
        .op("JUMPI")
        .push_label("top")
        .op("JUMP")
        .label("done")
        .op("STOP")
        .build()
    )
    engine = Engine("native")
    expected = run(code, gas=1_000_000)
    actual = run(code, gas=1_000_000, engine=engine.runner)
    assert outcome_fingerprint(actual.outcome) == outcome_fingerprint(expected.outcome)
    program = engine.program_for(code, RULES)
    assert program is not None
    native = program.namespace["__native__"]
    assert native.given_back == {0}
    # The Python JIT's own function (its lazy stub compiled itself in on the first call).
    assert program.namespace["r_0"].__name__ == "r_0"
    assert program.namespace["JUMP_TABLE"][0] is program.namespace["r_0"]


def test_deep_recursion_with_native_loops_in_every_frame() -> None:
    """A contract that runs a native loop and then calls itself, as deep as gas allows
    (hundreds of frames; calls are never native, so machine code never nests on the C
    stack): the same outcome as the interpreter."""
    asm = Asm().push(20).label("loop").push(1).op("SWAP1", "SUB", "DUP1").push_label("loop")
    asm.op("JUMPI", "POP")
    asm.push(0).push(0).push(0).push(0).push(0).op("ADDRESS", "GAS", "CALL")
    asm.op("NUMBER", "SSTORE", "STOP")  # storage[number] = the call's status, per frame
    code = asm.build()
    engine = Engine("native", native_every_region=True)
    for gas in (16_000_000, 3_000_000):  # Osaka caps a transaction at 2**24
        expected = run(code, gas=gas)
        actual = run(code, gas=gas, engine=engine.runner)
        assert outcome_fingerprint(actual.outcome) == outcome_fingerprint(expected.outcome)
    assert engine.stats().native_regions >= 1 and engine.stats().failed == 0


HOST_HEAVY = {
    "8,000 SLOADs": b"\x60\x00\x54\x50" * 8_000,
    "2,000 KECCAK256s": b"\x60\x20\x60\x00\x20\x50" * 2_000,
    "3,000 LOG0s": b"\x60\x20\x60\x00\xa0" * 3_000,
    "300 regions of 10 LOG0s": (b"\x5b" + b"\x60\x20\x60\x00\xa0" * 10) * 300,
    "300 regions of 10 KECCAK256s": (b"\x5b" + b"\x60\x20\x60\x00\x20\x50" * 10) * 300,
    "300 regions of 10 SSTOREs": (b"\x5b" + b"\x60\x01\x60\x00\x55" * 10) * 300,
}


@pytest.mark.parametrize("name", sorted(HOST_HEAVY))
def test_host_heavy_code_compiles_in_bounded_time(name: str) -> None:
    """Host calls cost LLVM far more than inline instructions (~12 ms each in a 3,000-call
    region before the budget counted them): the budget holds for them too."""
    clock = CompileClock()
    started = time.process_time()
    compile_program(
        HOST_HEAVY[name], RULES, lazy=True, clock=clock, native=True, native_every_region=True
    )
    assert time.process_time() - started < BOUND_SECONDS
