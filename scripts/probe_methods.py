"""Method coverage: which JSON-RPC method names a node answers (issue 13's "Measured").

Each name is sent with ``params: []``; a name *answers* unless the node says -32601
(method not found). Names come from ``scripts/data/anvil-1.7.1-methods.txt`` (every
``rename``/``alias`` in anvil 1.7.1's ``crates/anvil/core/src/eth/mod.rs``, tag v1.7.1)
plus every method Hummingbird registers, so both sides of the comparison are covered.

    .venv/bin/python scripts/probe_methods.py --url http://127.0.0.1:8545 [--url2 URL] [--json OUT]

With two URLs (e.g. anvil and Hummingbird) it prints, per namespace, how many names each
answers, and the names the first answers that the second does not. Exit status 1 if the
second node misses any ``anvil_``/``hardhat_``/``evm_`` name the first answers.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.request
from pathlib import Path
from typing import Final

HERE: Final = Path(__file__).resolve().parent
NAMES_FILE: Final = HERE / "data" / "anvil-1.7.1-methods.txt"
DEV_PREFIXES: Final = ("anvil_", "hardhat_", "evm_")


def candidate_names() -> list[str]:
    names = {line.strip() for line in NAMES_FILE.read_text().splitlines() if line.strip()}
    try:
        sys.path.insert(0, str(HERE.parent))
        from rpc.namespaces import default_registry

        names |= set(default_registry.names())
    except ImportError:  # probing from outside the project's environment
        pass
    return sorted(names)


def answers(url: str, names: list[str], timeout: float = 10.0) -> dict[str, bool]:
    """name -> whether the node at ``url`` knows it (one batch per 100 names)."""
    if not url.startswith(("http://127.", "http://localhost")):
        raise SystemExit("probe only nodes on this machine (http://127.x or localhost)")
    out: dict[str, bool] = {}
    for start in range(0, len(names), 100):
        chunk = names[start : start + 100]
        body = [
            {"jsonrpc": "2.0", "id": i, "method": name, "params": []}
            for i, name in enumerate(chunk)
        ]
        request = urllib.request.Request(
            url, json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:
            replies = json.load(response)
        by_id = {r.get("id"): r for r in replies if isinstance(r, dict)}
        for i, name in enumerate(chunk):
            reply = by_id.get(i, {})
            error = reply.get("error")
            out[name] = not (isinstance(error, dict) and error.get("code") == -32601)
    return out


def namespace(name: str) -> str:
    return name.split("_", 1)[0] if "_" in name else name


def summary(found: dict[str, bool]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for name, ok in found.items():
        if ok:
            counts[namespace(name)] = counts.get(namespace(name), 0) + 1
    counts["total"] = sum(found.values())
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--url2")
    parser.add_argument("--json", dest="json_out")
    args = parser.parse_args(argv)
    names = candidate_names()
    first = answers(args.url, names)
    report: dict[str, object] = {"probed": len(names), "first": summary(first)}
    status = 0
    if args.url2:
        second = answers(args.url2, names)
        report["second"] = summary(second)
        missing = sorted(n for n in names if first[n] and not second[n])
        report["missing_in_second"] = missing
        if any(n.startswith(DEV_PREFIXES) for n in missing):
            status = 1
    print(json.dumps(report, indent=2))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=2) + "\n")
    return status


if __name__ == "__main__":
    sys.exit(main())
