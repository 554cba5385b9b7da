#!/usr/bin/env python3
"""Real-time API latency (issue 17's "Measured"): how soon a WebSocket subscriber hears of
a sealed mini-block, and how long a synchronous send takes, beside anvil's.

1. Notifications: a node (``rpc.cli --ephemeral``) under ``--rate`` transfers per second
   for ``--seconds`` (pre-funded senders, signed on the fly, sent as JSON-RPC batches every
   ~10 ms by this script's own client); one WebSocket subscribes to ``miniBlocks`` and to
   ``stateChanges`` of ``--watched`` of the senders. Per notification: its arrival
   (``time.time_ns()`` on loopback, the same clock the node stamps) minus the mini-block's
   ``mini_block_timestamp`` (stamped as the node publishes it, right after the seal);
   ``stateChanges`` arrivals against the last mini-block's stamp before them.
2. Sends: ``--sync-clients`` clients each send ``--sync-txs`` transfers one after another
   with ``realtime_sendRawTransaction`` (Hummingbird) / ``eth_sendRawTransactionSync``
   (anvil 1.7.1, the same EIP-7966 call), timed send -> receipt.

3. Signing (``--signing N``): in this process, the CPU time of signing N mini-block headers
   with the node's ``MiniBlockSigner``, and of a two-tier mini-block's whole header (the
   ordered-trie roots of ``--mini-txs`` transfers and their receipts, then the signature).

``--evm-block-time D`` starts the node in two-tier mode (the notifications are then each
preconfirmed mini-block's, stamped before its journal write and signature).

Prints one JSON object (``--json OUT`` also writes it): p50 / p99 / max in ms and counts.

    python scripts/bench_realtime.py                        # 1,000 tx/s for 20 s, 1 and 8 clients
    python scripts/bench_realtime.py --rate 500 --seconds 5 --sync-txs 50 --no-anvil
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import aiohttp
import coincurve

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _p in (str(HERE), str(ROOT)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from bench_rpc import DEV_KEY, address_of, derive_keys, machine  # noqa: E402
from probe_stall import free_port  # noqa: E402
from soak import _req, _wait, transfer  # noqa: E402
from soak import rpc as _rpc  # noqa: E402

from scripts.peers.start import start_peer  # noqa: E402

SINK = bytes.fromhex("50a4000000000000000000000000000000000002")


def _stats(values: list[float]) -> dict[str, float | int]:
    if not values:
        return {"count": 0}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {
        "count": len(ordered),
        "p50_ms": at(0.5),
        "p99_ms": at(0.99),
        "max_ms": round(ordered[-1], 3),
    }


async def _fund(session: aiohttp.ClientSession, url: str, keys: list[coincurve.PrivateKey]) -> None:
    dev = coincurve.PrivateKey(DEV_KEY)
    reply = await _rpc(
        session, url, _req("eth_getTransactionCount", ["0x" + address_of(dev).hex(), "pending"])
    )
    nonce = int(reply["result"], 16)
    batch = []
    for i, key in enumerate(keys):
        tx = transfer(
            dev,
            nonce + i,
            address_of(key),
            # 10 ether: ~475 transfers at the 100 gwei max fee, several times what a
            # sender sends here; the dev account's 10,000 ether must last every phase.
            10**19,
        )
        batch.append(_req("eth_sendRawTransaction", ["0x" + tx.raw.hex()], i))
    await _rpc(session, url, batch)
    await asyncio.sleep(0.5)


async def send_load(
    session: aiohttp.ClientSession,
    url: str,
    keys: list[coincurve.PrivateKey],
    rate: float,
    seconds: float,
) -> int:
    """``rate`` value transfers a second for ``seconds`` from ``keys`` (funded, nonces
    from 0), as JSON-RPC batches every ~10 ms; waits for every batch's answer. Returns
    how many were sent."""
    nonces = [0] * len(keys)
    sender = 0
    start = time.monotonic()
    owed = 0.0
    last = start
    sent = 0
    pending: set[asyncio.Task[Any]] = set()
    while time.monotonic() - start < seconds:
        now = time.monotonic()
        owed += rate * (now - last)
        last = now
        count = int(owed)
        owed -= count
        batch = []
        for _ in range(count):
            key = keys[sender]
            tx = transfer(key, nonces[sender], SINK, 1)
            nonces[sender] += 1
            sender = (sender + 1) % len(keys)
            batch.append(_req("eth_sendRawTransaction", ["0x" + tx.raw.hex()], sent))
            sent += 1
        if batch:
            task = asyncio.create_task(_rpc(session, url, batch))
            pending.add(task)
            task.add_done_callback(pending.discard)
        await asyncio.sleep(0.01)
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
    return sent


async def notifications(
    url: str, ws_url: str, args: argparse.Namespace, seed: int = 21, second: str | None = None
) -> dict[str, Any]:
    """The load and the listening subscriber; with ``second``, a second connection also
    subscribes to both streams (every sender watched) and then never reads ("stalled") or
    reads everything on a thread ("reading": the control, the same work for the node
    except that its messages are taken)."""
    keys = derive_keys(seed, 0, args.senders)
    watched = ["0x" + address_of(key).hex() for key in keys[: args.watched]]
    mini_lat: list[float] = []
    state_lat: list[float] = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        await _fund(session, url, keys)
        stalled = None
        if second is not None:
            everyone = ["0x" + address_of(key).hex() for key in keys]
            stalled = _stalled_subscriber(
                ws_url,
                [
                    _req("eth_subscribe", ["miniBlocks"], 1),
                    _req("eth_subscribe", ["stateChanges", everyone], 2),
                ],
            )
            if second == "reading":
                threading.Thread(target=_drain, args=(stalled,), daemon=True).start()
        async with session.ws_connect(ws_url, max_msg_size=64 * 1024 * 1024) as ws:
            await ws.send_json(_req("eth_subscribe", ["miniBlocks"], 1))
            mini_id = (await ws.receive_json(timeout=10))["result"]
            await ws.send_json(_req("eth_subscribe", ["stateChanges", watched], 2))
            state_id = (await ws.receive_json(timeout=10))["result"]
            stop = asyncio.Event()
            last_stamp = [0]

            async def listen() -> None:
                while not stop.is_set():
                    try:
                        message = await ws.receive(timeout=0.5)
                    except TimeoutError:
                        continue
                    arrived_us = time.time_ns() // 1000
                    if message.type != aiohttp.WSMsgType.TEXT:
                        return
                    note = json.loads(message.data)
                    params = note.get("params") or {}
                    if params.get("subscription") == mini_id:
                        stamp = int(params["result"]["mini_block_timestamp"], 16)
                        last_stamp[0] = stamp
                        mini_lat.append((arrived_us - stamp) / 1000)
                    elif params.get("subscription") == state_id and last_stamp[0]:
                        state_lat.append((arrived_us - last_stamp[0]) / 1000)

            listener = asyncio.create_task(listen())
            sent = await send_load(session, url, keys, args.rate, args.seconds)
            await asyncio.sleep(0.5)
            stop.set()
            await listener
        dropped = None
        if stalled is not None:
            if second == "reading":
                stalled.close()
            else:
                dropped = _was_dropped(stalled)
    return {
        "slow_subscriber_dropped": dropped,
        "sent": sent,
        "miniBlocks": _stats(mini_lat),
        "stateChanges": _stats(state_lat),
    }


def _stalled_subscriber(ws_url: str, requests: list[dict[str, Any]]) -> socket.socket:
    """A WebSocket client that subscribes and then never reads: a raw socket with a tiny
    receive buffer (client libraries read in the background, which a stalled app does
    not stop)."""
    host, port = ws_url.removeprefix("ws://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET / HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(1024)
    for request in requests:
        payload = json.dumps(request).encode()
        mask = os.urandom(4)
        header = bytes([0x81])
        header += (
            bytes([0x80 | len(payload)])
            if len(payload) < 126
            else bytes([0x80 | 126]) + len(payload).to_bytes(2, "big")
        )
        sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))
    return sock


def _drain(sock: socket.socket) -> None:
    """Read everything the node sends until the socket closes (the reading control)."""
    try:
        while sock.recv(1 << 20):
            pass
    except OSError:
        pass


def _was_dropped(sock: socket.socket) -> bool:
    """Whether the node closed the stalled connection (read what is left, then EOF)."""
    sock.settimeout(5.0)
    try:
        while True:
            chunk = sock.recv(1 << 20)
            if not chunk:
                return True
    except (TimeoutError, OSError):
        return False
    finally:
        sock.close()


async def sync_sends(url: str, method: str, clients: int, txs: int, seed: int) -> dict[str, Any]:
    keys = derive_keys(seed, 0, clients)
    latencies: list[float] = []
    errors: list[Any] = []
    failed = [0]
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        await _fund(session, url, keys)

        async def client(key: coincurve.PrivateKey) -> None:
            for nonce in range(txs):
                tx = transfer(key, nonce, SINK, 1)
                began = time.perf_counter()
                # No timeout parameter: anvil 1.7.1 takes only the raw transaction.
                reply = await _rpc(session, url, _req(method, ["0x" + tx.raw.hex()]))
                latencies.append((time.perf_counter() - began) * 1000)
                if "error" in reply:
                    failed[0] += 1
                    if len(errors) < 3:
                        errors.append(reply["error"])

        await asyncio.gather(*(client(key) for key in keys))
    return {
        "method": method,
        "clients": clients,
        **_stats(latencies),
        "failed": failed[0],
        "errors": errors,
    }


def signing_cost(count: int, mini_txs: int) -> dict[str, Any]:
    """CPU per signature, and per two-tier mini-block header (roots, then signature)."""
    from sequencer.config import DEFAULT_MNEMONIC
    from sequencer.mini_block_signing import MiniBlockHeader, MiniBlockSigner, sequencer_key
    from sequencer.trie import ordered_trie_root
    from sequencer.types.blocks import Receipt

    signer = MiniBlockSigner(sequencer_key(DEFAULT_MNEMONIC))
    headers = [
        MiniBlockHeader(
            n,
            1_800_000_000,
            n % 100,
            n,
            1_800_000_000_000_000 + n,
            21_000 * mini_txs,
            n.to_bytes(32, "big"),
            (n + 1).to_bytes(32, "big"),
        )
        for n in range(count)
    ]
    start = time.process_time()
    for header in headers:
        signer.sign(header)
    sign_us = (time.process_time() - start) / count * 1e6
    keys = derive_keys(99, 0, mini_txs)
    raws = [transfer(key, 0, SINK, 1).raw for key in keys]
    receipts = [
        Receipt(2, 1, 21_000 * (i + 1), 21_000, 10**9, None, 0, (), b"\x00" * 256)
        for i in range(mini_txs)
    ]
    rounds = max(1, count // 10)
    start = time.process_time()
    for n in range(rounds):
        header = MiniBlockHeader(
            n,
            1_800_000_000,
            0,
            n,
            n,
            21_000 * mini_txs,
            ordered_trie_root(raws),
            ordered_trie_root([r.consensus_encoding() for r in receipts]),
        )
        signer.sign(header)
    header_us = (time.process_time() - start) / rounds * 1e6
    return {
        "signatures": count,
        "sign_cpu_us": round(sign_us, 1),
        "mini_block_txs": mini_txs,
        "mini_block_header_cpu_us": round(header_us, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--senders", type=int, default=64)
    parser.add_argument("--watched", type=int, default=8)
    parser.add_argument("--sync-clients", default="1,8")
    parser.add_argument("--sync-txs", type=int, default=200)
    parser.add_argument("--no-anvil", action="store_true")
    parser.add_argument(
        "--slow-subscriber",
        action="store_true",
        help="run the notification phase again beside a second subscriber that reads "
        "everything (the control), then beside one that never reads",
    )
    parser.add_argument("--evm-block-time", default=None, metavar="DURATION")
    parser.add_argument("--signing", type=int, default=0, metavar="N")
    parser.add_argument("--mini-txs", type=int, default=10)
    parser.add_argument("--json", type=Path, dest="json_out")
    args = parser.parse_args(argv)
    if not 0 <= args.signing <= 1_000_000 or not 1 <= args.mini_txs <= 10_000:
        parser.error("--signing in 0..1000000, --mini-txs in 1..10000")
    try:
        clients = [int(c) for c in args.sync_clients.split(",") if c]
    except ValueError:
        parser.error("--sync-clients is a comma list of integers")
    if not clients or not all(1 <= c <= 64 for c in clients):
        parser.error("--sync-clients: each in 1..64")
    if not 1 <= args.rate <= 20_000 or not 1 <= args.seconds <= 3600:
        parser.error("--rate must be in 1..20000 and --seconds in 1..3600")
    if not 1 <= args.senders <= 1000 or not 0 <= args.watched <= args.senders:
        parser.error("--senders in 1..1000, --watched in 0..senders")
    if not 1 <= args.sync_txs <= 10_000:
        parser.error("--sync-txs must be in 1..10000")
    port = free_port()
    two_tier = [] if args.evm_block_time is None else ["--evm-block-time", args.evm_block_time]
    node = subprocess.Popen(
        [sys.executable, "-m", "rpc.cli", "--ephemeral", "--quiet", "--port", str(port), *two_tier],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url, ws_url = f"http://127.0.0.1:{port}", f"ws://127.0.0.1:{port}"
    result: dict[str, Any] = {
        "command": " ".join(
            ["scripts/bench_realtime.py", *(argv if argv is not None else sys.argv[1:])]
        ),
        "machine": machine(),
        "rate": args.rate,
        "seconds": args.seconds,
    }
    if args.signing:
        result["signing"] = signing_cost(args.signing, args.mini_txs)
    try:
        _wait(url)
        result["notifications"] = asyncio.run(notifications(url, ws_url, args))
        if args.slow_subscriber:
            result["notifications_with_reading_subscriber"] = asyncio.run(
                notifications(url, ws_url, args, seed=23, second="reading")
            )
            result["notifications_with_slow_subscriber"] = asyncio.run(
                notifications(url, ws_url, args, seed=22, second="stalled")
            )
        result["sends"] = [
            asyncio.run(sync_sends(url, "realtime_sendRawTransaction", c, args.sync_txs, 30 + c))
            for c in clients
        ]
    finally:
        node.terminate()
        node.wait(30)
    if not args.no_anvil:
        with start_peer("anvil", free_port()) as anvil_url:
            result["anvil_sends"] = [
                asyncio.run(
                    sync_sends(anvil_url, "eth_sendRawTransactionSync", c, args.sync_txs, 30 + c)
                )
                for c in clients
            ]
    text = json.dumps(result, indent=2)
    print(text)
    if args.json_out:
        args.json_out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
