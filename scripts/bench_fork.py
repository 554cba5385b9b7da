#!/usr/bin/env python3
"""Fork mode figures (issue 19's "Measured"), Hummingbird beside anvil, one run:

An upstream Hummingbird (``rpc.cli --ephemeral``) holds an ERC-20 (tests/contracts Token)
with a holder; a counting HTTP proxy (this script, aiohttp) sits in front of it, so both
forks pay the same extra hop and every upstream request is counted. Then, for
Hummingbird (``--fork-url PROXY --no-rate-limit --ephemeral``) and for anvil
(``--fork-url PROXY --no-rate-limit``), each forking the same upstream block:

1. **Start-up**: upstream requests (HTTP round trips) and JSON-RPC calls until the fork
   answers ``eth_chainId``.
2. **First touch of a storage slot** (``--slots`` fresh slots of the token): the
   ``eth_getStorageAt`` latency on the fork the first time (fetched from the upstream)
   and the second time (cached); medians.
3. **An ERC-20 transfer on fresh forked state**: the upstream requests and calls made
   while the fork executes one ``transfer`` from the deployer (a dev account, funded
   locally) to a fresh address (``eth_sendTransaction`` then the receipt).
4. **A fork test suite** (``--suite-rounds`` rounds): transfers to fresh recipients,
   ``balanceOf`` checks, an impersonated holder sending tokens, a snapshot and a revert,
   as a Hardhat or Foundry fork test does; wall time per round, median, and the whole.

Prints one JSON object (``--json OUT`` also writes it).

    .venv/bin/python scripts/bench_fork.py --json OUT
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _p in (str(HERE), str(ROOT)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from bench_rpc import machine  # noqa: E402
from peers.start import ANVIL  # noqa: E402
from probe_stall import free_port  # noqa: E402

TOKEN = json.loads((ROOT / "tests" / "contracts" / "build" / "Token.json").read_text())
HOLDER = "0x" + "42" * 20
TRANSFER = "a9059cbb"
BALANCE_OF = "70a08231"


def rpc(url: str, method: str, params: list[Any] | None = None) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    request = urllib.request.Request(url, body.encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        answer = json.loads(response.read())
    if "error" in answer:
        raise RuntimeError(f"{method}: {answer['error']}")
    return answer["result"]


def receipt_of(url: str, tx: str) -> dict[str, Any]:
    """The receipt, polled (anvil answers a send before it mines it)."""
    deadline = time.monotonic() + 30
    while True:
        receipt = rpc(url, "eth_getTransactionReceipt", [tx])
        if receipt is not None:
            return dict(receipt)
        if time.monotonic() > deadline:
            raise RuntimeError(f"no receipt for {tx}")
        time.sleep(0.002)


def word(address: str) -> str:
    return address[2:].lower().rjust(64, "0")


def transfer(to: str, amount: int) -> str:
    return "0x" + TRANSFER + word(to) + f"{amount:064x}"


class CountingProxy:
    """Forwards every POST to the upstream, counting round trips and JSON-RPC calls."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.requests = 0
        self.calls = 0
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reset(self) -> tuple[int, int]:
        counted = (self.requests, self.calls)
        self.requests = self.calls = 0
        return counted

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())
        self._loop.run_forever()

    async def _serve(self) -> None:
        session = aiohttp.ClientSession()

        async def forward(request: web.Request) -> web.Response:
            body = await request.read()
            self.requests += 1
            try:
                parsed = json.loads(body)
                self.calls += len(parsed) if isinstance(parsed, list) else 1
            except ValueError:
                pass
            async with session.post(
                self.upstream, data=body, headers={"Content-Type": "application/json"}
            ) as answer:
                return web.Response(
                    body=await answer.read(),
                    status=answer.status,
                    content_type="application/json",
                )

        app = web.Application(client_max_size=64 << 20)
        app.router.add_post("/", forward)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        self._ready.set()


@contextmanager
def process(argv: list[str], url: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "wb") as out:
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{argv[0]} exited: {log.read_text(errors='replace')[-2000:]}")
            try:
                rpc(url, "eth_chainId")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{argv[0]} did not start") from None
                time.sleep(0.05)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def load_upstream(url: str) -> tuple[str, str, str]:
    """(deployer, token, fork block): the token deployed, 5 tokens sent to HOLDER."""
    deployer = rpc(url, "eth_accounts")[0]
    data = TOKEN["bytecode"] + f"{10**24:064x}"
    tx = rpc(url, "eth_sendTransaction", [{"from": deployer, "data": data, "gas": hex(2_000_000)}])
    token = rpc(url, "eth_getTransactionReceipt", [tx])["contractAddress"]
    rpc(
        url,
        "eth_sendTransaction",
        [{"from": deployer, "to": token, "data": transfer(HOLDER, 5 * 10**18)}],
    )
    return deployer, token, rpc(url, "eth_blockNumber")


