"""scripts/conformance.py: runs a small fixture set and rejects bad arguments clearly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "conformance.py"
FIXTURES = ROOT.parent / "shared" / "conformance"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300
    )


@pytest.mark.skipif(
    not FIXTURES.is_dir(), reason="../shared/conformance is not beside the checkout"
)
def test_runs_a_directory_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "cases.jsonl"
    result = run(
        str(FIXTURES / "ethereum-tests" / "GeneralStateTests" / "stExample"),
        "--fork",
        "cancun",
        "--json",
        str(out),
        "--jobs",
        "1",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1] == "2 passed, 0 failed"
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert {r["outcome"] for r in records} == {"passed"}
    assert set(records[0]) >= {"file", "test", "fork", "outcome", "cpu_seconds"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fork", "homestead"], "unknown fork"),
        (["--engine", "llvm"], "invalid choice"),
        (["--tier", "medium"], "invalid choice"),
        (["--jobs", "0"], "--jobs must be at least 1"),
        (["/nonexistent/fixtures"], "no such file or directory"),
    ],
)
def test_bad_arguments_fail_clearly(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.returncode != 0
    assert message in result.stderr + result.stdout


def test_failing_fixture_exits_nonzero(tmp_path: Path) -> None:
    source = FIXTURES / "ethereum-tests" / "GeneralStateTests" / "stExample" / "add11.json"
    if not source.is_file():
        pytest.skip("fixtures not present")
    data = json.loads(source.read_text())
    test = next(iter(data.values()))
    test["post"]["Cancun"][0]["hash"] = "0x" + "00" * 32  # a wrong expected root
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(data))
    result = run(str(broken), "--jobs", "1")
    assert result.returncode == 1
    assert result.stdout.strip().splitlines()[-1] == "0 passed, 1 failed"
