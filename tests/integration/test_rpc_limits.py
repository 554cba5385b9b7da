"""The RPC timeout and gas cap on a real node process: an endless eth_call is stopped with
geth's error while other clients and block production carry on (issue 14)."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from pathlib import Path

from tests.integration.node_process import hummingbird, rpc

LOOPER = "0x" + "0a" * 20
LOOP_OVERRIDE = {LOOPER: {"code": "0x5b600056"}}  # JUMPDEST PUSH1 0 JUMP


def post(url: str, body: object, timeout: float = 30) -> object:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def test_an_endless_call_is_stopped_and_the_node_keeps_serving(tmp_path: Path) -> None:
    # Prague has no per-transaction gas cap and --rpc-gas-cap 0 lifts ours: only the
    # timeout can stop this call.
    args = ("--hardfork", "prague", "--gas-limit", str(2**40), "--rpc-gas-cap", "0")
    with hummingbird(tmp_path, *args, "--rpc-timeout", "400ms") as node:
        answers: list[object] = []
        call = {
            "jsonrpc": "2.0",
            "id": 7,
            "method": "eth_call",
            "params": [{"to": LOOPER}, "latest", LOOP_OVERRIDE],
        }
        caller = threading.Thread(target=lambda: answers.append(post(node.url, [call, call])))
        started = time.monotonic()
        caller.start()
        time.sleep(0.1)
        latencies = []
        while caller.is_alive() and time.monotonic() - started < 10:
            t = time.perf_counter()
            assert "result" in rpc(node.url, "eth_blockNumber")  # type: ignore[operator]
            latencies.append(time.perf_counter() - t)
            time.sleep(0.01)
        caller.join(10)
        elapsed = time.monotonic() - started
        error = {"code": -32000, "message": "execution aborted (timeout = 0.4s)"}
        assert answers == [[{"jsonrpc": "2.0", "id": 7, "error": error}] * 2]
        assert 0.8 <= elapsed < 5  # each item of the batch had its own 0.4 s
        assert latencies and max(latencies) < 1.0  # answered while the calls ran
        # the node is whole afterwards: a plain call still works
        view = {LOOPER: {"code": "0x602a60005260206000f3"}}
        answer = rpc(node.url, "eth_call", [{"to": LOOPER}, "latest", view])
        assert answer["result"] == "0x" + "00" * 31 + "2a"  # type: ignore[index]


def test_the_gas_cap_holds_over_a_block_gas_limit_override(tmp_path: Path) -> None:
    with hummingbird(tmp_path, "--hardfork", "prague", "--rpc-gas-cap", "1000000") as node:
        big = hex(2**31)
        answer = rpc(
            node.url,
            "eth_estimateGas",
            [{"to": LOOPER, "gas": big}, "latest", LOOP_OVERRIDE, {"gasLimit": big}],
        )
        assert answer["error"] == {  # type: ignore[index]
            "code": -32000,
            "message": "gas required exceeds allowance (1000000)",
        }
