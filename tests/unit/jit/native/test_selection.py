"""Which regions get machine code from a profile of their runs (``chosen_by_profile``):
a loop stays, code each run passes through once does not, a loop's costly region stays
when leaving it out would cost a crossing per iteration, and profiles that name what is
not there or ran too little choose nothing."""

from __future__ import annotations

import pytest

from jit.compiler.analysis import Region, regions
from jit.compiler.profile import RegionProfile
from jit.forks import rules_for
from jit.native import selection
from jit.native.coverage import host_memory_ops, host_ops
from jit.native.selection import CROSSING_WEIGHT, chosen_by_profile
from tests.helpers.asm import Asm

TABLE = rules_for("osaka").opcode_table
HOST = host_ops(TABLE) - {0x20}  # KECCAK256 runs natively: free for selection
HOST_MEMORY = host_memory_ops(TABLE) - {0x20}


def arithmetic(asm: Asm, count: int) -> Asm:
    """``count`` PUSH1/ADD pairs on the item on top."""
    for _ in range(count):
        asm.push(3).op("ADD")
    return asm


def starts(chosen: list[Region]) -> set[int]:
    return {region.start for region in chosen}


def by_label(code: bytes, first_ops: list[int]) -> list[int]:
    """The starts of the regions of ``code`` in order (first_ops: for a sanity check)."""
    found = regions(code, TABLE)
    assert [region.instructions[0].op for region in found] == first_ops
    return [region.start for region in found]


# entry: PUSH the count; loop: 40 ADDs and the counter; tail: SSTORE and STOP.
LOOP = arithmetic(Asm().push(1000).push(0).label("loop"), 40).op("SWAP1")
LOOP = LOOP.push(1).op("SWAP1", "SUB", "DUP1").push_label("loop").op("JUMPI")
LOOP_CODE = LOOP.label("tail").push(0).op("SSTORE", "STOP").build()
ENTRY, BODY, TAIL = by_label(LOOP_CODE, [0x61, 0x5B, 0x5B])
COVERED = regions(LOOP_CODE, TABLE)


def loop_profile(iterations: int, runs: int = 1) -> RegionProfile:
    return RegionProfile(
        runs,
        {
            (None, ENTRY): runs,
            (ENTRY, BODY): runs,
            (BODY, BODY): (iterations - 1) * runs,
            (BODY, TAIL): runs,
        },
    )


def test_a_hot_loop_is_chosen_and_the_code_around_it_is_not() -> None:
    chosen = chosen_by_profile(COVERED, loop_profile(1000), HOST, HOST_MEMORY)
    assert starts(chosen) == {BODY}


def test_code_each_run_passes_through_once_is_not_chosen() -> None:
    """An ERC-20 transfer's shape: every region once per run, however many runs."""
    assert chosen_by_profile(COVERED, loop_profile(1, runs=10_000), HOST, HOST_MEMORY) == []


def test_a_loop_that_ran_too_little_to_repay_its_compile_is_not_chosen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert starts(chosen_by_profile(COVERED, loop_profile(3), HOST, HOST_MEMORY)) == {BODY}
    # Were the code to run a hundred times only, three iterations a run would not repay it.
    monkeypatch.setattr(selection, "PAYBACK_RUNS", 100)
    assert chosen_by_profile(COVERED, loop_profile(3), HOST, HOST_MEMORY) == []


def test_a_costly_region_inside_a_loop_stays_with_it() -> None:
    """The loop alternates a long arithmetic region and one with a storage read (which
    costs more natively than it saves): leaving the second out would cost a crossing
    into machine code at every iteration, more than its host call costs."""
    asm = arithmetic(Asm().push(1000).label("compute"), 60).push_label("read").op("JUMP")
    asm = asm.label("read").push(0).op("SLOAD", "POP").push(1).op("SWAP1", "SUB", "DUP1")
    code = asm.push_label("compute").op("JUMPI", "STOP").build()
    entry, compute, read = by_label(code, [0x61, 0x5B, 0x5B])
    iterations = 1000
    profile = RegionProfile(
        1,
        {
            (None, entry): 1,
            (entry, compute): 1,
            (compute, read): iterations,
            (read, compute): iterations - 1,
        },
    )
    chosen = chosen_by_profile(regions(code, TABLE), profile, HOST, HOST_MEMORY)
    assert starts(chosen) == {compute, read}


def test_a_region_entered_from_python_each_time_does_not_pay_its_crossing() -> None:
    """A short region run often, but each time from a region that stays with the Python
    JIT (the step into it is a crossing), gains less than the crossing costs."""
    profile = RegionProfile(
        1, {(None, ENTRY): 1, (ENTRY, BODY): 1, (TAIL, BODY): 5000, (BODY, TAIL): 5000}
    )
    without_tail = [region for region in COVERED if region.start != TAIL]  # as if uncovered
    assert chosen_by_profile(without_tail, profile, HOST, HOST_MEMORY) == []
    # Covered, the tail (one SSTORE) joins the loop: the loop pays for its host call.
    assert starts(chosen_by_profile(COVERED, profile, HOST, HOST_MEMORY)) == {BODY, TAIL}
    assert CROSSING_WEIGHT > 40 + 5  # the body's inline instructions: what it would gain


def test_profiles_naming_what_is_not_there_choose_nothing_from_it() -> None:
    assert chosen_by_profile(COVERED, RegionProfile(0, {}), HOST, HOST_MEMORY) == []
    assert chosen_by_profile([], loop_profile(1000), HOST, HOST_MEMORY) == []
    foreign = RegionProfile(1, {(None, 99_999): 10**9, (99_999, 77_777): 10**9})
    assert chosen_by_profile(COVERED, foreign, HOST, HOST_MEMORY) == []
    mixed = RegionProfile(1, {**loop_profile(1000).transitions, (99_999, BODY): 1})
    assert starts(chosen_by_profile(COVERED, mixed, HOST, HOST_MEMORY)) == {BODY}
