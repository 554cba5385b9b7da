"""JSON-RPC throughput benchmark for any Ethereum dev node (Hummingbird, anvil, Hardhat).

Dev account 0 of the ``test test ... junk`` mnemonic funds C fresh senders (keys derived from
``--seed`` and the dev account's nonce, so reruns against one node never collide), deploys
tests/contracts/build/Token.json and, for ``--kind erc20``, gives each sender tokens. Every
transaction is signed before the timed regions (EIP-1559, coincurve). Three timed modes:

- ``sequential``: one client sends a raw transaction, then fetches its receipt, then the next;
- ``closed``: C concurrent clients (asyncio, one keep-alive aiohttp session each) in that loop;
- ``burst``: C clients, each sends JSON-RPC batches of B ``eth_sendRawTransaction`` and then
  polls ``eth_getTransactionReceipt`` (batched) until all of the batch's receipts are there.

Nodes that automine (anvil, Hardhat, Hummingbird) answer ``eth_sendRawTransaction`` after the
block is sealed, so the receipt is usually there at the first ask; otherwise it is polled every
``--poll-ms``. Figures: transactions per second (first send to last receipt), send-to-receipt
latency p50/p99, and p50/p99 of ``eth_call`` (Token.balanceOf) and ``eth_blockNumber``. After each
mode the receipts' status, the senders' nonces and the recipients' balances are checked; every
failure is reported and makes the exit status 1. The client's own CPU time is measured per mode.

Usage::

    python scripts/bench_rpc.py --url http://127.0.0.1:8545 --kind transfer,erc20 --txs 2000
    python scripts/bench_rpc.py --peers anvil,anvil-cancun,hardhat2,hardhat3 --runs 3 --json

``--peers`` takes kinds started by scripts/peers/start.py (a fresh node per run and kind) and
``label=URL`` entries for nodes already running (e.g. ``hummingbird=http://127.0.0.1:8545``).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import coincurve
import orjson
import sha3

ROOT = Path(__file__).resolve().parents[1]
TOKEN_JSON = ROOT / "tests" / "contracts" / "build" / "Token.json"

# m/44'/60'/0'/0/0 of `test test test test test test test test test test test junk`.
DEV_KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")

KINDS = ("transfer", "erc20")
PEER_KINDS = ("anvil", "anvil-cancun", "hardhat2", "hardhat3")
MODES = ("sequential", "closed", "burst")
GAS_LIMIT = {"transfer": 21_000, "erc20": 90_000}
TOKEN_SUPPLY = 10**27
TIP = 10**9  # max priority fee, wei

# Inclusive bounds of the numeric options: outside them the run is refused with a clear error.
LIMITS: dict[str, tuple[int, int]] = {
    "txs": (1, 1_000_000),
    "clients": (1, 512),
    "batch": (1, 10_000),
    "calls": (1, 1_000_000),
    "runs": (1, 100),
    "seed": (0, 2**63 - 1),
    "port": (1024, 65_000),
}

SEL_TRANSFER = bytes.fromhex("a9059cbb")
SEL_BALANCE_OF = bytes.fromhex("70a08231")


# ---------------------------------------------------------------- pure helpers


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 100.0 or math.isnan(q):
        raise ValueError(f"percentile {q} is outside 0-100")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def keccak(data: bytes) -> bytes:
    return sha3.keccak_256(data).digest()


RlpItem = bytes | int | list["RlpItem"]


def rlp_encode(item: RlpItem) -> bytes:
    """RLP (Yellow Paper appendix B); ints are big-endian with no leading zeros."""
    if isinstance(item, int):
        if item < 0:
            raise ValueError("RLP cannot encode a negative integer")
        item = item.to_bytes((item.bit_length() + 7) // 8, "big")
    if isinstance(item, bytes):
        if len(item) == 1 and item[0] < 0x80:
            return item
        return _rlp_length(len(item), 0x80) + item
    payload = b"".join(rlp_encode(x) for x in item)
    return _rlp_length(len(payload), 0xC0) + payload


def _rlp_length(n: int, offset: int) -> bytes:
    if n < 56:
        return bytes([offset + n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([offset + 55 + len(b)]) + b


def address_of(key: coincurve.PrivateKey) -> bytes:
    return keccak(key.public_key.format(compressed=False)[1:])[-20:]


def derive_keys(seed: int, salt: int, n: int) -> list[coincurve.PrivateKey]:
    """n sender keys, a function of (seed, salt) only."""
    return [
        coincurve.PrivateKey(hashlib.sha256(f"bench_rpc:{seed}:{salt}:{i}".encode()).digest())
        for i in range(n)
    ]


@dataclass(frozen=True, slots=True)
class SignedTx:
    raw: bytes
    hash: str  # 0x-prefixed lower hex
    sender: bytes
    nonce: int


def sign_1559(
    key: coincurve.PrivateKey,
    *,
    chain_id: int,
    nonce: int,
    max_priority_fee: int,
    max_fee: int,
    gas: int,
    to: bytes | None,
    value: int = 0,
    data: bytes = b"",
) -> SignedTx:
    """An EIP-1559 (type 2) transaction, signed; ``to=None`` creates a contract."""
    fields: list[RlpItem] = [
        chain_id,
        nonce,
        max_priority_fee,
        max_fee,
        gas,
        to if to is not None else b"",
        value,
        data,
        [],
    ]
    sig = key.sign_recoverable(keccak(b"\x02" + rlp_encode(fields)), hasher=None)
    r, s, y = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64]
    raw = b"\x02" + rlp_encode([*fields, y, r, s])
    return SignedTx(raw, "0x" + keccak(raw).hex(), address_of(key), nonce)


def erc20_transfer_data(to: bytes, amount: int) -> bytes:
    return SEL_TRANSFER + to.rjust(32, b"\0") + amount.to_bytes(32, "big")


def balance_of_data(owner: bytes) -> bytes:
    return SEL_BALANCE_OF + owner.rjust(32, b"\0")


def split_evenly(total: int, parts: int) -> list[int]:
    """total split into parts shares differing by at most one, larger first."""
    q, r = divmod(total, parts)
    return [q + (1 if i < r else 0) for i in range(parts)]


def rpc_body(method: str, params: list[Any], req_id: int = 1) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "id": req_id, "method": method, "params": params})


def hexaddr(a: bytes) -> str:
    return "0x" + a.hex()


# ---------------------------------------------------------------- arguments


def _bounded(name: str) -> Callable[[str], int]:
    lo, hi = LIMITS[name]

    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{value} is outside {lo}..{hi}")
        return value

    return parse


def _kinds(text: str) -> list[str]:
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    bad = [k for k in kinds if k not in KINDS]
    if not kinds or bad:
        raise argparse.ArgumentTypeError(
            f"unknown kind {', '.join(bad) or repr(text)}; expected {' or '.join(KINDS)}"
        )
    return list(dict.fromkeys(kinds))


def _url(text: str) -> str:
    if not text.startswith(("http://", "https://")) or len(text) < 10:
        raise argparse.ArgumentTypeError(f"{text!r} is not an http(s) URL")
    return text


def _peers(text: str) -> list[tuple[str, str | None]]:
    """``anvil,hardhat2,ours=http://...`` -> [(label, url or None for a peer to start)]."""
    out: list[tuple[str, str | None]] = []
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        if "=" in entry:
            label, url = entry.split("=", 1)
            if not label:
                raise argparse.ArgumentTypeError(f"{entry!r}: empty label before '='")
            out.append((label, _url(url)))
        elif entry in PEER_KINDS:
            out.append((entry, None))
        else:
            raise argparse.ArgumentTypeError(
                f"unknown peer {entry!r}; expected {', '.join(PEER_KINDS)} or label=URL"
            )
    if not out:
        raise argparse.ArgumentTypeError("no peers given")
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench_rpc.py", description="JSON-RPC transaction throughput of an Ethereum dev node."
    )
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", type=_url, help="a running node, e.g. http://127.0.0.1:8545")
    target.add_argument(
        "--peers",
        type=_peers,
        help=f"comma list of {', '.join(PEER_KINDS)} (started fresh per run) or label=URL",
    )
    p.add_argument("--kind", type=_kinds, default=["transfer"], help="transfer, erc20 or both")
    p.add_argument("--txs", type=_bounded("txs"), default=1000, help="transactions per mode")
    p.add_argument("--clients", type=_bounded("clients"), default=8, help="concurrent clients")
    p.add_argument("--batch", type=_bounded("batch"), default=20, help="burst batch size")
    p.add_argument("--calls", type=_bounded("calls"), default=300, help="eth_call samples")
    p.add_argument("--runs", type=_bounded("runs"), default=1, help="repeat; report medians")
    p.add_argument("--seed", type=_bounded("seed"), default=1, help="sender key seed")
    p.add_argument("--port", type=_bounded("port"), default=18545, help="port for --peers")
    p.add_argument("--poll-ms", type=float, default=2.0, help="receipt poll interval")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for a receipt")
    p.add_argument(
        "--same-node",
        action="store_true",
        help="--peers: run all modes on one fresh node (default: a fresh node per mode)",
    )
    p.add_argument(
        "--call-during-load",
        action="store_true",
        help="one more client sends eth_call (Token.balanceOf) back to back during each mode",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.clients > args.txs:
        parser.error(f"--clients {args.clients} is more than --txs {args.txs}")
    if not (0.0 < args.poll_ms <= 1000.0):
        parser.error(f"--poll-ms {args.poll_ms} is outside (0, 1000]")
    if not (0.0 < args.timeout <= 3600.0):
        parser.error(f"--timeout {args.timeout} is outside (0, 3600]")
    return args


# ---------------------------------------------------------------- JSON-RPC client


class RpcError(RuntimeError):
    """A JSON-RPC error answer, or a transport failure."""


class Rpc:
    """One keep-alive HTTP connection to the node, orjson on both sides."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1, force_close=False),
            headers={"Content-Type": "application/json"},
            timeout=aiohttp.ClientTimeout(total=300),
            json_serialize=lambda o: orjson.dumps(o).decode(),
        )
        self._id = 0

    async def close(self) -> None:
        await self.session.close()

    async def post(self, body: bytes) -> Any:
        try:
            async with self.session.post(self.url, data=body) as resp:
                data = await resp.read()
        except aiohttp.ClientError as e:
            raise RpcError(f"{self.url}: {e}") from e
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as e:
            raise RpcError(f"{self.url}: not JSON: {data[:200]!r}") from e

    async def call(self, method: str, *params: Any) -> Any:
        self._id += 1
        reply = await self.post(rpc_body(method, list(params), self._id))
        if not isinstance(reply, dict):
            raise RpcError(f"{method}: unexpected answer {reply!r:.200}")
        if "error" in reply:
            raise RpcError(f"{method}: {reply['error']}")
        return reply.get("result")

    async def batch(self, calls: Sequence[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
        """Answers in call order (matched by id); each is the whole response object."""
        base = self._id
        self._id += len(calls)
        body = b"[" + b",".join(rpc_body(m, p, base + i) for i, (m, p) in enumerate(calls)) + b"]"
        reply = await self.post(body)
        if isinstance(reply, dict):  # a batch-level error
            raise RpcError(f"batch of {len(calls)}: {reply.get('error', reply)}")
        by_id = {r.get("id"): r for r in reply}
        return [by_id.get(base + i, {"error": "no answer"}) for i in range(len(calls))]


# ---------------------------------------------------------------- results


@dataclass(slots=True)
class ModeResult:
    mode: str
    txs: int
    ok: int = 0
    seconds: float = 0.0
    tps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    client_cpu_s: float = 0.0
    # eth_call (Token.balanceOf) from one more client while the mode's clients send
    # (``--call-during-load``): how the node answers reads under write load.
    load_calls: int = 0
    load_call_p50_ms: float = 0.0
    load_call_p99_ms: float = 0.0
    failures: list[str] = field(default_factory=list)
    failure_count: int = 0

    def fail(self, message: str) -> None:
        self.failure_count += 1
        if len(self.failures) < 20:
            self.failures.append(message)


@dataclass(slots=True)
class CallResult:
    method: str
    calls: int
    p50_ms: float
    p99_ms: float
    per_s: float


class Tally:
    """Latencies and failures of one timed mode, shared by its clients."""

    def __init__(self, result: ModeResult) -> None:
        self.result = result
        self.latencies: list[float] = []
        self.receipts: dict[str, dict[str, Any]] = {}


async def wait_receipt(
    rpc: Rpc, tx_hash: str, poll_s: float, timeout_s: float
) -> dict[str, Any] | None:
    deadline = time.perf_counter() + timeout_s
    while True:
        receipt = await rpc.call("eth_getTransactionReceipt", tx_hash)
        if receipt is not None or time.perf_counter() > deadline:
            return receipt
        await asyncio.sleep(poll_s)


async def closed_loop_client(
    rpc: Rpc, bodies: list[tuple[bytes, str]], tally: Tally, poll_s: float, timeout_s: float
) -> None:
    """Send one, wait for its receipt, repeat; a failed send is reported and skipped."""
    res = tally.result
    for body, tx_hash in bodies:
        t0 = time.perf_counter()
        try:
            reply = await rpc.post(body)
            if "error" in reply:
                res.fail(f"{tx_hash}: send: {reply['error']}")
                continue
            if reply.get("result") != tx_hash:
                res.fail(f"{tx_hash}: node returned hash {reply.get('result')}")
            receipt = await wait_receipt(rpc, tx_hash, poll_s, timeout_s)
        except RpcError as e:
            res.fail(f"{tx_hash}: {e}")
            continue
        if receipt is None:
            res.fail(f"{tx_hash}: no receipt after {timeout_s} s")
            continue
        tally.latencies.append(time.perf_counter() - t0)
        tally.receipts[tx_hash] = receipt


async def burst_client(
    rpc: Rpc,
    bodies: list[tuple[bytes, str]],
    batch: int,
    tally: Tally,
    poll_s: float,
    timeout_s: float,
) -> None:
    """Send batches of raw transactions; after each, poll the batch's receipts (batched)."""
    res = tally.result
    for start in range(0, len(bodies), batch):
        chunk = bodies[start : start + batch]
        payload = b"[" + b",".join(b for b, _ in chunk) + b"]"
        t0 = time.perf_counter()
        try:
            reply = await rpc.post(payload)
        except RpcError as e:
            for _, h in chunk:
                res.fail(f"{h}: batch send: {e}")
            continue
        if not isinstance(reply, list) or len(reply) != len(chunk):
            for _, h in chunk:
                res.fail(f"{h}: batch send answered {str(reply)[:200]}")
            continue
        pending: list[str] = []
        for r in reply:
            k = r.get("id", -1) - start if isinstance(r.get("id"), int) else -1
            if not 0 <= k < len(chunk):
                res.fail(f"batch send: answer with unknown id: {str(r)[:200]}")
            elif "error" in r:
                res.fail(f"{chunk[k][1]}: send: {r['error']}")
            elif r.get("result") != chunk[k][1]:
                res.fail(f"{chunk[k][1]}: node returned hash {r.get('result')}")
            else:
                pending.append(chunk[k][1])
        deadline = t0 + timeout_s
        while pending:
            try:
                answers = await rpc.batch([("eth_getTransactionReceipt", [h]) for h in pending])
            except RpcError as e:
                for h in pending:
                    res.fail(f"{h}: receipt: {e}")
                break
            now = time.perf_counter()
            still: list[str] = []
            for h, a in zip(pending, answers):
                receipt = a.get("result")
                if receipt is None:
                    still.append(h)
                else:
                    tally.latencies.append(now - t0)
                    tally.receipts[h] = receipt
            pending = still
            if pending:
                if now > deadline:
                    for h in pending:
                        res.fail(f"{h}: no receipt after {timeout_s} s")
                    break
                await asyncio.sleep(poll_s)


async def timed_mode(
    mode: str,
    rpcs: list[Rpc],
    work: list[list[tuple[bytes, str]]],
    run_client: Callable[[Rpc, list[tuple[bytes, str]], Tally], Awaitable[None]],
    probe: tuple[Rpc, bytes] | None = None,
) -> Tally:
    """Run the mode's clients; with ``probe`` (a connection and an eth_call body), one
    more client sends that call back to back until the others are done."""
    res = ModeResult(mode, sum(len(w) for w in work))
    tally = Tally(res)
    call_latencies: list[float] = []
    done = asyncio.Event()

    async def call_loop(rpc: Rpc, body: bytes) -> None:
        while not done.is_set():
            t = time.perf_counter()
            reply = await rpc.post(body)
            call_latencies.append(time.perf_counter() - t)
            if "error" in reply:
                res.fail(f"eth_call under load: {reply['error']}")

    cpu0, t0 = time.process_time(), time.perf_counter()
    prober = asyncio.ensure_future(call_loop(*probe)) if probe is not None else None
    try:
        await asyncio.gather(*(run_client(r, w, tally) for r, w in zip(rpcs, work) if w))
    finally:
        done.set()
        if prober is not None:
            await prober
    res.seconds = time.perf_counter() - t0
    if call_latencies:
        res.load_calls = len(call_latencies)
        res.load_call_p50_ms = percentile(call_latencies, 50) * 1e3
        res.load_call_p99_ms = percentile(call_latencies, 99) * 1e3
    res.client_cpu_s = time.process_time() - cpu0
    res.ok = len(tally.latencies)
    res.tps = res.ok / res.seconds if res.seconds > 0 else 0.0
    if tally.latencies:
        res.p50_ms = percentile(tally.latencies, 50) * 1e3
        res.p99_ms = percentile(tally.latencies, 99) * 1e3
    for h, receipt in tally.receipts.items():
        if receipt.get("status") != "0x1":
            res.fail(f"{h}: receipt status {receipt.get('status')}")
    return tally


async def time_calls(rpc: Rpc, method: str, params: list[Any], n: int) -> CallResult:
    body = rpc_body(method, params)
    for _ in range(min(10, n)):  # warm-up
        await rpc.post(body)
    lat: list[float] = []
    t_all = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        reply = await rpc.post(body)
        lat.append(time.perf_counter() - t0)
        if "error" in reply:
            raise RpcError(f"{method}: {reply['error']}")
    total = time.perf_counter() - t_all
    return CallResult(method, n, percentile(lat, 50) * 1e3, percentile(lat, 99) * 1e3, n / total)


# ---------------------------------------------------------------- one bench


@dataclass(frozen=True, slots=True)
class Lane:
    """``count`` transactions from sender key ``sender``, each one unit to recipient
    ``recipient`` (indices into the run's derived key lists)."""

    sender: int
    recipient: int
    count: int


def plan_lanes(txs: int, clients: int, batch: int) -> dict[str, list[list[Lane]]]:
    """Mode -> per client -> its lanes. ``sequential``: one client, sender 0. ``closed``: client
    i is sender i (sender 0 goes on from its sequential nonces). ``burst``: client i interleaves
    min(batch, share) fresh senders, so no batch holds two transactions of one sender (Hardhat
    runs a batch's requests concurrently and refuses a nonce gap under automine)."""
    plan: dict[str, list[list[Lane]]] = {"sequential": [[Lane(0, 0, txs)]]}
    plan["closed"] = [[Lane(i, 1 + i, n)] for i, n in enumerate(split_evenly(txs, clients))]
    burst: list[list[Lane]] = []
    next_key = clients
    for share in split_evenly(txs, clients):
        lanes = []
        for n in split_evenly(share, min(batch, share)):
            lanes.append(Lane(next_key, 1 + next_key, n))
            next_key += 1
        burst.append(lanes)
    plan["burst"] = burst
    return plan


def interleave(lanes: Sequence[Lane]) -> list[int]:
    """Lane index of each transaction of one client, round robin: lane j % k sends the j-th.
    With split_evenly's counts (larger first) every lane runs out exactly on time."""
    total = sum(lane.count for lane in lanes)
    k = len(lanes)
    if [lane.count for lane in lanes] != split_evenly(total, k):
        raise ValueError("lane counts are not an even split, larger first")
    order = [j % k for j in range(total)]
    return order


def key_totals(plan: dict[str, list[list[Lane]]]) -> dict[int, int]:
    """Sender key index -> how many transactions it sends over all modes."""
    totals: dict[int, int] = {}
    for clients in plan.values():
        for lanes in clients:
            for lane in lanes:
                totals[lane.sender] = totals.get(lane.sender, 0) + lane.count
    return totals


@dataclass(slots=True)
class Plan:
    """Who sends what, decided and signed before anything is timed."""

    kind: str
    lanes: dict[str, list[list[Lane]]]
    senders: list[coincurve.PrivateKey]
    recipients: list[bytes]
    work: dict[str, list[list[SignedTx]]]  # mode -> per-client signed txs, in send order
    last_nonce: dict[str, dict[int, int]]  # mode -> sender index -> its last nonce in the mode
    token: bytes | None


def sign_plan(
    kind: str,
    lanes: dict[str, list[list[Lane]]],
    senders: list[coincurve.PrivateKey],
    recipients: list[bytes],
    token: bytes | None,
    chain_id: int,
    max_fee: int,
) -> Plan:
    """Sign every timed transaction; each sender's nonces start at 0 and run on across modes."""
    nonces: dict[int, int] = {}
    work: dict[str, list[list[SignedTx]]] = {}
    last: dict[str, dict[int, int]] = {}
    for mode in (m for m in MODES if m in lanes):
        work[mode], last[mode] = [], {}
        for client_lanes in lanes[mode]:
            signed: list[SignedTx] = []
            for li in interleave(client_lanes):
                lane = client_lanes[li]
                nonce = nonces.get(lane.sender, 0)
                nonces[lane.sender] = nonce + 1
                last[mode][lane.sender] = nonce
                recipient = recipients[lane.recipient]
                if kind == "transfer":
                    to, value, data = recipient, 1, b""
                else:
                    assert token is not None
                    to, value, data = token, 0, erc20_transfer_data(recipient, 1)
                signed.append(
                    sign_1559(
                        senders[lane.sender],
                        chain_id=chain_id,
                        nonce=nonce,
                        max_priority_fee=min(TIP, max_fee),
                        max_fee=max_fee,
                        gas=GAS_LIMIT[kind],
                        to=to,
                        value=value,
                        data=data,
                    )
                )
            work[mode].append(signed)
    return Plan(kind, lanes, senders, recipients, work, last, token)


async def send_and_confirm(rpc: Rpc, txs: list[SignedTx], what: str, timeout_s: float) -> list[Any]:
    """Setup transactions, one request each (Hardhat runs a batch's requests concurrently, so a
    batch of one sender's nonces can arrive out of order); every receipt must have status 1."""
    receipts = []
    for t in txs:
        reply = await rpc.post(rpc_body("eth_sendRawTransaction", ["0x" + t.raw.hex()]))
        if "error" in reply:
            raise RpcError(f"{what}: {t.hash}: {reply['error']}")
        r = await wait_receipt(rpc, t.hash, 0.002, timeout_s)
        if r is None or r.get("status") != "0x1":
            raise RpcError(f"{what}: {t.hash}: receipt {r}")
        receipts.append(r)
    return receipts


async def balance(rpc: Rpc, kind: str, token: bytes | None, who: bytes) -> int:
    if kind == "transfer":
        return int(await rpc.call("eth_getBalance", hexaddr(who), "latest"), 16)
    assert token is not None
    out = await rpc.call(
        "eth_call", {"to": hexaddr(token), "data": "0x" + balance_of_data(who).hex()}, "latest"
    )
    return int(out, 16)


async def bench_node(
    url: str,
    kind: str,
    args: argparse.Namespace,
    modes: Sequence[str] = MODES,
    with_calls: bool = True,
) -> dict[str, Any]:
    """Set up, run ``modes`` (and the call timings) on one node; every figure as a dict."""
    rpc = Rpc(url)
    clients = [Rpc(url) for _ in range(args.clients)]
    try:
        return await _bench_node(rpc, clients, kind, args, modes, with_calls)
    finally:
        for r in (rpc, *clients):
            await r.close()


async def _bench_node(
    rpc: Rpc,
    clients: list[Rpc],
    kind: str,
    args: argparse.Namespace,
    run_modes: Sequence[str],
    with_calls: bool,
) -> dict[str, Any]:
    cpu_start = time.process_time()
    wall_start = time.perf_counter()
    client_version = await rpc.call("web3_clientVersion")
    chain_id = int(await rpc.call("eth_chainId"), 16)
    dev = coincurve.PrivateKey(DEV_KEY)
    dev_addr = address_of(dev)
    dev_nonce = int(await rpc.call("eth_getTransactionCount", hexaddr(dev_addr), "pending"), 16)
    latest = await rpc.call("eth_getBlockByNumber", "latest", False)
    base_fee = int(latest.get("baseFeePerGas") or await rpc.call("eth_gasPrice"), 16)
    max_fee = 3 * base_fee + TIP

    lanes = {
        m: v for m, v in plan_lanes(args.txs, args.clients, args.batch).items() if m in run_modes
    }
    totals = key_totals(lanes)
    # Fresh keys: a function of the seed and the dev account's nonce, so reruns never collide.
    n_keys = max(totals) + 1  # key indices of a single mode need not start at 0
    senders = derive_keys(args.seed, dev_nonce, n_keys)
    recipients = [address_of(k) for k in derive_keys(args.seed, dev_nonce + 2**40, n_keys + 1)]
    gas = GAS_LIMIT[kind]

    def dev_tx(to: bytes | None, value: int = 0, data: bytes = b"", g: int = 21_000) -> SignedTx:
        nonlocal dev_nonce
        t = sign_1559(
            dev,
            chain_id=chain_id,
            nonce=dev_nonce,
            max_priority_fee=TIP,
            max_fee=max_fee,
            gas=g,
            to=to,
            value=value,
            data=data,
        )
        dev_nonce += 1
        return t

    token_build = json.loads(TOKEN_JSON.read_text())
    deploy = bytes.fromhex(token_build["bytecode"][2:]) + TOKEN_SUPPLY.to_bytes(32, "big")
    (receipt,) = await send_and_confirm(
        rpc, [dev_tx(None, data=deploy, g=1_500_000)], "deploy Token", args.timeout
    )
    token = bytes.fromhex(receipt["contractAddress"][2:])
    funding = [
        dev_tx(address_of(senders[i]), value=n * (gas * max_fee + 1) + 10**15)
        for i, n in sorted(totals.items())
    ]
    await send_and_confirm(rpc, funding, "fund senders", args.timeout)
    if kind == "erc20":
        grants = [
            dev_tx(token, data=erc20_transfer_data(address_of(senders[i]), n), g=90_000)
            for i, n in sorted(totals.items())
        ]
        await send_and_confirm(rpc, grants, "grant tokens", args.timeout)

    t_sign = time.perf_counter()
    plan = sign_plan(kind, lanes, senders, recipients, token, chain_id, max_fee)
    sign_s = time.perf_counter() - t_sign
    setup_cpu_s = time.process_time() - cpu_start
    setup_s = time.perf_counter() - wall_start

    for c in clients:  # open every keep-alive connection before the clock starts
        await c.call("eth_chainId")
    start_block = int(await rpc.call("eth_blockNumber"), 16)  # chain length when timing starts

    poll_s, timeout_s = args.poll_ms / 1e3, args.timeout

    async def run_closed(r: Rpc, w: list[tuple[bytes, str]], t: Tally) -> None:
        await closed_loop_client(r, w, t, poll_s, timeout_s)

    async def run_burst(r: Rpc, w: list[tuple[bytes, str]], t: Tally) -> None:
        await burst_client(r, w, args.batch, t, poll_s, timeout_s)

    modes: dict[str, ModeResult] = {}
    for mode in (m for m in MODES if m in lanes):
        # Request ids are the position in the client's list: burst batches match answers by id.
        work = [
            [
                (rpc_body("eth_sendRawTransaction", ["0x" + t.raw.hex()], j), t.hash)
                for j, t in enumerate(w)
            ]
            for w in plan.work[mode]
        ]
        mode_lanes = [lane for client_lanes in lanes[mode] for lane in client_lanes]
        before = [await balance(rpc, kind, token, recipients[ln.recipient]) for ln in mode_lanes]
        runner = run_burst if mode == "burst" else run_closed
        probe = None
        if args.call_during_load:
            probe = (
                rpc,  # the set-up connection is idle while the mode runs
                rpc_body(
                    "eth_call",
                    [
                        {"to": hexaddr(token), "data": "0x" + balance_of_data(dev_addr).hex()},
                        "latest",
                    ],
                ),
            )
        tally = await timed_mode(mode, clients[: len(work)], work, runner, probe)
        await verify(rpc, plan, mode, mode_lanes, before, tally.result)
        modes[mode] = tally.result

    calls = []
    if with_calls:
        calls = [
            await time_calls(
                rpc,
                "eth_call",
                [{"to": hexaddr(token), "data": "0x" + balance_of_data(dev_addr).hex()}, "latest"],
                args.calls,
            ),
            await time_calls(rpc, "eth_blockNumber", [], args.calls),
        ]
    return {
        "kind": kind,
        "client_version": client_version,
        "chain_id": chain_id,
        "txs_per_mode": args.txs,
        "clients": args.clients,
        "batch": args.batch,
        "senders": len(senders),
        "start_block": start_block,
        "modes": {m: asdict(r) for m, r in modes.items()},
        "calls": {c.method: asdict(c) for c in calls},
        "setup_s": setup_s,
        "sign_s": sign_s,
        "setup_client_cpu_s": setup_cpu_s,
        "client_cpu_s": time.process_time() - cpu_start,
        "ok": all(r.failure_count == 0 for r in modes.values()),
    }


async def verify(
    rpc: Rpc, plan: Plan, mode: str, lanes: list[Lane], before: list[int], res: ModeResult
) -> None:
    """After a mode: every sender's nonce is one past its last transaction of the mode and every
    recipient got exactly one unit per transaction (receipt status is checked in timed_mode)."""
    if res.ok != res.txs:
        res.fail(f"{res.txs - res.ok} of {res.txs} transactions have no receipt")
    unit = "wei" if plan.kind == "transfer" else "token units"
    for lane, start in zip(lanes, before):
        sender = address_of(plan.senders[lane.sender])
        want = plan.last_nonce[mode][lane.sender] + 1
        nonce = int(await rpc.call("eth_getTransactionCount", hexaddr(sender), "latest"), 16)
        if nonce != want:
            res.fail(f"sender {hexaddr(sender)}: nonce {nonce}, expected {want}")
        to = plan.recipients[lane.recipient]
        got = await balance(rpc, plan.kind, plan.token, to) - start
        if got != lane.count:
            res.fail(f"recipient {hexaddr(to)}: got {got} {unit}, expected {lane.count}")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def machine() -> dict[str, Any]:
    return {"cpu_model": cpu_model(), "cpus": os.cpu_count(), "python": sys.version.split()[0]}


def median_result(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-figure medians over runs of one (node, kind)."""
    first = runs[0]
    med: dict[str, Any] = {
        "kind": first["kind"],
        "client_version": first["client_version"],
        "runs": len(runs),
        "ok": all(r["ok"] for r in runs),
        "modes": {},
        "calls": {},
        "client_cpu_s": statistics.median(r["client_cpu_s"] for r in runs),
    }
    for m in first["modes"]:
        med["modes"][m] = {
            k: statistics.median(r["modes"][m][k] for r in runs)
            for k in ("tps", "p50_ms", "p99_ms", "seconds", "client_cpu_s")
        }
        med["modes"][m]["failure_count"] = sum(r["modes"][m]["failure_count"] for r in runs)
    for c in first["calls"]:
        med["calls"][c] = {
            k: statistics.median(r["calls"][c][k] for r in runs) for k in ("p50_ms", "p99_ms")
        }
    return med


def format_table(rows: list[tuple[str, dict[str, Any]]]) -> str:
    """One line per (label, result): tx/s and latency of each mode, call latency, client CPU."""
    head = (
        f"{'node':<14} {'kind':<8} {'seq tx/s':>9} {'p50 ms':>6} {'closed tx/s':>11} {'p50/p99 ms':>13} "
        f"{'burst tx/s':>10} {'p50/p99 ms':>13} {'call p50/p99':>13} {'bn p50':>7} "
        f"{'cpu s':>6} ok"
    )
    lines = [head, "-" * len(head)]
    for label, r in rows:
        m, c = r["modes"], r["calls"]
        lines.append(
            f"{label:<14} {r['kind']:<8} {m['sequential']['tps']:>9,.0f} "
            f"{m['sequential']['p50_ms']:>6.2f} "
            f"{m['closed']['tps']:>11,.0f} "
            f"{m['closed']['p50_ms']:>6.2f}/{m['closed']['p99_ms']:<6.2f} "
            f"{m['burst']['tps']:>10,.0f} "
            f"{m['burst']['p50_ms']:>6.1f}/{m['burst']['p99_ms']:<6.1f} "
            f"{c['eth_call']['p50_ms']:>6.2f}/{c['eth_call']['p99_ms']:<6.2f} "
            f"{c['eth_blockNumber']['p50_ms']:>7.2f} {r['client_cpu_s']:>6.1f} "
            f"{'yes' if r['ok'] else 'NO'}"
        )
    return "\n".join(lines)


def failure_lines(label: str, r: dict[str, Any]) -> list[str]:
    out = []
    for m, mr in r["modes"].items():
        if mr.get("failure_count"):
            out.append(f"{label} {r['kind']} {m}: {mr['failure_count']} failures")
            out.extend(f"  {f}" for f in mr.get("failures", []))
    return out


# ---------------------------------------------------------------- main


def merge_results(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One result from runs of single modes (each on its own fresh node)."""
    merged = dict(parts[0])
    merged["modes"] = {m: r for p in parts for m, r in p["modes"].items()}
    merged["calls"] = {c: r for p in parts for c, r in p["calls"].items()}
    merged["start_block"] = {m: p["start_block"] for p in parts for m in p["modes"]}
    for key in ("setup_s", "sign_s", "setup_client_cpu_s", "client_cpu_s"):
        merged[key] = sum(p[key] for p in parts)
    merged["senders"] = max(p["senders"] for p in parts)
    merged["ok"] = all(p["ok"] for p in parts)
    return merged


def _start_peer(kind: str, port: int) -> AbstractContextManager[str]:
    """scripts/peers/start.py's start_peer, imported only when a peer is to be started."""
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)
    from peers.start import exit_on_sigterm, start_peer

    exit_on_sigterm()  # a killed bench still ends its peer
    return start_peer(kind, port)


async def run_targets(args: argparse.Namespace) -> dict[str, Any]:
    targets: list[tuple[str, str | None]] = (
        [(args.url, args.url)] if args.url is not None else args.peers
    )
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for run in range(args.runs):
        for label, url in targets:
            for kind in args.kind:
                print(f"run {run + 1}/{args.runs}: {label} {kind} ...", file=sys.stderr)
                if url is not None or args.same_node:
                    ctx = _start_peer(label, args.port) if url is None else nullcontext(url)
                    with ctx as node_url:
                        result = await bench_node(node_url, kind, args)
                else:  # a fresh peer for each mode: anvil slows down as its chain grows
                    parts = []
                    for mode in MODES:
                        with _start_peer(label, args.port) as node_url:
                            parts.append(
                                await bench_node(node_url, kind, args, [mode], mode == MODES[-1])
                            )
                    result = merge_results(parts)
                runs.setdefault((label, kind), []).append(result)
                # Progress on stderr (also with --json, whose object goes to stdout at the end).
                print(format_table([(label, result)]), file=sys.stderr)
                for line in failure_lines(label, result):
                    print(line, file=sys.stderr)
    return {
        "machine": machine(),
        "command": " ".join(["scripts/bench_rpc.py", *sys.argv[1:]]),
        "results": [
            {"node": label, "kind": kind, "median": median_result(rs), "runs": rs}
            for (label, kind), rs in runs.items()
        ],
        "client_cpu_s_total": time.process_time(),
        "ok": all(r["ok"] for rs in runs.values() for r in rs),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not TOKEN_JSON.is_file():
        print(f"error: {TOKEN_JSON} is missing (scripts/build_contracts.py)", file=sys.stderr)
        return 1
    try:
        report = asyncio.run(run_targets(args))
    except RpcError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except Exception as e:
        if type(e).__name__ != "PeerError":
            raise
        print(f"error: {e}", file=sys.stderr)
        return 1
    if args.json:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        m = report["machine"]
        print(f"machine: {m['cpu_model']}, {m['cpus']} CPUs; {report['command']}")
        print(
            f"txs per mode {args.txs}, {args.clients} clients, batch {args.batch}, "
            f"runs {args.runs} (medians)"
        )
        rows = [(r["node"], r["median"]) for r in report["results"]]
        print(format_table(rows))
        for r in report["results"]:
            for line in failure_lines(r["node"], r["median"]):
                print(line)
        print(f"client CPU total {report['client_cpu_s_total']:.1f} s")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
