"""Engine modes, the (code, fork) cache, hotness, failures, eviction, background
compiles, lazy regions and linecache registration."""

from __future__ import annotations

import linecache
import logging
import traceback

import pytest

from jit.compiler import Engine
from jit.compiler import engine as engine_module
from jit.compiler.analysis import basic_blocks, decode, regions
from jit.compiler.engine import compile_program
from jit.forks import rules_for
from tests.helpers.evm import run

# sstore(0, calldata[0] + 1); the counter makes each call observable.
CODE = bytes.fromhex("600035600101600055")
OTHER_CODE = bytes.fromhex("600035600201600055")


def test_modes_and_bad_arguments() -> None:
    assert Engine("interpreter").runner is None
    assert Engine("jit").runner is not None
    assert Engine("auto").runner is not None
    for mode in ("", "JIT", "fast", None):
        with pytest.raises(ValueError, match="unknown engine"):
            Engine(mode)  # type: ignore[arg-type]
    for threshold in (-1, 10**10, 1.5, True, "3"):
        with pytest.raises(ValueError, match="hot threshold"):
            Engine("auto", hot_threshold=threshold)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one"):
        Engine("jit", max_entries=0)


def test_jit_compiles_on_first_run_and_caches_by_code_and_fork() -> None:
    engine = Engine("jit")
    run(CODE, engine=engine.runner)
    run(CODE, engine=engine.runner)
    run(CODE, engine=engine.runner, fork="prague")
    stats = engine.stats()
    assert (stats.compiled, stats.cached, stats.compiled_runs, stats.interpreted_runs) == (
        2,
        2,
        3,
        0,
    )
    assert engine.program_for(CODE, rules_for("osaka")) is not None
    assert engine.program_for(OTHER_CODE, rules_for("osaka")) is None


def test_auto_interprets_until_hot() -> None:
    engine = Engine("auto", hot_threshold=3)
    for _ in range(3):
        run(CODE, engine=engine.runner)
    assert engine.stats().compiled == 0
    assert engine.stats().interpreted_runs == 3
    result = run(CODE, data=(41).to_bytes(32, "big"), engine=engine.runner)
    assert result.storage() == {0: 42}
    assert engine.stats().compiled == 1
    assert engine.stats().compiled_runs == 1


def test_background_compile_installs_later(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = Engine("auto", hot_threshold=0, background=True)
    try:
        first = run(CODE, engine=engine.runner)  # queued; this run is interpreted
        assert first.storage() == {0: 1}
        engine.wait_idle(timeout=10)
        assert engine.stats().compiled == 1
        program = engine.program_for(CODE, rules_for("osaka"))
        assert program is not None
        assert "def r_0" in program.source()  # compiled eagerly: every region
        run(CODE, engine=engine.runner)
        assert engine.stats().compiled_runs == 1
    finally:
        engine.close()


def test_compile_failure_is_logged_once_and_remembered(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    calls = []

    def broken(code: bytes, rules: object, **_: object) -> None:
        calls.append(code)
        raise RuntimeError("boom")

    monkeypatch.setattr(engine_module, "compile_program", broken)
    engine = Engine("jit")
    with caplog.at_level(logging.WARNING, logger="hummingbird.jit"):
        for value in range(3):
            result = run(CODE, data=value.to_bytes(32, "big"), engine=engine.runner)
            assert result.storage() == {0: value + 1}  # interpreted, still right
    assert len(calls) == 1
    assert [r.message for r in caplog.records if "boom" in r.message] != []
    assert len([r for r in caplog.records if "boom" in r.message]) == 1
    assert engine.stats().failed == 1
    assert engine.stats().interpreted_runs == 3


def test_cache_is_bounded_and_evicts_the_oldest() -> None:
    engine = Engine("jit", max_entries=1)
    run(CODE, engine=engine.runner)
    first = engine.program_for(CODE, rules_for("osaka"))
    assert first is not None and first.filename in linecache.cache
    run(OTHER_CODE, engine=engine.runner)
    assert engine.stats().cached == 1
    assert engine.program_for(CODE, rules_for("osaka")) is None
    assert first.filename not in linecache.cache
    by_bytes = Engine("jit", max_code_bytes=len(CODE))
    run(CODE, engine=by_bytes.runner)
    run(OTHER_CODE, engine=by_bytes.runner)
    assert by_bytes.stats().cached == 1


def test_lazy_regions_compile_only_what_runs_and_show_in_tracebacks() -> None:
    # PUSH1 7 PUSH1 0 SSTORE STOP | JUMPDEST (dead) PUSH1 1 PUSH1 1 SSTORE STOP
    code = bytes.fromhex("600760005500" + "5b600160015500")
    program = compile_program(code, rules_for("osaka"), lazy=True)
    assert "def r_0" not in program.source()
    engine = Engine("jit")
    run(code, engine=engine.runner)
    lazy = engine.program_for(code, rules_for("osaka"))
    assert lazy is not None
    assert "def r_0" in lazy.source() and "def r_6" not in lazy.source()
    # A failure inside generated code points at the generated line.
    region = lazy.namespace["r_0"]
    try:
        region(None)
    except AttributeError:
        text = traceback.format_exc()
    assert lazy.filename in text and "s = evm.stack" in text


def test_analysis_splits_blocks_and_regions() -> None:
    table = rules_for("osaka").opcode_table
    # PUSH1 1 PUSH1 7 JUMPI GAS POP JUMPDEST STOP, then a PUSH2 cut off by the end.
    code = bytes.fromhex("6001600757" + "5a50" + "5b00" + "61ff")
    instructions = decode(code, table)
    assert [i.name for i in instructions] == [
        "PUSH1", "PUSH1", "JUMPI", "GAS", "POP", "JUMPDEST", "STOP", "PUSH2",
    ]  # fmt: skip
    assert instructions[-1].immediate == 0xFF00  # zero padded, as the interpreter reads it
    blocks = basic_blocks(code, table)
    assert [b.start for b in blocks] == [0, 5, 6, 7, 9]  # JUMPI, GAS, JUMPDEST, STOP split
    assert blocks[0].static_gas == 3 + 3 + 10 and blocks[0].max_growth == 2
    assert blocks[1].inputs == 0 and blocks[2].inputs == 1
    found = regions(code, table)
    # Region 0 runs through the JUMPI fallthrough and GAS into the JUMPDEST region;
    # the PUSH2 after STOP is unreachable.
    assert [(r.start, r.fallthrough) for r in found] == [(0, 7), (7, None)]
    # CLZ is an instruction from Osaka on; before that, the byte is undefined.
    assert decode(b"\x1e", rules_for("osaka").opcode_table)[0].defined
    assert not decode(b"\x1e", rules_for("prague").opcode_table)[0].defined