def measure(
    url: str, proxy: CountingProxy, deployer: str, token: str, slots: int, rounds: int
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    proxy.reset()
    first: list[float] = []
    again: list[float] = []
    for i in range(slots):
        slot = hex(10**9 + i)
        for sink in (first, again):
            began = time.perf_counter()
            rpc(url, "eth_getStorageAt", [token, slot, "latest"])
            sink.append((time.perf_counter() - began) * 1000)
    requests, calls = proxy.reset()
    out["slot_first_touch_ms_p50"] = round(statistics.median(first), 3)
    out["slot_cached_ms_p50"] = round(statistics.median(again), 3)
    out["slot_upstream_requests"] = requests
    out["slot_upstream_calls"] = calls
    # One ERC-20 transfer on fresh forked state (the token untouched so far but for the
    # slots above, which are not the ones a transfer reads).
    tx = rpc(
        url,
        "eth_sendTransaction",
        [{"from": deployer, "to": token, "data": transfer("0x" + "31" * 20, 1)}],
    )
    receipt = receipt_of(url, tx)
    assert receipt["status"] == "0x1", receipt
    requests, calls = proxy.reset()
    out["erc20_transfer_upstream_requests"] = requests
    out["erc20_transfer_upstream_calls"] = calls
    # The suite: what a fork test does, round after round.
    per_round: list[float] = []
    began_all = time.perf_counter()
    for r in range(rounds):
        began = time.perf_counter()
        snapshot = rpc(url, "evm_snapshot")
        for k in range(5):
            recipient = "0x" + f"{r:04x}{k:04x}".rjust(40, "5")
            tx = rpc(
                url,
                "eth_sendTransaction",
                [{"from": deployer, "to": token, "data": transfer(recipient, 7)}],
            )
            receipt_of(url, tx)
            balance = rpc(
                url,
                "eth_call",
                [{"to": token, "data": "0x" + BALANCE_OF + word(recipient)}, "latest"],
            )
            assert int(balance, 16) == 7
        rpc(url, "anvil_impersonateAccount", [HOLDER])
        rpc(url, "anvil_setBalance", [HOLDER, hex(10**18)])
        tx = rpc(
            url,
            "eth_sendTransaction",
            [{"from": HOLDER, "to": token, "data": transfer(deployer, 1)}],
        )
        assert receipt_of(url, tx)["status"] == "0x1"
        rpc(url, "anvil_stopImpersonatingAccount", [HOLDER])
        assert rpc(url, "evm_revert", [snapshot]) is True
        per_round.append((time.perf_counter() - began) * 1000)
    out["suite_rounds"] = rounds
    out["suite_round_ms_p50"] = round(statistics.median(per_round), 2)
    out["suite_total_s"] = round(time.perf_counter() - began_all, 3)
    out["suite_upstream_requests"], out["suite_upstream_calls"] = proxy.reset()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--slots", type=int, default=100)
    parser.add_argument("--suite-rounds", type=int, default=20)
    parser.add_argument("--json", type=Path, dest="json_out")
    args = parser.parse_args()
    logs = ROOT / ".peers"
    logs.mkdir(exist_ok=True)
    result: dict[str, Any] = {
        "command": " ".join(["scripts/bench_fork.py", *sys.argv[1:]]),
        "machine": machine(),
    }
    up_port = free_port()
    upstream_url = f"http://127.0.0.1:{up_port}"
    upstream_argv = [
        sys.executable,
        "-m",
        "rpc.cli",
        "--ephemeral",
        "--port",
        str(up_port),
        "--quiet",
    ]
    with process(upstream_argv, upstream_url, logs / "fork-upstream.log"):
        deployer, token, block = load_upstream(upstream_url)
        proxy = CountingProxy(upstream_url)
        result["fork_block"] = int(block, 16)
        peers = {
            "hummingbird": lambda port: [
                sys.executable,
                "-m",
                "rpc.cli",
                "--ephemeral",
                "--port",
                str(port),
                "--quiet",
                "--fork-url",
                proxy.url,
                "--fork-block-number",
                str(int(block, 16)),
                "--no-rate-limit",
            ],
            "anvil": lambda port: [
                str(ANVIL),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--silent",
                "--fork-url",
                proxy.url,
                "--fork-block-number",
                str(int(block, 16)),
                "--no-rate-limit",
            ],
        }
        for name, argv_of in peers.items():
            if name == "anvil" and not ANVIL.is_file():
                result[name] = {"skipped": f"anvil is not installed ({ANVIL})"}
                continue
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            proxy.reset()
            began = time.perf_counter()
            with process(argv_of(port), url, logs / f"fork-{name}.log"):
                started = time.perf_counter() - began
                requests, calls = proxy.reset()
                figures = {
                    "startup_s": round(started, 3),
                    "startup_upstream_requests": requests,
                    "startup_upstream_calls": calls,
                }
                figures.update(measure(url, proxy, deployer, token, args.slots, args.suite_rounds))
                result[name] = figures
    ours, theirs = result.get("hummingbird", {}), result.get("anvil", {})
    if "suite_total_s" in ours and "suite_total_s" in theirs:
        result["suite_ratio_anvil_over_ours"] = round(
            theirs["suite_total_s"] / ours["suite_total_s"], 2
        )
    text = json.dumps(result, indent=2)
    print(text)
    if args.json_out is not None:
        args.json_out.write_text(text + "\n")


if __name__ == "__main__":
    main()
