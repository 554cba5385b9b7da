#!/usr/bin/env python3
"""Replica figures (issue 18's "Measured"), each on this machine, one run:

1. **Lag** (``--rate``, ``--seconds``): a sequencer (``rpc.cli --ephemeral``) and a replica
   following it; this script's client sends ``--rate`` transfers a second; per block, the
   replica's ``newHeads`` arrival (it publishes a block once applied, i.e. served) minus
   the sequencer's ``miniBlocks`` stamp of that block (taken as it publishes the sealed
   block). Both clocks are this machine's.
2. **Apply rate** (``--erc20-txs``, ``--per-block``): in process, a sequencer node seals
   ERC-20 transfer blocks (execute, seal, commit: CPU time of ``Node.mine``) and a replica
   node applies the same blocks from their compact bytes (decode, prepare, root check,
   commit: CPU time of ``apply_replicated``); the ratio is the replica's headroom.
3. **Stall detection** (``--stall-trials``): the sequencer is stopped (SIGSTOP); the time
   until the replica's ``/health`` answers 503 (polled every 10 ms), then SIGCONT and the
   time until it is healthy again.
4. **Resync** (``--resync-seconds``, ``--resync-rate``): a replica with a data directory
   is killed (SIGKILL) while the sequencer takes ``--resync-rate`` transfers a second for
   ``--resync-seconds``; restarted, the time until it holds the sequencer's head, and,
   polled every 20 ms meanwhile, whether any block it serves differs from the
   sequencer's block of that number (``wrong_answers``, must be 0).
5. **Read scaling** (``--call-seconds``): the same ``eth_call`` client (``--call-clients``
   concurrent loops) against the sequencer alone, then split over sequencer and replica;
   calls per second, and each process's CPU per call.

Prints one JSON object (``--json OUT`` also writes it).

    .venv/bin/python scripts/bench_replica.py --json OUT
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _p in (str(HERE), str(ROOT)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from bench_parallel import setup as erc20_setup  # noqa: E402
from bench_realtime import _fund, send_load  # noqa: E402
from bench_rpc import derive_keys, machine  # noqa: E402
from probe_stall import free_port  # noqa: E402
from soak import _req, _wait  # noqa: E402
from soak import rpc as _rpc  # noqa: E402

from sequencer.node import Node  # noqa: E402
from sequencer.types.wire import decode_block, encode_block  # noqa: E402


def _stats(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0}
    ordered = sorted(values)
    return {
        "count": len(ordered),
        "p50_ms": round(ordered[len(ordered) // 2], 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3),
        "max_ms": round(ordered[-1], 3),
    }


def _start(args: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "rpc.cli", *args, "--quiet"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGCONT)
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def lag(
    seq_url: str, seq_ws: str, rep_ws: str, rate: float, seconds: float
) -> dict[str, Any]:
    stamps: dict[int, int] = {}
    arrivals: dict[int, int] = {}
    keys = derive_keys(41, 0, 64)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        await _fund(session, seq_url, keys)
        async with (
            session.ws_connect(seq_ws, max_msg_size=0) as seq_sock,
            session.ws_connect(rep_ws, max_msg_size=0) as rep_sock,
        ):
            await seq_sock.send_json(_req("eth_subscribe", ["miniBlocks"], 1))
            await seq_sock.receive_json(timeout=10)
            await rep_sock.send_json(_req("eth_subscribe", ["newHeads"], 1))
            await rep_sock.receive_json(timeout=10)
            stop = asyncio.Event()

            async def listen(sock: aiohttp.ClientWebSocketResponse, seq: bool) -> None:
                while not stop.is_set():
                    try:
                        message = await sock.receive(timeout=0.5)
                    except TimeoutError:
                        continue
                    now_us = time.time_ns() // 1000
                    if message.type != aiohttp.WSMsgType.TEXT:
                        return
                    result = json.loads(message.data)["params"]["result"]
                    if seq:
                        stamps[int(result["block_number"], 16)] = int(
                            result["mini_block_timestamp"], 16
                        )
                    else:
                        arrivals[int(result["number"], 16)] = now_us

            listeners = [
                asyncio.create_task(listen(seq_sock, True)),
                asyncio.create_task(listen(rep_sock, False)),
            ]
            sent = await send_load(session, seq_url, keys, rate, seconds)
            await asyncio.sleep(1.0)
            stop.set()
            await asyncio.gather(*listeners)
    lags = [(arrivals[n] - stamps[n]) / 1000 for n in stamps if n in arrivals]
    return {"sent": sent, "blocks": len(stamps), "served": len(lags), **_stats(lags)}


def apply_rate(txs: int, per_block: int) -> dict[str, Any]:
    """CPU to seal ERC-20 blocks on a sequencer node vs to apply them on a replica."""
    sequencer, _token, batch = erc20_setup(txs, 0, "jit")
    replica = Node(replace(sequencer.config, replica=True), genesis=sequencer.replicated_block(0))
    try:
        for number in range(1, sequencer.head_number + 1):  # the deploy and the edits
            replica.apply_replicated(sequencer.replicated_block(number))
        seal_cpu = 0.0
        first = sequencer.head_number + 1
        for start in range(0, len(batch), per_block):
            for tx in batch[start : start + per_block]:
                sequencer.pool.add(tx, tx.encode())
            began = time.process_time()
            sequencer.mine(1)
            seal_cpu += time.process_time() - began
        wires = [
            encode_block(sequencer.replicated_block(n))
            for n in range(first, sequencer.head_number + 1)
        ]
        began = time.process_time()
        for wire in wires:
            replica.apply_replicated(decode_block(wire))
        apply_cpu = time.process_time() - began
        assert replica.chain_head.hash == sequencer.chain_head.hash
        return {
            "blocks": len(wires),
            "transfers": len(batch),
            "sequencer_cpu_ms_per_block": round(seal_cpu / len(wires) * 1000, 3),
            "replica_cpu_ms_per_block": round(apply_cpu / len(wires) * 1000, 3),
            "replica_speedup": round(seal_cpu / apply_cpu, 2),
        }
    finally:
        replica.close()
        sequencer.close()


def _health(url: str) -> int:
    try:
        with urllib.request.urlopen(url + "/health", timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except OSError:
        return 0


def stall(seq: subprocess.Popen[bytes], rep_url: str, trials: int) -> dict[str, Any]:
    detected: list[float] = []
    recovered: list[float] = []
    for _ in range(trials):
        while _health(rep_url) != 200:
            time.sleep(0.05)
        seq.send_signal(signal.SIGSTOP)
        began = time.monotonic()
        while _health(rep_url) != 503:
            time.sleep(0.01)
        detected.append(time.monotonic() - began)
        seq.send_signal(signal.SIGCONT)
        began = time.monotonic()
        while _health(rep_url) != 200:
            time.sleep(0.01)
        recovered.append(time.monotonic() - began)
    return {
        "trials": trials,
        "detected_s": [round(x, 3) for x in detected],
        "detected_median_s": round(statistics.median(detected), 3),
        "recovered_median_s": round(statistics.median(recovered), 3),
    }


async def calls(urls: list[str], clients: int, seconds: float) -> int:
    request = _req("eth_call", [{"to": "0x" + "00" * 19 + "04", "data": "0x1234"}, "latest"], 1)
    done = 0
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session:

        async def loop(url: str) -> None:
            nonlocal done
            while time.monotonic() < deadline:
                await _rpc(session, url, request)
                done += 1

        await asyncio.gather(*(loop(urls[i % len(urls)]) for i in range(clients)))
    return done


def read_scaling(
    seq: subprocess.Popen[bytes],
    rep: subprocess.Popen[bytes],
    seq_url: str,
    rep_url: str,
    args: argparse.Namespace,
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, urls in (
        ("sequencer_alone", [seq_url]),
        ("sequencer_and_replica", [seq_url, rep_url]),
    ):
        cpu = {"sequencer": _cpu_seconds(seq.pid), "replica": _cpu_seconds(rep.pid)}
        done = asyncio.run(calls(urls, args.call_clients, args.call_seconds))
        spent = {k: _cpu_seconds(p.pid) - cpu[k] for k, p in (("sequencer", seq), ("replica", rep))}
        out[name] = {
            "calls_per_s": round(done / args.call_seconds, 1),
            "cpu_us_per_call": {k: round(v / max(done, 1) * 1e6, 1) for k, v in spent.items()},
        }
    out["ratio"] = round(
        out["sequencer_and_replica"]["calls_per_s"] / max(out["sequencer_alone"]["calls_per_s"], 1),
        2,
    )
    return out


async def _load_for(url: str, rate: float, seconds: float, seed: int) -> int:
    keys = derive_keys(seed, 0, 64)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:
        await _fund(session, url, keys)
        return await send_load(session, url, keys, rate, seconds)


def _head(url: str) -> tuple[int, str]:
    block = _call(url, "eth_getBlockByNumber", ["latest", False])
    return int(block["number"], 16), block["hash"]


def _call(url: str, method: str, params: list[Any]) -> Any:
    body = json.dumps(_req(method, params)).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["result"]


def resync(
    seq_url: str, seq_port: int, seconds: float, rate: float, workdir: Path
) -> dict[str, Any]:
    rep_port = free_port()
    rep_url = f"http://127.0.0.1:{rep_port}"
    args = ["replica", "--follow", f"ws://127.0.0.1:{seq_port}", "--port", str(rep_port)]
    args += ["--data-dir", str(workdir / "replica")]
    rep = _start(args)
    try:
        _wait(rep_url)
        while _head(rep_url)[0] < _head(seq_url)[0]:
            time.sleep(0.05)
        at_kill, _ = _head(rep_url)
        rep.kill()
        rep.wait()
        sent = asyncio.run(_load_for(seq_url, rate, seconds, 43))
        target, _ = _head(seq_url)
        began = time.monotonic()
        rep = _start(args)
        _wait(rep_url)
        wrong = checks = 0
        while True:
            number, block_hash = _head(rep_url)
            theirs = _call(seq_url, "eth_getBlockByNumber", [hex(number), False])
            checks += 1
            wrong += theirs is None or theirs["hash"] != block_hash
            if number >= target:
                break
            time.sleep(0.02)
        return {
            "disconnected_s": seconds,
            "sent_meanwhile": sent,
            "replica_head_at_kill": at_kill,
            "sequencer_head_at_restart": target,
            "blocks_behind": target - at_kill,
            "caught_up_s": round(time.monotonic() - began, 3),
            "checks": checks,
            "wrong_answers": wrong,
        }
    finally:
        _stop(rep)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--erc20-txs", type=int, default=2000)
    parser.add_argument("--per-block", type=int, default=50)
    parser.add_argument("--stall-trials", type=int, default=5)
    parser.add_argument("--call-seconds", type=float, default=10.0)
    parser.add_argument("--call-clients", type=int, default=8)
    parser.add_argument("--resync-seconds", type=float, default=60.0)
    parser.add_argument("--resync-rate", type=float, default=500.0)
    parser.add_argument("--json", type=Path, dest="json_out")
    args = parser.parse_args(argv)
    if not 1 <= args.rate <= 20_000 or not 1 <= args.seconds <= 3600:
        parser.error("--rate in 1..20000, --seconds in 1..3600")
    if not 1 <= args.erc20_txs <= 100_000 or not 1 <= args.per_block <= 10_000:
        parser.error("--erc20-txs in 1..100000, --per-block in 1..10000")
    if not 0 <= args.stall_trials <= 100 or not 1 <= args.call_clients <= 256:
        parser.error("--stall-trials in 0..100, --call-clients in 1..256")
    result: dict[str, Any] = {
        "command": " ".join(
            ["scripts/bench_replica.py", *(argv if argv is not None else sys.argv[1:])]
        ),
        "machine": machine(),
        "apply_rate": apply_rate(args.erc20_txs, args.per_block),
    }
    seq_port, rep_port = free_port(), free_port()
    seq = _start(["--ephemeral", "--port", str(seq_port)])
    rep = None
    seq_url, rep_url = f"http://127.0.0.1:{seq_port}", f"http://127.0.0.1:{rep_port}"
    try:
        _wait(seq_url)
        rep = _start(
            [
                "replica",
                "--follow",
                f"ws://127.0.0.1:{seq_port}",
                "--ephemeral",
                "--port",
                str(rep_port),
            ]
        )
        _wait(rep_url)
        result["lag"] = asyncio.run(
            lag(
                seq_url,
                f"ws://127.0.0.1:{seq_port}",
                f"ws://127.0.0.1:{rep_port}",
                args.rate,
                args.seconds,
            )
        )
        result["read_scaling"] = read_scaling(seq, rep, seq_url, rep_url, args)
        if args.stall_trials:
            result["stall"] = stall(seq, rep_url, args.stall_trials)
        if args.resync_seconds:
            import tempfile

            with tempfile.TemporaryDirectory() as workdir:
                result["resync"] = resync(
                    seq_url, seq_port, args.resync_seconds, args.resync_rate, Path(workdir)
                )
    finally:
        if rep is not None:
            _stop(rep)
        _stop(seq)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json_out:
        args.json_out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
