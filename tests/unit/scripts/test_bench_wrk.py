"""scripts/bench_wrk.py, the parts that need no node and no wrk: argument checks, the send plan
(disjoint per-thread slices, nonce order, groups), the bodies file send_raw.lua reads, the mined
rate from polled samples, the Lua result summary, /proc CPU of a process tree and the ratios."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import rlp
from eth_account import Account

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "bench_wrk.py"
LUA = ROOT / "scripts" / "wrk" / "send_raw.lua"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_wrk", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_wrk"] = module
    spec.loader.exec_module(module)
    return module


b = _load()


# ---------------------------------------------------------------- arguments


def test_defaults() -> None:
    args = b.parse_args([])
    assert args.targets == ["hummingbird-w1", "hummingbird-w0", "anvil"]
    assert args.kind == ["transfer", "erc20"]
    assert (args.txs, args.senders, args.threads, args.connections) == (20_000, 256, 1, 32)
    assert (args.batch, args.duration, args.poll_ms, args.max_fee_gwei) == (1, 60, 50, 10)
    assert args.json is None and args.keep is None and args.engine is None


def test_flags_select_targets_and_kinds() -> None:
    args = b.parse_args(
        ["--targets", "anvil, hummingbird-w0,anvil", "--kind", "erc20", "-t", "2", "-c", "8"]
    )
    assert args.targets == ["anvil", "hummingbird-w0"]  # deduplicated, in the given order
    assert args.kind == ["erc20"]
    assert (args.threads, args.connections) == (2, 8)
    args = b.parse_args(
        ["--batch", "4", "--connections", "64", "--senders", "256", "--txs", "+256"]
    )
    assert (args.batch, args.txs) == (4, 256)


@pytest.mark.parametrize(
    "argv",
    [
        ["--txs", "0"],
        ["--txs", "-5"],
        ["--txs", "1e3"],
        ["--txs", "lots"],
        ["--txs", ""],
        ["--txs", "+-5"],
        ["--txs", "9" * 40],  # huge
        ["--txs", "1000001"],
        ["--txs", "１２"],  # non-ASCII digits
        ["--txs", "0x10"],
        ["--txs", "100"],  # fewer than the 256 senders
        ["--senders", "0"],
        ["--senders", "10001"],
        ["--threads", "0"],
        ["--threads", "65"],
        ["--connections", "0"],
        ["--connections", "4097"],
        ["--threads", "2", "--connections", "3"],  # not a multiple
        ["--threads", "4", "--connections", "2"],  # fewer connections than threads
        ["--connections", "512"],  # 256 senders make 256 groups: too few for 512 connections
        ["--batch", "20"],  # 256 senders / 20 = 13 groups for 32 connections
        ["--batch", "0"],
        ["--batch", "1001"],
        ["--senders", "4", "--batch", "8", "--connections", "1", "--txs", "8"],
        ["--duration", "0"],
        ["--duration", "3601"],
        ["--duration", "nan"],
        ["--duration", "inf"],
        ["--poll-ms", "1"],
        ["--settle", "0"],
        ["--seed", "-1"],
        ["--max-fee-gwei", "1"],
        ["--max-fee-gwei", "10000", "--txs", "1000000"],  # 8.1M ether of funding
        ["--wrk-timeout", "61"],
        ["--targets", ""],
        ["--targets", ","],
        ["--targets", "hardhat2"],
        ["--targets", "anvil;rm -rf /"],
        ["--targets", "anvil,$(reboot)"],
        ["--kind", "burst"],
        ["--kind", "transfer\nerc20"],
        ["--engine", "evil"],
        ["--wrk", "/nonexistent/wrk"],
        ["--wrk", "wrk --help; reboot"],
        ["--json", "a\nb"],
        ["--bogus"],
    ],
)
def test_bad_arguments_are_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        b.parse_args(argv)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_plan_problems_explain_the_fix() -> None:
    assert b.plan_problems(1000, 256, 1, 32, 1) == []
    [msg] = b.plan_problems(1000, 64, 1, 32, 4)  # 16 groups, 32 connections
    assert "16 sender groups" in msg and "at least 128" in msg
    assert b.plan_problems(1000, 128, 1, 32, 4) == []
    assert any("multiple" in m for m in b.plan_problems(1000, 256, 3, 32, 1))
    assert any("fewer than --senders" in m for m in b.plan_problems(10, 256, 1, 32, 1))


def test_missing_wrk_says_how_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(b.shutil, "which", lambda name: None)
    assert b.main(["--txs", "256"]) == 2
    err = capsys.readouterr().err
    assert "apt-get install -y wrk" in err and "--wrk" in err


# ---------------------------------------------------------------- the send plan


SHAPES = [
    # txs, senders, threads, connections, batch
    (1, 1, 1, 1, 1),
    (256, 256, 1, 32, 1),
    (1000, 256, 1, 32, 1),
    (1001, 256, 2, 64, 1),
    (999, 64, 4, 4, 16),
    (5000, 256, 2, 16, 8),
    (7, 3, 2, 2, 1),  # senders not a multiple of threads
    (100, 10, 1, 3, 3),  # a short last group
]


@pytest.mark.parametrize(("txs", "senders", "threads", "connections", "batch"), SHAPES)
def test_plan_slices_are_disjoint_and_ordered(
    txs: int, senders: int, threads: int, connections: int, batch: int
) -> None:
    assert b.plan_problems(txs, senders, threads, connections, batch) == []
    bodies = b.plan_bodies(txs, senders, threads, batch)
    b.check_plan(bodies, txs)  # every (sender, nonce) once, nonce order, one slice per sender
    assert [x.seq for x in bodies] == list(range(1, len(bodies) + 1))
    assert [x.thread for x in bodies] == sorted(x.thread for x in bodies)  # file sorted by thread
    assert {x.thread for x in bodies} == set(range(threads))
    thread_of: dict[int, int] = {}
    group_of: dict[int, int] = {}
    groups_of_thread: dict[int, set[int]] = {}
    per_sender: dict[int, int] = {}
    for body in bodies:
        assert 1 <= len(body.items) <= batch
        groups_of_thread.setdefault(body.thread, set()).add(body.group)
        for s, _nonce in body.items:
            assert thread_of.setdefault(s, body.thread) == body.thread
            assert group_of.setdefault(s, body.group) == body.group
            per_sender[s] = per_sender.get(s, 0) + 1
    assert sorted(per_sender) == list(range(senders))
    assert max(per_sender.values()) - min(per_sender.values()) <= 1  # an even split
    # No group in two threads, and every thread has a free group for each of its connections.
    all_groups = [g for gs in groups_of_thread.values() for g in gs]
    assert len(all_groups) == len(set(all_groups))
    assert min(len(gs) for gs in groups_of_thread.values()) >= connections // threads
    # Ids name their body: seq * 1000 + position, unique over the plan.
    ids = [i for body in bodies for i in body.ids()]
    assert len(ids) == len(set(ids)) == txs
    assert all(i // b.ID_STRIDE == body.seq for body in bodies for i in body.ids())


def test_plan_layout_of_a_small_case() -> None:
    # 6 transactions, 3 senders (2, 2, 2), 1 thread, batches of 2: groups {0, 1} and {2}.
    bodies = b.plan_bodies(6, 3, 1, 2)
    assert [(x.group, x.items) for x in bodies] == [
        (0, ((0, 0), (1, 0))),
        (0, ((0, 1), (1, 1))),
        (1, ((2, 0),)),
        (1, ((2, 1),)),
    ]
    # Uneven counts (3, 2, 2): the group's last body holds only the sender with a third one.
    bodies = b.plan_bodies(7, 3, 2, 1)
    assert [(x.thread, x.group, x.items) for x in bodies] == [
        (0, 0, ((0, 0),)),
        (0, 0, ((0, 1),)),
        (0, 0, ((0, 2),)),
        (0, 1, ((1, 0),)),
        (0, 1, ((1, 1),)),
        (1, 2, ((2, 0),)),
        (1, 2, ((2, 1),)),
    ]


def test_check_plan_catches_broken_plans() -> None:
    body = b.Body
    with pytest.raises(AssertionError, match="nonce 1 where 0"):
        b.check_plan([body(0, 0, 1, ((0, 1),))], 1)
    with pytest.raises(AssertionError, match="two slices"):
        b.check_plan([body(0, 0, 1, ((0, 0),)), body(1, 1, 2, ((0, 1),))], 2)
    with pytest.raises(AssertionError, match="twice"):
        b.check_plan([body(0, 0, 1, ((0, 0), (0, 1)))], 2)
    with pytest.raises(AssertionError, match="1 transactions planned, 2 asked"):
        b.check_plan([body(0, 0, 1, ((0, 0),))], 2)


# ---------------------------------------------------------------- the bodies file


def test_render_single_and_batch_bodies() -> None:
    one = b.Body(0, 0, 7, ((3, 0),))
    text = b.render_body(one, [b"\x02\xab"], 1)
    assert json.loads(text) == {
        "jsonrpc": "2.0",
        "id": 7000,
        "method": "eth_sendRawTransaction",
        "params": ["0x02ab"],
    }
    two = b.Body(1, 4, 9, ((5, 2), (6, 2)))
    batch = json.loads(b.render_body(two, [b"\x01", b"\x02"], 2))
    assert [x["id"] for x in batch] == [9000, 9001]
    assert [x["params"] for x in batch] == [["0x01"], ["0x02"]]
    # A short last round of a batched group is still a batch.
    assert json.loads(b.render_body(one, [b"\x01"], 4))[0]["id"] == 7000
    with pytest.raises(ValueError, match="1 raw transactions for 2"):
        b.render_body(two, [b"\x01"], 2)


def test_bodies_file_round_trip(tmp_path: Path) -> None:
    bodies = b.plan_bodies(10, 4, 2, 2)
    path = tmp_path / "bodies.txt"
    with path.open("wb") as f:
        f.write(b.bodies_header({"threads": 2, "bodies": len(bodies), "kind": "transfer"}))
        for body in bodies:
            raws = [bytes([s, n]) for s, n in body.items]
            f.write(b.body_line(body, b.render_body(body, raws, 2)))
    fields, lines = b.read_bodies(path)
    assert fields == {"threads": "2", "bodies": str(len(bodies)), "kind": "transfer"}
    assert path.read_bytes().startswith(b"HBWRK1\tthreads=2\t")
    assert len(lines) == len(bodies)
    for (thread, group, seq, ntx, text), body in zip(lines, bodies):
        assert (thread, group, seq, ntx) == (body.thread, body.group, body.seq, len(body.items))
        assert [x["id"] for x in json.loads(text)] == body.ids()


def test_bodies_file_refuses_line_breaks_and_bad_headers(tmp_path: Path) -> None:
    body = b.Body(0, 0, 1, ((0, 0),))
    with pytest.raises(ValueError, match="line break"):
        b.body_line(body, b'{"a":\n1}')
    with pytest.raises(ValueError, match="bad header"):
        b.bodies_header({"kind": "a\tb"})
    with pytest.raises(ValueError, match="bad header"):
        b.bodies_header({"no good": 1})
    bad = tmp_path / "x.txt"
    bad.write_bytes(b"GET / HTTP/1.1\n")
    with pytest.raises(ValueError, match="not a bodies file"):
        b.read_bodies(bad)


@pytest.mark.parametrize("kind", ["transfer", "erc20"])
def test_signed_bodies_carry_each_senders_nonces(kind: str, tmp_path: Path) -> None:
    keys = b.sender_keys(3, 4)
    bodies = b.plan_bodies(9, 4, 2, 2)
    token = bytes(range(20))
    path = tmp_path / "bodies.txt"
    b.sign_bodies(kind, bodies, keys, 31337, token, 10 * 10**9, 2, 3, path, 2)
    fields, lines = b.read_bodies(path)
    assert fields["kind"] == kind and fields["txs"] == "9" and fields["chain_id"] == "31337"
    next_nonce: dict[str, int] = {}
    recipients = set()
    for _thread, _group, _seq, _ntx, text in lines:
        for item in json.loads(text):
            raw = bytes.fromhex(item["params"][0][2:])
            assert raw[0] == 2  # EIP-1559
            sender = Account.recover_transaction(raw).lower()
            fields_ = rlp.decode(raw[1:])
            chain_id, nonce = (int.from_bytes(x, "big") for x in fields_[:2])
            gas, to = int.from_bytes(fields_[4], "big"), fields_[5]
            assert chain_id == 31337
            assert nonce == next_nonce.get(sender, 0)
            next_nonce[sender] = nonce + 1
            if kind == "transfer":
                assert gas == 21_000 and int.from_bytes(fields_[6], "big") == 1
                recipients.add(to)
            else:
                assert gas == 90_000 and to == token
                recipients.add(fields_[7][16:36])  # transfer(to, 1): the address word
    assert sorted(next_nonce) == sorted(b.hexaddr(b.address_of(k)) for k in keys)
    assert sum(next_nonce.values()) == 9
    assert len(recipients) == 9  # a fresh recipient per transaction


# ---------------------------------------------------------------- mined rate


def test_mined_rate_of_a_steady_ramp() -> None:
    # 1,000 tx/s from t0 = 100.0 for 2 s, sampled every 50 ms, then flat.
    samples = [(100.0 + i * 0.05, max(0, min(2000, i * 50))) for i in range(-4, 60)]
    r = b.mined_rate(samples, 100.0, 2000)
    assert r["mined"] == 2000 and r["complete"]
    assert r["steady_tx_s"] == pytest.approx(1000.0)
    assert r["overall_tx_s"] == pytest.approx(1000.0)
    assert r["all_mined_s"] == pytest.approx(2.0)
    assert r["last_mined_s"] == pytest.approx(2.0)


def test_mined_rate_leaves_out_a_slow_tail() -> None:
    # 900 in the first second, then the last 100 over 10 s: steady sees the fast part.
    samples = [(0.0, 0), (0.5, 450), (1.0, 900)] + [(1.0 + k, 900 + 10 * k) for k in range(1, 11)]
    r = b.mined_rate(samples, 0.0, 1000)
    assert r["overall_tx_s"] == pytest.approx(1000 / 11)
    assert r["all_mined_s"] == pytest.approx(11.0)
    assert r["steady_tx_s"] == pytest.approx(900.0)  # 10% (100) at 1/9 s, 90% (900) at 1 s


def test_mined_rate_incomplete_and_empty() -> None:
    r = b.mined_rate([(0.0, 0), (1.0, 10), (2.0, 20)], 0.0, 100)
    assert not r["complete"] and r["all_mined_s"] is None
    assert r["overall_tx_s"] == pytest.approx(10.0)
    for samples in ([], [(0.0, 0), (5.0, 0)]):
        r = b.mined_rate(samples, 0.0, 10)
        assert r["mined"] == 0 and r["steady_tx_s"] is None and r["overall_tx_s"] is None


def test_mined_rate_is_robust_to_order_and_dips() -> None:
    samples = [(2.0, 200), (0.0, 0), (1.0, 100), (1.5, 90)]  # unsorted; a dip is ignored
    r = b.mined_rate(samples, 0.0, 200)
    assert r["mined"] == 200 and r["all_mined_s"] == pytest.approx(2.0)
    # All mined in the first sample after t0: no interval for a steady rate.
    r = b.mined_rate([(1.0, 50)], 0.0, 50)
    assert r["overall_tx_s"] == pytest.approx(50.0) and r["steady_tx_s"] is None


@pytest.mark.parametrize("samples", [[(float("nan"), 1)], [(0.0, -1)], [(float("inf"), 3)]])
def test_mined_rate_refuses_bad_samples(samples: list[tuple[float, int]]) -> None:
    with pytest.raises(ValueError, match="bad sample"):
        b.mined_rate(samples, 0.0, 1)


def test_mined_rate_refuses_bad_levels() -> None:
    with pytest.raises(ValueError, match="bad levels"):
        b.mined_rate([(0.0, 1)], 0.0, 1, lo=0.9, hi=0.1)


# ---------------------------------------------------------------- wrk and Lua results


def _lua_result() -> dict[str, Any]:
    thread = {
        "tid": 0,
        "n_planned_bodies": 10,
        "n_planned_txs": 20,
        "n_bodies_sent": 10,
        "n_txs_sent": 20,
        "n_bodies_answered": 10,
        "n_txs_answered": 20,
        "n_error_bodies": 1,
        "n_error_txs": 2,
        "n_http_errors": 0,
        "n_unmatched": 0,
        "n_bad": 1,
        "n_fillers": 3,
        "t_first": 1000.0,
        "t_last_answer": 1002.0,
        "error_samples": ['HTTP 200: [{"error":{"code":-32000}}]'],
        "lat_us": [1000, 3000, 2000],
    }
    other = dict(thread, tid=1, n_error_bodies=0, n_error_txs=0, n_bad=0, error_samples=[])
    other.update(t_first=999.0, t_last_answer=1001.0, lat_us=[4000])
    return {
        "version": 1,
        "duration_us": 5_000_000,
        "requests": 26,
        "socket_errors": {"connect": 0, "read": 1, "write": 0, "status": 0, "timeout": 0},
        "latency_us": {"p50": 2500, "p99": 4000},
        "threads": [thread, other],
    }


def test_summarize_lua() -> None:
    s = b.summarize_lua(_lua_result())
    assert (s["planned_txs"], s["sent_txs"], s["accepted_txs"]) == (40, 40, 38)
    assert s["send_window_s"] == pytest.approx(3.0)  # 999.0 to 1002.0
    assert s["accepted_tx_s"] == pytest.approx(38 / 3)
    assert s["accepted_req_s"] == pytest.approx(20 / 3)
    assert s["body_latency_ms"]["p50"] == pytest.approx(2.5)
    assert s["body_latency_ms"]["max"] == pytest.approx(4.0)
    assert s["wrk_latency_ms"] == {"p50": 2.5, "p99": 4.0}
    assert s["errors"]["total"] == 2  # one bad answer, one socket read error
    assert s["errors"]["jsonrpc_error_txs"] == 2
    assert s["errors"]["samples"] == ['HTTP 200: [{"error":{"code":-32000}}]']
    assert s["fillers"] == 6


def test_summarize_lua_of_a_run_that_sent_nothing() -> None:
    s = b.summarize_lua({"threads": [{"tid": 0}]})
    assert s["accepted_tx_s"] is None and s["send_window_s"] is None
    assert s["body_latency_ms"]["p50"] is None and s["errors"]["total"] == 0


def test_parse_wrk_stdout() -> None:
    text = (
        "Running 5s test @ http://127.0.0.1:8545/\n  1 threads and 32 connections\n"
        "  20000 requests in 5.00s, 3.1MB read\nRequests/sec:   4000.25\nTransfer/sec: 600KB\n"
    )
    assert b.parse_wrk_stdout(text)["requests_per_s"] == pytest.approx(4000.25)
    assert b.parse_wrk_stdout("unable to connect")["requests_per_s"] is None


def test_wrk_command_passes_the_slice_arguments(tmp_path: Path) -> None:
    args = b.parse_args(["-t", "2", "-c", "64", "-d", "7"])
    argv = b.wrk_command(args, "/usr/bin/wrk", "http://127.0.0.1:9", tmp_path / "b", tmp_path / "r")
    assert argv[:9] == ["/usr/bin/wrk", "-t", "2", "-c", "64", "-d", "7s", "-T", "5s"]
    assert argv[argv.index("-s") + 1] == str(b.LUA_SCRIPT)
    tail = argv[argv.index("--") :]
    assert tail == ["--", f"bodies={tmp_path / 'b'}", f"result={tmp_path / 'r'}", "conns=32"]


def test_lua_script_matches_the_python_side() -> None:
    text = LUA.read_text()
    for name in ("function setup(", "function init(", "function request(", "function response("):
        assert name in text
    assert "function done(" in text and "function delay(" in text
    assert f"local ID_STRIDE = {b.ID_STRIDE}" in text
    assert f'"{b.BODIES_MAGIC}"' in text
    assert '"error"' in text  # response() counts JSON-RPC errors


# ---------------------------------------------------------------- /proc and ratios


def test_proc_stat_fields_with_a_hostile_comm() -> None:
    fields = ["S", "77", "4242", "4242"] + ["0"] * 7 + ["250", "50", "7", "3"] + ["0"] * 30
    ppid, ticks = b.proc_stat_fields("4242 (evil) name (x)) " + " ".join(fields))
    assert (ppid, ticks) == (77, 310.0)


def test_tree_cpu_seconds_sums_descendants_only(tmp_path: Path) -> None:
    hz = os.sysconf("SC_CLK_TCK")

    def proc(pid: int, ppid: int, ticks: int, comm: str = "x") -> None:
        d = tmp_path / str(pid)
        d.mkdir()
        fields = ["S", str(ppid)] + ["0"] * 9 + [str(ticks), "0", "0", "0"] + ["0"] * 30
        (d / "stat").write_text(f"{pid} ({comm}) " + " ".join(fields))

    proc(10, 1, hz)  # the node
    proc(11, 10, 2 * hz, "a) (b")  # its worker
    proc(12, 11, 3 * hz)  # the worker's child
    proc(20, 1, 100 * hz)  # someone else
    (tmp_path / "self").mkdir()
    assert b.tree_cpu_seconds(10, tmp_path) == pytest.approx(6.0)
    assert b.tree_cpu_seconds(11, tmp_path) == pytest.approx(5.0)
    assert b.tree_cpu_seconds(99, tmp_path) == 0.0
    assert b.tree_cpu_seconds(os.getpid()) > 0
    assert sorted(b.process_tree(10, tmp_path)) == [10, 11, 12]
    assert b.pids_cpu_seconds([10, 12, 99], tmp_path) == pytest.approx(4.0)  # 99: gone, 0


def test_cpu_at_last_mined() -> None:
    samples = [(0.0, 0, 1.0), (1.0, 50, 2.0), (2.0, 100, 3.0), (3.0, 100, 9.0)]
    assert b.cpu_at_last_mined(samples) == 3.0  # not the 9.0 of idling or spinning afterwards
    assert b.cpu_at_last_mined(list(reversed(samples))) == 3.0
    assert b.cpu_at_last_mined([]) is None


def test_ratios() -> None:
    def r(target: str, kind: str, mined: float | None, accepted: float) -> dict[str, Any]:
        return {
            "target": target,
            "kind": kind,
            "mined_steady_tx_s": mined,
            "mined_overall_tx_s": mined,
            "accepted_tx_s": accepted,
            "complete": target != "anvil",
        }

    rows = b.ratios(
        [
            r("hummingbird-w1", "transfer", 3000.0, 3000.0),
            r("hummingbird-w0", "transfer", 2000.0, 2500.0),
            r("anvil", "transfer", 1000.0, 10000.0),
            r("anvil", "erc20", 500.0, 800.0),
            r("hummingbird-w1", "erc20", None, 900.0),
        ]
    )
    by = {(x["kind"], x["ratio"]): x for x in rows}
    assert by[("transfer", "hummingbird-w1/anvil")]["mined_steady_tx_s"] == pytest.approx(3.0)
    assert by[("transfer", "hummingbird-w1/anvil")]["accepted_tx_s"] == pytest.approx(0.3)
    assert by[("transfer", "hummingbird-w0/anvil")]["mined_steady_tx_s"] == pytest.approx(2.0)
    assert by[("transfer", "hummingbird-w1/hummingbird-w0")]["mined_steady_tx_s"] == 1.5
    assert by[("erc20", "hummingbird-w1/anvil")]["mined_steady_tx_s"] is None
    assert ("erc20", "hummingbird-w0/anvil") not in by
    assert by[("transfer", "hummingbird-w1/anvil")]["incomplete"] == ["anvil"]
    assert by[("transfer", "hummingbird-w1/hummingbird-w0")]["incomplete"] == []
    text = b.format_ratios(rows)
    assert "hummingbird-w1/anvil" in text and "did not mine all it sent: anvil" in text


# ---------------------------------------------------------------- send_raw.lua in LuaJIT

# send_raw.lua driven without wrk: LuaJIT (the library wrk links) through ctypes, a mock of
# wrk's API, and C connections whose answers come back in random order. The trace says what was
# sent ("S<id>", id 0 = filler) and answered ("A<id>"), in order.
HARNESS = """
local script, bodies, result, conns, nthreads, me, seed, bad_seq = %s
wrk = { headers = { Host = "127.0.0.1:1" }, path = "/",
        format = function(method, path, headers, body) return body end,
        thread = { stop = function(self) stopped = true end } }
