"""Replica nodes (issue 18) as real processes: ``hummingbird replica --follow`` bootstraps
from the sequencer, applies its blocks, answers every read as the sequencer does at every
block, forwards writes (sends, dev methods, snapshot/revert) and reads its own writes;
notices a silent sequencer within about a second and recovers; a replica killed with
SIGKILL resumes from its data directory; one started late catches up; bad flags and an
unreachable sequencer are refused clearly."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from tests.integration.node_process import REPO, free_port, hummingbird, replica, rpc

SENDER = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
SINK = "0x" + "62" * 20
# Creation code (PUSH13 runtime, MSTORE, RETURN the 13 bytes) of a contract whose runtime
# emits LOG1(topic 1) and stores CALLVALUE + 1.
EMITTER_RUNTIME = "60015f5fa1" + "3460010160005500"
EMITTER_INIT = "0x6c" + EMITTER_RUNTIME + "5f52600d6013f3"


def call(url: str, method: str, params: list[Any]) -> Any:
    answer = rpc(url, method, params)
    assert isinstance(answer, dict) and "error" not in answer, (method, answer)
    return answer["result"]


def health(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url + "/health", timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_for(predicate: Any, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def same_reads(sequencer: str, replica_url: str, addresses: list[str]) -> None:
    head = int(call(sequencer, "eth_blockNumber", []), 16)
    assert call(replica_url, "eth_blockNumber", []) == hex(head)
    for number in range(head + 1):
        tag = hex(number)
        ours = call(replica_url, "eth_getBlockByNumber", [tag, True])
        theirs = call(sequencer, "eth_getBlockByNumber", [tag, True])
        assert ours == theirs, number
        assert call(replica_url, "eth_getBlockReceipts", [tag]) == call(
            sequencer, "eth_getBlockReceipts", [tag]
        )
        for address in addresses:
            for method, params in (
                ("eth_getBalance", [address, tag]),
                ("eth_getTransactionCount", [address, tag]),
                ("eth_getCode", [address, tag]),
                ("eth_getStorageAt", [address, "0x0", tag]),
            ):
                assert call(replica_url, method, params) == call(sequencer, method, params)
    logs = [{"fromBlock": "0x0", "toBlock": "latest"}]
    assert call(replica_url, "eth_getLogs", logs) == call(sequencer, "eth_getLogs", logs)


def test_replica_follows_forwards_and_answers_as_the_sequencer(tmp_path: Path) -> None:
    with hummingbird(tmp_path) as seq, replica(tmp_path, seq.ws_url, "--verify-execution") as rep:
        # Writes through the replica: forwarded, then readable on the replica at once.
        tx = call(rep.url, "eth_sendTransaction", [{"from": SENDER, "to": SINK, "value": "0x5"}])
        assert call(rep.url, "eth_getBalance", [SINK, "latest"]) == "0x5"
        receipt = call(rep.url, "eth_getTransactionReceipt", [tx])
        assert receipt == call(seq.url, "eth_getTransactionReceipt", [tx])
        created = call(rep.url, "eth_sendTransaction", [{"from": SENDER, "data": EMITTER_INIT}])
        emitter = call(rep.url, "eth_getTransactionReceipt", [created])["contractAddress"]
        assert call(rep.url, "eth_getCode", [emitter, "latest"]) == "0x" + EMITTER_RUNTIME
        call(rep.url, "eth_sendTransaction", [{"from": SENDER, "to": emitter, "value": "0x2"}])
        call(rep.url, "anvil_setBalance", [SINK, "0x64"])
        call(rep.url, "evm_mine", [])
        assert call(rep.url, "eth_getBalance", [SINK, "latest"]) == "0x64"
        snapshot = call(rep.url, "evm_snapshot", [])
        call(rep.url, "eth_sendTransaction", [{"from": SENDER, "to": SINK, "value": "0x1"}])
        assert call(rep.url, "evm_revert", [snapshot]) is True
        assert call(rep.url, "eth_getBalance", [SINK, "latest"]) == "0x64"
        call(seq.url, "eth_sendTransaction", [{"from": SENDER, "to": SINK, "value": "0x3"}])
        wait_for(
            lambda: call(rep.url, "eth_blockNumber", []) == call(seq.url, "eth_blockNumber", []),
            "the replica to catch up",
        )
        same_reads(seq.url, rep.url, [SENDER, SINK, emitter])
        # The pool lives on the sequencer: pending nonces come from it.
        assert call(rep.url, "eth_getTransactionCount", [SENDER, "pending"]) == call(
            seq.url, "eth_getTransactionCount", [SENDER, "pending"]
        )
        request = [{"to": emitter, "value": "0x0"}, "latest"]
        assert call(rep.url, "eth_call", request) == call(seq.url, "eth_call", request)
        # (Waited for, not asserted at once: a loaded machine may pause a heartbeat.)
        wait_for(lambda: health(rep.url)[0] == 200, "a healthy replica")
        # Every live block came signed by the sequencer's mini-block key, and was checked.
        assert (
            health(rep.url)[1]["signedBlocks"] >= int(call(seq.url, "eth_blockNumber", []), 16) - 1
        )
        wait_for(lambda: call(rep.url, "eth_syncing", []) is False, "eth_syncing false")
        # /metrics: the replica's lag gauge and the blocks it applied (issue 21).
        with urllib.request.urlopen(rep.url + "/metrics", timeout=5) as response:
            scrape = response.read().decode()
        assert "hummingbird_replica_lag_blocks 0.0" in scrape
        assert 'hummingbird_rpc_calls_total{method="eth_syncing",outcome="ok"}' in scrape

        # A silent sequencer (stopped): noticed within about a second, then recovered.
        seq.process.send_signal(signal.SIGSTOP)
        try:
            stopped = time.monotonic()
            wait_for(lambda: health(rep.url)[0] == 503, "a 503 from /health", 5.0)
            noticed = time.monotonic() - stopped
            status = health(rep.url)[1]
            assert status["stalled"] and not status["ok"]
            syncing = call(rep.url, "eth_syncing", [])
            assert isinstance(syncing, dict) and "highestBlock" in syncing
        finally:
            seq.process.send_signal(signal.SIGCONT)
        assert noticed < 2.0, noticed
        wait_for(lambda: health(rep.url)[0] == 200, "the replica to recover")
        call(rep.url, "eth_sendTransaction", [{"from": SENDER, "to": SINK, "value": "0x4"}])
        same_reads(seq.url, rep.url, [SENDER, SINK])


def test_replica_restarts_and_late_replicas_catch_up(tmp_path: Path) -> None:
    with hummingbird(tmp_path) as seq:
        for _ in range(5):
            call(seq.url, "eth_sendTransaction", [{"from": SENDER, "to": SINK, "value": "0x1"}])
        with replica(tmp_path, seq.ws_url, ephemeral=False) as rep:
            wait_for(lambda: call(rep.url, "eth_blockNumber", []) == hex(5), "the catch-up")
            rep.process.send_signal(signal.SIGKILL)
            rep.process.wait()
        for _ in range(5):
            call(seq.url, "eth_sendTransaction", [{"from": SENDER, "to": SINK, "value": "0x1"}])
        # Resumed with --verify-execution: every block executed again before it is applied.
        with replica(tmp_path, seq.ws_url, "--verify-execution", ephemeral=False) as rep:
            wait_for(lambda: call(rep.url, "eth_blockNumber", []) == hex(10), "the resume")
            assert health(rep.url)[1]["failed"] is None
            same_reads(seq.url, rep.url, [SENDER, SINK])
        # A second, late replica from scratch, with a worker process for simulations.
        with replica(tmp_path, seq.ws_url, "--workers", "1", name="late") as late:
            wait_for(lambda: call(late.url, "eth_blockNumber", []) == hex(10), "the late one")
            same_reads(seq.url, late.url, [SENDER, SINK])
            call(seq.url, "eth_sendTransaction", [{"from": SENDER, "to": SINK, "value": "0x1"}])
            wait_for(lambda: call(late.url, "eth_blockNumber", []) == hex(11), "a live block")
            transfer = {"from": SENDER, "to": SINK, "value": "0x1"}
            assert call(late.url, "eth_estimateGas", [transfer]) == "0x5208"
            request = [{"to": "0x" + "00" * 19 + "04", "data": "0xbeef"}, "latest"]
            assert call(late.url, "eth_call", request) == "0xbeef"


def _replica_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rpc.cli", "replica", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_bad_replica_flags(tmp_path: Path) -> None:
    assert "--follow" in _replica_command().stderr  # required
    bad = _replica_command("--follow", "http://127.0.0.1:8545", "--ephemeral")
    assert bad.returncode == 2 and "ws:// or wss://" in bad.stderr
    workers = _replica_command("--follow", "ws://127.0.0.1:1", "--workers", "-1", "--ephemeral")
    assert workers.returncode == 2 and "--workers must be in" in workers.stderr
    for flag, value, message in (
        ("--port", "0", "--port must be in"),
        ("--port", "70000", "--port must be in"),
        ("--history-window", "-1", "--history-window must be in"),
    ):
        bad_flag = _replica_command("--follow", "ws://127.0.0.1:1", flag, value, "--ephemeral")
        assert bad_flag.returncode == 2 and message in bad_flag.stderr, bad_flag.stderr
    closed = _replica_command(
        "--follow", f"ws://127.0.0.1:{free_port()}", "--ephemeral", "--port", str(free_port())
    )
    assert closed.returncode == 2 and "cannot reach the sequencer" in closed.stderr
    with hummingbird(tmp_path) as seq:
        port = str(free_port())
        with replica(tmp_path, seq.ws_url, ephemeral=True) as first:
            again = _replica_command("--follow", first.ws_url, "--ephemeral", "--port", port)
            assert again.returncode == 2 and "is a replica itself" in again.stderr


def test_replica_survives_a_sequencer_killed_and_restarted(tmp_path: Path) -> None:
    """SIGKILL of the sequencer at a random moment of a load: the replica notices, backs
    off, reconnects to the restarted sequencer (same data directory and port) and ends
    equal to it; the transactions acknowledged before the kill are in both."""
    import random
    import threading

    port = free_port()
    rng = random.Random(7)
    acknowledged: list[str] = []
    with (
        hummingbird(tmp_path, ephemeral=False, port=port) as seq,
        replica(tmp_path, seq.ws_url) as rep,
    ):
        stop = threading.Event()

        def load() -> None:
            while not stop.is_set():
                try:
                    answer = rpc(
                        seq.url,
                        "eth_sendTransaction",
                        [{"from": SENDER, "to": SINK, "value": "0x1"}],
                    )
                except OSError:
                    return
                if isinstance(answer, dict) and "result" in answer:
                    acknowledged.append(answer["result"])

        sender = threading.Thread(target=load)
        sender.start()
        time.sleep(rng.uniform(0.3, 1.0))
        seq.process.send_signal(signal.SIGKILL)
        seq.process.wait()
        stop.set()
        sender.join()
        wait_for(lambda: health(rep.url)[0] == 503, "the replica to notice", 5.0)
        with hummingbird(tmp_path, ephemeral=False, port=port) as again:
            call(again.url, "eth_sendTransaction", [{"from": SENDER, "to": SINK, "value": "0x2"}])
            wait_for(lambda: health(rep.url)[0] == 200, "the replica to reconnect", 15.0)
            wait_for(
                lambda: (
                    call(rep.url, "eth_blockNumber", []) == call(again.url, "eth_blockNumber", [])
                ),
                "the replica to catch up",
            )
            same_reads(again.url, rep.url, [SENDER, SINK])
            for tx_hash in acknowledged:
                assert call(rep.url, "eth_getTransactionReceipt", [tx_hash]) is not None


def test_replica_of_a_two_tier_sequencer_follows_its_evm_blocks(tmp_path: Path) -> None:
    """A two-tier (MegaETH-mode) sequencer: the replica gets its sealed EVM blocks (the
    registry edit, Rex5 gas and all) and answers for them as the sequencer does; a
    realtime send through the replica is forwarded and preconfirmed by the sequencer."""
    with (
        hummingbird(tmp_path, "--megaeth", "--evm-block-time", "200ms") as seq,
        replica(tmp_path, seq.ws_url) as rep,
    ):
        raw = call(
            seq.url,
            "eth_signTransaction",
            [{"from": SENDER, "to": SINK, "value": "0x9", "gas": hex(60_000), "nonce": "0x0"}],
        )
        receipt = call(rep.url, "realtime_sendRawTransaction", [raw])
        assert receipt["blockHash"] == "0x" + "ff" * 32  # the sequencer's preconfirmation
        sealed = int(receipt["blockNumber"], 16)
        wait_for(lambda: int(call(rep.url, "eth_blockNumber", []), 16) >= sealed, "the EVM block")
        wait_for(
            lambda: call(rep.url, "eth_blockNumber", []) == call(seq.url, "eth_blockNumber", []),
            "the same head",
        )
        assert call(rep.url, "eth_chainId", []) == hex(4326)
        same_reads(seq.url, rep.url, [SENDER, SINK, "0x6342000000000000000000000000000000000006"])
        found = call(rep.url, "eth_getTransactionReceipt", [receipt["transactionHash"]])
        assert found["gasUsed"] == hex(60_000) and found["blockHash"] != "0x" + "ff" * 32


def test_replica_serves_the_realtime_subscriptions(tmp_path: Path) -> None:
    """A replica's own subscribers get what the sequencer's do: signed ``miniBlocks`` (the
    sequencer's signature, checked by the replica and kept), ``stateChanges`` from the
    applied diff, and ``newHeads``."""
    import asyncio

    import aiohttp

    from tests.integration.test_two_tier import mini_block_signed_by

    async def watch(rep_ws: str, seq_url: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with aiohttp.ClientSession() as session, session.ws_connect(rep_ws) as ws:
            ids = {}
            for name, params in (
                ("mini", ["miniBlocks"]),
                ("state", ["stateChanges", [SINK]]),
                ("heads", ["newHeads"]),
            ):
                await ws.send_json(
                    {"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": params}
                )
                ids[(await ws.receive_json(timeout=10))["result"]] = name
            await asyncio.to_thread(
                call, seq_url, "eth_sendTransaction", [{"from": SENDER, "to": SINK, "value": "0x7"}]
            )
            while len(out) < 3:
                note = await ws.receive_json(timeout=10)
                out.setdefault(ids[note["params"]["subscription"]], note["params"]["result"])
        return out

    with hummingbird(tmp_path) as seq, replica(tmp_path, seq.ws_url) as rep:
        info = json.loads(urllib.request.urlopen(seq.url, timeout=5).read())
        out = asyncio.run(watch(rep.ws_url, seq.url))
        block = call(seq.url, "eth_getBlockByNumber", ["latest", False])
    assert out["heads"]["hash"] == block["hash"]
    assert out["mini"]["block_number"] == block["number"]
    assert mini_block_signed_by(out["mini"], info["sequencer"])
    assert out["state"]["address"] == SINK and out["state"]["balance"] == "0x7"


def test_replica_follows_a_two_tier_sequencers_mini_blocks(tmp_path: Path) -> None:
    """Preconfirmations replicated: a replica of a two-tier sequencer answers ``latest``
    state and preconfirmed receipts as the sequencer does before the EVM block seals (its
    mini-blocks arrive signed, their roots and signatures checked); a replica that starts
    meanwhile gets the open block so far; the seal replaces them with the sealed block."""
    placeholder = "0x" + "ff" * 32

    def signed(url: str, nonce: int, value: int) -> str:
        tx = {"from": SENDER, "to": SINK, "value": hex(value), "gas": "0x5208", "nonce": hex(nonce)}
        raw = call(url, "eth_signTransaction", [tx])
        assert isinstance(raw, str)
        return raw

    with (
        hummingbird(tmp_path, "--evm-block-time", "3600") as seq,
        replica(tmp_path, seq.ws_url) as rep,
    ):
        first = call(seq.url, "realtime_sendRawTransaction", [signed(seq.url, 0, 5)])
        assert first["blockHash"] == placeholder
        wait_for(
            lambda: (
                call(rep.url, "eth_getTransactionReceipt", [first["transactionHash"]]) is not None
            ),
            "the preconfirmation on the replica",
        )
        assert call(rep.url, "eth_getTransactionReceipt", [first["transactionHash"]]) == call(
            seq.url, "eth_getTransactionReceipt", [first["transactionHash"]]
        )
        second = call(seq.url, "realtime_sendRawTransaction", [signed(seq.url, 1, 6)])
        wait_for(
            lambda: call(rep.url, "eth_getBalance", [SINK, "latest"]) == hex(11),
            "the second mini-block",
        )
        for url in (rep.url,):
            assert call(url, "eth_getTransactionReceipt", [second["transactionHash"]]) == second
            assert call(url, "eth_blockNumber", []) == call(seq.url, "eth_blockNumber", [])
            assert (
                call(url, "eth_getBalance", [SINK, call(seq.url, "eth_blockNumber", [])]) == "0x0"
            )
        # A replica that starts now gets the open block so far.
        with replica(tmp_path, seq.ws_url, name="late") as late:
            wait_for(
                lambda: call(late.url, "eth_getBalance", [SINK, "latest"]) == hex(11),
                "the open block's snapshot",
            )
            assert (
                call(late.url, "eth_getTransactionReceipt", [second["transactionHash"]]) == second
            )
        # A send through the replica: readable on the replica as soon as it answers.
        third = call(rep.url, "realtime_sendRawTransaction", [signed(seq.url, 2, 1)])
        assert third["blockHash"] == placeholder
        assert call(rep.url, "eth_getTransactionReceipt", [third["transactionHash"]]) == third
        assert call(rep.url, "eth_getBalance", [SINK, "latest"]) == hex(12)
        assert health(rep.url)[1]["signedBlocks"] >= 3  # every mini-block's signature checked
        # The seal: the sealed EVM block replaces the preconfirmations.
        call(seq.url, "evm_mine", [])
        wait_for(
            lambda: call(rep.url, "eth_blockNumber", []) == call(seq.url, "eth_blockNumber", []),
            "the sealed block",
        )
        sealed = call(rep.url, "eth_getTransactionReceipt", [first["transactionHash"]])
        assert sealed["blockHash"] != placeholder
        assert sealed == call(seq.url, "eth_getTransactionReceipt", [first["transactionHash"]])
        same_reads(seq.url, rep.url, [SENDER, SINK])


def test_replica_bootstraps_from_a_snapshot_past_the_window(tmp_path: Path) -> None:
    """Block 0 has left the sequencer's history window (``--history-window 5``): the
    replica starts from a snapshot of its head (the whole state and the 256 blocks
    before it) and follows from there; state below the snapshot is unavailable on it."""
    with hummingbird(tmp_path, "--history-window", "5") as seq:
        for value in range(1, 16):
            call(
                seq.url, "eth_sendTransaction", [{"from": SENDER, "to": SINK, "value": hex(value)}]
            )
        with replica(tmp_path, seq.ws_url) as rep:
            head = int(call(seq.url, "eth_blockNumber", []), 16)
            assert call(rep.url, "eth_blockNumber", []) == hex(head)
            for address in (SENDER, SINK):
                assert call(rep.url, "eth_getBalance", [address, "latest"]) == call(
                    seq.url, "eth_getBalance", [address, "latest"]
                )
            for number in (0, 1, head - 1, head):  # the blocks before it came too
                assert call(rep.url, "eth_getBlockByNumber", [hex(number), False]) == call(
                    seq.url, "eth_getBlockByNumber", [hex(number), False]
                )
            below = rpc(rep.url, "eth_getBalance", [SINK, hex(head - 1)])
            assert isinstance(below, dict) and "error" in below
            call(seq.url, "eth_sendTransaction", [{"from": SENDER, "to": SINK, "value": "0x1"}])
            wait_for(
                lambda: call(rep.url, "eth_blockNumber", []) == hex(head + 1), "the next block"
            )
            assert call(rep.url, "eth_getBalance", [SINK, "latest"]) == call(
                seq.url, "eth_getBalance", [SINK, "latest"]
            )
            wait_for(lambda: health(rep.url)[0] == 200, "a healthy replica")
