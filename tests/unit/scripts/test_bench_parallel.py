"""scripts/bench_parallel.py: argument checks (the run itself is a benchmark, not a test)."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPTS = Path(__file__).resolve().parents[3] / "scripts"


def _load() -> ModuleType:
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))  # it imports bench_blocks as a sibling
    spec = importlib.util.spec_from_file_location("bench_parallel", SCRIPTS / "bench_parallel.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_parallel"] = module
    spec.loader.exec_module(module)
    return module


bench_parallel = _load()


@pytest.mark.parametrize("text", ["", "a", "1,,x", "-1", "10001", "1.5", "9" * 5000])
def test_bad_lists_are_refused(text: str) -> None:
    with pytest.raises((argparse.ArgumentTypeError, ValueError)):
        bench_parallel._int_list(text)


def test_good_lists() -> None:
    assert bench_parallel._int_list("0,25,100") == [0, 25, 100]
    assert bench_parallel._int_list("3,") == [3]


@pytest.mark.parametrize(
    "argv",
    [
        ["--txs", "15"],
        ["--txs", "20001"],
        ["--runs", "0"],
        ["--hot", "101"],
        ["--workers", "0"],
        ["--workers", "17"],
        ["--engine", "native"],
    ],
)
def test_bad_arguments_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        bench_parallel.main(argv)
    assert exited.value.code == 2
