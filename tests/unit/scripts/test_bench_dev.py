"""scripts/bench_dev.py, the parts that need no node: argument checks, the statistics, the fill
plan and the filler contract's code, /proc/PID/stat parsing and the summaries."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "bench_dev.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_dev", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_dev"] = module
    spec.loader.exec_module(module)
    return module


b = _load()


# ---------------------------------------------------------------- arguments


def test_defaults_are_the_issue_sizes() -> None:
    args = b.parse_args(["--node", "anvil"])
    assert (args.blocks, args.keys, args.rounds, args.accounts) == (10_000, 100_000, 50, 100_000)
    assert args.url is None and args.json is None


def test_url_and_flags_parse() -> None:
    args = b.parse_args(
        ["--url", "http://127.0.0.1:8545", "--blocks", "10", "--keys", "0", "--json", "o.json"]
    )
    assert args.url == "http://127.0.0.1:8545"
    assert (args.blocks, args.keys, args.json) == (10, 0, Path("o.json"))


@pytest.mark.parametrize(
    "argv",
    [
        [],  # neither --url nor --node
        ["--url", "http://127.0.0.1:8545", "--node", "anvil"],
        ["--node", "geth"],
        ["--url", "http://localhost:8545"],
        ["--url", "http://10.0.0.1:8545"],
        ["--url", "http://127.0.0.1.evil.com:8545"],
        ["--url", "https://127.0.0.1:8545"],
        ["--url", "http://127.0.0.1"],
        ["--url", "http://127.0.0.1:99999"],
        ["--url", "http://user:pw@127.0.0.1:8545"],
        ["--url", "ftp://127.0.0.1:21"],
        ["--node", "anvil", "--blocks", "0"],
        ["--node", "anvil", "--blocks", "-5"],
        ["--node", "anvil", "--blocks", "1e3"],
        ["--node", "anvil", "--blocks", "lots"],
        ["--node", "anvil", "--blocks", "1000001"],
        ["--node", "anvil", "--keys", "-1"],
        ["--node", "anvil", "--rounds", "0"],
        ["--node", "anvil", "--accounts", "10000001"],
        ["--node", "anvil", "--batch", "0"],
        ["--node", "anvil", "--dump-rounds", "101"],
        ["--node", "anvil", "--timeout", "0"],
        ["--node", "anvil", "--timeout", "nan"],
        ["--node", "anvil", "--timeout", "inf"],
        ["--node", "anvil", "--timeout", "-1"],
    ],
)
def test_bad_arguments_are_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        b.parse_args(argv)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


# ---------------------------------------------------------------- statistics


def test_summarize() -> None:
    s = b.summarize([0.001 * x for x in range(1, 11)], node_cpu_s=0.05)
    assert s.calls == 10
    assert s.median_ms == pytest.approx(5.5)
    assert s.p90_ms == pytest.approx(9.1)
    assert s.mean_ms == pytest.approx(5.5)
    assert (s.min_ms, s.max_ms) == (pytest.approx(1.0), pytest.approx(10.0))
    assert s.node_cpu_ms_per_call == pytest.approx(5.0)
    assert b.summarize([0.002]).node_cpu_ms_per_call is None
    one = b.summarize([0.002])
    assert one.median_ms == one.p90_ms == one.min_ms == one.max_ms == pytest.approx(2.0)


@pytest.mark.parametrize("samples", [[], [-0.001], [math.nan], [math.inf]])
def test_summarize_refuses_bad_samples(samples: list[float]) -> None:
    with pytest.raises(ValueError):
        b.summarize(samples)


# ---------------------------------------------------------------- the chain plan


def test_fill_plan() -> None:
    assert b.fill_plan(10_000, 100_000) == [10] * 10_000
    assert b.fill_plan(3, 10) == [4, 3, 3]
    assert b.fill_plan(5, 0) == [0] * 5
    plan = b.fill_plan(2, 5_000, max_per_tx=1_000)
    assert len(plan) == 5 and sum(plan) == 5_000 and max(plan) <= 1_000
    for blocks, keys in ((1, 1), (7, 12_345), (100, 99)):
        p = b.fill_plan(blocks, keys)
        assert sum(p) == keys and len(p) >= blocks and max(p) - min(p) <= 1
    with pytest.raises(ValueError):
        b.fill_plan(0, 5)


def test_filler_gas_fits_a_30m_block() -> None:
    assert b.filler_gas(b.MAX_SLOTS_PER_TX) < 30_000_000


def test_batch_size_keeps_a_batch_under_half_a_block() -> None:
    assert b.batch_size(250, 21_000, 30_000_000) == 250
    assert b.batch_size(250, 253_000, 30_000_000) == 59
    assert b.batch_size(250, 40_000_000, 30_000_000) == 1
    assert b.batch_size(250, 0, 30_000_000) == 250


def test_filler_contract_writes_its_slots() -> None:
    """The runtime, run on pyrevm: slots start..start+count-1 get i + 1, nothing else."""
    pyrevm = pytest.importorskip("pyrevm")
    evm = pyrevm.EVM()
    caller = "0x" + "11" * 20
    evm.set_balance(caller, 10**20)
    contract = evm.deploy(caller, b.init_code(b.FILLER_RUNTIME))
    evm.message_call(caller, contract, calldata=b.filler_call(7, 3), gas=b.filler_gas(3))
    assert [evm.storage(contract, i) for i in range(6, 11)] == [0, 8, 9, 10, 0]
    assert evm.basic(contract).code.startswith(b.FILLER_RUNTIME)  # pyrevm pads it


def test_init_code_and_calldata() -> None:
    code = b.init_code(b"\x00\x01")
    assert code == bytes.fromhex("6002600c60003960026000f3") + b"\x00\x01"
    assert b.filler_call(1, 2) == (1).to_bytes(32, "big") + (2).to_bytes(32, "big")
    with pytest.raises(ValueError):
        b.filler_call(-1, 2)
    with pytest.raises(ValueError):
        b.init_code(b"")


def test_bench_addresses_are_distinct_and_seeded() -> None:
    a = [b.bench_address(1, i) for i in range(1000)]
    assert len(set(a)) == 1000 and all(len(x) == 20 for x in a)
    assert b.bench_address(2, 0) != a[0]


# ---------------------------------------------------------------- /proc and messages


def test_parse_proc_stat_with_a_hostile_comm() -> None:
    fields = ["S", "1", "4242", "4242"] + ["0"] * 7 + ["250", "50"] + ["0"] * 30
    line = "4242 (evil) name (x)) " + " ".join(fields)
    assert b.parse_proc_stat(line, 100) == pytest.approx(3.0)
    assert b.proc_pgrp(line) == 4242


def test_group_cpu_seconds_of_this_process_group() -> None:
    import os

    assert b.group_cpu_seconds(os.getpgrp()) > 0
    assert b.group_cpu_seconds(2**31 - 2) == 0.0  # no such group


def test_missing_method_message_is_clear() -> None:
    err = {"code": -32601, "message": "the method anvil_dumpState does not exist"}
    text = b.missing_method_message("hummingbird", "anvil_dumpState", err)
    assert text.startswith("hummingbird does not answer anvil_dumpState")
    assert "-32601" in text and "dev methods" in text


def test_human_summary() -> None:
    stats: dict[str, Any] = {"median_ms": 0.2, "p90_ms": 0.3, "node_cpu_ms_per_call": None}
    result = {
        "client_version": "anvil/v1.7.1",
        "chain": {"blocks": 10_000, "state_keys": 100_000},
        "evm_snapshot": stats,
        "evm_revert": dict(stats, node_cpu_ms_per_call=1.5),
        "accounts": {"count": 100_000},
        "dump": {"median_s": 1.25, "gzip_bytes": 5_000_000, "json_bytes": 50_000_000},
        "load": {"median_s": 2.5},
        "ok": True,
    }
    line = b.human_summary(result)
    assert "\n" not in line
    assert line.startswith("anvil/v1.7.1: 10,000 blocks, 100,000 slots: evm_snapshot p50 0.20 ms")
    assert "cpu 1.50 ms" in line and "anvil_dumpState 1.25 s (5.0 MB gzip, 50.0 MB JSON)" in line
    assert "FAILED" in b.human_summary(dict(result, ok=False))
