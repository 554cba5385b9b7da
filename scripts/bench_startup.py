#!/usr/bin/env python3
"""Cold start to the first answered ``eth_chainId`` (issue 21's start-up figure).

    python scripts/bench_startup.py [--rounds 10] [--blocks 100000] [--json OUT]

Three kinds, interleaved round by round so the machine's noise falls on each alike:

- ``hummingbird-ephemeral``: ``.venv/bin/hummingbird --ephemeral --quiet``;
- ``hummingbird-100k``: the same on a data directory holding ``--blocks`` blocks (built
  once here with ``anvil_mine``, before the rounds; not timed);
- ``anvil``: the pinned anvil 1.7.1 (scripts/peers), ``--silent``;
- ``aiohttp-floor``: the floor of the architecture (DESIGN: the JSON-RPC server is
  aiohttp): the venv's Python running a ten-line aiohttp app that answers every POST
  with a chain id, none of Hummingbird's code imported. What the node spends above it
  is its own.

Each start is timed from just before the process is spawned to the first answer to
``eth_chainId`` (polled every millisecond on 127.0.0.1); the process is then stopped
(SIGTERM) and waited for. The process's own CPU time to that point is read from
``/proc/PID/stat`` (utime + stime, its children included after they exit). Reported per
kind: median, min and max wall seconds and the median CPU seconds, and the ratio of
medians to anvil's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HUMMINGBIRD = ROOT / ".venv" / "bin" / "hummingbird"
ANVIL = ROOT / "scripts/peers/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
TICKS = os.sysconf("SC_CLK_TCK")
CHAIN_ID_BODY = b'{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}'
PYTHON = ROOT / ".venv" / "bin" / "python"
# The aiohttp-floor kind: Python, asyncio and aiohttp answering, nothing else.
FLOOR_SERVER = """
import sys
from aiohttp import web

async def answer(request):
    await request.read()
    return web.json_response({"jsonrpc": "2.0", "id": 1, "result": "0x7a69"})

app = web.Application()
app.router.add_post("/", answer)
port = int(sys.argv[sys.argv.index("--port") + 1])
web.run_app(app, host="127.0.0.1", port=port, print=None)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rpc(port: int, body: bytes, timeout: float = 1.0) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}", body, {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / TICKS  # utime stime cutime cstime


def start_once(argv: list[str], deadline: float = 60.0) -> tuple[float, float]:
    """Wall and CPU seconds from spawn to the first eth_chainId answer."""
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        [*argv, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        while True:
            try:
                rpc(port, CHAIN_ID_BODY)
                break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError(f"{argv[0]} exited with {process.returncode}") from None
                if time.perf_counter() - started > deadline:
                    raise RuntimeError(f"{argv[0]} did not answer in {deadline} s") from None
                time.sleep(0.001)
        wall = time.perf_counter() - started
        cpu = cpu_seconds(process.pid)
        return wall, cpu
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def build_chain(data_dir: Path, blocks: int) -> None:
    port = free_port()
    process = subprocess.Popen(
        [str(HUMMINGBIRD), "--data-dir", str(data_dir), "--quiet", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        for _ in range(600):
            try:
                rpc(port, CHAIN_ID_BODY)
                break
            except OSError:
                time.sleep(0.1)
        mined = 0
        while mined < blocks:
            step = min(10_000, blocks - mined)
            body = json.dumps(
                {"jsonrpc": "2.0", "id": 1, "method": "anvil_mine", "params": [hex(step)]}
            ).encode()
            answer = rpc(port, body, timeout=600)
            if "error" in answer:
                raise RuntimeError(f"anvil_mine: {answer['error']}")
            mined += step
            print(f"built {mined:,} of {blocks:,} blocks", file=sys.stderr, flush=True)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--blocks", type=int, default=100_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 1000 or not 0 <= args.blocks <= 10_000_000:
        parser.error("--rounds must be in 1..1000 and --blocks in 0..10,000,000")
    if not HUMMINGBIRD.is_file():
        parser.error(f"{HUMMINGBIRD} is missing: make .venv/.installed first")
    workdir = Path(tempfile.mkdtemp(prefix="bench-startup-"))
    try:
        data_dir = workdir / "chain"
        build_chain(data_dir, args.blocks)
        kinds = {
            "hummingbird-ephemeral": [str(HUMMINGBIRD), "--ephemeral", "--quiet"],
            f"hummingbird-{args.blocks // 1000}k": [
                str(HUMMINGBIRD),
                "--data-dir",
                str(data_dir),
                "--quiet",
            ],
        }
        if ANVIL.is_file():
            kinds["anvil"] = [str(ANVIL), "--silent"]
        kinds["aiohttp-floor"] = [str(PYTHON), "-c", FLOOR_SERVER]
        results: dict[str, list[tuple[float, float]]] = {kind: [] for kind in kinds}
        for round_number in range(args.rounds):
            for kind, command in kinds.items():
                results[kind].append(start_once(command))
            print(f"round {round_number + 1} of {args.rounds}", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    summary: dict[str, Any] = {"rounds": args.rounds, "blocks": args.blocks, "kinds": {}}
    anvil = statistics.median(w for w, _ in results["anvil"]) if "anvil" in results else None
    for kind, runs in results.items():
        walls = [w for w, _ in runs]
        entry = {
            "median_s": round(statistics.median(walls), 4),
            "min_s": round(min(walls), 4),
            "max_s": round(max(walls), 4),
            "median_cpu_s": round(statistics.median(c for _, c in runs), 3),
        }
        if anvil:
            entry["vs_anvil"] = round(statistics.median(walls) / anvil, 1)
        summary["kinds"][kind] = entry
        print(
            f"{kind:24} median {entry['median_s']:.3f} s (min {entry['min_s']:.3f}, max "
            f"{entry['max_s']:.3f}), CPU {entry['median_cpu_s']:.2f} s"
            + (f", {entry['vs_anvil']}x anvil" if anvil else "")
        )
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
