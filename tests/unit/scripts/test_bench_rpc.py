"""scripts/bench_rpc.py, the parts that need no node: percentiles, argument checks, transaction
building and signing, and the send plan (lanes, nonces, batches)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from eth_account import Account

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "bench_rpc.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_rpc", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_rpc"] = module
    spec.loader.exec_module(module)
    return module


b = _load()
DEV = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"


# ---------------------------------------------------------------- percentile


def test_percentile_interpolates_like_numpy() -> None:
    values = [float(x) for x in range(1, 101)]
    assert b.percentile(values, 50) == pytest.approx(50.5)
    assert b.percentile(values, 99) == pytest.approx(99.01)
    assert b.percentile(values, 0) == 1.0
    assert b.percentile(values, 100) == 100.0
    assert b.percentile([3.0, 1.0, 2.0], 50) == 2.0  # unsorted input
    assert b.percentile([7.0], 99) == 7.0


@pytest.mark.parametrize("q", [-1.0, 100.5, float("nan")])
def test_percentile_rejects_bad_q(q: float) -> None:
    with pytest.raises(ValueError):
        b.percentile([1.0, 2.0], q)


def test_percentile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no values"):
        b.percentile([], 50)


# ---------------------------------------------------------------- arguments


def test_defaults() -> None:
    args = b.parse_args(["--url", "http://127.0.0.1:8545"])
    assert (args.kind, args.txs, args.clients, args.batch) == (["transfer"], 1000, 8, 20)
    assert args.peers is None


def test_kinds_and_peers_lists() -> None:
    args = b.parse_args(
        ["--peers", "anvil,hardhat3,ours=http://127.0.0.1:8545", "--kind", "erc20,transfer"]
    )
    assert args.peers == [("anvil", None), ("hardhat3", None), ("ours", "http://127.0.0.1:8545")]
    assert args.kind == ["erc20", "transfer"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "one of the arguments --url --peers is required"),
        (["--url", "http://x:1", "--peers", "anvil"], "not allowed with"),
        (["--url", "ftp://x:1"], "is not an http(s) URL"),
        (["--url", "http://x:1", "--txs", "0"], "0 is outside 1..1000000"),
        (["--url", "http://x:1", "--txs", "10000000000"], "is outside 1..1000000"),
        (["--url", "http://x:1", "--txs", "abc"], "'abc' is not an integer"),
        (["--url", "http://x:1", "--txs", "1.5"], "is not an integer"),
        (["--url", "http://x:1", "--clients", "-3"], "-3 is outside"),
        (["--url", "http://x:1", "--batch", "100000"], "is outside 1..10000"),
        (["--url", "http://x:1", "--txs", "4", "--clients", "8"], "more than --txs"),
        (["--url", "http://x:1", "--kind", "nft"], "unknown kind nft"),
        (["--url", "http://x:1", "--kind", ","], "unknown kind"),
        (["--peers", "geth"], "unknown peer 'geth'"),
        (["--peers", "=http://x:1"], "empty label"),
        (["--url", "http://x:1", "--poll-ms", "0"], "--poll-ms 0.0 is outside"),
        (["--url", "http://x:1", "--timeout", "-1"], "--timeout -1.0 is outside"),
        (["--url", "http://x:1", "--txs"], "expected one argument"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        b.parse_args(argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_command_line_refuses_bad_values_without_a_node() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--url", "http://127.0.0.1:1", "--clients", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "--clients: 0 is outside 1..512" in proc.stderr


# ---------------------------------------------------------------- transactions


def test_rlp_known_vectors() -> None:
    assert b.rlp_encode(b"dog") == b"\x83dog"
    assert b.rlp_encode([b"cat", b"dog"]) == b"\xc8\x83cat\x83dog"
    assert b.rlp_encode(b"") == b"\x80"
    assert b.rlp_encode([]) == b"\xc0"
    assert b.rlp_encode(0) == b"\x80"
    assert b.rlp_encode(15) == b"\x0f"
    assert b.rlp_encode(1024) == b"\x82\x04\x00"
    assert b.rlp_encode([[], [[]], [[], [[]]]]) == bytes.fromhex("c7c0c1c0c3c0c1c0")
    long = b"Lorem ipsum dolor sit amet, consectetur adipisicing elit"
    assert b.rlp_encode(long) == b"\xb8\x38" + long
    with pytest.raises(ValueError):
        b.rlp_encode(-1)


def test_dev_key_is_account_zero() -> None:
    key = b.coincurve.PrivateKey(b.DEV_KEY)
    assert b.hexaddr(b.address_of(key)) == DEV.lower()


@pytest.mark.parametrize(
    ("to", "value", "data", "gas"),
    [
        (bytes.fromhex("11" * 20), 1, b"", 21_000),
        (bytes.fromhex("22" * 20), 0, "erc20", 90_000),
        (None, 0, bytes.fromhex("6080604052"), 1_500_000),
    ],
)
def test_signed_transaction_matches_eth_account(
    to: bytes | None, value: int, data: Any, gas: int
) -> None:
    if data == "erc20":
        data = b.erc20_transfer_data(bytes.fromhex("33" * 20), 1)
    key = b.coincurve.PrivateKey(b.DEV_KEY)
    ours = b.sign_1559(
        key,
        chain_id=31337,
        nonce=7,
        max_priority_fee=10**9,
        max_fee=3 * 10**9,
        gas=gas,
        to=to,
        value=value,
        data=data,
    )
    tx: dict[str, Any] = {
        "type": 2,
        "chainId": 31337,
        "nonce": 7,
        "maxPriorityFeePerGas": 10**9,
        "maxFeePerGas": 3 * 10**9,
        "gas": gas,
        "value": value,
        "data": data,
    }
    if to is not None:
        tx["to"] = "0x" + to.hex()
    theirs = Account.from_key(b.DEV_KEY).sign_transaction(tx)
    assert ours.raw == bytes(theirs.raw_transaction)
    assert ours.hash == "0x" + bytes(theirs.hash).hex()
    assert Account.recover_transaction(ours.raw) == DEV
    assert ours.sender == bytes.fromhex(DEV[2:])


def test_abi_call_data() -> None:
    to = bytes.fromhex("ab" * 20)
    data = b.erc20_transfer_data(to, 5)
    assert data[:4].hex() == "a9059cbb" and len(data) == 68
    assert data[4:36] == b"\0" * 12 + to and int.from_bytes(data[36:], "big") == 5
    assert b.balance_of_data(to).hex() == "70a08231" + "00" * 12 + "ab" * 20


def test_derived_keys_are_deterministic_and_salted() -> None:
    a = [k.secret for k in b.derive_keys(1, 0, 3)]
    assert a == [k.secret for k in b.derive_keys(1, 0, 3)]
    assert len(set(a)) == 3
    assert not set(a) & {k.secret for k in b.derive_keys(1, 1, 3)}
    assert not set(a) & {k.secret for k in b.derive_keys(2, 0, 3)}


def test_rpc_body_is_compact_json() -> None:
    body = b.rpc_body("eth_sendRawTransaction", ["0x02"], 9)
    assert body == b'{"jsonrpc":"2.0","id":9,"method":"eth_sendRawTransaction","params":["0x02"]}'


# ---------------------------------------------------------------- plan


def test_split_evenly() -> None:
    assert b.split_evenly(10, 3) == [4, 3, 3]
    assert b.split_evenly(3, 3) == [1, 1, 1]
    assert sum(b.split_evenly(1001, 8)) == 1001


@pytest.mark.parametrize(("txs", "clients", "batch"), [(100, 8, 20), (37, 3, 5), (5, 5, 100)])
def test_plan_lanes(txs: int, clients: int, batch: int) -> None:
    plan = b.plan_lanes(txs, clients, batch)
    for mode in b.MODES:
        assert sum(lane.count for lanes in plan[mode] for lane in lanes) == txs
    assert [lane.sender for lane in plan["sequential"][0]] == [0]
    assert [lanes[0].sender for lanes in plan["closed"]] == list(range(clients))
    burst_senders = [lane.sender for lanes in plan["burst"] for lane in lanes]
    assert len(set(burst_senders)) == len(burst_senders)
    assert not set(burst_senders) & set(range(clients))
    recipients = [lane.recipient for mode in b.MODES for ls in plan[mode] for lane in ls]
    assert len(set(recipients)) == len(recipients)
    for lanes in plan["burst"]:
        assert len(lanes) <= batch
        order = b.interleave(lanes)
        for start in range(0, len(order), batch):
            chunk = order[start : start + batch]
            assert len(set(chunk)) == len(chunk), "a batch holds two txs of one sender"
    totals = b.key_totals(plan)
    assert sum(totals.values()) == 3 * txs


def test_interleave_rejects_uneven_lanes() -> None:
    with pytest.raises(ValueError):
        b.interleave([b.Lane(0, 0, 1), b.Lane(1, 1, 3)])


def test_sign_plan_nonces_run_on_across_modes() -> None:
    lanes = b.plan_lanes(12, 2, 3)
    totals = b.key_totals(lanes)
    senders = b.derive_keys(5, 0, len(totals))
    recipients = [b.address_of(k) for k in b.derive_keys(5, 1, len(totals) + 1)]
    token = bytes.fromhex("44" * 20)
    plan = b.sign_plan("erc20", lanes, senders, recipients, token, 31337, 3 * 10**9)
    seen: dict[bytes, list[int]] = {}
    for mode in b.MODES:
        for signed in plan.work[mode]:
            for tx in signed:
                seen.setdefault(tx.sender, []).append(tx.nonce)
    for nonces in seen.values():
        assert nonces == list(range(len(nonces)))
    sender0 = b.address_of(senders[0])
    assert len(seen[sender0]) == 12 + 6  # sequential, then its closed share
    assert plan.last_nonce["closed"][0] == 17
    first = plan.work["burst"][0][0]
    decoded = Account.recover_transaction(first.raw)
    assert decoded.lower() == b.hexaddr(first.sender)


# ---------------------------------------------------------------- reporting


def _fake_result(tps: float) -> dict[str, Any]:
    mode = {"tps": tps, "p50_ms": 1.0, "p99_ms": 2.0, "seconds": 1.0, "client_cpu_s": 0.1}
    call = {"p50_ms": 0.2, "p99_ms": 0.4}
    return {
        "kind": "transfer",
        "client_version": "x/1",
        "ok": True,
        "client_cpu_s": 1.0,
        "modes": {m: {**mode, "failure_count": 0, "failures": []} for m in b.MODES},
        "calls": {"eth_call": call, "eth_blockNumber": call},
    }


def test_median_and_table() -> None:
    med = b.median_result([_fake_result(100), _fake_result(300), _fake_result(200)])
    assert med["modes"]["closed"]["tps"] == 200
    assert med["runs"] == 3 and med["ok"]
    table = b.format_table([("anvil", med)])
    assert "anvil" in table and "200" in table


def test_merge_of_single_mode_runs() -> None:
    parts = []
    for i, mode in enumerate(b.MODES):
        r = _fake_result(100 + i)
        r["modes"] = {mode: r["modes"][mode]}
        r["calls"] = r["calls"] if mode == "burst" else {}
        r.update(start_block=5 + i, setup_s=1.0, sign_s=0.5, setup_client_cpu_s=0.5, senders=i)
        parts.append(r)
    parts[1]["ok"] = False
    merged = b.merge_results(parts)
    assert list(merged["modes"]) == list(b.MODES)
    assert merged["modes"]["burst"]["tps"] == 102
    assert merged["start_block"] == {"sequential": 5, "closed": 6, "burst": 7}
    assert merged["client_cpu_s"] == 3.0 and merged["setup_s"] == 3.0
    assert not merged["ok"]
    assert "eth_call" in merged["calls"]


async def test_timed_mode_probes_calls_while_the_clients_send() -> None:
    """With a probe, one more client sends its call back to back until the mode's
    clients are done; its latencies are reported, and an error answer is a failure."""
    import asyncio

    import bench_rpc

    class FakeRpc:
        def __init__(self, answer: dict[str, object]) -> None:
            self.answer = answer
            self.posts = 0

        async def post(self, body: bytes) -> dict[str, object]:
            self.posts += 1
            await asyncio.sleep(0.001)
            return self.answer

    async def client(rpc: object, work: object, tally: bench_rpc.Tally) -> None:
        await asyncio.sleep(0.05)

    good = FakeRpc({"result": "0x1"})
    tally = await bench_rpc.timed_mode(
        "burst",
        [object()],
        [[(b"", "0x")]],
        client,
        (good, b"{}"),
    )
    result = tally.result
    assert result.load_calls == good.posts >= 5
    assert 0 < result.load_call_p50_ms <= result.load_call_p99_ms
    assert result.failure_count == 0
    bad = FakeRpc({"error": {"code": -32000, "message": "boom"}})
    failed = await bench_rpc.timed_mode(
        "burst",
        [object()],
        [[(b"", "0x")]],
        client,
        (bad, b"{}"),
    )
    assert failed.result.failure_count == bad.posts
    quiet = await bench_rpc.timed_mode("burst", [object()], [[(b"", "0x")]], client)
    assert quiet.result.load_calls == 0
