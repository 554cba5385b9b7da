"""A program's profiled runs (``jit.compiler.profile``): every step between regions is
counted, a lazy stub and the function it compiles count as one region, and the run's
outcome is the unprofiled one's."""

from __future__ import annotations

from typing import Any

from jit.compiler.engine import compile_program
from jit.compiler.profile import RegionProfile, profile_from, region_start
from jit.evm.frame import Evm
from jit.forks import rules_for
from tests.helpers.asm import push
from tests.helpers.evm import outcome_fingerprint, run

RULES = rules_for("osaka")
ITERATIONS = 200
# 0: PUSH 200 (falls into the loop); 3: the loop, ITERATIONS times; 11: store GAS, STOP.
LOOP = push(ITERATIONS) + b"\x5b" + push(1) + b"\x90\x03\x80" + push(2) + b"\x57"
LOOP += b"\x5b\x5a" + push(0) + b"\x55\x00"
LOOP_START = 2
TAIL_START = 11


def profiled_runner(transitions: dict[tuple[Any, Any], int], *, lazy: bool) -> Any:
    program = compile_program(LOOP, RULES, lazy=lazy)

    def runner(evm: Evm) -> None:
        evm.code = evm.msg.code + b"\x00" * 33
        evm.jumpdests = program.jumpdests
        program.run_profiled(evm, transitions)

    return runner


def test_every_step_between_regions_is_counted() -> None:
    for lazy in (False, True):  # lazily: the first step into each region is its stub's
        transitions: dict[tuple[Any, Any], int] = {}
        expected = run(LOOP).outcome
        actual = run(LOOP, engine=profiled_runner(transitions, lazy=lazy)).outcome
        assert outcome_fingerprint(actual) == outcome_fingerprint(expected)
        profile = profile_from(transitions, 1)
        assert profile.transitions == {
            (None, 0): 1,
            (0, LOOP_START): 1,
            (LOOP_START, LOOP_START): ITERATIONS - 1,
            (LOOP_START, TAIL_START): 1,
        }
        assert profile.counts() == {0: 1, LOOP_START: ITERATIONS, TAIL_START: 1}


def test_profiles_of_several_runs_add_up() -> None:
    transitions: dict[tuple[Any, Any], int] = {}
    runner = profiled_runner(transitions, lazy=True)
    for _ in range(3):
        run(LOOP, engine=runner)
    profile = profile_from(transitions, 3)
    assert profile.runs == 3
    assert profile.counts()[LOOP_START] == 3 * ITERATIONS


def test_region_start_reads_the_generated_name() -> None:
    def r_1234() -> None: ...

    assert region_start(r_1234) == 1234
    assert RegionProfile(0, {}).counts() == {}
