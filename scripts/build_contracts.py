"""Rebuilds the Solidity contracts kept as source with their build committed beside them:
tests/contracts/src/*.sol -> tests/contracts/build/*.json (the test contracts),
scripts/workloads/*.sol -> scripts/workloads/build/*.json (scripts/evm_bench.py's workloads)
and sequencer/contracts/*.sol -> sequencer/contracts/build/*.json (contracts the node
predeploys: the sequencer registry of two-tier mode).

Compiles with the solc-js version pinned in tests/contracts/package.json (installed there by
``npm ci`` when node_modules is missing; solc-js runs offline once installed), optimizer on,
evmVersion ``cancun`` so the bytecode runs on every peer node. Each build file is
``{"abi", "bytecode", "deployedBytecode", "compiler"}``, written deterministically (sorted
contracts, fixed indentation, trailing newline).

Usage: ``python scripts/build_contracts.py`` writes both builds; ``--check`` exits 1 when a
committed build differs from a fresh compile (or a build file is missing or extra);
``--only contracts|workloads|sequencer`` limits it to one set.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = ROOT / "tests" / "contracts"
BUILD = CONTRACTS / "build"
WORKLOADS = ROOT / "scripts" / "workloads"

# name -> (source directory, build directory)
TARGETS: dict[str, tuple[Path, Path]] = {
    "contracts": (CONTRACTS / "src", BUILD),
    "workloads": (WORKLOADS, WORKLOADS / "build"),
    "sequencer": (ROOT / "sequencer" / "contracts", ROOT / "sequencer" / "contracts" / "build"),
}


def ensure_solc() -> None:
    if (CONTRACTS / "node_modules" / "solc" / "package.json").is_file():
        return
    if shutil.which("npm") is None:
        raise SystemExit("error: npm is not on PATH (needed once to install solc-js)")
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=CONTRACTS, check=True
    )


def compile_all(source: Path = CONTRACTS / "src") -> dict[str, str]:
    """File name -> the exact text of its build JSON, for every *.sol in ``source``."""
    ensure_solc()
    proc = subprocess.run(
        ["node", str(CONTRACTS / "compile.mjs"), str(source)],
        cwd=CONTRACTS,
        capture_output=True,
        text=True,
    )
    if proc.stderr:
        sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        raise SystemExit(f"error: solc failed (exit {proc.returncode})")
    out = json.loads(proc.stdout)
    files: dict[str, str] = {}
    for name in sorted(out["contracts"]):
        c = out["contracts"][name]
        doc = {
            "abi": c["abi"],
            "bytecode": c["bytecode"],
            "deployedBytecode": c["deployedBytecode"],
            "compiler": out["compiler"],
        }
        files[f"{name}.json"] = json.dumps(doc, indent=2) + "\n"
    return files


def check(files: dict[str, str], build: Path) -> bool:
    """Report how the committed ``build`` differs from ``files``; True when it does not."""
    existing = {p.name for p in build.glob("*.json")}
    bad = sorted(
        name
        for name, text in files.items()
        if not (build / name).is_file() or (build / name).read_text() != text
    )
    extra = sorted(existing - files.keys())
    where = build.relative_to(ROOT)
    for name in bad:
        print(f"out of date: {where}/{name}", file=sys.stderr)
    for name in extra:
        print(f"no source: {where}/{name}", file=sys.stderr)
    return not (bad or extra)


def write(files: dict[str, str], build: Path) -> None:
    build.mkdir(parents=True, exist_ok=True)
    for name in sorted({p.name for p in build.glob("*.json")} - files.keys()):
        (build / name).unlink()
    for name, text in files.items():
        (build / name).write_text(text)
    print(f"wrote {len(files)} contracts to {build.relative_to(ROOT)}: {', '.join(sorted(files))}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="verify the committed build; write nothing"
    )
    parser.add_argument(
        "--only", choices=sorted(TARGETS), help="build or check one set (default: all)"
    )
    args = parser.parse_args(argv)
    names = [args.only] if args.only else list(TARGETS)
    ok = True
    for name in names:
        source, build = TARGETS[name]
        files = compile_all(source)
        if not args.check:
            write(files, build)
        elif check(files, build):
            print(f"{name}: {len(files)} contracts up to date")
        else:
            ok = False
    if not ok:
        print("run scripts/build_contracts.py to rebuild", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
