"""Rebuilds the Solidity test contracts: tests/contracts/src/*.sol -> tests/contracts/build/*.json.

Compiles with the solc-js version pinned in tests/contracts/package.json (installed there by
``npm ci`` when node_modules is missing; solc-js runs offline once installed), optimizer on,
evmVersion ``cancun`` so the bytecode runs on every peer node. Each build file is
``{"abi", "bytecode", "deployedBytecode", "compiler"}``, written deterministically (sorted
contracts, fixed indentation, trailing newline).

Usage: ``python scripts/build_contracts.py`` writes the build; ``--check`` exits 1 when the
committed build differs from a fresh compile (or a build file is missing or extra).
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


def ensure_solc() -> None:
    if (CONTRACTS / "node_modules" / "solc" / "package.json").is_file():
        return
    if shutil.which("npm") is None:
        raise SystemExit("error: npm is not on PATH (needed once to install solc-js)")
    subprocess.run(
        ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=CONTRACTS, check=True
    )


def compile_all() -> dict[str, str]:
    """File name -> the exact text of its build JSON."""
    ensure_solc()
    proc = subprocess.run(
        ["node", str(CONTRACTS / "compile.mjs")], cwd=CONTRACTS, capture_output=True, text=True
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="verify the committed build; write nothing"
    )
    args = parser.parse_args(argv)
    files = compile_all()
    existing = {p.name for p in BUILD.glob("*.json")}
    if args.check:
        bad = sorted(
            name
            for name, text in files.items()
            if not (BUILD / name).is_file() or (BUILD / name).read_text() != text
        )
        extra = sorted(existing - files.keys())
        for name in bad:
            print(f"out of date: tests/contracts/build/{name}", file=sys.stderr)
        for name in extra:
            print(f"no source: tests/contracts/build/{name}", file=sys.stderr)
        if bad or extra:
            print("run scripts/build_contracts.py to rebuild", file=sys.stderr)
            return 1
        print(f"{len(files)} contracts up to date")
        return 0
    BUILD.mkdir(parents=True, exist_ok=True)
    for name in sorted(existing - files.keys()):
        (BUILD / name).unlink()
    for name, text in files.items():
        (BUILD / name).write_text(text)
    print(f"wrote {len(files)} contracts to {BUILD.relative_to(ROOT)}: {', '.join(sorted(files))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
