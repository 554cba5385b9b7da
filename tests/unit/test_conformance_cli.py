"""scripts/conformance.py: runs a small fixture set and rejects bad arguments clearly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

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
        (["--parallel-workers", "-1"], "between 0 and 64"),
        (["--parallel-workers", "65"], "between 0 and 64"),
        (["--parallel-workers", "9" * 400], "between 0 and 64"),
        (["--parallel-workers", "two"], "invalid int value"),
        (["--parallel-workers", "2", "--compare-engines"], "do not go together"),
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


BLOCKCHAIN = FIXTURES / "eest" / "blockchain_tests"
STEXAMPLE = FIXTURES / "ethereum-tests" / "GeneralStateTests" / "stExample"


def _require(path: Path) -> None:
    if not path.exists():
        pytest.skip("fixtures not present")


@pytest.mark.parametrize("engine", ["interpreter", "jit", "auto"])
def test_engines_run_state_and_blockchain_tests(engine: str) -> None:
    tstore = BLOCKCHAIN / "cancun" / "eip1153_tstore" / "test_basic_tload_after_store.json"
    withdrawals = BLOCKCHAIN / "shanghai" / "eip4895_withdrawals" / "test_use_value_in_tx.json"
    deposits = BLOCKCHAIN / "prague" / "eip6110_deposits" / "test_invalid_log_length.json"
    for path in (STEXAMPLE, tstore, withdrawals, deposits):
        _require(path)
    result = run(str(STEXAMPLE), str(tstore), str(withdrawals), str(deposits), "--engine", engine)
    assert result.returncode == 0, result.stdout + result.stderr
    last = result.stdout.strip().splitlines()[-1]
    passed = int(last.split()[0])
    assert last == f"{passed} passed, 0 failed" and passed >= 10
    assert "blockchain" in result.stdout
    if engine != "interpreter":
        assert f"{engine} engine:" in result.stdout


def test_compare_engines_reports_no_difference() -> None:
    tstore = BLOCKCHAIN / "cancun" / "eip1153_tstore"
    _require(tstore)
    result = run(str(STEXAMPLE), str(tstore), "--compare-engines", "--jobs", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    last = result.stdout.strip().splitlines()[-1]
    assert last.endswith(" failed, 0 differences") and last.startswith(last.split()[0] + " passed")
    assert "engine jit compared with interpreter" in result.stdout


def _load_first(path: Path) -> dict[str, Any]:
    _require(path)
    test: dict[str, Any] = next(iter(json.loads(path.read_text()).values()))
    return test


def test_broken_blockchain_fixtures_fail(tmp_path: Path) -> None:
    source = BLOCKCHAIN / "cancun" / "eip1153_tstore" / "test_basic_tload_after_store.json"
    test = _load_first(source)
    post = test["postState"]
    assert isinstance(post, dict)
    account = next(iter(post.values()))
    account["balance"] = hex(int(account["balance"], 16) + 1)  # a wrong post state
    broken = tmp_path / "post.json"
    broken.write_text(json.dumps({"t": test}))
    result = run(str(broken), "--jobs", "1")
    assert result.returncode == 1
    assert result.stdout.strip().splitlines()[-1] == "0 passed, 1 failed"
    assert "balance" in result.stdout

    test = _load_first(source)
    blocks = test["blocks"]
    assert isinstance(blocks, list)
    blocks[0]["blockHeader"]["gasUsed"] = "0x01"  # the header no longer matches execution
    broken.write_text(json.dumps({"t": test}))
    result = run(str(broken), "--jobs", "1")
    assert result.returncode == 1 and "gas used" in result.stdout


def test_expected_block_exception_must_be_raised(tmp_path: Path) -> None:
    source = BLOCKCHAIN / "prague" / "eip6110_deposits" / "test_invalid_log_length.json"
    test = _load_first(source)
    blocks = test["blocks"]
    assert isinstance(blocks, list) and any("expectException" in b for b in blocks)
    result = run(str(source), "--jobs", "1")
    assert result.returncode == 0, result.stdout
    for block in blocks:
        if "expectException" in block:
            block["expectException"] = ""  # now the (invalid) block must be accepted
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"t": test}))
    result = run(str(broken), "--jobs", "1")
    assert result.returncode == 1
    assert "rejected: deposit event of" in result.stdout


def test_a_differing_engine_is_reported() -> None:
    """The differential check itself: an engine that charges one gas more is caught."""
    from jit.evm.frame import Evm
    from jit.evm.message import execute_code
    from jit.forks import rules_for
    from tests.conformance.engines import first_difference
    from tests.conformance.statetest import FORK_NAMES, run_case

    source = STEXAMPLE / "add11.json"
    _require(source)
    test = next(iter(json.loads(source.read_text()).values()))
    post = test["post"]["Cancun"][0]
    rules = rules_for(FORK_NAMES["Cancun"])

    def greedy(evm: Evm) -> None:
        execute_code(evm)
        evm.gas_left -= 1

    reference = run_case(test, post, rules)
    assert reference.passed and reference.observations
    assert (
        first_difference(reference.observations, run_case(test, post, rules).observations) is None
    )
    other = run_case(test, post, rules, engine=greedy)
    difference = first_difference(reference.observations, other.observations)
    assert difference is not None and difference.startswith("execution 0: gas_used:")


def test_blockchain_tests_on_the_parallel_executor() -> None:
    """Every block crosses to a worker; the multi-sender ones are shared out and merged,
    and the fixtures still judge every result."""
    withdrawals = BLOCKCHAIN / "prague" / "eip7002_el_triggerable_withdrawals"
    _require(withdrawals)
    result = run(str(withdrawals), "--parallel-workers", "2", "--jobs", "1", "--engine", "jit")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    passed = int(lines[-1].split()[0])
    assert lines[-1] == f"{passed} passed, 0 failed" and passed >= 10
    (summary,) = [line for line in lines if line.startswith("parallel executor (2 workers):")]
    shared, _, blocks = summary.split(": ")[1].split(" blocks")[0].partition(" of ")
    assert int(shared) == int(blocks) > 0


def test_a_broken_fixture_fails_on_the_parallel_executor_too(tmp_path: Path) -> None:
    source = BLOCKCHAIN / "cancun" / "eip1153_tstore" / "test_basic_tload_after_store.json"
    test = _load_first(source)
    blocks = test["blocks"]
    assert isinstance(blocks, list)
    blocks[0]["blockHeader"]["gasUsed"] = "0x01"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"t": test}))
    result = run(str(broken), "--jobs", "1", "--parallel-workers", "1")
    assert result.returncode == 1 and "gas used" in result.stdout


def test_amsterdam_devnet_fixtures_run_by_name_one_category_per_eip() -> None:
    """Amsterdam is experimental: its devnet fixtures run only with ``--fork Amsterdam``,
    reported per EIP folder (these two pass on both engines)."""
    devnet = FIXTURES / "eest-devnet" / "amsterdam"
    floor = devnet / "eip7976_increase_calldata_floor_cost" / "eip_mainnet"
    swapn = (
        devnet / "eip8024_dupn_swapn_exchange" / "eip_vectors" / "vector_swapn_invalid_0x61.json"
    )
    for path in (floor, swapn):
        _require(path)
    result = run(str(floor), str(swapn), "--fork", "Amsterdam", "--compare-engines")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().splitlines()[-1] == "6 passed, 0 failed, 0 differences"
    rows = [line.split() for line in result.stdout.splitlines() if line.startswith("blockchain")]
    assert [row[1] for row in rows] == [
        "eip7976_increase_calldata_floor_cost",
        "eip8024_dupn_swapn_exchange",
    ]
    by_default = run(str(floor))
    assert by_default.stdout.strip().splitlines()[-1] == "0 passed, 0 failed"
