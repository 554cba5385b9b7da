#!/usr/bin/env python3
"""Conformance runner: state tests and blockchain tests.

    python scripts/conformance.py [PATH ...] [--fork NAME ...]
                                  [--engine interpreter|jit|auto] [--compare-engines]
                                  [--tier quick|full] [--json OUT] [--jobs N]
                                  [--parallel-workers N]

PATH defaults to ../shared/conformance (directories are walked). Runs EEST
state tests (full post state, logs hash, rejected-or-not), legacy
ethereum/tests state tests (post MPT root, logs hash) and EEST blockchain tests
(every block applied and checked, system calls included; full post state) for
Cancun, Prague and Osaka. Prints passed/failed per format, category and fork,
the ten slowest cases with CPU time, every failure, and ends with ``N passed,
N failed``. Exit status 1 on any failure.

``--engine`` runs contract code (transactions and system calls) on the
interpreter, the JIT (every contract compiled on its first execution) or auto
(compiled once hot). ``--compare-engines`` runs every case on the interpreter
and on ``--engine`` (jit if that is the interpreter), judges the latter, and
reports each case whose executions differ in result, gas, output, state diff,
logs, read sets or out-of-gas count; the last line then adds ``N differences``
and any difference makes the exit status 1.

``--parallel-workers N`` runs every blockchain test's transactions on the node's
optimistic parallel executor with N worker processes (``tests.conformance.parallel``:
each block of two or more senders shared out, merged, conflicts re-executed), so the
fixtures judge the parallel path; the summary adds how many blocks ran in parallel and
how many outcomes were re-executed. Give it ``--jobs 1`` on a small machine (each job
starts its own N workers).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from jit.evm.state import CodeRunner  # noqa: E402
from jit.forks import Fork, rules_for  # noqa: E402
from sequencer.progress import Progress  # noqa: E402
from tests.conformance.blockchaintest import run_blockchain_test  # noqa: E402
from tests.conformance.engines import (  # noqa: E402
    ENGINE_MODES,
    engine_stats,
    first_difference,
    runner,
)
from tests.conformance.parallel import ParallelStats, executor_for  # noqa: E402
from tests.conformance.statetest import FORK_NAMES, CaseResult, run_case  # noqa: E402

DEFAULT_ROOT = REPO.parent / "shared" / "conformance"
QUICK_TIER_MAX_REF_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class CaseRecord:
    file: str
    test: str
    fork: str
    index: int
    outcome: str  # passed | failed | error
    cpu_seconds: float
    reason: str
    format: str
    category: str
    difference: str | None = None  # --compare-engines: where the engines' executions differ


@dataclass(frozen=True, slots=True)
class FileReport:
    file: str
    format: str
    category: str
    cases: list[CaseRecord]
    skipped: int
    skip_reason: str
    cpu_seconds: float
    ref_cpu_seconds: float | None
    engine_stats: tuple[int, dict[str, dict[str, float]]] | None = None  # (pid, cumulative)
    parallel: ParallelStats | None = None  # --parallel-workers: this file's share


def find_conformance_root(path: Path) -> Path | None:
    for candidate in [path, *path.parents]:
        if (candidate / "MANIFEST.json").is_file():
            return candidate
    return None


def load_manifest(root: Path | None) -> dict[str, dict[str, object]]:
    if root is None:
        return {}
    with open(root / "MANIFEST.json") as handle:
        return {record["file"]: record for record in json.load(handle)["files"]}


def walk(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            for candidate in sorted(path.rglob("*.json")):
                if candidate.name != "MANIFEST.json":
                    yield candidate
        elif path.is_file():
            yield path
        else:
            raise SystemExit(f"conformance: no such file or directory: {path}")


def classify(path: Path, data: dict[str, object]) -> tuple[str, str]:
    """(format, category) from the path, as MANIFEST.json names them."""
    parts = path.parts
    first = next(iter(data.values()), {}) if data else {}
    if "blockchain_tests" in parts or (isinstance(first, dict) and "blocks" in first):
        fmt = "blockchain"
    elif "GeneralStateTests" in parts:
        return "legacy_state", "static"
    else:
        fmt = "state"
    if "eest-devnet" in parts:  # eest-devnet/<fork>/<eip folder>/...: the EIP is the category
        after = parts.index("eest-devnet") + 2
        return fmt, parts[after] if after < len(parts) - 1 else "other"
    for marker in ("state_tests", "blockchain_tests"):
        if marker in parts:
            after = parts[parts.index(marker) + 1]
            if after == "static":
                return fmt, "static"
            if after in ("cancun", "prague", "osaka"):
                return fmt, after
            return fmt, "older_forks"
    return fmt, "other"


@dataclass(frozen=True, slots=True)
class Job:
    path: str
    display: str
    fork_names: list[str]
    manifest_record: dict[str, object] | None
    engine: str  # the engine judged
    compare_with: str | None  # --compare-engines: the other engine
    parallel_workers: int = 0  # --parallel-workers: blockchain tests on the parallel executor


def _run_one(
    case: Callable[[CodeRunner | None], CaseResult], job: Job
) -> tuple[str, str, str | None]:
    """(outcome, reason, difference) of one case on the job's engine(s)."""
    difference = None
    try:
        result = case(runner(job.engine))
        outcome = "passed" if result.passed else "failed"
        reason = result.reason
        if job.compare_with is not None:
            other = case(runner(job.compare_with))
            difference = first_difference(other.observations, result.observations)
            if difference is None and other.passed != result.passed:
                difference = f"verdicts differ: {other.reason!r} vs {result.reason!r}"
    except Exception as error:  # a crash is a failure with its traceback
        outcome = "error"
        frames = traceback.extract_tb(error.__traceback__)[-2:]
        where = " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in reversed(frames))
        reason = f"{type(error).__name__}: {error} ({where})"
    return outcome, reason, difference


