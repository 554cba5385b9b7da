"""What the EIP-7928 block access list costs the seal (Amsterdam), on ERC-20 bursts.

Builds an Amsterdam node in memory with ``--txs`` senders holding tokens of the test
ERC-20 (``bench_parallel.setup``: one transfer each, to distinct fresh recipients, or
``--hot`` percent to one shared recipient), executes the batch serially into a fresh
block ``--runs`` times and times, per block, in CPU:

- ``seal_without``: ``BlockBuilder.seal`` with Amsterdam's rules minus ``eip7928`` (no
  list, no header field), what the block would cost without it;
- ``seal_with``: the real seal (the list built from the outcomes, its hash in the header);
- ``build``: the list alone (``replay_access_list`` on the executed block: the
  post-block system calls, which the seal runs anyway, and the fold of the outcomes'
  diffs and read sets, ``access_list_of``);
- ``encode_hash``: the RLP encoding (stored with the block as is) and its keccak;
- ``pickle_whole`` / ``pickle_compact``: pickling the batch's outcomes whole (what a
  worker sends from Amsterdam) and without their diffs and read sets (before it).

Execution itself is not timed (``execute`` gives it for scale). The sealed blocks with
and without must have the same state root and receipts.

    .venv/bin/python scripts/bench_bal.py --txs 1000 --runs 5 [--hot 0] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_blocks import cpu_model, positive
from bench_parallel import setup

from jit.evm.frame import BlockEnv
from jit.forks import Fork
from sequencer.access_list import BlockAccessList, encode
from sequencer.builder import (
    BlockBuilder,
    Included,
    OpenBlock,
    SealedBlock,
)
from sequencer.executor import SerialExecutor
from sequencer.gc_tuning import tune_gc
from sequencer.node import Node
from sequencer.types.transactions import Transaction
from statedb.conflicts import ReadSet
from statedb.types import StateDiff, keccak256


def _cpu(fn: Callable[[], object]) -> tuple[float, object]:
    start = time.process_time()
    result = fn()
    return time.process_time() - start, result


def _executed(
    node: Node, env: BlockEnv, batch: list[Transaction]
) -> tuple[OpenBlock, list[Included], float]:
    """A fresh next block in ``env`` with ``batch`` executed serially into it (CPU s)."""
    parent = node.chain.head
    assert parent is not None
    block = node.producer.builder.open(parent, env)
    seconds, results = _cpu(
        lambda: SerialExecutor(node.engine.runner).execute(block, node.rules, batch, float("inf"))
    )
    assert isinstance(results, list)
    included = [Included(tx, tx.encode(), r) for tx, r in zip(batch, results, strict=True)]
    return block, included, seconds


def _one_run(
    node: Node, batch: list[Transaction], with_list: BlockBuilder, without: BlockBuilder
) -> dict[str, float]:
    """CPU seconds of each measured step on freshly executed copies of one block."""
    env = node.producer.next_env()
    block, included, execute = _executed(node, env, batch)
    seal_without, plain = _cpu(lambda: without.seal(block, included))
    block, included, _ = _executed(node, env, batch)
    seal_with, sealed = _cpu(lambda: with_list.seal(block, included))
    assert isinstance(plain, SealedBlock) and isinstance(sealed, SealedBlock)
    assert sealed.access_list is not None and plain.access_list is None
    assert sealed.block.header.state_root == plain.block.header.state_root
    assert sealed.block.receipts == plain.block.receipts
    # The list alone, on a block executed the same way: the post-block system calls
    # (which the seal runs anyway) and the fold of every index.
    block, included, _ = _executed(node, env, batch)
    outcomes = [item.outcome for item in included]
    build, bal = _cpu(lambda: with_list.replay_access_list(block, included))
    assert isinstance(bal, BlockAccessList) and bal == sealed.access_list
    encode_hash, _ = _cpu(lambda: keccak256(encode(bal)))
    whole, _ = _cpu(lambda: pickle.dumps(outcomes, pickle.HIGHEST_PROTOCOL))
    compact_outcomes = [replace(o, diff=StateDiff(), reads=ReadSet()) for o in outcomes]
    compact, _ = _cpu(lambda: pickle.dumps(compact_outcomes, pickle.HIGHEST_PROTOCOL))
    return {
        "execute": execute,
        "seal_without": seal_without,
        "seal_with": seal_with,
        "build": build,
        "encode_hash": encode_hash,
        "pickle_whole": whole,
        "pickle_compact": compact,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--txs", type=positive, default=1000)
    parser.add_argument("--runs", type=positive, default=5)
    parser.add_argument("--hot", type=int, default=0, help="percent paying one recipient")
    parser.add_argument("--engine", default="jit", choices=("interpreter", "jit", "auto"))
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args(argv)
    if not 0 <= args.hot <= 100:
        parser.error("--hot must be in 0..100")

    node, _, batch = setup(args.txs, args.hot, args.engine, Fork.AMSTERDAM)
    tune_gc()
    with_list = node.producer.builder
    without = BlockBuilder(node.db, replace(node.rules, eip7928=False), with_list.engine)
    samples: dict[str, list[float]] = {}
    for _ in range(args.runs + 1):  # the first run warms the engine up, not counted
        for key, value in _one_run(node, batch, with_list, without).items():
            samples.setdefault(key, []).append(value)
    # Drop the warm-up run.
    medians = {k: statistics.median(v[1:]) * 1e3 for k, v in samples.items()}
    per_tx = {k: v * 1e3 / args.txs for k, v in medians.items()}
    added = medians["seal_with"] - medians["seal_without"]
    print(
        f"{args.txs} ERC-20 transfers per block ({args.hot}% to one recipient), median of {args.runs}:"
    )
    for key, ms in medians.items():
        print(f"  {key:<15} {ms:9.2f} ms CPU per block  {per_tx[key]:7.2f} us per tx")
    print(
        f"  the list adds {added:.2f} ms per block ({added * 1e3 / args.txs:.2f} us per tx, "
        f"{100 * added / (medians['execute'] + medians['seal_without']):.1f}% of execute + seal)"
    )
    if args.json_out:
        Path(args.json_out).write_text(
            json.dumps(
                {
                    "command": " ".join(sys.argv),
                    "cpu": cpu_model(),
                    "cores": os.cpu_count(),
                    "txs": args.txs,
                    "hot": args.hot,
                    "runs": args.runs,
                    "median_ms_per_block": medians,
                    "median_us_per_tx": per_tx,
                    "added_ms_per_block": added,
                },
                indent=2,
            )
        )
    node.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
