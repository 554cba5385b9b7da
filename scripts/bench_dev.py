"""Dev-method benchmark (issue 13's "Measured"): evm_snapshot / evm_revert and anvil_dumpState /
anvil_loadState on a node with a long chain and a large state.

Against one node on 127.0.0.1 (``--url``, or ``--node anvil|hummingbird`` started here on a free
port: the pinned anvil of scripts/peers, or ``.venv/bin/hummingbird --ephemeral --quiet``):

1. Build the chain: dev account 0 deploys a filler contract whose call ``(start, count)`` SSTOREs
   slots ``start .. start+count-1``, then sends ``--blocks`` pre-signed EIP-1559 calls (raw, in
   JSON-RPC batches of ``--batch``) that write ``--keys`` fresh slots between them (at most
   ``MAX_SLOTS_PER_TX`` each; more calls when needed). Automining nodes may put several of a
   batch's transactions in one block; the chain is then topped up to ``--blocks`` new blocks with
   ``anvil_mine`` (or ``hardhat_mine``, or bounded ``evm_mine`` calls).
2. ``--rounds`` rounds of: ``evm_snapshot``, one small pre-signed transfer mined, ``evm_revert``.
   Each round checks the revert (block number and the dev nonce are back). Reported per method:
   median, p90, mean, min and max round-trip time, and the node's CPU time per call (utime +
   stime of the node's process group from /proc/PID/stat, only when this script started the
   node; clock ticks are 10 ms, so it is the mean over the rounds).
3. ``--accounts`` fresh accounts get a balance (``anvil_setBalance`` in batches, else transfers),
   then ``anvil_dumpState`` is timed ``--dump-rounds`` times (dump size: the hex answer, the
   gzip, the JSON inside) and its answer loaded back with ``anvil_loadState`` as often. The
   dump is checked with sequencer/state_dump.py (every new account with its balance), and after
   the loads the chain head and a sample of balances.

Prints a JSON summary and a one-line human summary (``--json OUT`` also writes the JSON);
progress goes to stderr. Exit status 0 when every check passed, 1 when one failed, 2 when the
node does not answer a dev method it needs (e.g. Hummingbird before the dev methods land).

Usage::

    python scripts/bench_dev.py --node anvil                       # the defaults: 10,000 blocks,
    python scripts/bench_dev.py --node anvil --blocks 200 --keys 2000 --accounts 1000 --rounds 10
    python scripts/bench_dev.py --url http://127.0.0.1:8545 --json dev.json
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import http.client
import math
import os
import signal
import subprocess
import sys
import time
import urllib.parse
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

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
    hexaddr,
    keccak,
    machine,
    percentile,
    sign_1559,
    split_evenly,
)

NODES = ("anvil", "hummingbird")
HUMMINGBIRD = ROOT / ".venv" / "bin" / "hummingbird"
HOST = "127.0.0.1"
TIP = 10**9  # max priority fee, wei
MAX_FEE_FLOOR = 10**12  # 1,000 gwei
MAX_SLOTS_PER_TX = 1_000  # ~22.2M gas: fits anvil's 30M and Hummingbird's 60M block gas limit
GAS_PER_SLOT = 22_300  # a fresh SSTORE (22,100) and the loop around it
CALL_GAS_BASE = 30_000  # intrinsic 21,000, calldata and the call
METHOD_NOT_FOUND = -32601

# Inclusive bounds of the numeric options: outside them the run is refused with a clear error.
LIMITS: dict[str, tuple[int, int]] = {
    "blocks": (1, 1_000_000),
    "keys": (0, 10_000_000),
    "rounds": (1, 10_000),
    "accounts": (0, 10_000_000),
    "batch": (1, 10_000),
    "dump_rounds": (1, 100),
    "seed": (0, 2**63 - 1),
}

# The filler contract's runtime: for i in [calldata[0:32], +calldata[32:64]): sstore(i, i + 1).
FILLER_RUNTIME = bytes.fromhex(
    "600035602035810190"  # start, count -> i=start, end=start+count
    "5b8181101560" + "1d" + "57"  # loop: if !(i < end) goto exit
    "80600101815560010160" + "09" + "56"  # sstore(i, i+1); i += 1; goto loop
    "5b00"  # exit: stop
)


# ---------------------------------------------------------------- pure helpers


def init_code(runtime: bytes) -> bytes:
    """Creation code that returns ``runtime`` (CODECOPY + RETURN; runtime < 256 bytes)."""
    if not 0 < len(runtime) < 256:
        raise ValueError("runtime must be 1..255 bytes")
    n = len(runtime)
    prefix_len = 12
    return bytes([0x60, n, 0x60, prefix_len, 0x60, 0x00, 0x39, 0x60, n, 0x60, 0x00, 0xF3]) + runtime


def filler_call(start: int, count: int) -> bytes:
    """Calldata of the filler contract: two 32-byte words."""
    if start < 0 or count < 0 or start + count >= 2**256:
        raise ValueError("slot range out of bounds")
    return start.to_bytes(32, "big") + count.to_bytes(32, "big")


def fill_plan(blocks: int, keys: int, max_per_tx: int = MAX_SLOTS_PER_TX) -> list[int]:
    """Slots written by each filler call: at least ``blocks`` calls, at most ``max_per_tx`` slots
    each, ``keys`` in all, spread evenly (larger first)."""
    if blocks < 1 or keys < 0 or max_per_tx < 1:
        raise ValueError("need blocks >= 1, keys >= 0, max_per_tx >= 1")
    calls = max(blocks, math.ceil(keys / max_per_tx))
    return split_evenly(keys, calls)


def filler_gas(slots: int) -> int:
    return CALL_GAS_BASE + GAS_PER_SLOT * slots


def batch_size(batch: int, gas_per_tx: int, block_gas_limit: int) -> int:
    """Transactions per batch: ``batch``, but at most half a block's gas (at least one)."""
    return max(1, min(batch, block_gas_limit // 2 // max(1, gas_per_tx)))


def bench_address(seed: int, i: int) -> bytes:
    """The i-th fresh account of a run (a function of the seed only)."""
    return keccak(b"bench_dev:%d:%d" % (seed, i))[-20:]


@dataclass(frozen=True, slots=True)
class Stats:
    """Round-trip times of one method, in milliseconds."""

    calls: int
    median_ms: float
    p90_ms: float
    mean_ms: float
    min_ms: float
    max_ms: float
    node_cpu_ms_per_call: float | None


def summarize(seconds: Sequence[float], node_cpu_s: float | None = None) -> Stats:
    """Stats of ``seconds`` (one per call); ``node_cpu_s`` is the node's CPU over all the calls."""
    if not seconds:
        raise ValueError("no samples")
    if any(not math.isfinite(s) or s < 0 for s in seconds):
        raise ValueError("samples must be finite and non-negative")
    ms = [s * 1000.0 for s in seconds]
    cpu = None if node_cpu_s is None else node_cpu_s * 1000.0 / len(ms)
    return Stats(
        calls=len(ms),
        median_ms=percentile(ms, 50),
        p90_ms=percentile(ms, 90),
        mean_ms=sum(ms) / len(ms),
        min_ms=min(ms),
        max_ms=max(ms),
        node_cpu_ms_per_call=cpu,
    )


def parse_proc_stat(text: str, clock_ticks: int) -> float:
    """utime + stime, in seconds, of one /proc/PID/stat line (comm may hold spaces and ')')."""
    rest = text[text.rindex(")") + 2 :].split()
    # rest[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (int(rest[11]) + int(rest[12])) / clock_ticks


def proc_pgrp(text: str) -> int:
    """The process group (field 5) of one /proc/PID/stat line."""
    return int(text[text.rindex(")") + 2 :].split()[2])


def group_cpu_seconds(pgid: int, proc: Path = Path("/proc")) -> float:
    """CPU time of every live process in process group ``pgid`` (the node and its workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        if proc_pgrp(text) == pgid:
            total += parse_proc_stat(text, ticks)
    return total


def missing_method_message(node: str, method: str, error: Any) -> str:
    code = error.get("code") if isinstance(error, dict) else None
    detail = error.get("message") if isinstance(error, dict) else error
    return (
        f"{node} does not answer {method} ({detail}, code {code}): the dev methods "
        f"(evm_snapshot, evm_revert, anvil_dumpState, anvil_loadState) are needed; "
        f"Hummingbird answers them once they are implemented (issue 13)"
    )


def human_summary(r: dict[str, Any]) -> str:
    """One line: chain size, snapshot/revert medians and p90s, dump/load times and size."""
    c, s, v = r["chain"], r["evm_snapshot"], r["evm_revert"]

    def cpu(x: dict[str, Any]) -> str:
        value = x.get("node_cpu_ms_per_call")
        return "" if value is None else f", cpu {value:.2f} ms"

    line = (
        f"{r['client_version']}: {c['blocks']:,} blocks, {c['state_keys']:,} slots: "
        f"evm_snapshot p50 {s['median_ms']:.2f} ms p90 {s['p90_ms']:.2f} ms{cpu(s)}; "
        f"evm_revert p50 {v['median_ms']:.2f} ms p90 {v['p90_ms']:.2f} ms{cpu(v)}"
    )
    d, lo = r.get("dump"), r.get("load")
    if d and lo:
        line += (
            f"; {r['accounts']['count']:,} accounts: anvil_dumpState {d['median_s']:.2f} s "
            f"({d['gzip_bytes'] / 1e6:.1f} MB gzip, {d['json_bytes'] / 1e6:.1f} MB JSON), "
            f"anvil_loadState {lo['median_s']:.2f} s"
        )
    return line + ("" if r["ok"] else " [CHECKS FAILED]")


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


def _url(text: str) -> str:
    """Only http://127.0.0.1:PORT[/path]: this benchmark never talks to another host."""
    parts = urllib.parse.urlsplit(text)
    if parts.scheme != "http" or parts.hostname != HOST or parts.username or parts.password:
        raise argparse.ArgumentTypeError(f"{text!r}: only http://{HOST}:PORT is allowed")
    try:
        port = parts.port
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: bad port") from None
    if port is None:
        raise argparse.ArgumentTypeError(f"{text!r}: give the port (http://{HOST}:PORT)")
    return text


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 < value <= 86_400.0:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"{value} is outside (0, 86400]")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench_dev.py",
        description="evm_snapshot/evm_revert and anvil_dumpState/anvil_loadState timings.",
    )
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", type=_url, help=f"a running node, http://{HOST}:PORT")
    target.add_argument("--node", choices=NODES, help="start this node on a free port")
    p.add_argument("--blocks", type=_bounded("blocks"), default=10_000, help="new blocks")
    p.add_argument("--keys", type=_bounded("keys"), default=100_000, help="new storage slots")
    p.add_argument("--rounds", type=_bounded("rounds"), default=50, help="snapshot/revert rounds")
    p.add_argument(
        "--accounts", type=_bounded("accounts"), default=100_000, help="accounts for the dump"
    )
    p.add_argument(
        "--dump-rounds", type=_bounded("dump_rounds"), default=3, help="dump and load repeats"
    )
    p.add_argument("--batch", type=_bounded("batch"), default=250, help="calls per HTTP batch")
    p.add_argument("--seed", type=_bounded("seed"), default=1, help="account address seed")
    p.add_argument("--timeout", type=_seconds, default=600.0, help="seconds per RPC request")
    p.add_argument("--json", metavar="OUT", type=Path, help="also write the JSON summary here")
    return p


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


