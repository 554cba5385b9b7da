"""The native tier in the node's engine (background): Python JIT first, machine code
built on the worker once a program is hot, installed between runs, same outcomes."""

from __future__ import annotations

import multiprocessing
import os
from typing import Any

import pytest

pytest.importorskip("llvmlite")

from jit.compiler import Engine
from jit.compiler.engine import NATIVE_HOT_RUNS
from jit.forks import rules_for
from jit.native.backend import Compiler, CompilerCrashed
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


def test_auto_goes_on_to_machine_code_when_hot() -> None:
    """--engine auto in the node: interpreted, then the Python JIT (background), then,
    after its profiled runs, machine code for the loop; the same outcomes throughout."""
    engine = Engine("auto", background=True, hot_threshold=1, native_profile_runs=2)
    try:
        expected = outcome_fingerprint(run(LOOP, gas=1_000_000).outcome)
        for _ in range(8):
            actual = run(LOOP, gas=1_000_000, engine=engine.runner).outcome
            assert outcome_fingerprint(actual) == expected
            engine.wait_idle(timeout=60)
        stats = engine.stats()
        assert stats.interpreted_runs >= 1 and stats.native_regions >= 1 and stats.failed == 0
        program = engine.program_for(LOOP, rules_for("osaka"))
        assert program is not None and program.namespace["__native__"].calls >= 1
    finally:
        engine.close()


def test_auto_stays_in_python_when_told() -> None:
    engine = Engine("auto", background=True, hot_threshold=0, native_profile_runs=0)
    try:
        for _ in range(6):
            run(LOOP, gas=1_000_000, engine=engine.runner)
            engine.wait_idle(timeout=60)
        assert engine.stats().native_regions == 0 and engine.stats().compiled == 1
    finally:
        engine.close()
    with pytest.raises(ValueError, match="at least one run"):
        Engine("native", native_profile_runs=0)
    with pytest.raises(ValueError, match="native profile runs"):
        Engine("auto", native_profile_runs=-1)


def test_an_llvm_abort_fails_one_build_not_the_process(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """LLVM runs in a child process: one that aborts (as LLVM does on an assertion) costs
    that build, which stays with the Python JIT, exactly; the next build gets a new child."""
    compiler = Compiler()
    try:
        with pytest.raises(CompilerCrashed):
            compiler.call(os.abort)
        assert compiler.call(abs, -3) == 3  # a new child
    finally:
        compiler.close()

    def crash(self: Compiler, text: str) -> tuple[bytes, float]:
        return self.call(os.abort)

    monkeypatch.setattr(Compiler, "emit_object", crash)
    engine = Engine("native", background=True, native_profile_runs=1)
    try:
        expected = outcome_fingerprint(run(LOOP, gas=1_000_000).outcome)
        for _ in range(3):
            actual = run(LOOP, gas=1_000_000, engine=engine.runner).outcome
            assert outcome_fingerprint(actual) == expected
            engine.wait_idle(timeout=60)
        assert engine.stats().native_regions == 0
        assert "LLVM's process ended" in caplog.text
    finally:
        engine.close()


def _compile_in_a_daemon(answers: Any) -> None:
    compiler = Compiler()
    try:
        answers.put(compiler.call(abs, -3))
    except BaseException as error:  # reported to the test
        answers.put(repr(error))
    finally:
        compiler.close()


def test_a_daemonic_worker_compiles_in_its_own_process() -> None:
    """The node's worker processes are daemonic, which may not start children: there
    LLVM runs in the worker itself (its own isolation) rather than failing every build."""
    context = multiprocessing.get_context("spawn")
    answers = context.Queue()
    worker = context.Process(target=_compile_in_a_daemon, args=(answers,), daemon=True)
    worker.start()
    try:
        assert answers.get(timeout=60) == 3
    finally:
        worker.join(timeout=60)


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The codes the engines submit machine-code builds for, in order."""
    import jit.compiler.engine as engine_module

    codes: list[bytes] = []
    build = engine_module._build_native

    def counted(code: bytes, *args: Any) -> Any:
        codes.append(code)
        return build(code, *args)

    monkeypatch.setattr(engine_module, "_build_native", counted)
    return codes


def test_forgotten_counts_do_not_build_machine_code_twice(
    monkeypatch: pytest.MonkeyPatch, builds: list[bytes]
) -> None:
    """The per-code counts are cleared when they grow past their limit; a program that
    already has machine code is then neither profiled (its regions are native entry
    points) nor built again."""
    import jit.compiler.engine as engine_module

    monkeypatch.setattr(engine_module, "_COUNTS_LIMIT", 2)
    engine = Engine("native", background=True, native_profile_runs=1)
    try:
        expected = outcome_fingerprint(run(LOOP, gas=1_000_000).outcome)
        for _ in range(2):
            run(LOOP, gas=1_000_000, engine=engine.runner)
            engine.wait_idle(timeout=60)
        built = engine.stats().native_regions
        assert built >= 1
        for other in range(3):  # other codes fill the counts: they are cleared
            run(push(other) + b"\x50\x00", engine=engine.runner)
        for _ in range(3):
            actual = run(LOOP, gas=1_000_000, engine=engine.runner).outcome
            assert outcome_fingerprint(actual) == expected
            engine.wait_idle(timeout=60)
        assert engine.stats().native_regions == built and engine.stats().failed == 0
        assert builds.count(LOOP) == 1
    finally:
        engine.close()


def test_region_names_read_back_to_their_starts() -> None:
    from jit.compiler.profile import region_start

    def r_42() -> None: ...

    def native_r_42() -> None: ...

    assert region_start(r_42) == region_start(native_r_42) == 42


def test_profiles_in_progress_are_bounded(
    monkeypatch: pytest.MonkeyPatch, builds: list[bytes]
) -> None:
    """Profiles hold their programs' functions: past the limit the oldest is dropped and
    its code counts its runs again from the start."""
    import jit.compiler.engine as engine_module

    monkeypatch.setattr(engine_module, "_PROFILES_LIMIT", 1)
    other = push(7) + b"\x50\x00"
    engine = Engine("native", background=True, native_profile_runs=2)
    try:
        run(LOOP, gas=1_000_000, engine=engine.runner)  # LOOP: 1 of 2 profiled runs
        run(other, engine=engine.runner)  # drops LOOP's profile
        run(LOOP, gas=1_000_000, engine=engine.runner)  # 1 of 2 again
        engine.wait_idle(timeout=60)
        assert LOOP not in builds
        run(LOOP, gas=1_000_000, engine=engine.runner)  # 2 of 2: built
        engine.wait_idle(timeout=60)
        assert builds.count(LOOP) == 1 and engine.stats().native_regions >= 1
    finally:
        engine.close()
