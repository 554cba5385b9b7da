"""Soak (issue 14, ``make soak``): a node under steady transfer load for a long time.

Starts ``python -m rpc.cli --quiet`` on a fresh data directory and a free 127.0.0.1 port (or uses
``--url``; RSS is then not measured) and sends ``--rate`` transfers per second for
``--minutes``: ``--senders`` fresh accounts (funded by dev account 0 first) each send
EIP-1559 transfers signed on the fly, in JSON-RPC batches every ``--tick-ms``. A send's
answer comes once its block is sealed, so send -> answer is the latency measured.

Every ``--sample-s`` seconds it records the node's RSS (VmRSS of its process) and the
mined head. At the end it prints one JSON object: the rate sent and mined (mined counted
from the chain: the dev-account nonces at ``latest``), RSS first/last/max and its growth,
p50/p99 latency of the first and of the last ``--window-min`` minutes and their ratio, and
every sample. ``--check`` makes the exit status 1 when RSS grew more than 10% (after the
first window) or the last window's p99 exceeds 1.2x the first's.

Usage::

    python scripts/soak.py --minutes 60 --rate 1000      # make soak
    python scripts/soak.py --minutes 3 --rate 500 --window-min 1
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
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

from bench_rpc import (  # noqa: E402
    DEV_KEY,
    SignedTx,
    address_of,
    derive_keys,
    machine,
    percentile,
    sign_1559,
)
from probe_stall import free_port  # noqa: E402

CHAIN_ID = 31337
MAX_FEE = 100 * 10**9
TIP = 10**9
SINK = bytes.fromhex("50a4000000000000000000000000000000000001")


def transfer(key: coincurve.PrivateKey, nonce: int, to: bytes, value: int) -> SignedTx:
    """A signed 21,000-gas value transfer at the load scripts' fees (soak, bench_realtime)."""
    return sign_1559(
        key,
        chain_id=CHAIN_ID,
        nonce=nonce,
        max_priority_fee=TIP,
        max_fee=MAX_FEE,
        gas=21_000,
        to=to,
        value=value,
    )