# ---------------------------------------------------------------- JSON-RPC client


class RpcError(RuntimeError):
    """A JSON-RPC error answer (``error`` holds it), or a transport failure."""

    def __init__(self, message: str, error: Any = None) -> None:
        super().__init__(message)
        self.error = error


class MissingMethod(RuntimeError):
    """The node does not answer a dev method this benchmark needs."""


class Rpc:
    """One keep-alive HTTP/1.1 connection to http://127.0.0.1:PORT, orjson both ways."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urllib.parse.urlsplit(_url(url))
        assert parts.port is not None
        self.port, self.path, self.timeout = parts.port, parts.path or "/", timeout
        self.conn = http.client.HTTPConnection(HOST, self.port, timeout=timeout)
        self._id = 0

    def close(self) -> None:
        self.conn.close()

    def post(self, body: bytes) -> Any:
        for attempt in (1, 2):  # one reconnect: the node may have closed an idle connection
            try:
                self.conn.request("POST", self.path, body, {"Content-Type": "application/json"})
                response = self.conn.getresponse()
                data = response.read()
                break
            except (OSError, http.client.HTTPException) as e:
                self.conn.close()
                self.conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
                if attempt == 2:
                    raise RpcError(f"127.0.0.1:{self.port}: {e!r}") from e
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as e:
            raise RpcError(f"not JSON (HTTP {response.status}): {data[:200]!r}") from e

    def call(self, method: str, *params: Any) -> Any:
        self._id += 1
        body = orjson.dumps(
            {"jsonrpc": "2.0", "id": self._id, "method": method, "params": list(params)}
        )
        reply = self.post(body)
        if not isinstance(reply, dict):
            raise RpcError(f"{method}: unexpected answer {reply!r:.200}")
        if "error" in reply:
            raise RpcError(f"{method}: {reply['error']}", reply["error"])
        return reply.get("result")

    def batch(self, calls: Sequence[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
        """Answers in call order (matched by id); each is the whole response object."""
        base = self._id
        self._id += len(calls)
        body = orjson.dumps(
            [
                {"jsonrpc": "2.0", "id": base + i, "method": m, "params": p}
                for i, (m, p) in enumerate(calls)
            ]
        )
        reply = self.post(body)
        if isinstance(reply, dict):
            raise RpcError(f"batch of {len(calls)}: {reply.get('error', reply)}", reply)
        by_id = {r.get("id"): r for r in reply if isinstance(r, dict)}
        return [by_id.get(base + i, {"error": "no answer"}) for i in range(len(calls))]


# ---------------------------------------------------------------- the node


@dataclass(frozen=True, slots=True)
class Node:
    url: str
    pgid: int | None  # the process group of a node started here (for CPU time)
    label: str


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    rpc = Rpc(url, 2.0)
    deadline = time.monotonic() + timeout
    try:
        while True:
            if process.poll() is not None:
                tail = log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the node exited with {process.returncode}:\n{tail}")
            try:
                rpc.call("eth_chainId")
                return
            except RpcError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the node did not answer eth_chainId in {timeout:.0f} s")
            time.sleep(0.1)
    finally:
        rpc.close()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def start_node(kind: str) -> Iterator[Node]:
    """Start ``kind`` on a free 127.0.0.1 port in its own process group; end the group on exit."""
    port = _free_port()
    if kind == "anvil":
        from peers.start import ANVIL, peer_command

        if not ANVIL.is_file():
            raise RuntimeError(f"anvil is not installed ({ANVIL}): npm ci --prefix scripts/peers")
        argv, cwd = peer_command("anvil", port)
        # anvil refuses request bodies over 2 MB by default, anvil_loadState's among them.
        argv.append("--no-request-size-limit")
    elif kind == "hummingbird":
        if not HUMMINGBIRD.is_file():
            raise RuntimeError(f"{HUMMINGBIRD} is missing: make .venv/.installed-test")
        argv = [str(HUMMINGBIRD), "--ephemeral", "--port", str(port), "--quiet"]
        cwd = ROOT
    else:
        raise ValueError(f"unknown node {kind!r}")
    log_dir = ROOT / ".peers"
    log_dir.mkdir(exist_ok=True)
    log = log_dir / f"bench_dev-{kind}-{port}.log"
    url = f"http://{HOST}:{port}"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        _wait_ready(url, process, log, 90.0)
        yield Node(url, process.pid, kind)
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if process.poll() is not None:
                break
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=15)


# ---------------------------------------------------------------- the benchmark


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Bench:
    def __init__(self, node: Node, args: argparse.Namespace) -> None:
        self.node, self.args = node, args
        self.rpc = Rpc(node.url, args.timeout)
        self.failures: list[str] = []
        self.dev = coincurve.PrivateKey(DEV_KEY)
        self.dev_addr = address_of(self.dev)
        self.chain_id = 0
        self.nonce = 0
        self.max_fee = 0
        self.block_gas_limit = 30_000_000

    def fail(self, message: str) -> None:
        log(f"CHECK FAILED: {message}")
        if len(self.failures) < 50:
            self.failures.append(message)

    def cpu(self) -> float | None:
        return None if self.node.pgid is None else group_cpu_seconds(self.node.pgid)

    def dev_call(self, method: str, *params: Any) -> Any:
        """A dev method; a clear MissingMethod when the node does not have it."""
        try:
            return self.rpc.call(method, *params)
        except RpcError as e:
            err = e.error
            code = err.get("code") if isinstance(err, dict) else None
            text = str(err.get("message", "")).lower() if isinstance(err, dict) else ""
            if code == METHOD_NOT_FOUND or "not found" in text or "not supported" in text:
                raise MissingMethod(missing_method_message(self.node.label, method, err)) from e
            raise

    def tx(
        self, to: bytes | None, value: int = 0, data: bytes = b"", gas: int = 21_000
    ) -> SignedTx:
        t = sign_1559(
            self.dev,
            chain_id=self.chain_id,
            nonce=self.nonce,
            max_priority_fee=TIP,
            max_fee=self.max_fee,
            gas=gas,
            to=to,
            value=value,
            data=data,
        )
        self.nonce += 1
        return t

    def block_number(self) -> int:
        return int(self.rpc.call("eth_blockNumber"), 16)

    def wait_receipt(self, tx_hash: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.args.timeout
        while True:
            r = self.rpc.call("eth_getTransactionReceipt", tx_hash)
            if r is not None:
                if r.get("status") != "0x1":
                    self.fail(f"{tx_hash}: status {r.get('status')}")
                return dict(r)
            if time.monotonic() > deadline:
                raise RpcError(f"no receipt for {tx_hash} in {self.args.timeout} s")
            time.sleep(0.002)

    def send_batches(self, txs: Sequence[SignedTx], what: str, gas: int = 21_000) -> None:
        """Raw transactions in JSON-RPC batches; each batch's last receipt is awaited. A batch
        holds at most half a block's gas (``gas`` per transaction), the base fee's target, so
        the base fee does not climb over the run."""
        b = batch_size(self.args.batch, gas, self.block_gas_limit)
        for i in range(0, len(txs), b):
            chunk = txs[i : i + b]
            answers = self.rpc.batch(
                [("eth_sendRawTransaction", ["0x" + t.raw.hex()]) for t in chunk]
            )
            for t, a in zip(chunk, answers):
                if "error" in a:
                    raise RpcError(f"{what}: {t.hash} (nonce {t.nonce}): {a['error']}")
            self.wait_receipt(chunk[-1].hash)
            if (i // b) % 10 == 9:
                log(f"  {what}: {i + len(chunk):,}/{len(txs):,}")

    def probe(self) -> None:
        """Fail fast, before the long setup, when a dev method is missing."""
        snap = self.dev_call("evm_snapshot")
        if self.dev_call("evm_revert", snap) is not True:
            self.fail("evm_revert of a fresh snapshot did not answer true")
        dump = self.dev_call("anvil_dumpState")
        if self.dev_call("anvil_loadState", dump) is not True:
            self.fail("anvil_loadState of a fresh dump did not answer true")

    def run(self) -> dict[str, Any]:
        client_version = self.rpc.call("web3_clientVersion")
        self.chain_id = int(self.rpc.call("eth_chainId"), 16)
        self.probe()
        latest = self.rpc.call("eth_getBlockByNumber", "latest", False)
        base_fee = int(latest.get("baseFeePerGas") or "0x3b9aca00", 16)
        # Far above the base fee: a run of full blocks raises it 12.5% a block, and a stuck
        # transaction would stall the run. Only base fee + tip is paid.
        self.max_fee = max(10 * base_fee, MAX_FEE_FLOOR) + TIP
        self.block_gas_limit = int(latest.get("gasLimit") or "0x1c9c380", 16)
        self.nonce = int(
            self.rpc.call("eth_getTransactionCount", hexaddr(self.dev_addr), "pending"), 16
        )
        result: dict[str, Any] = {
            "node": self.node.label,
            "client_version": client_version,
            "url": self.node.url,
            "command": " ".join(["scripts/bench_dev.py", *sys.argv[1:]]),
            "machine": machine(),
        }
        result["chain"] = self.build_chain()
        result["evm_snapshot"], result["evm_revert"], result["mined_tx"] = self.snapshot_rounds()
        result["accounts"] = self.fund_accounts()
        result["dump"], result["load"] = self.dump_and_load()
        result["failures"] = self.failures
        result["ok"] = not self.failures
        return result

    # ---- 1. the chain

    def build_chain(self) -> dict[str, Any]:
        a = self.args
        start_block = self.block_number()
        t0 = time.perf_counter()
        deploy = self.tx(None, data=init_code(FILLER_RUNTIME), gas=200_000)
        self.send_batches([deploy], "deploy")
        contract = bytes.fromhex(self.wait_receipt(deploy.hash)["contractAddress"][2:])
        plan = fill_plan(a.blocks, a.keys)
        txs, start = [], 0
        for count in plan:
            txs.append(self.tx(contract, data=filler_call(start, count), gas=filler_gas(count)))
            start += count
        sign_s = time.perf_counter() - t0
        log(f"chain: {len(txs):,} filler calls writing {a.keys:,} slots ...")
        self.send_batches(txs, "filler calls", filler_gas(max(plan)))
        mined = self.settle() - start_block
        topped_up = 0
        if mined < a.blocks:
            topped_up = self.mine(a.blocks - mined)
        blocks = self.settle() - start_block
        build_s = time.perf_counter() - t0
        if blocks < a.blocks:
            self.fail(f"the chain grew by {blocks} blocks, not {a.blocks}")
        if a.keys:
            last = a.keys - 1
            got = self.rpc.call("eth_getStorageAt", hexaddr(contract), hex(last), "latest")
            if int(got, 16) != last + 1:
                self.fail(f"slot {last} of the filler is {got}, expected {last + 1}")
        nonce = int(self.rpc.call("eth_getTransactionCount", hexaddr(self.dev_addr), "latest"), 16)
        if nonce != self.nonce:
            self.fail(f"dev nonce {nonce} after the chain, expected {self.nonce}")
        log(f"chain: {blocks:,} new blocks ({topped_up:,} empty) in {build_s:.1f} s")
        return {
            "blocks": blocks,
            "empty_blocks_mined": topped_up,
            "transactions": len(txs) + 1,
            "state_keys": a.keys,
            "contract": hexaddr(contract),
            "head": start_block + blocks,
            "sign_s": round(sign_s, 3),
            "build_s": round(build_s, 3),
        }

    def settle(self) -> int:
        """The block number once it stops moving: anvil's automine seals further (empty) blocks
        for a while after a batch's transactions are all mined."""
        last, still = self.block_number(), 0
        for _ in range(600):  # <= 30 s
            time.sleep(0.05)
            bn = self.block_number()
            still = still + 1 if bn == last else 0
            last = bn
            if still >= 4:
                break
        return last

    def mine(self, count: int) -> int:
        """``count`` empty blocks: anvil_mine, hardhat_mine, or evm_mine one by one."""
        for method in ("anvil_mine", "hardhat_mine"):
            try:
                self.rpc.call(method, hex(count))
                return count
            except RpcError:
                continue
        for i in range(count):  # bounded: count <= --blocks
            try:
                self.rpc.call("evm_mine")
            except RpcError as e:
                self.fail(f"cannot mine empty blocks ({e}); {i} mined")
                return i
        return count

    # ---- 2. snapshot / revert

    def snapshot_rounds(self) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        a = self.args
        sink = bench_address(a.seed, 2**32)
        base_nonce = self.nonce
        # One transfer per round, all at the same nonce: each revert undoes the last one.
        txs = []
        for i in range(a.rounds):
            self.nonce = base_nonce
            txs.append(self.tx(sink, value=i + 1))
        self.nonce = base_nonce
        head = self.block_number()
        snap_s, revert_s, mine_s = [], [], []
        cpu = {"snapshot": 0.0, "revert": 0.0, "mine": 0.0}
        have_cpu = self.node.pgid is not None
        log(f"snapshot/revert: {a.rounds} rounds ...")
        for i, t in enumerate(txs):
            c0 = self.cpu()
            t0 = time.perf_counter()
            snap = self.dev_call("evm_snapshot")
            t1 = time.perf_counter()
            c1 = self.cpu()
            self.rpc.call("eth_sendRawTransaction", "0x" + t.raw.hex())
            self.wait_receipt(t.hash)
            t2 = time.perf_counter()
            c2 = self.cpu()
            ok = self.dev_call("evm_revert", snap)
            t3 = time.perf_counter()
            c3 = self.cpu()
            snap_s.append(t1 - t0)
            mine_s.append(t2 - t1)
            revert_s.append(t3 - t2)
            if c0 is not None and c1 is not None and c2 is not None and c3 is not None:
                cpu["snapshot"] += c1 - c0
                cpu["mine"] += c2 - c1
                cpu["revert"] += c3 - c2
            if ok is not True:
                self.fail(f"round {i}: evm_revert answered {ok!r}")
            bn = self.block_number()
            nonce = int(
                self.rpc.call("eth_getTransactionCount", hexaddr(self.dev_addr), "latest"), 16
            )
            if bn != head or nonce != base_nonce:
                self.fail(
                    f"round {i}: after evm_revert block {bn} nonce {nonce}, "
                    f"expected {head} and {base_nonce}"
                )
                head, base_nonce = bn, nonce
                self.nonce = nonce
        if int(self.rpc.call("eth_getBalance", hexaddr(sink), "latest"), 16) != 0:
            self.fail("the reverted transfers' recipient has a balance")

        def stats(xs: list[float], key: str) -> dict[str, Any]:
            return asdict(summarize(xs, cpu[key] if have_cpu else None))

        return stats(snap_s, "snapshot"), stats(revert_s, "revert"), stats(mine_s, "mine")

    # ---- 3. dump / load

    def fund_accounts(self) -> dict[str, Any]:
        a = self.args
        addresses = [bench_address(a.seed, i) for i in range(a.accounts)]
        t0 = time.perf_counter()
        method = "anvil_setBalance"
        for i in range(0, len(addresses), a.batch):
            chunk = addresses[i : i + a.batch]
            calls = [
                ("anvil_setBalance", [hexaddr(x), hex(10**15 + i + j)]) for j, x in enumerate(chunk)
            ]
            bad = [r for r in self.rpc.batch(calls) if "error" in r]
            if bad and i == 0:
                log(f"anvil_setBalance failed ({bad[0]['error']}); funding by transfers")
                method = "transfer"
                txs = [self.tx(x, value=10**15 + k) for k, x in enumerate(addresses)]
                self.send_batches(txs, "transfers")
                break
            if bad:
                raise RpcError(f"anvil_setBalance: {bad[0]['error']}", bad[0]["error"])
            if (i // a.batch) % 40 == 39:
                log(f"  anvil_setBalance: {i + len(chunk):,}/{len(addresses):,}")
        setup_s = time.perf_counter() - t0
        self.addresses = addresses
        log(f"accounts: {len(addresses):,} funded by {method} in {setup_s:.1f} s")
        return {"count": len(addresses), "method": method, "setup_s": round(setup_s, 3)}

    def dump_and_load(self) -> tuple[dict[str, Any], dict[str, Any]]:
        from sequencer.state_dump import StateDumpError, decode_dump

        a = self.args
        head = self.block_number()
        dump_s, load_s, dump_cpu, load_cpu = [], [], 0.0, 0.0
        dump = ""
        log(f"dump/load: {a.dump_rounds} rounds ...")
        for _ in range(a.dump_rounds):
            c0 = self.cpu()
            t0 = time.perf_counter()
            dump = self.dev_call("anvil_dumpState")
            t1 = time.perf_counter()
            c1 = self.cpu()
            try:
                ok = self.dev_call("anvil_loadState", dump)
            except RpcError as e:
                raise RpcError(
                    f"{e} (the request carried a {len(dump):,}-character dump; anvil refuses "
                    f"bodies over 2 MB unless started with --no-request-size-limit)",
                    e.error,
                ) from e
            t2 = time.perf_counter()
            c2 = self.cpu()
            dump_s.append(t1 - t0)
            load_s.append(t2 - t1)
            if c0 is not None and c1 is not None and c2 is not None:
                dump_cpu += c1 - c0
                load_cpu += c2 - c1
            if ok is not True:
                self.fail(f"anvil_loadState answered {ok!r}")
        raw = bytes.fromhex(dump[2:])
        json_bytes = (
            len(zlib.decompressobj(31).decompress(raw)) if raw[:2] == b"\x1f\x8b" else len(raw)
        )
        t0 = time.perf_counter()
        accounts_in_dump = blocks_in_dump = -1
        try:
            decoded = decode_dump(raw)
            accounts_in_dump = len(decoded.accounts)
            decode_s = time.perf_counter() - t0
            missing = 0
            for k, x in enumerate(self.addresses):
                acct = decoded.accounts.get(x)
                expected = 10**15 + k
                if acct is None or acct.balance != expected:
                    missing += 1
            if missing:
                self.fail(
                    f"{missing} of the {len(self.addresses)} accounts are not in the dump "
                    f"with their balance"
                )
            doc = (
                orjson.loads(gzip.decompress(raw)) if raw[:2] == b"\x1f\x8b" else orjson.loads(raw)
            )
            blocks_in_dump = len(doc.get("blocks") or [])
            del doc
        except StateDumpError as e:
            decode_s = time.perf_counter() - t0
            self.fail(f"the dump does not decode with sequencer/state_dump.py: {e}")
        if self.block_number() != head:
            self.fail(f"the head moved from {head} to {self.block_number()} over dump/load")
        for k in range(0, len(self.addresses), max(1, len(self.addresses) // 20)):
            bal = int(self.rpc.call("eth_getBalance", hexaddr(self.addresses[k]), "latest"), 16)
            if bal != 10**15 + k:
                self.fail(f"account {k} has {bal} after anvil_loadState, expected {10**15 + k}")
        have_cpu = self.node.pgid is not None
        n = a.dump_rounds
        dump_info = {
            "rounds": n,
            "median_s": round(percentile(dump_s, 50), 4),
            "min_s": round(min(dump_s), 4),
            "max_s": round(max(dump_s), 4),
            "node_cpu_s_per_call": round(dump_cpu / n, 3) if have_cpu else None,
            "hex_chars": len(dump),
            "gzip_bytes": len(raw),
            "json_bytes": json_bytes,
            "accounts_in_dump": accounts_in_dump,
            "blocks_in_dump": blocks_in_dump,
            "decode_with_state_dump_py_s": round(decode_s, 3),
        }
        load_info = {
            "rounds": n,
            "median_s": round(percentile(load_s, 50), 4),
            "min_s": round(min(load_s), 4),
            "max_s": round(max(load_s), 4),
            "node_cpu_s_per_call": round(load_cpu / n, 3) if have_cpu else None,
        }
        return dump_info, load_info


# ---------------------------------------------------------------- main


def _exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so a started node's process group is still ended."""

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    _exit_on_sigterm()
    try:
        with contextlib.ExitStack() as stack:
            if args.url is not None:
                node = Node(args.url, None, "node")
            else:
                node = stack.enter_context(start_node(args.node))
                log(f"{args.node} started at {node.url} (pid {node.pgid})")
            bench = Bench(node, args)
            stack.callback(bench.rpc.close)
            result = bench.run()
    except MissingMethod as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (RpcError, RuntimeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    text = orjson.dumps(result, option=orjson.OPT_INDENT_2).decode()
    print(text)
    print(human_summary(result))
    if args.json is not None:
        args.json.write_text(text + "\n")
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
