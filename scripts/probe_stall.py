"""Stall probe (issue 14's "Measured"): does one heavy request hold up everyone else?

Against one node on 127.0.0.1 (``--url``, or ``--node hummingbird|anvil`` started here on a
free port, Hummingbird with ``--extra`` flags appended):

1. **quiet**: ``--quiet-calls`` sequential ``eth_call``s of a tiny view (a state-override
   contract that returns one word) on one keep-alive connection: p50 / p99.
2. **stall**: one client posts ONE JSON-RPC batch of ``--heavy`` ``eth_call``s of an infinite
   loop (``JUMPDEST PUSH1 0 JUMP`` as state-override code, no gas given, so the node's call gas
   cap bounds each). While it runs, a second client polls ``eth_blockNumber`` every
   ``--poll-ms`` on its own connection, and a third sends pre-signed transfers from a dev
   account one after another (``eth_sendRawTransaction``, then ``eth_getTransactionReceipt``
   until it is mined) and times send -> receipt. Reported: the batch's wall time and how its
   items ended (out of gas / timeout / other), blockNumber latency p50/p99/max, transfer
   send->receipt p50/p99/max and how many were mined, all measured only while the batch ran.
3. **override**: one ``eth_call`` of the loop with ``gas`` and ``blockOverrides.gasLimit`` of
   2**31 (a cap that an override could lift would let it run 2**31 gas): its wall time and
   answer.

Prints one JSON object (``--json OUT`` also writes it). Exit status 0 when the run completed
(the figures are judged by the reader against the issue's targets; ``--check`` makes the exit
status 1 when blockNumber p99 > 20 ms, send->receipt p99 > 30 ms or quiet eth_call p50 > 0.5 ms).

Usage::

    python scripts/probe_stall.py --node hummingbird
    python scripts/probe_stall.py --node hummingbird --extra "--hardfork prague"
    python scripts/probe_stall.py --node anvil
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import coincurve
import orjson

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _p in (str(HERE), str(ROOT)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from bench_rpc import DEV_KEY, address_of, machine, percentile, sign_1559  # noqa: E402

LOOP_CODE = "0x5b600056"  # JUMPDEST PUSH1 0 JUMP: runs until the gas is gone
VIEW_CODE = "0x602a60005260206000f3"  # returns the word 42
LOOP_ADDRESS = "0x" + "00" * 19 + "aa"
VIEW_ADDRESS = "0x" + "00" * 19 + "bb"
RECIPIENT = bytes.fromhex("5e11de00000000000000000000000000000000ff")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def started(kind: str, extra: list[str]) -> Iterator[str]:
    """anvil through scripts/peers; Hummingbird as ``python -m rpc.cli --ephemeral``."""
    from peers.start import exit_on_sigterm, start_peer

    exit_on_sigterm()  # a killed probe still ends its node
    port = free_port()
    if kind == "anvil":
        with start_peer(kind, port) as url:
            yield url
        return
    argv = [sys.executable, "-m", "rpc.cli", "--ephemeral", "--quiet", "--port", str(port)]
    process = subprocess.Popen(
        [*argv, *extra], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"hummingbird exited with {process.returncode}")
            try:
                with urllib.request.urlopen(
                    urllib.request.Request(
                        url,
                        b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}',
                        {"Content-Type": "application/json"},
                    ),
                    timeout=2,
                ):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("hummingbird did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Client:
    """One keep-alive HTTP connection."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1),
            timeout=aiohttp.ClientTimeout(total=600),
            json_serialize=lambda o: orjson.dumps(o).decode(),
        )
        self.next_id = 0

    async def post(self, body: Any) -> Any:
        async with self.session.post(
            self.url, data=orjson.dumps(body), headers={"Content-Type": "application/json"}
        ) as response:
            return orjson.loads(await response.read())

    async def call(self, method: str, params: list[Any]) -> Any:
        self.next_id += 1
        answer = await self.post(
            {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}
        )
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    async def close(self) -> None:
        await self.session.close()


def stats_ms(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"count": 0}
    return {
        "count": len(values),
        "p50_ms": round(percentile(values, 50) * 1000, 3),
        "p99_ms": round(percentile(values, 99) * 1000, 3),
        "max_ms": round(max(values) * 1000, 3),
    }


async def quiet_calls(url: str, count: int) -> dict[str, Any]:
    client = Client(url)
    params = [{"to": VIEW_ADDRESS}, "latest", {VIEW_ADDRESS: {"code": VIEW_CODE}}]
    try:
        for _ in range(20):  # warm-up (connection, JIT)
            await client.call("eth_call", params)
        times = []
        for _ in range(count):
            started_at = time.perf_counter()
            result = await client.call("eth_call", params)
            times.append(time.perf_counter() - started_at)
            assert int(result, 16) == 42, result
        return stats_ms(times)
    finally:
        await client.close()


def outcome_of(item: dict[str, Any]) -> str:
    if "result" in item:
        return "result"
    message = str(item.get("error", {}).get("message", ""))
    if "timeout" in message:
        return "timeout"
    if "out of gas" in message or "gas" in message:
        return "out of gas"
    return "other: " + message[:80]


