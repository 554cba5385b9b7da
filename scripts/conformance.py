#!/usr/bin/env python3
"""State-test conformance runner.

    python scripts/conformance.py [PATH ...] [--fork NAME ...] [--engine interpreter|jit]
                                  [--tier quick|full] [--json OUT] [--jobs N]

PATH defaults to ../shared/conformance (directories are walked). Runs EEST
state tests (full post state, logs hash, rejected-or-not) and legacy
ethereum/tests state tests (post MPT root, logs hash) for Cancun, Prague and
Osaka; blockchain-test files are counted as skipped. Prints passed/failed per
format, category and fork, the ten slowest cases with CPU time, every failure,
and ends with ``N passed, N failed``. Exit status 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from jit.forks import Fork, rules_for  # noqa: E402
from tests.conformance.statetest import FORK_NAMES, run_case  # noqa: E402

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
    for marker in ("state_tests", "blockchain_tests"):
        if marker in parts:
            after = parts[parts.index(marker) + 1]
            if after == "static":
                return fmt, "static"
            if after in ("cancun", "prague", "osaka"):
                return fmt, after
            return fmt, "older_forks"
    return fmt, "other"


def run_file(job: tuple[str, str, list[str], dict[str, object] | None]) -> FileReport:
    path_text, display, fork_names, manifest_record = job
    path = Path(path_text)
    started = time.process_time()
    with open(path, "rb") as handle:
        data = json.load(handle)
    fmt, category = classify(path, data)
    if manifest_record:
        fmt = str(manifest_record.get("format", fmt))
        category = str(manifest_record.get("category", category))
    ref = manifest_record.get("ref_cpu_seconds") if manifest_record else None
    cases: list[CaseRecord] = []
    if fmt == "blockchain":
        count = sum(
            1
            for test in data.values()
            if isinstance(test, dict) and test.get("network") in fork_names
        )
        return FileReport(display, fmt, category, [], count, "blockchain test", 0.0, None)
    for test_name, test in data.items():
        for fork_name, posts in test.get("post", {}).items():
            if fork_name not in fork_names:
                continue
            rules = rules_for(FORK_NAMES[fork_name])
            for index, post in enumerate(posts):
                case_start = time.process_time()
                try:
                    result = run_case(test, post, rules)
                    outcome = "passed" if result.passed else "failed"
                    reason = result.reason
                except Exception as error:  # a crash is a failure with its traceback
                    outcome = "error"
                    frames = traceback.extract_tb(error.__traceback__)[-2:]
                    where = " <- ".join(
                        f"{Path(f.filename).name}:{f.lineno}" for f in reversed(frames)
                    )
                    reason = f"{type(error).__name__}: {error} ({where})"
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
                    )
                )
    return FileReport(
        display,
        fmt,
        category,
        cases,
        0,
        "",
        time.process_time() - started,
        float(ref) if isinstance(ref, (int, float)) else None,
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
        help="Cancun, Prague or Osaka (repeatable; default all three)",
    )
    parser.add_argument("--engine", choices=["interpreter", "jit"], default="interpreter")
    parser.add_argument("--tier", choices=["quick", "full"], default="full")
    parser.add_argument("--json", type=Path, dest="json_out", metavar="OUT")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    args = parser.parse_args(argv)

    if args.engine == "jit":
        print(
            "conformance: the JIT engine is not built yet (issue 6); use --engine interpreter",
            file=sys.stderr,
        )
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
            and float(record.get("ref_cpu_seconds", 0)) > QUICK_TIER_MAX_REF_SECONDS
        ):  # type: ignore[arg-type]
            tier_skipped += 1
            continue
        jobs.append((str(resolved), key, fork_names, record))

    wall_start = time.perf_counter()
    reports: list[FileReport] = []
    if args.jobs == 1 or len(jobs) < 2:
        reports = [run_file(job) for job in jobs]
    else:
        # Big files first so one slow file does not finish last on its own.
        jobs.sort(key=lambda job: -float((job[3] or {}).get("ref_cpu_seconds", 0)))  # type: ignore[arg-type]
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            reports = list(pool.map(run_file, jobs, chunksize=1))
    wall = time.perf_counter() - wall_start
    return report(reports, tier_skipped, wall, args)


def report(
    reports: list[FileReport], tier_skipped: int, wall: float, args: argparse.Namespace
) -> int:
    cases = [case for r in reports for case in r.cases]
    table: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    for case in cases:
        table[(case.format, case.category, case.fork)][case.outcome] += 1
    print(f"{'format':<14}{'category':<13}{'fork':<8}{'passed':>8}{'failed':>8}")
    for (fmt, category, fork), counts in sorted(table.items()):
        failed = counts["failed"] + counts["error"]
        print(f"{fmt:<14}{category:<13}{fork:<8}{counts['passed']:>8}{failed:>8}")
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
    cpu = sum(r.cpu_seconds for r in reports)
    ref_files = [r for r in reports if r.ref_cpu_seconds is not None and r.cases]
    ref = sum(r.ref_cpu_seconds or 0.0 for r in ref_files)
    ours_on_ref = sum(r.cpu_seconds for r in ref_files)
    print(f"\nCPU {cpu:.1f} s over {len(reports)} files (wall {wall:.1f} s, {args.jobs} jobs)")
    if ref:
        print(
            f"reference CPU for the same files {ref:.1f} s; ours {ours_on_ref:.1f} s = {ours_on_ref / ref:.3f} of it"
        )
    skipped = sum(r.skipped for r in reports)
    blockchain_files = sum(1 for r in reports if r.format == "blockchain")
    print(
        f"skipped: {skipped} blockchain-test cases in {blockchain_files} files; {tier_skipped} files outside the {args.tier} tier"
    )
    passed = sum(1 for c in cases if c.outcome == "passed")
    if args.json_out:
        with open(args.json_out, "w") as handle:
            for case in cases:
                handle.write(
                    json.dumps(
                        {
                            "file": case.file,
                            "test": case.test,
                            "fork": case.fork,
                            "index": case.index,
                            "outcome": case.outcome,
                            "cpu_seconds": round(case.cpu_seconds, 6),
                            "reason": case.reason,
                        }
                    )
                    + "\n"
                )
    print(f"{passed} passed, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
