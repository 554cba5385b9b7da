"""scripts/bench_jit_compile.py: output shape and bad input."""

from __future__ import annotations

import json

import pytest

from scripts.bench_jit_compile import main


def test_reports_every_contract(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--runs", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert {"BenchToken", "Mandelbrot", "Token"} <= set(report["contracts"])
    token = report["contracts"]["BenchToken"]
    assert token["bytes"] > 0 and token["regions"] > 0
    assert token["eager_ms"] > token["lazy_setup_ms"] > 0
    assert report["eager_ms_per_3kb_overall"] > 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--runs", "0"], "--runs"), (["--runs", "100000"], "--runs"), (["--fork", "x"], "unknown")],
)
def test_bad_input_exits_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err
