#!/usr/bin/env python3
"""Tracing cost (issue 16's "Measured"): debug_traceTransaction on Hummingbird beside anvil.

Starts Hummingbird (``rpc.cli --ephemeral``) and the pinned anvil of scripts/peers with
``--steps-tracing`` (anvil records struct logs only then), each on a free port; mines on
both, from the same dev key: an ERC-20 transfer (tests/contracts Token) and a compute
transaction of about ``--compute-gas`` gas (a loop of arithmetic, hand-assembled); then
traces each with callTracer and with the struct logger ``--runs`` times. Reported per
(transaction, tracer): median wall time on each node, Hummingbird's CPU time per trace
(utime + stime of its process from /proc, clock ticks of 10 ms: the mean over the runs),
the response size, and anvil's wall time over ours. A struct-log trace our node refuses
(past ``--max-trace-bytes``) is reported as refused, with the size it would have had on
anvil.

Usage::

    python scripts/bench_trace.py                      # 5 runs, a 10M-gas compute transaction
    python scripts/bench_trace.py --runs 3 --compute-gas 1000000 --json trace.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eth_account import Account  # noqa: E402
from eth_utils import keccak, to_checksum_address  # noqa: E402

from scripts.bench_dev import parse_proc_stat  # noqa: E402
from scripts.bench_rpc import machine  # noqa: E402
from scripts.peers.start import start_peer  # noqa: E402
from tests.helpers.asm import Asm, initcode_for  # noqa: E402
from tests.integration.node_process import contract, free_port  # noqa: E402

KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
SENDER = Account.from_key(KEY).address
CHAIN_ID = 31337
TRACERS: dict[str, dict[str, Any]] = {
    "callTracer": {"tracer": "callTracer"},
    "struct": {},
}
# Per turn: JUMPDEST, the counter's DUP/PUSH/SUB arithmetic and a conditional JUMPI
# (~30 gas); the counter comes from the calldata.
COMPUTE = (
    Asm()
    .push(0)
    .op("CALLDATALOAD")
    .label("loop")
    .push(1)
    .op("SWAP1")
    .op("SUB")
    .op("DUP1")
    .op("DUP1")
    .op("MUL")
    .op("POP")
    .op("DUP1")
    .push_label("loop")
    .op("JUMPI")
    .op("STOP")
    .build()
)
GAS_PER_TURN = 39  # JUMPDEST 1, PUSH1 3, SWAP1 3, SUB 3, DUP1 3 x3, MUL 5, POP 2, PUSH2 3, JUMPI 10


def call(url: str, method: str, params: list[Any], timeout: float = 600) -> Any:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def send(url: str, nonce: int, to: str | None, data: bytes, gas: int) -> str:
    tx: dict[str, Any] = {
        "type": 2,
        "chainId": CHAIN_ID,
        "nonce": nonce,
        "value": 0,
        "data": "0x" + data.hex(),
        "gas": gas,
        "maxFeePerGas": 3 * 10**9,
        "maxPriorityFeePerGas": 10**9,
    }
    if to is not None:
        tx["to"] = to_checksum_address(to)
    raw = Account.sign_transaction(tx, KEY).raw_transaction.hex()
    reply = call(url, "eth_sendRawTransaction", ["0x" + raw.removeprefix("0x")])
    if "error" in reply:
        raise RuntimeError(f"send failed: {reply['error']}")
    tx_hash: str = reply["result"]
    for _ in range(2000):
        receipt = call(url, "eth_getTransactionReceipt", [tx_hash]).get("result")
        if receipt:
            return tx_hash
        time.sleep(0.01)
    raise RuntimeError("not mined")


def prepare(url: str, compute_gas: int) -> dict[str, str]:
    token_code = bytes.fromhex(str(contract("Token")["bytecode"])[2:]) + (10**24).to_bytes(
        32, "big"
    )
    deploy_token = send(url, 0, None, token_code, 3_000_000)
    token = call(url, "eth_getTransactionReceipt", [deploy_token])["result"]["contractAddress"]
    deploy_compute = send(url, 1, None, initcode_for(COMPUTE), 1_000_000)
    compute = call(url, "eth_getTransactionReceipt", [deploy_compute])["result"]["contractAddress"]
    transfer = keccak(text="transfer(address,uint256)")[:4] + b"\x11".rjust(32, b"\x00")
    transfer += (5).to_bytes(32, "big")
    turns = max(1, (compute_gas - 30_000) // GAS_PER_TURN)
    return {
        "erc20": send(url, 2, token, transfer, 200_000),
        "compute": send(url, 3, compute, turns.to_bytes(32, "big"), compute_gas + 100_000),
    }


def cpu_seconds(pid: int) -> float:
    return parse_proc_stat(Path(f"/proc/{pid}/stat").read_text(), os.sysconf("SC_CLK_TCK"))


def measure(
    url: str, tx_hash: str, options: dict[str, Any], runs: int, pid: int | None
) -> dict[str, Any]:
    walls, size, error = [], 0, None
    cpu_before = cpu_seconds(pid) if pid else 0.0
    for _ in range(runs):
        start = time.perf_counter()
        body = json.dumps(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "debug_traceTransaction",
                "params": [tx_hash, options],
            }
        ).encode()
        request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=600) as response:
            raw = response.read()
        walls.append(time.perf_counter() - start)
        size = len(raw)
        reply = json.loads(raw)
        error = reply.get("error")
    out: dict[str, Any] = {
        "wall_ms_median": round(1000 * statistics.median(walls), 2),
        "bytes": size,
    }
    if error is not None:
        out["error"] = error.get("message")
    if pid:
        out["cpu_ms_per_trace"] = round(1000 * (cpu_seconds(pid) - cpu_before) / runs, 1)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--compute-gas", type=int, default=10_000_000)
    parser.add_argument("--json", type=Path, dest="json_out")
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 1000:
        parser.error("--runs must be in 1..1000")
    if not 100_000 <= args.compute_gas <= 30_000_000:
        parser.error("--compute-gas must be in 100000..30000000")
    port = free_port()
    node = subprocess.Popen(
        [sys.executable, "-m", "rpc.cli", "--ephemeral", "--quiet", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ours_url = f"http://127.0.0.1:{port}"
    results: dict[str, Any] = {}
    try:
        for _ in range(600):
            try:
                call(ours_url, "eth_chainId", [])
                break
            except OSError:
                time.sleep(0.05)
        ours_txs = prepare(ours_url, args.compute_gas)
        with start_peer("anvil-steps", free_port()) as anvil_url:
            theirs_txs = prepare(anvil_url, args.compute_gas)
            for tx_name in ("erc20", "compute"):
                for tracer, options in TRACERS.items():
                    print(f"tracing {tx_name} with {tracer}", file=sys.stderr)
                    ours = measure(ours_url, ours_txs[tx_name], options, args.runs, node.pid)
                    theirs = measure(anvil_url, theirs_txs[tx_name], options, args.runs, None)
                    entry = {"hummingbird": ours, "anvil": theirs}
                    if "error" not in ours and "error" not in theirs:
                        entry["anvil_wall_over_ours"] = round(
                            theirs["wall_ms_median"] / ours["wall_ms_median"], 3
                        )
                    results[f"{tx_name}/{tracer}"] = entry
    finally:
        node.terminate()
        node.wait(30)
    summary = {
        "command": " ".join(["scripts/bench_trace.py", *sys.argv[1:]]),
        "machine": machine(),
        "runs": args.runs,
        "compute_gas": args.compute_gas,
        "results": results,
    }
    text = json.dumps(summary, indent=2)
    print(text)
    if args.json_out:
        args.json_out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
