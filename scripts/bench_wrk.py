"""Node-level transaction throughput with wrk (a C load generator) and pre-signed transactions.

A Python load client (scripts/bench_rpc.py) takes most of one core on our 2-core machine; here the
load comes from ``wrk`` and a Lua script (scripts/wrk/send_raw.lua) that only walks pre-built
request bodies, so the node keeps the machine. ``wrk`` is not installed by this script:
``apt-get install -y wrk`` (Debian/Ubuntu), or ``--wrk PATH``.

For each target (``hummingbird-w1``: ``python -m rpc.cli --ephemeral --quiet --workers 1``;
``hummingbird-w0``: the same with ``--workers 0``; ``hummingbird-w1-log``: ``hummingbird-w1``
with the default node log instead of ``--quiet``; ``anvil``: scripts/peers' anvil 1.7.1) and
each kind, a fresh node is started on a free 127.0.0.1 port and stopped afterwards, and gets the
same set-up over JSON-RPC: dev account 0 deploys tests/contracts/build/Token.json and funds
``--senders`` fresh senders with ether and tokens (waited for until mined). Then ``--txs``
transactions of the kind (``transfer``: 1 wei to a fresh address each; ``erc20``: 1 token unit to a
fresh address each) are signed beforehand (EIP-1559, fixed ``--max-fee-gwei``; the same bodies
serve every target whose chain id and token address match) and written as ready-to-send JSON-RPC
bodies (one ``eth_sendRawTransaction`` each, or batches of ``--batch`` with one transaction of
each of ``--batch`` distinct senders) into a file that the Lua script reads.

Slicing (see plan_bodies and send_raw.lua): senders are split into contiguous blocks, one per
wrk thread; a thread's senders are cut into groups of ``--batch``; body r of a group carries nonce
r of each of its senders. A wrk thread sends only its own lines, and a group never has two
bodies in flight (the next one waits for the previous answer, matched by the JSON-RPC id), so
every sender's nonces arrive in order over whichever connection of its thread is free. wrk gives
the Lua script no connection identity, hence per-thread slices rather than per-connection ones;
with ``--connections`` equal to ``--threads`` each sender's transactions do use one connection.

What is measured: wrk runs for at most ``--duration`` seconds; meanwhile this script polls the
head every ``--poll-ms`` and sums the new blocks' transaction counts (``mined`` over time); once
everything is mined (or every wrk thread finished and mining stalled) wrk is stopped. After that
each sender's nonce at ``latest`` is read (batched) as the final mined count. Reported per target
and kind: accepted transactions/s (answers without an error over first send to last answer, from
the Lua script), wrk's own requests/s and latency percentiles, each body's send-to-answer p50/p99,
errors (non-200, JSON-RPC errors, socket errors), mined tx/s (steady: between 10% and 90% of the
final mined count; overall: first send to the last one mined), the time to mine everything, the
node's CPU seconds (utime + stime of its whole process tree from /proc: up to the poll that saw
the last transaction mined, and in total up to the end of the wait), wrk's CPU seconds, and the
ratios hummingbird/anvil and workers1/workers0. ``--json OUT`` writes all of it. wrk's latency
percentiles include its coordinated-omission correction (a few slow first answers inflate its
p90/p99 on short runs); the table's p50/p99 are each body's own send-to-answer times.

anvil 1.7.1 under this load answers every send but can stop mining with transactions left ready
in its pool (txpool_status ``pending``) while it spins a core (cf. foundry-rs/foundry#10122):
such a run shows mined < sent and is marked NOT OK; nothing here nudges it with evm_mine.

Usage::

    python scripts/bench_wrk.py --txs 20000 --senders 256 --threads 1 --connections 32 \\
        --duration 60 --json wrk.json
    python scripts/bench_wrk.py --targets anvil --kind erc20 --txs 2000 --duration 5
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import math
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import coincurve
import orjson

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for _p in (str(HERE), str(ROOT)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from bench_dev import Rpc, RpcError  # noqa: E402
from bench_rpc import (  # noqa: E402
    DEV_KEY,
    TOKEN_JSON,
    address_of,
    erc20_transfer_data,
    hexaddr,
    keccak,
    machine,
    percentile,
    sign_1559,
    split_evenly,
)

HOST = "127.0.0.1"
LUA_SCRIPT = HERE / "wrk" / "send_raw.lua"
WRK_INSTALL_HINT = (
    "wrk is not installed: `apt-get install -y wrk` (Debian/Ubuntu, as root), "
    "or give its path with --wrk PATH"
)
BODIES_MAGIC = "HBWRK1"
ID_STRIDE = 1000  # JSON-RPC id = body seq * ID_STRIDE + position in the body (send_raw.lua)

KINDS = ("transfer", "erc20")
# hummingbird-w1-log: hummingbird-w1 with the default node log (a line per request and
# the anvil-style block lines, into the node's log file) instead of --quiet: issue 21's
# cost of logging, beside hummingbird-w1 in the same run.
# hummingbird-w1-dashboard: hummingbird-w1 with the dashboard open in headless Chromium
# (tests/e2e/dashboard/watch.mjs) for the whole run: issue 21's cost of watching.
DASHBOARD_DRIVER = ROOT / "tests" / "e2e" / "dashboard" / "watch.mjs"
TARGETS = (
    "hummingbird-w1",
    "hummingbird-w0",
    "hummingbird-w1-log",
    "hummingbird-w1-dashboard",
    "anvil",
)
DEFAULT_TARGETS = ("hummingbird-w1", "hummingbird-w0", "anvil")
ENGINES = ("interpreter", "jit", "auto", "native")
GAS_LIMIT = {"transfer": 21_000, "erc20": 90_000}
TIP = 10**9  # max priority fee, wei
TOKEN_SUPPLY = 10**27
GWEI = 10**9
FUNDING_CAP_WEI = 9_000 * 10**18  # dev account 0 holds 10,000 ether on both nodes
SETUP_BATCH = 100  # setup transactions per JSON-RPC batch
POLL_CHUNK = 500  # block counts / nonces per JSON-RPC batch (Hummingbird allows 1,000)

# Inclusive bounds of the numeric options: outside them the run is refused with a clear error.
LIMITS: dict[str, tuple[int, int]] = {
    "txs": (1, 1_000_000),
    "senders": (1, 10_000),
    "threads": (1, 64),
    "connections": (1, 4_096),
    "batch": (1, ID_STRIDE),
    "duration": (1, 3_600),
    "seed": (0, 2**63 - 1),
    "max_fee_gwei": (2, 10_000),
    "poll_ms": (5, 1_000),
    "settle": (1, 600),
    "wrk_timeout": (1, 60),
    "native_runs": (0, 1_000_000_000),
}


# ---------------------------------------------------------------- the send plan (pure)


@dataclass(frozen=True, slots=True)
class Body:
    """One request body: one transaction of each of ``items``' senders, sent by wrk thread
    ``thread``. ``group`` is global (unique over threads); ``seq`` numbers bodies from 1 in file
    order, and the JSON-RPC id of item k is ``seq * ID_STRIDE + k``."""

    thread: int
    group: int
    seq: int
    items: tuple[tuple[int, int], ...]  # (sender index, nonce), in body order

    def ids(self) -> list[int]:
        return [self.seq * ID_STRIDE + k for k in range(len(self.items))]


def min_groups_per_thread(senders: int, threads: int, batch: int) -> int:
    """Groups of the thread with the fewest senders."""
    return math.ceil((senders // threads) / batch)


def plan_problems(txs: int, senders: int, threads: int, connections: int, batch: int) -> list[str]:
    """Why this shape cannot run (empty when it can)."""
    out = []
    if connections < threads or connections % threads:
        out.append(
            f"--connections {connections} must be a multiple of --threads {threads} "
            "(wrk gives each thread connections/threads connections)"
        )
    if senders < threads:
        out.append(f"--senders {senders} is fewer than --threads {threads}")
    if txs < senders:
        out.append(f"--txs {txs} is fewer than --senders {senders} (every sender sends one)")
    if not out:
        per_thread = connections // threads
        groups = min_groups_per_thread(senders, threads, batch)
        if groups < per_thread:
            out.append(
                f"a thread gets {groups} sender groups (--senders {senders} / --threads "
                f"{threads} / --batch {batch}) but {per_thread} connections: raise --senders to "
                f"at least {connections * batch} so a connection always finds a group with "
                "nothing in flight"
            )
    return out


def plan_bodies(txs: int, senders: int, threads: int, batch: int) -> list[Body]:
    """Every body, in file order (thread, group, nonce round). Sender i sends
    ``split_evenly(txs, senders)[i]`` transactions with nonces 0, 1, ...; thread t owns a
    contiguous block of senders; a group is ``batch`` consecutive senders of one thread."""
    counts = split_evenly(txs, senders)
    bodies: list[Body] = []
    group = 0
    first = 0
    for thread, n_senders in enumerate(split_evenly(senders, threads)):
        block = range(first, first + n_senders)
        first += n_senders
        for g0 in range(0, n_senders, batch):
            members = block[g0 : g0 + batch]
            for r in range(max(counts[s] for s in members)):
                items = tuple((s, r) for s in members if counts[s] > r)
                bodies.append(Body(thread, group, len(bodies) + 1, items))
            group += 1
    return bodies


def check_plan(bodies: Sequence[Body], txs: int) -> None:
    """The plan's invariants: every (sender, nonce) exactly once; a sender in one thread and one
    group only; nonces of a sender in file order 0, 1, 2, ...; no body twice one sender."""
    seen: dict[int, tuple[int, int, int]] = {}  # sender -> (thread, group, next nonce)
    total = 0
    for b in bodies:
        senders = [s for s, _ in b.items]
        if len(set(senders)) != len(senders):
            raise AssertionError(f"body {b.seq} holds one sender twice")
        for s, nonce in b.items:
            thread, group, want = seen.get(s, (b.thread, b.group, 0))
            if (thread, group) != (b.thread, b.group):
                raise AssertionError(f"sender {s} is in two slices")
            if nonce != want:
                raise AssertionError(f"sender {s}: nonce {nonce} where {want} was due")
            seen[s] = (thread, group, nonce + 1)
            total += 1
    if total != txs:
        raise AssertionError(f"{total} transactions planned, {txs} asked")


# ---------------------------------------------------------------- bodies file (pure)


def request_item(req_id: int, raw: bytes) -> bytes:
    return b'{"jsonrpc":"2.0","id":%d,"method":"eth_sendRawTransaction","params":["0x%s"]}' % (
        req_id,
        raw.hex().encode(),
    )


def render_body(body: Body, raws: Sequence[bytes], batch: int) -> bytes:
    """One request object when ``batch`` is 1, else a JSON-RPC batch (an array, also when a
    group's last round has fewer senders)."""
    if len(raws) != len(body.items):
        raise ValueError(f"body {body.seq}: {len(raws)} raw transactions for {len(body.items)}")
    items = [request_item(i, raw) for i, raw in zip(body.ids(), raws)]
    if batch == 1:
        return items[0]
    return b"[" + b",".join(items) + b"]"


def bodies_header(fields: dict[str, Any]) -> bytes:
    for k, v in fields.items():
        if not k.isidentifier() or any(c in str(v) for c in "\t\r\n"):
            raise ValueError(f"bad header field {k}={v!r}")
    return ("\t".join([BODIES_MAGIC, *(f"{k}={v}" for k, v in fields.items())]) + "\n").encode()


def body_line(body: Body, rendered: bytes) -> bytes:
    if b"\n" in rendered or b"\r" in rendered:
        raise ValueError(f"body {body.seq} has a line break")
    return b"%d\t%d\t%d\t%d\t%s\n" % (body.thread, body.group, body.seq, len(body.items), rendered)


def read_bodies(path: Path) -> tuple[dict[str, str], list[tuple[int, int, int, int, bytes]]]:
    """The header fields and (thread, group, seq, txs, body) of each line: the format
    send_raw.lua reads."""
    with path.open("rb") as f:
        head = f.readline().rstrip(b"\n").decode().split("\t")
        if head[0] != BODIES_MAGIC:
            raise ValueError(f"{path}: not a bodies file")
        fields = dict(x.split("=", 1) for x in head[1:])
        lines = []
        for line in f:
            t, g, s, n, body = line.rstrip(b"\n").split(b"\t", 4)
            lines.append((int(t), int(g), int(s), int(n), body))
    return fields, lines


# ---------------------------------------------------------------- measurement (pure)


def level_time(samples: Sequence[tuple[float, int]], level: float) -> float | None:
    """When the mined count first reached ``level``, interpolated between the two samples
    around it (samples: (wall time, mined so far), in time order)."""
    prev_t, prev_m = None, 0
    for t, m in samples:
        if m >= level:
            if prev_t is None or m == prev_m:
                return t
            return prev_t + (level - prev_m) / (m - prev_m) * (t - prev_t)
        prev_t, prev_m = t, m
    return None


def mined_rate(
    samples: Sequence[tuple[float, int]], t0: float, expected: int, lo: float = 0.1, hi: float = 0.9
) -> dict[str, Any]:
    """Mined throughput from polled (wall time, mined so far) samples, ``t0`` = first send.

    steady_tx_s: (hi - lo) of the final count over the time between reaching lo and hi of it
    (leaves out the ramp-up and the tail); overall_tx_s: final count / (t0 to reaching it);
    all_mined_s: t0 to reaching ``expected`` (None if it never was)."""
    if not 0.0 <= lo < hi <= 1.0:
        raise ValueError(f"bad levels {lo}, {hi}")
    clean: list[tuple[float, int]] = []
    best = 0
    for t, m in sorted(samples):
        if not math.isfinite(t) or m < 0:
            raise ValueError(f"bad sample ({t}, {m})")
        best = max(best, m)  # a count never goes down
        clean.append((t, best))
    final = best
    out: dict[str, Any] = {
        "mined": final,
        "expected": expected,
        "complete": expected > 0 and final >= expected,
        "steady_tx_s": None,
        "overall_tx_s": None,
        "all_mined_s": None,
        "last_mined_s": None,
        "samples": len(clean),
    }
    if final <= 0:
        return out
    t_final = level_time(clean, final)
    assert t_final is not None
    out["last_mined_s"] = t_final - t0
    if t_final > t0:
        out["overall_tx_s"] = final / (t_final - t0)
    if out["complete"]:
        t_all = level_time(clean, expected)
        out["all_mined_s"] = None if t_all is None else t_all - t0
    t_lo, t_hi = level_time(clean, lo * final), level_time(clean, hi * final)
    if t_lo is not None and t_hi is not None and t_hi > t_lo:
        out["steady_tx_s"] = (hi - lo) * final / (t_hi - t_lo)
    return out


def summarize_lua(res: dict[str, Any]) -> dict[str, Any]:
    """Totals over wrk threads of send_raw.lua's result file, and body latency percentiles."""
    threads = res.get("threads") or []

    def total(key: str) -> int:
        return int(sum(t.get(key, 0) for t in threads))

    firsts = [t["t_first"] for t in threads if t.get("t_first")]
    lasts = [t["t_last_answer"] for t in threads if t.get("t_last_answer")]
    lat = sorted(x for t in threads for x in t.get("lat_us", []))
    answered = total("n_txs_answered")
    accepted = answered - total("n_error_txs")
    t_first = min(firsts) if firsts else None
    t_last = max(lasts) if lasts else None
    window = (t_last - t_first) if t_first is not None and t_last is not None else None
    sock = res.get("socket_errors") or {}
    socket_errors = int(sum(sock.get(k, 0) for k in ("connect", "read", "write", "timeout")))
    return {
        "planned_txs": total("n_planned_txs"),
        "planned_bodies": total("n_planned_bodies"),
        "sent_txs": total("n_txs_sent"),
        "sent_bodies": total("n_bodies_sent"),
        "answered_bodies": total("n_bodies_answered"),
        "accepted_txs": accepted,
        "t_first": t_first,
        "t_last_answer": t_last,
        "send_window_s": window,
        "accepted_tx_s": accepted / window if window is not None and window > 0 else None,
        "accepted_req_s": (
            total("n_bodies_answered") / window if window is not None and window > 0 else None
        ),
        "body_latency_ms": {
            "p50": percentile(lat, 50) / 1e3 if lat else None,
            "p99": percentile(lat, 99) / 1e3 if lat else None,
            "max": lat[-1] / 1e3 if lat else None,
        },
        "wrk_latency_ms": {
            k: (v / 1e3 if isinstance(v, int | float) else None)
            for k, v in (res.get("latency_us") or {}).items()
        },
        "wrk_requests": res.get("requests"),
        "wrk_duration_s": (res.get("duration_us") or 0) / 1e6,
        "errors": {
            "total": total("n_bad") + socket_errors,
            "bad_answers": total("n_bad"),
            "http_non_200": total("n_http_errors"),
            "jsonrpc_error_bodies": total("n_error_bodies"),
            "jsonrpc_error_txs": total("n_error_txs"),
            "unmatched_answers": total("n_unmatched"),
            "socket": socket_errors,
            "socket_detail": sock,
            "samples": [s for t in threads for s in t.get("error_samples", [])][:10],
        },
        "fillers": total("n_fillers"),
        "clock": res.get("clock"),
    }


def parse_wrk_stdout(text: str) -> dict[str, Any]:
    """wrk's printed ``Requests/sec`` and ``N requests in T`` line."""
    out: dict[str, Any] = {"requests_per_s": None}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("Requests/sec:"):
            with contextlib.suppress(ValueError):
                out["requests_per_s"] = float(line.split(":", 1)[1])
    return out


def proc_stat_fields(text: str) -> tuple[int, float]:
    """(ppid, utime + stime + cutime + cstime in clock ticks) of one /proc/PID/stat line; the
    comm field may hold spaces and ')'. Reaped children's time is in their parent's c*time."""
    rest = text[text.rindex(")") + 2 :].split()
    # rest[0] is field 3 (state): ppid is field 4, utime..cstime are fields 14-17.
    return int(rest[1]), float(sum(int(x) for x in rest[11:15]))


def process_tree(root: int, proc: Path = Path("/proc")) -> dict[int, float]:
    """``root`` and every live descendant (e.g. the node's worker processes): pid -> CPU ticks."""
    children: dict[int, list[int]] = {}
    ticks: dict[int, float] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid, t = proc_stat_fields((entry / "stat").read_text())
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        pid = int(entry.name)
        ticks[pid] = t
        children.setdefault(ppid, []).append(pid)
    out: dict[int, float] = {}
    todo = [root]
    while todo:
        pid = todo.pop()
        if pid in out or pid not in ticks:
            continue
        out[pid] = ticks[pid]
        todo.extend(children.get(pid, []))
    return out


def tree_cpu_seconds(root: int, proc: Path = Path("/proc")) -> float:
    """CPU seconds (utime + stime, reaped children included) of ``root``'s process tree."""
    return sum(process_tree(root, proc).values()) / os.sysconf("SC_CLK_TCK")


def pids_cpu_seconds(pids: Sequence[int], proc: Path = Path("/proc")) -> float:
    """CPU seconds of these processes (cheap enough to read at every poll); gone ones count 0."""
    total = 0.0
    for pid in pids:
        try:
            total += proc_stat_fields((proc / str(pid) / "stat").read_text())[1]
        except (OSError, ValueError, IndexError):
            continue
    return total / os.sysconf("SC_CLK_TCK")


def cpu_at_last_mined(samples: Sequence[tuple[float, int, float]]) -> float | None:
    """The CPU reading of the first (time, mined, cpu) sample that shows the final mined count."""
    if not samples:
        return None
    final = max(m for _, m, _ in samples)
    return next(c for _, m, c in sorted(samples) if m >= final)


def ratios(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """hummingbird-wN / anvil and hummingbird-w1 / hummingbird-w0, per kind, of mined tx/s
    (steady and overall) and accepted tx/s."""
    by = {(r["target"], r["kind"]): r for r in results}
    pairs = [("hummingbird-w1", "anvil"), ("hummingbird-w0", "anvil")]
    pairs.append(("hummingbird-w1", "hummingbird-w0"))
    pairs.append(("hummingbird-w1-log", "hummingbird-w1"))  # what the node log costs
    pairs.append(("hummingbird-w1-dashboard", "hummingbird-w1"))  # what watching costs
    out = []
    for kind in dict.fromkeys(r["kind"] for r in results):
        for a, b in pairs:
            ra, rb = by.get((a, kind)), by.get((b, kind))
            if ra is None or rb is None:
                continue
            entry: dict[str, Any] = {"kind": kind, "ratio": f"{a}/{b}"}
            for key in ("mined_steady_tx_s", "mined_overall_tx_s", "accepted_tx_s"):
                x, y = ra.get(key), rb.get(key)
                entry[key] = x / y if x and y else None
            # A side that did not mine all it sent (anvil's stall): its rates are over fewer txs.
            entry["incomplete"] = [t for t, r in ((a, ra), (b, rb)) if not r.get("complete", True)]
            out.append(entry)
    return out


def _fmt(x: Any, spec: str = ",.0f") -> str:
    return "-" if x is None else format(x, spec)


def format_table(results: Sequence[dict[str, Any]]) -> str:
    """One line per (target, kind). p50/p99: each body's send-to-answer time (send_raw.lua);
    wrk's own percentiles (with its coordinated-omission correction) are in the JSON."""
    head = (
        f"{'target':<15} {'kind':<8} {'accepted tx/s':>13} {'wrk req/s':>9} {'mined tx/s':>10} "
        f"{'overall':>8} {'mined/sent':>13} {'all mined s':>11} {'p50/p99 ms':>13} "
        f"{'errors':>6} {'node cpu s':>10} {'µs/tx':>6} {'wrk cpu s':>9}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        lat = r["body_latency_ms"]
        mined = f"{r['mined_by_nonce']}/{r['sent_txs']}"
        lines.append(
            f"{r['target']:<15} {r['kind']:<8} {_fmt(r['accepted_tx_s']):>13} "
            f"{_fmt(r['wrk_requests_per_s']):>9} {_fmt(r['mined_steady_tx_s']):>10} "
            f"{_fmt(r['mined_overall_tx_s']):>8} {mined:>13} {_fmt(r['all_mined_s'], '.2f'):>11} "
            f"{_fmt(lat.get('p50'), '.2f'):>6}/{_fmt(lat.get('p99'), '.2f'):<6} "
            f"{r['errors']['total']:>6} {_fmt(r['node_cpu_s'], '.2f'):>10} "
            f"{_fmt(r['node_cpu_us_per_tx'], '.0f'):>6} {_fmt(r['wrk_cpu_s'], '.2f'):>9}"
            + ("" if r["ok"] else "  NOT OK")
        )
    return "\n".join(lines)


def format_ratios(rows: Sequence[dict[str, Any]]) -> str:
    lines = []
    for r in rows:
        lines.append(
            f"{r['kind']:<8} {r['ratio']:<32} mined steady {_fmt(r['mined_steady_tx_s'], '.2f')}x"
            f"  overall {_fmt(r['mined_overall_tx_s'], '.2f')}x"
            f"  accepted {_fmt(r['accepted_tx_s'], '.2f')}x"
            + (
                f"  (did not mine all it sent: {', '.join(r['incomplete'])})"
                if r["incomplete"]
                else ""
            )
        )
    return "\n".join(lines)


# ---------------------------------------------------------------- arguments


def _bounded(name: str) -> Callable[[str], int]:
    lo, hi = LIMITS[name]

    def parse(text: str) -> int:
        if not re.fullmatch(r"[+-]?[0-9]{1,20}", text.strip(), flags=re.ASCII):
            raise argparse.ArgumentTypeError(f"{text[:40]!r} is not an integer")
        value = int(text.strip(), 10)
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{value} is outside {lo}..{hi}")
        return value

    return parse


def _choices(allowed: Sequence[str], what: str) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        items = [k.strip() for k in text.split(",") if k.strip()]
        bad = [k for k in items if k not in allowed]
        if not items or bad:
            shown = ", ".join(repr(k[:40]) for k in bad) or repr(text[:40])
            raise argparse.ArgumentTypeError(
                f"unknown {what} {shown}; expected a comma list of {', '.join(allowed)}"
            )
        return list(dict.fromkeys(items))

    return parse


def _executable(text: str) -> str:
    path = shutil.which(text)
    if path is None:
        raise argparse.ArgumentTypeError(f"{text[:200]!r} is not an executable")
    return path


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench_wrk.py",
        description="Node throughput with wrk sending pre-signed transactions; counts what is mined.",
    )
    p.add_argument(
        "--targets",
        type=_choices(TARGETS, "target"),
        default=list(DEFAULT_TARGETS),
        help=f"comma list of {', '.join(TARGETS)} (default: {','.join(DEFAULT_TARGETS)})",
    )
    p.add_argument("--kind", type=_choices(KINDS, "kind"), default=list(KINDS), help="kinds")
    p.add_argument("--txs", type=_bounded("txs"), default=20_000, help="transactions per kind")
    p.add_argument("--senders", type=_bounded("senders"), default=256, help="funded senders")
    p.add_argument("--threads", "-t", type=_bounded("threads"), default=1, help="wrk threads")
    p.add_argument(
        "--connections", "-c", type=_bounded("connections"), default=32, help="wrk connections"
    )
    p.add_argument(
        "--duration", "-d", type=_bounded("duration"), default=60, help="wrk seconds (at most)"
    )
    p.add_argument(
        "--batch", type=_bounded("batch"), default=1, help="transactions per request (JSON batch)"
    )
    p.add_argument("--seed", type=_bounded("seed"), default=1, help="sender key seed")
    p.add_argument(
        "--max-fee-gwei", type=_bounded("max_fee_gwei"), default=10, help="max fee per gas"
    )
    p.add_argument("--poll-ms", type=_bounded("poll_ms"), default=50, help="head poll interval")
    p.add_argument(
        "--settle",
        type=_bounded("settle"),
        default=10,
        help="seconds without a newly mined transaction before giving up on the rest",
    )
    p.add_argument("--wrk-timeout", type=_bounded("wrk_timeout"), default=5, help="wrk -T seconds")
    p.add_argument("--engine", choices=ENGINES, help="Hummingbird's --engine (default: its own)")
    p.add_argument(
        "--native-runs",
        type=_bounded("native_runs"),
        help="Hummingbird's --native-runs (default: its own; 0: no machine code under auto)",
    )
    p.add_argument("--wrk", type=_executable, help="the wrk binary (default: wrk on PATH)")
    p.add_argument("--keep", type=Path, metavar="DIR", help="keep bodies and wrk results here")
    p.add_argument("--json", type=Path, metavar="OUT", help="also write the report here")
    return p


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    problems = plan_problems(args.txs, args.senders, args.threads, args.connections, args.batch)
    if args.batch > args.senders // args.threads:
        problems.append(f"--batch {args.batch} is more than the senders of a thread")
    funding = args.txs * GAS_LIMIT["erc20"] * args.max_fee_gwei * GWEI
    if funding > FUNDING_CAP_WEI:
        problems.append(
            f"--txs {args.txs} at --max-fee-gwei {args.max_fee_gwei} needs "
            f"{funding / 1e18:,.0f} ether of funding; dev account 0 has 10,000"
        )
    for name in ("json", "keep"):
        path = getattr(args, name)
        if path is not None and ("\0" in str(path) or "\n" in str(path)):
            problems.append(f"--{name}: bad path")
    if problems:
        parser.error("; ".join(problems))
    return args


# ---------------------------------------------------------------- nodes


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def node_command(
    target: str, port: int, engine: str | None, native_runs: int | None = None
) -> tuple[list[str], Path]:
    if target == "anvil":
        from peers.start import peer_command

        return peer_command("anvil", port)
    if target.startswith("hummingbird-w"):
        logged = target.endswith("-log")
        argv = [sys.executable, "-m", "rpc.cli", "--port", str(port), "--ephemeral"]
        argv += [] if logged else ["--quiet"]
        argv += ["--workers", target.removeprefix("hummingbird-w")[0]]
        if engine is not None:
            argv += ["--engine", engine]
        if native_runs is not None:
            argv += ["--native-runs", str(native_runs)]
        return argv, ROOT
    raise ValueError(f"unknown target {target!r}")


@dataclass(frozen=True, slots=True)
class Node:
    url: str
    pid: int
    argv: list[str]


@contextlib.contextmanager
def start_node(target: str, engine: str | None, native_runs: int | None = None) -> Iterator[Node]:
    """Start ``target`` on a free 127.0.0.1 port in its own session; end its group on exit."""
    if target == "anvil":
        from peers.start import ANVIL

        if not ANVIL.is_file():
            raise RuntimeError(f"anvil is not installed ({ANVIL}): npm ci --prefix scripts/peers")
    port = free_port()
    argv, cwd = node_command(target, port, engine, native_runs)
    log_dir = ROOT / ".peers"
    log_dir.mkdir(exist_ok=True)
    log_path = log_dir / f"bench_wrk-{target}-{port}.log"
    url = f"http://{HOST}:{port}"
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(
            argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        probe = Rpc(url, 2.0)
        try:
            deadline = time.monotonic() + 90.0
            while True:
                if proc.poll() is not None:
                    tail = log_path.read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"{target} exited with {proc.returncode}:\n{tail}")
                try:
                    probe.call("eth_chainId")
                    break
                except RpcError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{target} did not answer eth_chainId in 90 s")
                time.sleep(0.1)
        finally:
            probe.close()
        yield Node(url, proc.pid, argv)
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if proc.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=15)


# ---------------------------------------------------------------- set-up over JSON-RPC


def sender_keys(seed: int, n: int) -> list[coincurve.PrivateKey]:
    return [
        coincurve.PrivateKey(hashlib.sha256(f"bench_wrk:{seed}:{i}".encode()).digest())
        for i in range(n)
    ]


def fresh_recipient(seed: int, kind: str, index: int) -> bytes:
    """A distinct address nobody holds a key for, one per transaction."""
    return keccak(f"bench_wrk:{seed}:{kind}:{index}".encode())[-20:]


def wait_nonce(rpc: Rpc, who: bytes, want: int, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while int(rpc.call("eth_getTransactionCount", hexaddr(who), "latest"), 16) < want:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not mined after {timeout:.0f} s")
        time.sleep(0.02)


def send_batches(rpc: Rpc, raws: Sequence[bytes], what: str) -> None:
    for start in range(0, len(raws), SETUP_BATCH):
        chunk = raws[start : start + SETUP_BATCH]
        answers = rpc.batch([("eth_sendRawTransaction", ["0x" + r.hex()]) for r in chunk])
        bad = [a for a in answers if "error" in a]
        if bad:
            raise RpcError(f"{what}: {bad[0]['error']}")


def setup_node(rpc: Rpc, args: argparse.Namespace, counts: Sequence[int]) -> dict[str, Any]:
    """Deploy the token from dev account 0, fund every sender with ether and tokens for
    ``counts[i]`` transactions of either kind; wait until all of it is mined (status 1)."""
    chain_id = int(rpc.call("eth_chainId"), 16)
    max_fee = args.max_fee_gwei * GWEI
    base_fee = int(
        rpc.call("eth_getBlockByNumber", "latest", False).get("baseFeePerGas", "0x0"), 16
    )
    if 2 * base_fee > max_fee:
        raise RuntimeError(f"base fee {base_fee} wei is over half --max-fee-gwei {max_fee} wei")
    dev = coincurve.PrivateKey(DEV_KEY)
    dev_addr = address_of(dev)
    nonce = int(rpc.call("eth_getTransactionCount", hexaddr(dev_addr), "pending"), 16)
    start_nonce = nonce
    hashes: list[str] = []

    def dev_tx(to: bytes | None, value: int = 0, data: bytes = b"", gas: int = 21_000) -> bytes:
        nonlocal nonce
        t = sign_1559(
            dev,
            chain_id=chain_id,
            nonce=nonce,
            max_priority_fee=TIP,
            max_fee=max_fee,
            gas=gas,
            to=to,
            value=value,
            data=data,
        )
        nonce += 1
        hashes.append(t.hash)
        return t.raw

    build = json.loads(TOKEN_JSON.read_text())
    deploy = bytes.fromhex(build["bytecode"][2:]) + TOKEN_SUPPLY.to_bytes(32, "big")
    send_batches(rpc, [dev_tx(None, data=deploy, gas=1_500_000)], "deploy Token")
    wait_nonce(rpc, dev_addr, nonce, 60.0, "deploy Token")
    receipt = rpc.call("eth_getTransactionReceipt", hashes[0])
    if not receipt or receipt.get("status") != "0x1":
        raise RuntimeError(f"deploy Token: receipt {receipt}")
    token = bytes.fromhex(receipt["contractAddress"][2:])
    senders = [address_of(k) for k in sender_keys(args.seed, len(counts))]
    per_tx = max(GAS_LIMIT.values()) * max_fee + 1
    raws = [dev_tx(s, value=n * per_tx + 10**15) for s, n in zip(senders, counts)]
    raws += [
        dev_tx(token, data=erc20_transfer_data(s, n), gas=GAS_LIMIT["erc20"])
        for s, n in zip(senders, counts)
    ]
    send_batches(rpc, raws, "fund senders")
    wait_nonce(rpc, dev_addr, nonce, 120.0, "fund senders")
    for start in range(1, len(hashes), POLL_CHUNK):
        chunk = hashes[start : start + POLL_CHUNK]
        answers = rpc.batch([("eth_getTransactionReceipt", [h]) for h in chunk])
        for h, a in zip(chunk, answers):
            r = a.get("result")
            if not r or r.get("status") != "0x1":
                raise RuntimeError(f"fund senders: {h}: {a}")
    return {
        "chain_id": chain_id,
        "token": token,
        "max_fee": max_fee,
        "base_fee": base_fee,
        "setup_txs": nonce - start_nonce,
        "client_version": rpc.call("web3_clientVersion"),
    }


def sign_bodies(
    kind: str,
    bodies: Sequence[Body],
    keys: Sequence[coincurve.PrivateKey],
    chain_id: int,
    token: bytes,
    max_fee: int,
    batch: int,
    seed: int,
    path: Path,
    threads: int,
) -> None:
    """Sign every transaction of the plan and write the bodies file."""
    with path.open("wb") as f:
        f.write(
            bodies_header(
                {
                    "threads": threads,
                    "bodies": len(bodies),
                    "txs": sum(len(b.items) for b in bodies),
                    "batch": batch,
                    "kind": kind,
                    "chain_id": chain_id,
                }
            )
        )
        for body in bodies:
            raws = []
            for (s, nonce), req_id in zip(body.items, body.ids()):
                to = fresh_recipient(seed, kind, req_id)
                if kind == "transfer":
                    dest, value, data = to, 1, b""
                else:
                    dest, value, data = token, 0, erc20_transfer_data(to, 1)
                raws.append(
                    sign_1559(
                        keys[s],
                        chain_id=chain_id,
                        nonce=nonce,
                        max_priority_fee=TIP,
                        max_fee=max_fee,
                        gas=GAS_LIMIT[kind],
                        to=dest,
                        value=value,
                        data=data,
                    ).raw
                )
            f.write(body_line(body, render_body(body, raws, batch)))


# ---------------------------------------------------------------- the timed run


class MinedCounter:
    """Transactions in blocks after ``start_block``, read block by block as the head moves."""

    def __init__(self, rpc: Rpc, start_block: int) -> None:
        self.rpc = rpc
        self.known = start_block
        self.start_block = start_block
        self.mined = 0

    def poll(self) -> tuple[float, int]:
        head = int(self.rpc.call("eth_blockNumber"), 16)
        t = time.time()
        while self.known < head:
            upto = min(head, self.known + POLL_CHUNK)
            calls = [
                ("eth_getBlockTransactionCountByNumber", [hex(n)])
                for n in range(self.known + 1, upto + 1)
            ]
            for a in self.rpc.batch(calls):
                if "error" in a or a.get("result") is None:
                    raise RpcError(f"block transaction count: {a}")
                self.mined += int(a["result"], 16)
            self.known = upto
        return t, self.mined


def sender_nonces(rpc: Rpc, addrs: Sequence[bytes]) -> list[int]:
    out: list[int] = []
    for start in range(0, len(addrs), POLL_CHUNK):
        chunk = addrs[start : start + POLL_CHUNK]
        answers = rpc.batch([("eth_getTransactionCount", [hexaddr(a), "latest"]) for a in chunk])
        for a in answers:
            if "error" in a:
                raise RpcError(f"eth_getTransactionCount: {a['error']}")
            out.append(int(a["result"], 16))
    return out


def wrk_command(
    args: argparse.Namespace, wrk: str, url: str, bodies: Path, result: Path
) -> list[str]:
    return [
        wrk,
        "-t",
        str(args.threads),
        "-c",
        str(args.connections),
        "-d",
        f"{args.duration}s",
        "-T",
        f"{args.wrk_timeout}s",
        "--latency",
        "-s",
        str(LUA_SCRIPT),
        url + "/",
        "--",
        f"bodies={bodies}",
        f"result={result}",
        f"conns={args.connections // args.threads}",
    ]


def run_one(
    node: Node,
    rpc: Rpc,
    args: argparse.Namespace,
    wrk: str,
    bodies_path: Path,
    result_path: Path,
    planned: int,
    sender_addrs: Sequence[bytes],
) -> dict[str, Any]:
    """Run wrk against ``node`` while polling what is mined; everything measured, as a dict."""
    for stale in result_path.parent.glob(result_path.name + "*"):
        stale.unlink()
    counter = MinedCounter(rpc, int(rpc.call("eth_blockNumber"), 16))
    argv = wrk_command(args, wrk, node.url, bodies_path, result_path)
    poll_s = args.poll_ms / 1e3
    samples: list[tuple[float, int]] = []
    cpu_samples: list[tuple[float, int, float]] = []
    markers = [Path(f"{result_path}.done.{t}") for t in range(args.threads)]

    pids = sorted(process_tree(node.pid))  # the node and its workers, for per-poll CPU
    cpu0 = tree_cpu_seconds(node.pid)
    cpu_base = pids_cpu_seconds(pids)
    kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    me0 = time.process_time()
    t_launch = time.time()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    interrupted = False
    last_progress = time.monotonic()
    last_mined = 0
    target = planned  # what to wait for; once wrk is done, what it got accepted
    try:
        while True:
            t, mined = counter.poll()
            samples.append((t, mined))
            cpu_samples.append((t, mined, pids_cpu_seconds(pids)))
            now = time.monotonic()
            if mined != last_mined:
                last_mined, last_progress = mined, now
            running = proc.poll() is None
            stalled = now - last_progress > args.settle
            if running:
                if not interrupted and (
                    mined >= planned or (stalled and all(m.exists() for m in markers))
                ):
                    proc.send_signal(signal.SIGINT)  # wrk prints its report and runs done()
                    interrupted = True
            else:
                if target == planned and result_path.is_file():
                    with contextlib.suppress(ValueError):
                        res = json.loads(result_path.read_bytes().decode("utf-8", "replace"))
                        target = summarize_lua(res)["accepted_txs"]
                if mined >= target or stalled:
                    break
            time.sleep(max(0.0, poll_s - (time.monotonic() - now)))
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    cpu1 = tree_cpu_seconds(node.pid)
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    poller_cpu = time.process_time() - me0

    if not result_path.is_file():
        raise RuntimeError(
            f"wrk wrote no result (exit {proc.returncode}); its stderr:\n"
            + stderr.decode(errors="replace")[-2000:]
        )
    lua = summarize_lua(json.loads(result_path.read_bytes().decode("utf-8", "replace")))
    nonces = sender_nonces(rpc, sender_addrs)
    mined_by_nonce = sum(nonces)
    t0 = lua["t_first"] if lua["t_first"] is not None else t_launch
    expected = lua["accepted_txs"]
    rate = mined_rate(samples, t0, expected)
    wrk_out = parse_wrk_stdout(stdout.decode(errors="replace"))
    node_cpu_total = cpu1 - cpu0
    at_last = cpu_at_last_mined(cpu_samples)
    # The node's CPU from wrk's start to the poll that saw the last transaction mined (what the
    # work cost; per-poll readings cover the processes present at the start); the total runs to
    # the end of the wait and includes any idling or spinning afterwards.
    node_cpu = node_cpu_total if at_last is None or not counter.mined else at_last - cpu_base
    wrk_cpu = (kids1.ru_utime + kids1.ru_stime) - (kids0.ru_utime + kids0.ru_stime)
    # ok: no error, everything accepted was mined, and the block counts agree with the nonces.
    # complete: every planned transaction was sent (--duration was long enough).
    ok = (
        lua["errors"]["total"] == 0
        and mined_by_nonce == lua["accepted_txs"]
        and rate["mined"] == mined_by_nonce
    )
    return {
        "node_command": " ".join(node.argv),
        "wrk_command": " ".join(argv),
        "wrk_exit": proc.returncode,
        "wrk_stopped_early": interrupted,
        "wrk_stdout": stdout.decode(errors="replace"),
        "wrk_stderr": stderr.decode(errors="replace")[-2000:],
        "planned_txs": planned,
        "sent_txs": lua["sent_txs"],
        "accepted_txs": lua["accepted_txs"],
        "accepted_tx_s": lua["accepted_tx_s"],
        "accepted_req_s": lua["accepted_req_s"],
        "send_window_s": lua["send_window_s"],
        "wrk_requests_per_s": wrk_out["requests_per_s"],
        "wrk_latency_ms": lua["wrk_latency_ms"],
        "body_latency_ms": lua["body_latency_ms"],
        "fillers": lua["fillers"],
        "errors": lua["errors"],
        "mined_by_nonce": mined_by_nonce,
        "mined_by_blocks": rate["mined"],
        "blocks": counter.known - counter.start_block,
        "mined_steady_tx_s": rate["steady_tx_s"],
        "mined_overall_tx_s": rate["overall_tx_s"],
        "all_mined_s": rate["all_mined_s"],
        "last_mined_s": rate["last_mined_s"],
        "backlog_s": (
            None
            if rate["last_mined_s"] is None or lua["t_last_answer"] is None
            else t0 + rate["last_mined_s"] - lua["t_last_answer"]
        ),
        "poll_samples": len(samples),
        "node_cpu_s": node_cpu,
        "node_cpu_total_s": node_cpu_total,
        "node_pids": pids,
        "node_cpu_us_per_tx": node_cpu / mined_by_nonce * 1e6 if mined_by_nonce else None,
        "wrk_cpu_s": wrk_cpu,
        "poller_cpu_s": poller_cpu,
        "complete": lua["sent_txs"] == planned and mined_by_nonce == planned,
        "ok": ok,
    }


@contextlib.contextmanager
def watching(url: str, dashboard: bool) -> Iterator[dict[str, Any]]:
    """With ``dashboard``, the node's dashboard open in headless Chromium while the block
    runs (tests/e2e/dashboard/watch.mjs); afterwards the dict holds what the page saw."""
    seen: dict[str, Any] = {}
    if not dashboard:
        yield seen
        return
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    node_js = shutil.which("node")
    if (
        chromium is None
        or node_js is None
        or not (DASHBOARD_DRIVER.parent / "node_modules").is_dir()
    ):
        raise RuntimeError(
            "the dashboard target needs chromium, node and tests/e2e/dashboard's npm ci"
        )
    watcher = subprocess.Popen(
        [node_js, DASHBOARD_DRIVER.name, url, chromium],
        cwd=DASHBOARD_DRIVER.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert watcher.stderr is not None
        line = watcher.stderr.readline()
        if "dashboard open" not in line:
            raise RuntimeError(f"the dashboard did not open: {line[:300]}")
        yield seen
    finally:
        watcher.send_signal(signal.SIGTERM)
        out, _ = watcher.communicate(timeout=60)
        lines = [text for text in out.splitlines() if text.startswith("{")]
        if lines:
            seen.update(json.loads(lines[-1]))


def bench_target(
    target: str,
    kind: str,
    args: argparse.Namespace,
    wrk: str,
    workdir: Path,
    signed: dict[tuple[Any, ...], Path],
) -> dict[str, Any]:
    bodies = plan_bodies(args.txs, args.senders, args.threads, args.batch)
    counts = split_evenly(args.txs, args.senders)
    keys = sender_keys(args.seed, args.senders)
    addrs = [address_of(k) for k in keys]
    with start_node(target, args.engine, args.native_runs) as node:
        log(f"{target} {kind}: node pid {node.pid} at {node.url}; set-up ...")
        rpc = Rpc(node.url, 120.0)
        try:
            t0 = time.perf_counter()
            info = setup_node(rpc, args, counts)
            setup_s = time.perf_counter() - t0
            key = (kind, info["chain_id"], info["token"], info["max_fee"])
            path = signed.get(key)
            sign_s = 0.0
            if path is None:
                path = workdir / f"bodies-{kind}-{len(signed)}.txt"
                log(f"{target} {kind}: signing {args.txs:,} transactions ...")
                t1 = time.perf_counter()
                sign_bodies(
                    kind,
                    bodies,
                    keys,
                    info["chain_id"],
                    info["token"],
                    info["max_fee"],
                    args.batch,
                    args.seed,
                    path,
                    args.threads,
                )
                sign_s = time.perf_counter() - t1
                signed[key] = path
            log(f"{target} {kind}: wrk ...")
            with watching(node.url, target.endswith("-dashboard")) as watched:
                result = run_one(
                    node,
                    rpc,
                    args,
                    wrk,
                    path,
                    workdir / f"result-{target}-{kind}.json",
                    args.txs,
                    addrs,
                )
            if watched:
                result["dashboard"] = watched
        finally:
            rpc.close()
    return {
        "target": target,
        "kind": kind,
        "client_version": info["client_version"],
        "setup_s": setup_s,
        "sign_s": sign_s,
        "bodies_file": str(path),
        "bodies_bytes": path.stat().st_size,
        **result,
    }


def wrk_version(wrk: str) -> str:
    try:
        out = subprocess.run([wrk, "-v"], capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (out.stdout or out.stderr).decode(errors="replace").strip().splitlines()
    return text[0] if text else "unknown"


def _exit_on_sigterm() -> None:
    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def main(argv: Sequence[str] | None = None) -> int:
    cli = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(cli)
    wrk = args.wrk or shutil.which("wrk")
    if wrk is None:
        print(f"error: {WRK_INSTALL_HINT}", file=sys.stderr)
        return 2
    if not TOKEN_JSON.is_file():
        print(f"error: {TOKEN_JSON} is missing (scripts/build_contracts.py)", file=sys.stderr)
        return 1
    bodies = plan_bodies(args.txs, args.senders, args.threads, args.batch)
    check_plan(bodies, args.txs)
    _exit_on_sigterm()
    results: list[dict[str, Any]] = []
    signed: dict[tuple[Any, ...], Path] = {}
    with contextlib.ExitStack() as stack:
        if args.keep is not None:
            args.keep.mkdir(parents=True, exist_ok=True)
            workdir = args.keep
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench_wrk-")))
        try:
            for kind in args.kind:
                for target in args.targets:
                    r = bench_target(target, kind, args, wrk, workdir, signed)
                    results.append(r)
                    print(format_table([r]), file=sys.stderr)
                    for s in r["errors"]["samples"][:3]:
                        print(f"  error sample: {s[:200]}", file=sys.stderr)
        except (RpcError, RuntimeError) as e:
            print(f"error: {e}", file=sys.stderr)
            return 1
    report: dict[str, Any] = {
        "machine": machine(),
        "command": " ".join([sys.executable, "scripts/bench_wrk.py", *cli]),
        "wrk": wrk_version(wrk),
        "settings": {
            k: getattr(args, k)
            for k in (
                "targets",
                "kind",
                "txs",
                "senders",
                "threads",
                "connections",
                "duration",
                "batch",
                "seed",
                "max_fee_gwei",
                "poll_ms",
                "settle",
                "engine",
            )
        },
        "results": results,
        "ratios": ratios(results),
        "ok": all(r["ok"] for r in results),
    }
    m = report["machine"]
    print(f"machine: {m['cpu_model']}, {m['cpus']} CPUs; {report['wrk']}")
    print(report["command"])
    print(format_table(results))
    if report["ratios"]:
        print(format_ratios(report["ratios"]))
    if args.json is not None:
        args.json.write_text(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
