"""The native tier in the node's engine (background): Python JIT first, machine code
built on the worker once a program is hot, installed between runs, same outcomes."""

from __future__ import annotations

import pytest

pytest.importorskip("llvmlite")

from jit.compiler import Engine
from jit.compiler.engine import NATIVE_HOT_RUNS
from jit.forks import rules_for
from tests.helpers.asm import push
from tests.helpers.evm import outcome_fingerprint, run

# A counting loop: pure stack work, worth machine code.
LOOP = push(200) + b"\x5b" + push(1) + b"\x90\x03\x80" + push(2) + b"\x57"
LOOP += b"\x5b\x5a" + push(0) + b"\x55\x00"  # a region of its own: store GAS (compared)


def test_machine_code_arrives_once_the_program_is_hot() -> None:
    engine = Engine("native", background=True)
    try:
        expected = run(LOOP, gas=1_000_000).outcome
        for _ in range(NATIVE_HOT_RUNS - 1):
            actual = run(LOOP, gas=1_000_000, engine=engine.runner).outcome
            assert outcome_fingerprint(actual) == outcome_fingerprint(expected)
        engine.wait_idle(timeout=60)
        assert engine.stats().native_regions == 0  # not hot yet: Python JIT only
        program = engine.program_for(LOOP, rules_for("osaka"))
        assert program is not None and "__native__" not in program.namespace
        run(LOOP, gas=1_000_000, engine=engine.runner)  # the hot run submits the build
        engine.wait_idle(timeout=60)
        assert engine.stats().native_regions >= 1
        for _ in range(3):
            actual = run(LOOP, gas=1_000_000, engine=engine.runner).outcome
            assert outcome_fingerprint(actual) == outcome_fingerprint(expected)
        assert program.namespace["__native__"].calls >= 1
        assert engine.stats().failed == 0
    finally:
        engine.close()


def test_the_forced_engine_without_background_compiles_at_once() -> None:
    engine = Engine("native")
    run(LOOP, gas=1_000_000, engine=engine.runner)
    assert engine.stats().native_regions >= 1
