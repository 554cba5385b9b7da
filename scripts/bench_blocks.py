"""Per-block cost as the chain grows: does sealing block 100,000 cost what block 1,000 did?

Builds a chain of ``--blocks`` mini-blocks on a RocksDB data directory (the
production configuration), each holding ``--txs-per-block`` plain transfers
from rotating dev-derived senders, driving the producer directly (no HTTP: this
measures the sequencer and statedb, not the client). Transactions are signed
before the clock starts. At each checkpoint it records the median wall and CPU
time per block over a window of blocks, and reports the ratio of the last
checkpoint to the first.

    .venv/bin/python scripts/bench_blocks.py --blocks 100000 [--window 500] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sequencer.config import NodeConfig
from sequencer.node import Node
from sequencer.types.transactions import Transaction, sign_transaction


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def positive(text: str) -> int:
    value = int(text)
    if value <= 0 or value > 10_000_000:
        raise argparse.ArgumentTypeError(f"must be in 1..10000000, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--blocks", type=positive, default=100_000)
    parser.add_argument("--txs-per-block", type=positive, default=1)
    parser.add_argument("--window", type=positive, default=500)
    parser.add_argument("--senders", type=positive, default=10)
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args(argv)
    if args.window * 2 > args.blocks:
        parser.error("--window must be at most half of --blocks")
    checkpoints = sorted({c for c in (1_000, 10_000, 100_000, args.blocks) if c <= args.blocks})
    checkpoints = [c for c in checkpoints if c >= args.window]

    with tempfile.TemporaryDirectory(prefix="hb-bench-blocks-") as tmp:
        # A block time that never cuts a block short: this measures the cost of a block
        # of --txs-per-block transactions, not the scheduler (a GC pause or a RocksDB
        # stall past 10 ms would otherwise leave a transaction for the next block).
        node = Node(
            NodeConfig(data_dir=os.path.join(tmp, "chain"), accounts=args.senders, block_time=3600)
        )
        senders = node.accounts
        to = b"\x42" * 20
        chain_id = node.config.chain.chain_id
        nonces = [0] * len(senders)
        results = []
        produced = 0
        next_checkpoint = 0
        started = time.perf_counter()
        while produced < args.blocks:
            target = checkpoints[next_checkpoint] if next_checkpoint < len(checkpoints) else None
            measuring = target is not None and produced >= target - args.window
            txs = []
            for i in range(args.txs_per_block):
                s = (produced * args.txs_per_block + i) % len(senders)
                txs.append(
                    sign_transaction(
                        Transaction(
                            2,
                            chain_id,
                            nonces[s],
                            21_000,
                            to,
                            1,
                            b"",
                            max_fee_per_gas=10**11,
                            max_priority_fee_per_gas=1,
                        ),
                        senders[s].private_key,
                    )
                )
                nonces[s] += 1
            wall0, cpu0 = time.perf_counter(), time.process_time()
            for tx in txs:
                node.pool.add(tx, tx.encode())
            block = node.producer.produce()
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            assert block is not None and len(block.transactions) == len(txs)
            produced += 1
            if measuring:
                results.append((target, wall, cpu))
                if produced == target:
                    rows = [(w, c) for t, w, c in results if t == target]
                    print(
                        f"block {target:>7}: median {statistics.median(r[0] for r in rows) * 1e3:.3f} ms"
                        f" wall, {statistics.median(r[1] for r in rows) * 1e3:.3f} ms CPU per block"
                        f" ({time.perf_counter() - started:.0f} s elapsed)",
                        flush=True,
                    )
                    next_checkpoint += 1
        node.db.close()

    summary = {}
    for target in checkpoints:
        rows = [(w, c) for t, w, c in results if t == target]
        summary[target] = {
            "median_wall_ms": statistics.median(r[0] for r in rows) * 1e3,
            "median_cpu_ms": statistics.median(r[1] for r in rows) * 1e3,
            "p90_wall_ms": sorted(r[0] for r in rows)[int(len(rows) * 0.9)] * 1e3,
        }
    first, last = summary[checkpoints[0]], summary[checkpoints[-1]]
    ratio = last["median_wall_ms"] / first["median_wall_ms"]
    cpu_ratio = last["median_cpu_ms"] / first["median_cpu_ms"]
    print(
        f"ratio block {checkpoints[-1]} / block {checkpoints[0]}: {ratio:.2f}x wall, "
        f"{cpu_ratio:.2f}x CPU (target <= 1.5x)"
    )
    if args.json_out:
        Path(args.json_out).write_text(
            json.dumps(
                {
                    "command": " ".join(sys.argv),
                    "cpu": cpu_model(),
                    "cores": os.cpu_count(),
                    "blocks": args.blocks,
                    "txs_per_block": args.txs_per_block,
                    "window": args.window,
                    "checkpoints": summary,
                    "ratio_wall": ratio,
                    "ratio_cpu": cpu_ratio,
                },
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
