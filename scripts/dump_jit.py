#!/usr/bin/env python3
"""Print the Python the JIT generates for a bytecode.

    python scripts/dump_jit.py HEX [--fork cancun|prague|osaka] [--regions]
    python scripts/dump_jit.py --file PATH [--fork ...]

HEX is the runtime bytecode (``0x`` optional). ``--file`` reads hex from a
file, or a solc/Hardhat artifact JSON (its ``deployedBytecode``). ``--regions``
prints the analysis (regions and basic blocks with static gas and stack
inputs / growth) instead of the source. Bad input exits 2 with a message.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from jit.compiler.analysis import basic_blocks, regions  # noqa: E402
from jit.compiler.codegen import generate  # noqa: E402
from jit.forks import Fork, rules_for  # noqa: E402

MAX_CODE_BYTES = 1 << 20  # far above EIP-170/3860 limits; a guard against mistakes


class InputError(Exception):
    pass


def parse_hex(text: str) -> bytes:
    text = text.strip()
    if text[:2] in ("0x", "0X"):
        text = text[2:]
    if not text:
        raise InputError("the bytecode is empty")
    if len(text) > 2 * MAX_CODE_BYTES:
        raise InputError(f"the bytecode is larger than {MAX_CODE_BYTES} bytes")
    if len(text) % 2:
        raise InputError("the bytecode has an odd number of hex digits")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise InputError("the bytecode is not hex") from None


def read_file(path: str) -> bytes:
    try:
        raw = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"cannot read {path}: {error}") from None
    if raw.lstrip().startswith("{"):
        try:
            artifact = json.loads(raw)
        except ValueError as error:
            raise InputError(f"{path} is not valid JSON: {error}") from None
        code = artifact.get("deployedBytecode") if isinstance(artifact, dict) else None
        if isinstance(code, dict):  # Foundry: {"object": "0x..."}
            code = code.get("object")
        if not isinstance(code, str):
            raise InputError(f"{path} has no deployedBytecode string")
        return parse_hex(code)
    return parse_hex(raw)


def describe_regions(code: bytes, fork: Fork) -> str:
    table = rules_for(fork).opcode_table
    out = []
    for region in regions(code, table):
        tail = "" if region.fallthrough is None else f", falls through to {region.fallthrough}"
        out.append(f"region {region.start}: {len(region.instructions)} instructions{tail}")
    out.append("")
    for block in basic_blocks(code, table):
        out.append(
            f"block {block.start}: {len(block.instructions)} instructions, static gas "
            f"{block.static_gas}, inputs {block.inputs}, growth {block.max_growth}, "
            f"delta {block.delta}" + ("" if block.falls_through else ", ends the path")
        )
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("code", nargs="?", help="runtime bytecode as hex")
    parser.add_argument("--file", help="a file with hex, or an artifact JSON")
    parser.add_argument("--fork", default="osaka", help="cancun, prague or osaka (default)")
    parser.add_argument("--regions", action="store_true", help="print the analysis instead")
    args = parser.parse_args(argv)
    try:
        if (args.code is None) == (args.file is None):
            raise InputError("give either HEX or --file PATH")
        try:
            fork = Fork.from_name(args.fork)
        except ValueError as error:
            raise InputError(str(error)) from None
        code = read_file(args.file) if args.file is not None else parse_hex(args.code)
    except InputError as error:
        print(f"dump_jit: {error}", file=sys.stderr)
        return 2
    if args.regions:
        sys.stdout.write(describe_regions(code, fork))
    else:
        sys.stdout.write(generate(code, rules_for(fork)).source)
    return 0


if __name__ == "__main__":
    sys.exit(main())