stopped = false
dofile(script)
local mock = { set = function(self, k, v) _G[k] = v end, get = function(self, k) return _G[k] end }
for t = 0, me do setup(mock) end          -- wrk calls setup() once per thread, in order
init({ [0] = "http://127.0.0.1:1/", "bodies=" .. bodies, "result=" .. result,
       "conns=" .. conns })
local trace, inflight = {}, {}
if me == 0 then trace[1] = "V" .. request():match('"id":(%%d+)') end  -- wrk's check call
math.randomseed(seed)
local steps = 0
while not stopped and steps < 200000 do
   steps = steps + 1
   if #inflight < conns and (#inflight == 0 or math.random() < 0.5) then
      if delay then delay() end
      local req = request()
      local id = req:match('"id":(%%d+)')
      inflight[#inflight + 1] = id
      trace[#trace + 1] = "S" .. id
   else
      local id = table.remove(inflight, math.random(#inflight))
      local seq = math.floor(tonumber(id) / 1000)
      local body = '{"jsonrpc":"2.0","id":' .. id .. ',"result":"0x1"}'
      if seq == bad_seq then
         body = '{"jsonrpc":"2.0","id":' .. id .. ',"error":{"code":-32000,"message":"x"}}'
      end
      response(200, {}, body)
      trace[#trace + 1] = "A" .. id
   end
end
local lat = { min = 1, max = 9, mean = 5, stdev = 1,
              percentile = function(self, p) return p * 10 end }
done({ duration = 2000000, requests = 7, bytes = 0,
       errors = { connect = 0, read = 0, write = 0, status = 0, timeout = 0 } }, lat, nil)
return table.concat(trace, ",")
"""


def _run_lua(code: str) -> str:
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("luajit-5.1")
    if name is None:
        pytest.skip("no LuaJIT library (it comes with `apt-get install wrk`)")
    lj = ctypes.CDLL(name)
    lj.luaL_newstate.restype = ctypes.c_void_p
    lj.luaL_openlibs.argtypes = [ctypes.c_void_p]
    lj.luaL_loadstring.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lj.lua_pcall.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int]
    lj.lua_tolstring.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p]
    lj.lua_tolstring.restype = ctypes.c_char_p
    lj.lua_close.argtypes = [ctypes.c_void_p]
    state = lj.luaL_newstate()
    try:
        lj.luaL_openlibs(state)
        rc = lj.luaL_loadstring(state, code.encode()) or lj.lua_pcall(state, 0, 1, 0)
        text = (lj.lua_tolstring(state, -1, None) or b"").decode()
        if rc:
            raise AssertionError(f"Lua error: {text}")
        return text
    finally:
        lj.lua_close(state)


def _lua_args(*values: Any) -> str:
    def lit(v: Any) -> str:
        if isinstance(v, str):
            assert '"' not in v and "\\" not in v
            return f'"{v}"'
        return str(v)

    return ", ".join(lit(v) for v in values)


def _write_plan(tmp_path: Path, txs: int, senders: int, threads: int, batch: int) -> list[Any]:
    bodies = b.plan_bodies(txs, senders, threads, batch)
    with (tmp_path / "bodies.txt").open("wb") as f:
        f.write(b.bodies_header({"threads": threads, "bodies": len(bodies)}))
        for body in bodies:
            f.write(b.body_line(body, b.render_body(body, [b"\x02"] * len(body.items), batch)))
    return bodies


@pytest.mark.parametrize(
    ("txs", "senders", "threads", "conns", "batch", "me", "seed"),
    [
        (200, 16, 1, 1, 1, 0, 1),
        (200, 16, 1, 8, 1, 0, 2),
        (200, 16, 1, 16, 1, 0, 3),
        (300, 32, 2, 4, 4, 0, 4),
        (300, 32, 2, 4, 4, 1, 5),
        (301, 33, 3, 3, 5, 2, 6),
    ],
)
def test_send_raw_lua_sends_each_body_once_in_nonce_order(
    tmp_path: Path, txs: int, senders: int, threads: int, conns: int, batch: int, me: int, seed: int
) -> None:
    bodies = _write_plan(tmp_path, txs, senders, threads, batch)
    result = tmp_path / "result.json"
    code = HARNESS % _lua_args(
        str(LUA), str(tmp_path / "bodies.txt"), str(result), conns, threads, me, seed, -1
    )
    trace = _run_lua(code).split(",")
    mine = {x.seq: x for x in bodies if x.thread == me}
    if me == 0:
        assert trace[0] == "V0"  # wrk's check call got a filler, not a body
        trace = trace[1:]
    sent: list[int] = []
    busy: set[int] = set()  # groups with a body in flight
    last_seq: dict[int, int] = {}
    for event in trace:
        kind, rid = event[0], int(event[1:])
        seq = rid // b.ID_STRIDE
        if rid == 0:
            continue  # filler
        assert seq in mine, f"body {seq} is not in thread {me}'s slice"
        group = mine[seq].group
        if kind == "S":
            assert group not in busy, f"two bodies of group {group} in flight"
            assert seq > last_seq.get(group, 0), "a group's bodies out of order"
            busy.add(group)
            last_seq[group] = seq
            sent.append(seq)
        else:
            busy.discard(group)
    assert sorted(sent) == sorted(mine)  # every body of the slice once, nothing else
    assert (tmp_path / f"result.json.done.{me}").exists()  # finished: marker written
    res = json.loads(result.read_text())
    assert len(res["threads"]) == me + 1  # the mock's threads all read this one state
    s = b.summarize_lua({**res, "threads": res["threads"][:1]})
    n_tx = sum(len(x.items) for x in mine.values())
    assert s["sent_txs"] == s["accepted_txs"] == n_tx
    assert s["errors"]["total"] == 0
    assert len(res["threads"][0]["lat_us"]) == len(mine)
    assert res["latency_us"]["p99"] == 990


def test_send_raw_lua_counts_jsonrpc_errors(tmp_path: Path) -> None:
    _write_plan(tmp_path, 40, 8, 1, 2)
    result = tmp_path / "result.json"
    code = HARNESS % _lua_args(str(LUA), str(tmp_path / "bodies.txt"), str(result), 2, 1, 0, 7, 3)
    _run_lua(code)
    s = b.summarize_lua(json.loads(result.read_text()))
    assert s["errors"]["jsonrpc_error_bodies"] == 1
    assert s["errors"]["total"] == 1
    assert s["accepted_txs"] == 40 - 1  # body 3's one "error" (the mock answers one object)
    assert "-32000" in s["errors"]["samples"][0]


def test_send_raw_lua_refuses_a_file_that_is_not_bodies(tmp_path: Path) -> None:
    bad = tmp_path / "bodies.txt"
    bad.write_text("GET / HTTP/1.1\n")
    code = HARNESS % _lua_args(str(LUA), str(bad), str(tmp_path / "r"), 1, 1, 0, 1, -1)
    with pytest.raises(AssertionError, match=r"not a bench_wrk\.py bodies file"):
        _run_lua(code)


def test_the_logged_target_is_w1_without_quiet() -> None:
    quiet, _ = b.node_command("hummingbird-w1", 9000, None)
    logged, _ = b.node_command("hummingbird-w1-log", 9000, "jit")
    assert "--quiet" in quiet and "--quiet" not in logged
    assert logged[logged.index("--workers") + 1] == "1" and logged[-2:] == ["--engine", "jit"]
    assert [arg for arg in quiet if arg != "--quiet"] == logged[:-2]


def test_native_runs_reach_the_node_and_are_bounded() -> None:
    argv, _ = b.node_command("hummingbird-w1", 9000, "auto", 0)
    assert argv[-4:] == ["--engine", "auto", "--native-runs", "0"]
    assert "--native-runs" not in b.node_command("hummingbird-w1", 9000, None)[0]
    parser = b.build_parser()
    assert parser.parse_args(["--native-runs", "3"]).native_runs == 3
    for bad in ("-1", "x", "9" * 30):
        with pytest.raises(SystemExit):
            parser.parse_args(["--native-runs", bad])
