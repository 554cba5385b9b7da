"""Memory probe (issue 14's "Bounded memory on the transport"): does the node's RSS stay
flat when clients come and go, and bounded when filters are left unpolled?

Starts ``python -m rpc.cli --ephemeral --quiet`` on a free 127.0.0.1 port (``--repo`` runs
another checkout's node, e.g. an older commit unpacked with ``git archive``; ``--legacy``
then passes none of the new limit flags), and reads its RSS from ``/proc/<pid>/status``:

1. **connections**: ``--rounds`` rounds; each opens ``--connections`` WebSocket
   connections at once, subscribes each to ``newHeads`` (so every connection has a
   subscription whose callbacks point back at it), closes them all, waits
   ``--settle`` seconds, and records the RSS. Target: the last round within +10% of the
   first (closed connections are freed by reference counting, with the node's GC
   frozen and rarely run).
2. **filters**: installs ``--filters`` log filters (eth_newFilter, no address: each matches
   every log) that are never polled, deploys ``tests/contracts``' Emitter and mines
   ``--blocks`` blocks, each with one transaction emitting ``--logs-per-block`` logs;
   records the RSS before the filters, after installing them and after the blocks, then
   polls one filter (it must answer every log) and uninstalls them all.

Prints one JSON object (``--json OUT`` also writes it). ``--check`` makes the exit status 1
when the last connection round is more than 10% above the first, or the filters phase grew
the RSS by more than ``--filter-bound-mb``.

Usage::

    python scripts/probe_memory.py
    python scripts/probe_memory.py --rounds 5 --connections 500 --filters 1000 --blocks 100
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from statedb.types import keccak256  # noqa: E402

DEV = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"  # first dev account of the default mnemonic
JSON_HEADERS = {"Content-Type": "application/json"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/<pid>/status")


def raise_open_files_limit() -> None:
    """Thousands of sockets on each side: lift the soft limit to the hard one (the node,
    a child, inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@dataclass(frozen=True, slots=True)
class NodeProcess:
    url: str
    ws_url: str
    pid: int
    command: list[str]


@contextlib.contextmanager
def started(repo: Path, extra: list[str]) -> Iterator[NodeProcess]:
    port = free_port()
    command = [sys.executable, "-m", "rpc.cli", "--ephemeral", "--quiet", "--port", str(port)]
    command += extra
    process = subprocess.Popen(command, cwd=repo, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the node exited with {process.returncode}")
            try:
                body = b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}'
                request = urllib.request.Request(url, body, JSON_HEADERS)
                with urllib.request.urlopen(request, timeout=2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the node did not start") from None
                time.sleep(0.1)
        yield NodeProcess(url, f"ws://127.0.0.1:{port}", process.pid, command)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Rpc:
    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    async def post(self, body: object) -> Any:
        async with self.session.post(
            self.url, data=orjson.dumps(body), headers=JSON_HEADERS
        ) as response:
            return orjson.loads(await response.read())

    async def call(self, method: str, *params: object) -> Any:
        answer = await self.post({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]


# ---------------------------------------------------------------- phase 1: connections


async def open_subscribed(session: aiohttp.ClientSession, ws_url: str) -> Any:
    ws = await session.ws_connect(ws_url, max_msg_size=0)
    await ws.send_str('{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newHeads"]}')
    answer = orjson.loads((await ws.receive(timeout=60)).data)
    if "result" not in answer:
        raise RuntimeError(f"eth_subscribe: {answer}")
    return ws


async def connection_rounds(node: NodeProcess, rounds: int, count: int, settle: float) -> Any:
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    out: list[dict[str, float]] = []
    async with aiohttp.ClientSession(connector=connector) as session:
        for number in range(1, rounds + 1):
            started_at = time.perf_counter()
            sockets = await asyncio.gather(
                *(open_subscribed(session, node.ws_url) for _ in range(count))
            )
            peak = rss_mb(node.pid)
            await asyncio.gather(*(ws.close() for ws in sockets))
            del sockets
            await asyncio.sleep(settle)
            rss = rss_mb(node.pid)
            seconds = time.perf_counter() - started_at
            out.append({"round": number, "rss_mb": round(rss, 1), "open_rss_mb": round(peak, 1)})
            print(
                f"round {number}: {count} opened ({peak:.1f} MB while open), closed: "
                f"{rss:.1f} MB ({seconds:.1f} s)",
                file=sys.stderr,
            )
    first, last = out[0]["rss_mb"], out[-1]["rss_mb"]
    return {
        "rounds": out,
        "first_mb": first,
        "last_mb": last,
        "growth_pct": round((last - first) / first * 100, 1),
    }


# ---------------------------------------------------------------- phase 2: filters


def selector(signature: str) -> str:
    return keccak256(signature.encode())[:4].hex()


async def deploy_emitter(rpc: Rpc) -> str:
    spec = json.loads((ROOT / "tests" / "contracts" / "build" / "Emitter.json").read_text())
    code = spec["bytecode"] if spec["bytecode"].startswith("0x") else "0x" + spec["bytecode"]
    tx_hash = await rpc.call("eth_sendTransaction", {"from": DEV, "data": code, "gas": "0x200000"})
    receipt = await rpc.call("eth_getTransactionReceipt", tx_hash)
    return str(receipt["contractAddress"])


async def unpolled_filters(
    node: NodeProcess, filters: int, blocks: int, logs_per_block: int
) -> dict[str, Any]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3600)) as session:
        rpc = Rpc(session, node.url)
        emitter = await deploy_emitter(rpc)
        before = rss_mb(node.pid)
        ids: list[str] = []
        for start in range(0, filters, 1000):
            batch = [
                {"jsonrpc": "2.0", "id": i, "method": "eth_newFilter", "params": [{}]}
                for i in range(start, min(filters, start + 1000))
            ]
            answers = await rpc.post(batch)
            for answer in answers:
                if "result" not in answer:
                    raise RuntimeError(f"eth_newFilter: {answer}")
                ids.append(answer["result"])
        installed = rss_mb(node.pid)
        data = "0x" + selector("emitMany(uint256)") + logs_per_block.to_bytes(32, "big").hex()
        started_at = time.perf_counter()
        samples = []
        for number in range(1, blocks + 1):
            await rpc.call(
                "eth_sendTransaction", {"from": DEV, "to": emitter, "data": data, "gas": "0x100000"}
            )
            if number % max(1, blocks // 10) == 0:
                samples.append({"blocks": number, "rss_mb": round(rss_mb(node.pid), 1)})
        mined_seconds = time.perf_counter() - started_at
        after = rss_mb(node.pid)
        changes = await rpc.post(
            {"jsonrpc": "2.0", "id": 1, "method": "eth_getFilterChanges", "params": [ids[-1]]}
        )
        polled = (
            len(changes["result"])
            if "result" in changes
            else f"error: {changes['error']['message'][:120]}"
        )
        for start in range(0, len(ids), 1000):
            await rpc.post(
                [
                    {"jsonrpc": "2.0", "id": i, "method": "eth_uninstallFilter", "params": [fid]}
                    for i, fid in enumerate(ids[start : start + 1000])
                ]
            )
        await asyncio.sleep(0.5)
        return {
            "filters": filters,
            "blocks": blocks,
            "logs_per_block": logs_per_block,
            "rss_before_filters_mb": round(before, 1),
            "rss_filters_installed_mb": round(installed, 1),
            "rss_after_blocks_mb": round(after, 1),
            "rss_after_uninstall_mb": round(rss_mb(node.pid), 1),
            "growth_mb": round(after - before, 1),
            "samples": samples,
            "mining_seconds": round(mined_seconds, 1),
            "ms_per_block": round(mined_seconds / blocks * 1000, 2),
            "one_filter_polled_logs": polled,
        }


# ---------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--settle", type=float, default=1.0, help="seconds after each close")
    parser.add_argument("--filters", type=int, default=10_000)
    parser.add_argument("--blocks", type=int, default=1000)
    parser.add_argument("--logs-per-block", type=int, default=2)
    parser.add_argument("--skip", choices=("connections", "filters"), action="append", default=[])
    parser.add_argument("--repo", type=Path, default=ROOT, help="checkout whose node runs")
    parser.add_argument("--legacy", action="store_true", help="pass no limit flags")
    parser.add_argument("--extra", action="append", default=[], help="another node flag")
    parser.add_argument("--filter-bound-mb", type=float, default=200.0)
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    raise_open_files_limit()
    extra = list(args.extra)
    if not args.legacy:
        extra += ["--max-connections", str(args.connections + 100)]
        extra += ["--max-filters", str(max(args.filters, 1))]
    report: dict[str, Any] = {"python": sys.version.split()[0]}
    with started(args.repo, extra) as node:
        report["command"] = " ".join(node.command)
        report["rss_at_start_mb"] = round(rss_mb(node.pid), 1)
        if "connections" not in args.skip:
            report["connections"] = asyncio.run(
                connection_rounds(node, args.rounds, args.connections, args.settle)
            )
        if "filters" not in args.skip:
            report["unpolled_filters"] = asyncio.run(
                unpolled_filters(node, args.filters, args.blocks, args.logs_per_block)
            )
    text = json.dumps(report, indent=2)
    print(text)
    if args.json is not None:
        args.json.write_text(text + "\n")
    if args.check:
        rounds = report.get("connections")
        if rounds is not None and rounds["growth_pct"] > 10:
            return 1
        filters = report.get("unpolled_filters")
        if filters is not None and filters["growth_mb"] > args.filter_bound_mb:
            return 1
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
