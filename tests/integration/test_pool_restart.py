"""A real node process keeps its acknowledged pool across SIGKILL and SIGTERM (issue 14:
every future-nonce transaction answered with a hash used to be gone after a restart)."""

from __future__ import annotations

import json
import signal
import time
import urllib.request
from pathlib import Path

from sequencer.config import DEFAULT_MNEMONIC
from sequencer.genesis import dev_accounts
from tests.integration.node_process import hummingbird, rpc
from tests.unit.sequencer.test_pool_validity import transfer

KEY = dev_accounts(DEFAULT_MNEMONIC, 1)[0].private_key


def send_batch(url: str, raws: list[bytes]) -> list[dict[str, object]]:
    body = json.dumps(
        [
            {
                "jsonrpc": "2.0",
                "id": i,
                "method": "eth_sendRawTransaction",
                "params": ["0x" + r.hex()],
            }
            for i, r in enumerate(raws)
        ]
    ).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        answers: list[dict[str, object]] = json.loads(response.read())
    return answers


def status(url: str) -> tuple[int, int]:
    result = rpc(url, "txpool_status")["result"]  # type: ignore[index]
    return int(result["pending"], 16), int(result["queued"], 16)  # type: ignore[index]


def test_queued_transactions_survive_sigkill_and_sigterm(tmp_path: Path) -> None:
    first = [transfer(KEY, nonce) for nonce in range(1, 301)]  # nonce 0 missing: queued
    second = [transfer(KEY, nonce) for nonce in range(301, 401)]
    with hummingbird(tmp_path, ephemeral=False) as node:
        answers = send_batch(node.url, [tx.encode() for tx in first])
        assert [a["result"] for a in answers] == ["0x" + tx.hash.hex() for tx in first]
        node.process.send_signal(signal.SIGKILL)  # right after the answers
        node.process.wait()
    with hummingbird(tmp_path, ephemeral=False) as node:
        assert status(node.url) == (0, 300)
        answers = send_batch(node.url, [tx.encode() for tx in second])
        assert all("result" in a for a in answers)
    with hummingbird(tmp_path, ephemeral=False) as node:  # after a clean SIGTERM
        assert status(node.url) == (0, 400)
        gap = transfer(KEY, 0)
        assert send_batch(node.url, [gap.encode()])[0]["result"] == "0x" + gap.hash.hex()
        deadline = time.monotonic() + 20
        while status(node.url) != (0, 0):
            assert time.monotonic() < deadline, status(node.url)
            time.sleep(0.05)
        receipt = rpc(node.url, "eth_getTransactionReceipt", ["0x" + second[-1].hash.hex()])
        assert receipt["result"] is not None  # type: ignore[index]
        node.process.send_signal(signal.SIGKILL)
        node.process.wait()
    with hummingbird(tmp_path, ephemeral=False) as node:  # mined: nothing comes back
        assert status(node.url) == (0, 0)
        sender = "0x" + transfer(KEY, 0).sender.hex()
        count = rpc(node.url, "eth_getTransactionCount", [sender, "latest"])
        assert int(count["result"], 16) == 401  # type: ignore[index]