def rss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:  # the process ended
        pass
    return 0


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (the node's worker processes), from /proc."""
    tree = [pid]
    for parent in tree:
        try:
            for task in Path(f"/proc/{parent}/task").iterdir():
                children = (task / "children").read_text().split()
                tree.extend(int(child) for child in children)
        except OSError:
            continue
    return tree


def tree_rss_bytes(pid: int) -> int:
    """RSS of the node with its worker processes (sender recovery, parallel execution)."""
    return sum(rss_bytes(p) for p in process_tree(pid))


async def rpc(session: aiohttp.ClientSession, url: str, body: Any) -> Any:
    async with session.post(
        url, data=orjson.dumps(body), headers={"Content-Type": "application/json"}
    ) as response:
        return orjson.loads(await response.read())


async def soak(url: str, pid: int | None, args: argparse.Namespace) -> dict[str, Any]:
    keys = derive_keys(14, 0, args.senders)
    dev = coincurve.PrivateKey(DEV_KEY)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        # Fund the senders (one batch from dev account 0).
        nonce = int(
            (
                await rpc(
                    session,
                    url,
                    _req("eth_getTransactionCount", ["0x" + address_of(dev).hex(), "pending"]),
                )
            )["result"],
            16,
        )
        funding = []
        for i, key in enumerate(keys):
            tx = transfer(
                dev,
                nonce + i,
                address_of(key),
                # 9,000 of dev account 0's 10,000 ether, shared: every sender is funded
                min(10**20, 9_000 * 10**18 // len(keys)),
            )
            funding.append(_req("eth_sendRawTransaction", ["0x" + tx.raw.hex()], i))
        await rpc(session, url, funding)
        nonces = [0] * len(keys)
        latencies: list[tuple[float, float]] = []  # (time since start, seconds)
        samples: list[dict[str, Any]] = []
        sent = 0
        errors = 0
        error_samples: list[Any] = []
        start = time.monotonic()
        end = start + args.minutes * 60
        owed = 0.0
        inflight: set[asyncio.Task[None]] = set()
        next_sample = start

        async def send(batch: list[Any], at: float) -> None:
            nonlocal errors
            try:
                answers = await rpc(session, url, batch)
            except (TimeoutError, aiohttp.ClientError):
                errors += len(batch)
                return
            done = time.monotonic()
            for answer in answers:
                if "error" in answer:
                    errors += 1
                    if len(error_samples) < 5:
                        error_samples.append(answer["error"])
            latencies.append((at - start, done - at))

        sender = 0
        last_tick = start
        while time.monotonic() < end:
            tick = time.monotonic()
            # owed by the clock, not per tick: a slow tick is made up by the next one
            owed += args.rate * (tick - last_tick)
            last_tick = tick
            count = int(owed)
            owed -= count
            batch: list[Any] = []
            for _ in range(count):
                key = keys[sender]
                tx = transfer(key, nonces[sender], SINK, 1)
                nonces[sender] += 1
                sender = (sender + 1) % len(keys)
                batch.append(_req("eth_sendRawTransaction", ["0x" + tx.raw.hex()], len(batch)))
            if batch:
                sent += len(batch)
                task = asyncio.ensure_future(send(batch, tick))
                inflight.add(task)
                task.add_done_callback(inflight.discard)
            if tick >= next_sample:
                head = int((await rpc(session, url, _req("eth_blockNumber", [])))["result"], 16)
                samples.append(
                    {
                        "t_s": round(tick - start, 1),
                        "rss_mb": round(rss_bytes(pid) / 2**20, 1) if pid else None,
                        "tree_rss_mb": round(tree_rss_bytes(pid) / 2**20, 1) if pid else None,
                        "head": head,
                        "sent": sent,
                        "inflight_batches": len(inflight),
                    }
                )
                next_sample += args.sample_s
            await asyncio.sleep(max(0.0, args.tick_ms / 1000 - (time.monotonic() - tick)))
        if inflight:
            await asyncio.wait(inflight, timeout=60)
        elapsed = time.monotonic() - start
        mined = 0
        for key in keys:
            mined += int(
                (
                    await rpc(
                        session,
                        url,
                        _req("eth_getTransactionCount", ["0x" + address_of(key).hex(), "latest"]),
                    )
                )["result"],
                16,
            )
    window = args.window_min * 60
    first = [s for t, s in latencies if t < window]
    last = [s for t, s in latencies if t >= args.minutes * 60 - window]
    rss = [s["rss_mb"] for s in samples if s["rss_mb"] is not None]
    settled = [s["rss_mb"] for s in samples if s["rss_mb"] is not None and s["t_s"] >= window]
    out: dict[str, Any] = {
        "minutes": args.minutes,
        "rate_target": args.rate,
        "sent": sent,
        "mined": mined,
        "errors": errors,
        "error_samples": error_samples,
        "mined_per_s": round(mined / elapsed, 1),
        "latency_first_window": _pct(first),
        "latency_last_window": _pct(last),
        "per_minute": [
            {"minute": m, **_pct([s for t, s in latencies if m * 60 <= t < (m + 1) * 60])}
            for m in range(int(args.minutes))
        ],
        "samples": samples,
    }
    if first and last:
        out["p99_ratio_last_first"] = round(percentile(last, 99) / percentile(first, 99), 3)
    if rss:
        out["rss_mb"] = {"first": rss[0], "last": rss[-1], "max": max(rss)}
    if settled:
        out["rss_growth_after_first_window"] = round(settled[-1] / settled[0] - 1, 4)
    # RocksDB's memory budget (memtables, block cache: statedb/keys.py) fills over the
    # first minutes at this write rate; growth after it is what a leak would show.
    warm = [
        s["rss_mb"]
        for s in samples
        if s["rss_mb"] is not None and s["t_s"] >= args.rss_warmup_min * 60
    ]
    if warm:
        out["rss_growth_after_warmup"] = round(warm[-1] / warm[0] - 1, 4)
    tree = [s["tree_rss_mb"] for s in samples if s["tree_rss_mb"] is not None]
    if tree:
        out["tree_rss_mb"] = {"first": tree[0], "last": tree[-1], "max": max(tree)}
    return out


def _pct(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"batches": 0}
    return {
        "batches": len(values),
        "p50_ms": round(percentile(values, 50) * 1000, 2),
        "p99_ms": round(percentile(values, 99) * 1000, 2),
    }


def _req(method: str, params: list[Any], req_id: int = 1) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": req_id, "method": method, "params": params}


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url")
    parser.add_argument("--minutes", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=1000.0, help="transfers per second")
    parser.add_argument("--senders", type=int, default=64)
    parser.add_argument("--tick-ms", type=float, default=20.0)
    parser.add_argument("--sample-s", type=float, default=10.0)
    parser.add_argument("--window-min", type=float, default=5.0)
    parser.add_argument(
        "--rss-warmup-min", type=float, default=15.0, help="also report RSS growth from here"
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if not 0.1 <= args.minutes <= 24 * 60 or not 1 <= args.rate <= 100_000:
        parser.error("--minutes must be in 0.1..1440 and --rate in 1..100000")
    if not 1 <= args.senders <= 10_000 or not 1 <= args.tick_ms <= 1000:
        parser.error("--senders must be in 1..10000 and --tick-ms in 1..1000")
    if not 0 < args.window_min * 2 <= args.minutes or not 1 <= args.sample_s <= 3600:
        parser.error("two --window-min windows must fit in --minutes; --sample-s in 1..3600")
    process = None
    data_dir = ""
    url = args.url
    # A SIGTERM (``kill``, a CI timeout) unwinds like Ctrl-C, so the node it started is
    # stopped and its data directory removed rather than left running.
    signal.signal(signal.SIGTERM, _interrupt)
    if url is None:
        port = free_port()
        # On disk, as a long-lived devnet runs: --ephemeral keeps every block in memory.
        data_dir = tempfile.mkdtemp(prefix="hummingbird-soak-")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rpc.cli",
                "--data-dir",
                data_dir,
                "--quiet",
                "--port",
                str(port),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        _wait(url)
    try:
        result = asyncio.run(soak(url, process.pid if process else None, args))
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
            shutil.rmtree(data_dir, ignore_errors=True)
    result["machine"] = machine()
    result["cpus"] = os.cpu_count()
    result["command"] = " ".join(["scripts/soak.py", *sys.argv[1:]])
    text = orjson.dumps(result, option=orjson.OPT_INDENT_2).decode()
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    if args.check:
        ok = (
            result.get("rss_growth_after_first_window", 0) <= 0.10
            and result.get("p99_ratio_last_first", 0) <= 1.2
        )
        return 0 if ok else 1
    return 0


def _wait(url: str) -> None:
    import urllib.request

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(
                urllib.request.Request(
                    url,
                    b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}',
                    {"Content-Type": "application/json"},
                ),
                timeout=2,
            ).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the node did not start")


if __name__ == "__main__":
    sys.exit(main())
