#!/usr/bin/env python3
"""JIT compile time per contract: the whole program (eager, what the node's background
compiler does) and the region set up (lazy, what ``--engine jit`` pays before the first
region runs), as CPU milliseconds and milliseconds per 3 KB of bytecode.

    python scripts/bench_jit_compile.py [--runs N] [--fork osaka] [--json]

Contracts: the benchmark workloads (scripts/workloads/build) and the test contracts
(tests/contracts/build), runtime code. Medians of ``--runs`` (default 7).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from jit.compiler.codegen import Translation  # noqa: E402
from jit.compiler.loader import CompileClock, load_eager, load_lazy  # noqa: E402
from jit.forks import Fork, rules_for  # noqa: E402

BUILDS = (REPO / "scripts" / "workloads" / "build", REPO / "tests" / "contracts" / "build")
PER = 3 * 1024


def contracts() -> dict[str, bytes]:
    found = {}
    for folder in BUILDS:
        for path in sorted(folder.glob("*.json")):
            code = json.loads(path.read_text())["deployedBytecode"].removeprefix("0x")
            if code:
                found[path.stem] = bytes.fromhex(code)
    return found


def median_cpu(action: object, runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.thread_time()
        action()  # type: ignore[operator]
        samples.append(time.thread_time() - started)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--fork", default="osaka")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not 1 <= args.runs <= 1000:
        print("bench_jit_compile: --runs must be 1..1000", file=sys.stderr)
        return 2
    try:
        rules = rules_for(Fork.from_name(args.fork))
    except ValueError as error:
        print(f"bench_jit_compile: {error}", file=sys.stderr)
        return 2
    rows = {}
    for name, code in contracts().items():
        eager = median_cpu(lambda c=code: load_eager(Translation(c, rules), "<bench>"), args.runs)
        lazy = median_cpu(
            lambda c=code: load_lazy(Translation(c, rules), "<bench>", CompileClock()), args.runs
        )
        regions = len(Translation(code, rules).regions)
        rows[name] = {
            "bytes": len(code),
            "regions": regions,
            "eager_ms": eager * 1000,
            "eager_ms_per_3kb": eager * 1000 * PER / len(code),
            "lazy_setup_ms": lazy * 1000,
            "region_ms": (eager - lazy) * 1000 / regions,
        }
    total_bytes = sum(r["bytes"] for r in rows.values())
    total_eager = sum(r["eager_ms"] for r in rows.values())
    summary = {"eager_ms_per_3kb_overall": total_eager * PER / total_bytes}
    print(f"{'contract':<12} {'bytes':>6} {'regions':>7} {'eager ms':>9} {'ms/3KB':>7} "
          f"{'lazy setup ms':>13} {'ms/region':>9}")  # fmt: skip
    for name, r in rows.items():
        print(
            f"{name:<12} {r['bytes']:>6} {r['regions']:>7} {r['eager_ms']:>9.2f} "
            f"{r['eager_ms_per_3kb']:>7.2f} {r['lazy_setup_ms']:>13.2f} {r['region_ms']:>9.3f}"
        )
    print(f"overall: {summary['eager_ms_per_3kb_overall']:.2f} ms per 3 KB compiled eagerly")
    if args.json:
        print(json.dumps({"contracts": rows, **summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