async def stall(url: str, heavy: int, poll_ms: float, chain_id: int) -> dict[str, Any]:
    batch = [
        {
            "jsonrpc": "2.0",
            "id": i,
            "method": "eth_call",
            "params": [{"to": LOOP_ADDRESS}, "latest", {LOOP_ADDRESS: {"code": LOOP_CODE}}],
        }
        for i in range(heavy)
    ]
    heavy_client, poll_client, tx_client = Client(url), Client(url), Client(url)
    key = coincurve.PrivateKey(DEV_KEY)
    sender = "0x" + address_of(key).hex()
    nonce = int(await tx_client.call("eth_getTransactionCount", [sender, "pending"]), 16)
    base_fee = int(await tx_client.call("eth_gasPrice", []), 16)
    done = asyncio.Event()
    poll_times: list[float] = []
    tx_times: list[float] = []
    unmined = 0

    async def poll() -> None:
        while not done.is_set():
            started_at = time.perf_counter()
            await poll_client.call("eth_blockNumber", [])
            poll_times.append(time.perf_counter() - started_at)
            await asyncio.sleep(poll_ms / 1000)

    async def transfers() -> None:
        nonlocal nonce, unmined
        while not done.is_set():
            tx = sign_1559(
                key,
                chain_id=chain_id,
                nonce=nonce,
                max_priority_fee=10**9,
                max_fee=base_fee * 4 + 10**9,
                gas=21_000,
                to=RECIPIENT,
                value=1,
            )
            nonce += 1
            started_at = time.perf_counter()
            await tx_client.call("eth_sendRawTransaction", ["0x" + tx.raw.hex()])
            while True:
                receipt = await tx_client.call("eth_getTransactionReceipt", [tx.hash])
                if receipt is not None:
                    break
                if time.perf_counter() - started_at > 30:
                    unmined += 1
                    break
                await asyncio.sleep(0.001)
            tx_times.append(time.perf_counter() - started_at)
            await asyncio.sleep(0.01)

    try:
        pollers = [asyncio.ensure_future(poll()), asyncio.ensure_future(transfers())]
        await asyncio.sleep(0.2)
        poll_times.clear()
        tx_times.clear()
        started_at = time.perf_counter()
        answers = await heavy_client.post(batch)
        batch_seconds = time.perf_counter() - started_at
        done.set()
        await asyncio.gather(*pollers)
    finally:
        for client in (heavy_client, poll_client, tx_client):
            await client.close()
    outcomes: dict[str, int] = {}
    for item in answers if isinstance(answers, list) else [answers]:
        kind = outcome_of(item)
        outcomes[kind] = outcomes.get(kind, 0) + 1
    return {
        "heavy_calls": heavy,
        "batch_seconds": round(batch_seconds, 3),
        "batch_outcomes": outcomes,
        "block_number": stats_ms(poll_times),
        "send_to_receipt": stats_ms(tx_times),
        "transfers_not_mined": unmined,
    }


async def override(url: str) -> dict[str, Any]:
    client = Client(url)
    big = hex(2**31)
    params = [
        {"to": LOOP_ADDRESS, "gas": big},
        "latest",
        {LOOP_ADDRESS: {"code": LOOP_CODE}},
        {"gasLimit": big},
    ]
    try:
        started_at = time.perf_counter()
        answer = await client.post(
            {"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": params}
        )
        return {
            "seconds": round(time.perf_counter() - started_at, 3),
            "answer": answer.get("error", answer.get("result")),
        }
    finally:
        await client.close()


async def probe(url: str, args: argparse.Namespace) -> dict[str, Any]:
    client = Client(url)
    try:
        chain_id = int(await client.call("eth_chainId", []), 16)
        version = await client.call("web3_clientVersion", [])
    finally:
        await client.close()
    return {
        "node": version,
        "quiet_eth_call": await quiet_calls(url, args.quiet_calls),
        "stall": await stall(url, args.heavy, args.poll_ms, chain_id),
        "override_2pow31": await override(url),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url")
    where.add_argument("--node", choices=("hummingbird", "anvil"))
    parser.add_argument("--extra", default="", help="flags appended to Hummingbird's command")
    parser.add_argument("--heavy", type=int, default=100)
    parser.add_argument("--quiet-calls", type=int, default=2000)
    parser.add_argument("--poll-ms", type=float, default=5.0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if not 1 <= args.heavy <= 1000 or not 1 <= args.quiet_calls <= 100_000:
        parser.error("--heavy must be in 1..1000 and --quiet-calls in 1..100000")
    if not 0.5 <= args.poll_ms <= 1000:
        parser.error("--poll-ms must be in 0.5..1000")
    context = (
        contextlib.nullcontext(args.url)
        if args.url
        else started(args.node, shlex.split(args.extra))
    )
    with context as url:
        result = asyncio.run(probe(url, args))
    result["machine"] = machine()
    result["command"] = " ".join(["scripts/probe_stall.py", *sys.argv[1:]])
    result["cpus"] = os.cpu_count()
    text = orjson.dumps(result, option=orjson.OPT_INDENT_2).decode()
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    if args.check:
        stall_result = result["stall"]
        ok = (
            stall_result["block_number"].get("p99_ms", 1e9) <= 20
            and stall_result["send_to_receipt"].get("p99_ms", 1e9) <= 30
            and result["quiet_eth_call"].get("p50_ms", 1e9) <= 0.5
        )
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