def run_file(job: Job) -> FileReport:
    path = Path(job.path)
    display, fork_names, manifest_record = job.display, job.fork_names, job.manifest_record
    started = time.process_time()
    with open(path, "rb") as handle:
        data = json.load(handle)
    fmt, category = classify(path, data)
    if manifest_record:
        fmt = str(manifest_record.get("format", fmt))
        category = str(manifest_record.get("category", category))
    ref = manifest_record.get("ref_cpu_seconds") if manifest_record else None
    cases: list[CaseRecord] = []
    executor = (
        executor_for(job.engine, job.parallel_workers)
        if job.parallel_workers and fmt == "blockchain"
        else None
    )
    before = executor.stats() if executor is not None else None

    def record(test_name: str, fork_name: str, index: int, case: Callable[..., CaseResult]) -> None:
        case_start = time.process_time()
        outcome, reason, difference = _run_one(case, job)
        cases.append(
            CaseRecord(
                display,
                test_name,
                fork_name,
                index,
                outcome,
                time.process_time() - case_start,
                reason,
                fmt,
                category,
                difference,
            )
        )

    for test_name, test in data.items():
        if not isinstance(test, dict):
            continue
        if fmt == "blockchain":
            fork_name = test.get("network")
            if fork_name in fork_names:
                rules = rules_for(FORK_NAMES[fork_name])
                record(
                    test_name,
                    fork_name,
                    0,
                    partial(run_blockchain_test, test, rules, executor=executor),
                )
            continue
        for fork_name, posts in test.get("post", {}).items():
            if fork_name not in fork_names:
                continue
            rules = rules_for(FORK_NAMES[fork_name])
            for index, post in enumerate(posts):
                record(test_name, fork_name, index, partial(run_case, test, post, rules))
    return FileReport(
        display,
        fmt,
        category,
        cases,
        0,
        "",
        time.process_time() - started,
        float(ref) if isinstance(ref, (int, float)) else None,
        (os.getpid(), engine_stats()) if job.engine != "interpreter" or job.compare_with else None,
        None if executor is None or before is None else _since(executor.stats(), before),
    )


