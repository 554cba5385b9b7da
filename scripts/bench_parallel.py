"""Executor level: the optimistic parallel executor against the serial one (issue 15).

Builds a node in memory (no HTTP, no commit in the timed part), gives ``--txs``
senders ether and tokens of the test ERC-20 (tests/contracts/build/Token.json) with
dev edits, signs one batch of ERC-20 transfers (one per sender, to distinct fresh
recipients), and makes ``--hot`` percent of them (pseudo-randomly placed) pay one
shared recipient instead:
those read and write one hot storage slot, so each conflicts with the previous one.
For each worker count it opens the same next block ``--runs`` times and times
``executor.execute(batch)``: the serial executor, then the optimistic one with
``workers`` worker processes (it runs one share on the sequencer, so ``workers = 1``
means two executing cores), configured as the node runs it: after four warm-up
batches it has timed both ways and runs the cheaper one (``runs_in_parallel`` says how
many timed runs went parallel). Every run's sealed block (header hash: state root,
receipts root, gas) must equal the serial one's, or the script fails. It first times a
pure-Python loop alone and in two processes at once (``machine_parallelism``): the most
any two-process split can gain on this machine.

    .venv/bin/python scripts/bench_parallel.py --txs 2000 --hot 0,25,100 --workers 1,2,3 --json OUT
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_blocks import cpu_model

from jit.evm.frame import BlockEnv
from jit.forks import Fork, ForkRules
from sequencer.builder import Included
from sequencer.config import ChainConfig, NodeConfig
from sequencer.executor import Executor, SerialExecutor
from sequencer.executor.optimistic import DEFAULT_OWN_WEIGHT, OptimisticExecutor
from sequencer.gc_tuning import tune_gc
from sequencer.node import Node
from sequencer.types.transactions import Transaction, sign_transaction
from sequencer.workers.pool import WorkerPool
from sequencer.workers.protocol import WorkerConfig
from statedb.types import keccak256

TOKEN = json.loads(
    (Path(__file__).resolve().parents[1] / "tests/contracts/build/Token.json").read_text()
)
BALANCES_SLOT = 1  # Token.sol: totalSupply at 0, balanceOf at 1
TRANSFER = keccak256(b"transfer(address,uint256)")[:4]


def _key(i: int) -> bytes:
    return keccak256(b"bench-parallel" + i.to_bytes(4, "big"))


def _balance_slot(owner: bytes) -> int:
    return int.from_bytes(
        keccak256(owner.rjust(32, b"\x00") + BALANCES_SLOT.to_bytes(32, "big")), "big"
    )


def _spin(n: int) -> float:
    start = time.perf_counter()
    x = 0
    for i in range(n):
        x += i * i
    return time.perf_counter() - start


def machine_parallelism(n: int = 20_000_000) -> dict[str, float]:
    """How much faster two busy Python processes get through work than one: a pure
    Python loop timed alone, then the same loop in two processes at once (wall time of
    the pair, the processes started beforehand). 2.0 on two independent cores; less
    where the cores are shared (SMT siblings, a busy host)."""
    import multiprocessing

    alone = _spin(n)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_spin, [1000, 1000])  # started and imported before the clock
        start = time.perf_counter()
        pool.map(_spin, [n, n], chunksize=1)
        together = time.perf_counter() - start
    return {
        "alone_s": round(alone, 3),
        "two_at_once_s": round(together, 3),
        "throughput_of_two": round(2 * alone / together, 2),
    }


def _int_list(text: str) -> list[int]:
    values = [int(part) for part in text.split(",") if part]
    if not values or any(v < 0 or v > 10_000 for v in values):
        raise argparse.ArgumentTypeError("comma-separated integers in 0..10000")
    return values


def setup(
    txs: int, hot_percent: int, engine: str, fork: Fork = Fork.OSAKA
) -> tuple[Node, bytes, list[Transaction]]:
    # One block holds the whole batch (2,000 x 100,000 gas is over the default 30M).
    node = Node(
        NodeConfig(
            chain=ChainConfig(gas_limit=1_000_000_000, fork=fork),
            data_dir=None,
            accounts=1,
            no_mining=True,
            engine=engine,
        )
    )
    deployer = node.accounts[0]
    deploy = sign_transaction(
        Transaction(
            2,
            31337,
            0,
            3_000_000,
            None,
            0,
            bytes.fromhex(TOKEN["bytecode"][2:]) + (10**30).to_bytes(32, "big"),
            max_fee_per_gas=10**11,
            max_priority_fee_per_gas=10**9,
        ),
        deployer.private_key,
    )
    node.pool.add(deploy, deploy.encode())
    (block,) = node.mine()
    token = block.receipts[0].contract_address
    assert token is not None and block.receipts[0].status == 1
    hot = b"\xee" * 20
    batch = []
    for i in range(txs):
        key = _key(i)
        tx = Transaction(
            2,
            31337,
            0,
            100_000,
            token,
            0,
            b"",
            max_fee_per_gas=10**11,
            max_priority_fee_per_gas=10**9,
        )
        sender = sign_transaction(tx, key).sender
        node.edit_state(sender, balance=10**20)
        node.edit_state(token, storage=(_balance_slot(sender), 10**21))
        # Which transactions pay the hot recipient: pseudo-random by index, so the hot
        # ones fall on every executor's share (a regular stride could land on one only).
        is_hot = keccak256(b"hot" + i.to_bytes(4, "big"))[0] * 100 < hot_percent * 256
        recipient = hot if is_hot else keccak256(b"recipient" + i.to_bytes(4, "big"))[:20]
        data = TRANSFER + recipient.rjust(32, b"\x00") + (7).to_bytes(32, "big")
        batch.append(
            sign_transaction(
                Transaction(
                    2,
                    31337,
                    0,
                    100_000,
                    token,
                    0,
                    data,
                    max_fee_per_gas=10**11,
                    max_priority_fee_per_gas=10**9,
                ),
                key,
            )
        )
    node.mine()  # commits the edits
    return node, token, batch


def run_once(
    node: Node, executor: Executor, rules: ForkRules, env: BlockEnv, batch: list[Transaction]
) -> tuple[float, float, bytes, int]:
    """One execution of ``batch`` into a fresh block on the head (the same ``env`` every
    time, so every run's sealed block is comparable)."""
    producer = node.producer
    parent = node.chain.head
    assert parent is not None
    block = producer.builder.open(parent, env)
    wall, cpu = time.perf_counter(), time.process_time()
    results = executor.execute(block, rules, batch, float("inf"))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert len(results) == len(batch)
    included = []
    for tx, outcome in zip(batch, results, strict=True):
        assert not isinstance(outcome, Exception), outcome
        included.append(Included(tx, tx.encode(), outcome))
    sealed = producer.builder.seal(block, included)
    ok = sum(r.status for r in sealed.block.receipts)
    return wall, cpu, sealed.block.hash, ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--txs", type=int, default=2000)
    parser.add_argument("--hot", type=_int_list, default=[0, 25, 100])
    parser.add_argument("--workers", type=_int_list, default=[1, 2, 3])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--engine", default="jit", choices=("interpreter", "jit", "auto"))
    parser.add_argument(
        "--own-weight",
        type=float,
        default=DEFAULT_OWN_WEIGHT,
        help="the sequencer's share of a batch relative to a worker's, in (0, 8]",
    )
    parser.add_argument(
        "--always-parallel",
        action="store_true",
        help="run every batch in parallel (no measured choice): the parallel path's own cost",
    )
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args(argv)
    if not 0.0 < args.own_weight <= 8.0:
        parser.error("--own-weight must be in (0, 8]")
    if not 16 <= args.txs <= 20_000 or not 1 <= args.runs <= 100:
        parser.error("--txs must be in 16..20000 and --runs in 1..100")
    if any(h > 100 for h in args.hot) or any(w < 1 or w > 16 for w in args.workers):
        parser.error("--hot is a percentage; --workers in 1..16")
    report: dict[str, Any] = {
        "command": " ".join(["scripts/bench_parallel.py", *(argv or sys.argv[1:])]),
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "txs": args.txs,
        "engine": args.engine,
        "machine_parallelism": machine_parallelism(),
        "results": [],
    }
    print(json.dumps({"machine_parallelism": report["machine_parallelism"]}), flush=True)
    for hot in args.hot:
        node, _, batch = setup(args.txs, hot, args.engine)
        try:
            tune_gc()  # as the node's command does once it is up
            rules = node.rules
            env = node.producer.next_env()
            serial = SerialExecutor(node.engine.runner)
            run_once(node, serial, rules, env, batch)  # warm: compiles the token's code
            serial_runs = [run_once(node, serial, rules, env, batch) for _ in range(args.runs)]
            reference = serial_runs[0][2]
            assert all(r[2] == reference for r in serial_runs)
            serial_wall = statistics.median(r[0] for r in serial_runs)
            row: dict[str, Any] = {
                "hot_percent": hot,
                "succeeded": serial_runs[0][3],
                "serial_ms": round(serial_wall * 1000, 1),
                "serial_cpu_ms": round(statistics.median(r[1] for r in serial_runs) * 1000, 1),
                "parallel": [],
            }
            for workers in args.workers:
                pool = WorkerPool(
                    workers,
                    WorkerConfig(args.engine, node.config.hot_threshold),
                    node.db.resident,
                    node.chain.head_number,
                )
                pool.wait_ready(60.0)  # booting workers must not load the serial baseline
                try:
                    # As the node runs it: serial or parallel chosen by measured cost.
                    optimistic = OptimisticExecutor(
                        pool,
                        node.engine.runner,
                        min_batch=1,
                        own_weight=args.own_weight,
                        measured=not args.always_parallel,
                    )
                    # Warm-up: the executor times one serial batch, the workers' engines
                    # compile in the first parallel one, it times the second and keeps
                    # the cheaper way.
                    for _ in range(4):
                        run_once(node, optimistic, rules, env, batch)
                    before = optimistic.stats.reexecuted
                    parallel_before = optimistic.stats.parallel_batches
                    runs = [run_once(node, optimistic, rules, env, batch) for _ in range(args.runs)]
                    mismatched = [r for r in runs if r[2] != reference]
                    if mismatched:
                        print(f"MISMATCH: hot {hot}%, {workers} workers", file=sys.stderr)
                        return 1
                    wall = statistics.median(r[0] for r in runs)
                    row["parallel"].append(
                        {
                            "workers": workers,
                            "ms": round(wall * 1000, 1),
                            "sequencer_cpu_ms": round(
                                statistics.median(r[1] for r in runs) * 1000, 1
                            ),
                            "speedup": round(serial_wall / wall, 2),
                            "reexecuted_per_run": (optimistic.stats.reexecuted - before)
                            // args.runs,
                            "runs_in_parallel": optimistic.stats.parallel_batches - parallel_before,
                        }
                    )
                finally:
                    pool.close()
            report["results"].append(row)
            print(json.dumps(row), flush=True)
        finally:
            node.close()
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