def _since(now: ParallelStats, before: ParallelStats) -> ParallelStats:
    return ParallelStats(
        now.blocks - before.blocks,
        now.parallel_blocks - before.parallel_blocks,
        now.transactions - before.transactions,
        now.reexecuted - before.reexecuted,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("paths", nargs="*", type=Path, help="fixture files or directories")
    parser.add_argument(
        "--fork",
        action="append",
        dest="forks",
        metavar="NAME",
        help="Cancun, Prague, Osaka or Amsterdam (repeatable; default Cancun, Prague and "
        "Osaka: Amsterdam is experimental, asked for by name)",
    )
    parser.add_argument(
        "--engine",
        choices=ENGINE_MODES,
        default="interpreter",
        help="what runs contract code (default interpreter)",
    )
    parser.add_argument(
        "--compare-engines",
        action="store_true",
        help="also run every case on the interpreter and report any difference",
    )
    parser.add_argument("--tier", choices=["quick", "full"], default="full")
    parser.add_argument("--json", type=Path, dest="json_out", metavar="OUT")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument(
        "--parallel-workers",
        type=int,
        default=0,
        metavar="N",
        help="run blockchain tests on the optimistic parallel executor with N workers",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.parallel_workers <= 64:
        parser.error("--parallel-workers must be between 0 and 64")
    if args.parallel_workers and args.compare_engines:
        # The parallel merge keeps the workers' outcomes compact (no diff, no read set),
        # so there is nothing to compare engines on.
        parser.error("--parallel-workers and --compare-engines do not go together")

    compare_with = None
    if args.compare_engines:
        if args.engine == "interpreter":
            args.engine = "jit"
        compare_with = "interpreter"
    if args.engine != "interpreter":
        try:
            runner(args.engine)
        except (ImportError, ValueError) as error:
            print(f"conformance: engine {args.engine!r} is not available: {error}", file=sys.stderr)
            return 2
    fork_names = []
    for name in args.forks or ["Cancun", "Prague", "Osaka"]:
        try:
            fork_names.append(Fork.from_name(name).display_name)
        except ValueError as error:
            parser.error(str(error))
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    paths = args.paths or [DEFAULT_ROOT]
    root = find_conformance_root(paths[0].resolve())
    manifest = load_manifest(root)

    jobs = []
    tier_skipped = 0
    for path in walk(paths):
        resolved = path.resolve()
        key = (
            str(resolved.relative_to(root)) if root and resolved.is_relative_to(root) else str(path)
        )
        record = manifest.get(key)
        if (
            args.tier == "quick"
            and record
            and float(record.get("ref_cpu_seconds", 0)) > QUICK_TIER_MAX_REF_SECONDS  # type: ignore[arg-type]
        ):
            tier_skipped += 1
            continue
        jobs.append(
            Job(
                str(resolved),
                key,
                fork_names,
                record,
                args.engine,
                compare_with,
                args.parallel_workers,
            )
        )

    wall_start = time.perf_counter()
    reports: list[FileReport] = []
    failed = [0]
    progress = Progress(
        "conformance",
        len(jobs),
        "files",
        interval=10.0,
        emit=lambda line: print(line, file=sys.stderr, flush=True),
        extra=lambda: f"{failed[0]} failed",
    )

    def done(file_report: FileReport) -> None:
        reports.append(file_report)
        failed[0] += sum(1 for case in file_report.cases if case.outcome != "passed")
        progress.advance()

    if args.jobs == 1 or len(jobs) < 2:
        for job in jobs:
            done(run_file(job))
    else:
        # Big files first so one slow file does not finish last on its own.
        jobs.sort(key=lambda job: -float((job.manifest_record or {}).get("ref_cpu_seconds", 0)))  # type: ignore[arg-type]
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            for file_report in pool.map(run_file, jobs, chunksize=1):
                done(file_report)
    progress.finish()
    wall = time.perf_counter() - wall_start
    return report(reports, tier_skipped, wall, args, compare_with)


def report(
    reports: list[FileReport],
    tier_skipped: int,
    wall: float,
    args: argparse.Namespace,
    compare_with: str | None = None,
) -> int:
    cases = [case for r in reports for case in r.cases]
    table: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    for case in cases:
        table[(case.format, case.category, case.fork)][case.outcome] += 1
        if case.difference is not None:
            table[(case.format, case.category, case.fork)]["difference"] += 1
    width = max([13, *(len(category) + 1 for _, category, _ in table)])
    header = f"{'format':<14}{'category':<{width}}{'fork':<10}{'passed':>8}{'failed':>8}"
    print(header + (f"{'differ':>8}" if compare_with else ""))
    for (fmt, category, fork), counts in sorted(table.items()):
        failed = counts["failed"] + counts["error"]
        line = f"{fmt:<14}{category:<{width}}{fork:<10}{counts['passed']:>8}{failed:>8}"
        print(line + (f"{counts['difference']:>8}" if compare_with else ""))
    slowest = sorted(cases, key=lambda c: -c.cpu_seconds)[:10]
    if slowest:
        print("\nslowest cases (CPU seconds):")
        for case in slowest:
            print(
                f"  {case.cpu_seconds:8.3f}  {case.file} :: {case.test} [{case.fork} #{case.index}]"
            )
    failures = [c for c in cases if c.outcome != "passed"]
    if failures:
        print(f"\nfailures ({len(failures)}):")
        for case in failures:
            print(
                f"  {case.outcome.upper()} {case.file} :: {case.test} [{case.fork} #{case.index}]: {case.reason}"
            )
    differences = [c for c in cases if c.difference is not None]
    if differences:
        print(f"\ndifferences, {compare_with} vs {args.engine} ({len(differences)}):")
        for case in differences:
            print(f"  {case.file} :: {case.test} [{case.fork} #{case.index}]: {case.difference}")
    cpu = sum(r.cpu_seconds for r in reports)
    ref_files = [r for r in reports if r.ref_cpu_seconds is not None and r.cases]
    ref = sum(r.ref_cpu_seconds or 0.0 for r in ref_files)
    ours_on_ref = sum(r.cpu_seconds for r in ref_files)
    engines = f", engine {args.engine}" + (f" compared with {compare_with}" if compare_with else "")
    print(
        f"\nCPU {cpu:.1f} s over {len(reports)} files (wall {wall:.1f} s, {args.jobs} jobs{engines})"
    )
    if ref and not compare_with:
        print(
            f"reference CPU for the same files {ref:.1f} s; ours {ours_on_ref:.1f} s = {ours_on_ref / ref:.3f} of it"
        )
    stats = engine_totals(reports)
    for mode, totals in sorted(stats.items()):
        print(
            f"{mode} engine: {int(totals['compiled'])} compiled, {int(totals['failed'])} failed to "
            f"compile, {totals['compile_seconds']:.2f} s compiling; "
            f"{int(totals['compiled_runs'])} compiled runs, "
            f"{int(totals['interpreted_runs'])} interpreted runs"
        )
    parallel = [r.parallel for r in reports if r.parallel is not None]
    if parallel:
        blocks = sum(p.blocks for p in parallel)
        shared = sum(p.parallel_blocks for p in parallel)
        txs = sum(p.transactions for p in parallel)
        rerun = sum(p.reexecuted for p in parallel)
        print(
            f"parallel executor ({args.parallel_workers} workers): {shared} of {blocks} blocks "
            f"with transactions shared out; {txs} transactions, {rerun} re-executed at the merge"
        )
    print(f"skipped: {tier_skipped} files outside the {args.tier} tier")
    passed = sum(1 for c in cases if c.outcome == "passed")
    if args.json_out:
        with open(args.json_out, "w") as handle:
            for case in cases:
                row: dict[str, object] = {
                    "file": case.file,
                    "test": case.test,
                    "fork": case.fork,
                    "index": case.index,
                    "outcome": case.outcome,
                    "cpu_seconds": round(case.cpu_seconds, 6),
                    "reason": case.reason,
                }
                if compare_with:
                    row["difference"] = case.difference
                handle.write(json.dumps(row) + "\n")
    summary = f"{passed} passed, {len(failures)} failed"
    if compare_with:
        summary += f", {len(differences)} differences"
    print(summary)
    return 1 if failures or differences else 0


def engine_totals(reports: list[FileReport]) -> dict[str, dict[str, float]]:
    """Each worker's last cumulative engine stats, summed over the workers."""
    last: dict[int, dict[str, dict[str, float]]] = {}
    for r in reports:
        if r.engine_stats is None:
            continue
        pid, stats = r.engine_stats
        runs = sum(s["compiled_runs"] + s["interpreted_runs"] for s in stats.values())
        seen = last.get(pid)
        if seen is None or runs >= sum(
            s["compiled_runs"] + s["interpreted_runs"] for s in seen.values()
        ):
            last[pid] = stats
    totals: dict[str, dict[str, float]] = {}
    for stats in last.values():
        for mode, values in stats.items():
            into = totals.setdefault(mode, {})
            for name, value in values.items():
                into[name] = into.get(name, 0) + value
    return totals


if __name__ == "__main__":
    sys.exit(main())
