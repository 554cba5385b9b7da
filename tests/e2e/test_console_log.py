"""console.log side by side with anvil (issue 16): the same contract, calling the
console address the way Hardhat's console.sol and forge-std's console2 do, run as a
mined transaction and as an eth_call (also one that reverts after logging, and a log
from inside a reverted inner call) on anvil 1.7.1 and on Hummingbird; the lines anvil
prints in its output and the lines we print in our node log must be the same, in the
same order. ``--disable-console-log`` prints none.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest
from eth_abi import encode
from eth_utils import keccak

from scripts.peers.start import ANVIL
from tests.e2e.test_trace_parity import Chain, _call
from tests.helpers.asm import Asm, initcode_for
from tests.integration.node_process import RunningNode, free_port, hummingbird

# The starts of anvil's own output lines (method names, its error report).
ANVIL_OWN: Final = ("eth_", "anvil_", "RPC request failed")
CONSOLE: Final = bytes.fromhex("000000000000000000636F6e736F6c652e6c6f67")
LOGS: Final = [
    ("log(string,uint256)", ["string", "uint256"], ["hello", 5]),
    ("log(string)", ["string"], ["multi\nline text"]),
    ("log(address,bool)", ["address", "bool"], [b"\xab" * 20, True]),
    ("log(string,int256,string)", ["string", "int256", "string"], ["x=%d y=%s", -7, "z"]),
    ("logBytes5(bytes5)", ["bytes5"], [b"\x01\x02\x03\x04\x05"]),
    ("log(uint256,uint256,uint256,uint256)", ["uint256"] * 4, [1, 2, 3, 2**256 - 1]),
]


def _log_call(signature: str, types: list[str], values: list[object]) -> bytes:
    data = keccak(text=signature)[:4] + encode(types, values)
    data += b"\x00" * (-len(data) % 32)
    asm = Asm()
    for offset in range(0, len(data), 32):
        asm.push(data[offset : offset + 32], 32).push(offset).op("MSTORE")
    size = 4 + len(encode(types, values))
    asm.push(0).push(0).push(size).push(0).push(CONSOLE, 20).op("GAS").op("STATICCALL")
    return asm.op("POP").build()


# Logs every line, then: calldata 0x01 reverts after logging; otherwise a STATICCALL to
# itself with calldata 0x02 logs once more and reverts (an inner frame's log).
def _contract() -> bytes:
    body = b"".join(_log_call(*log) for log in LOGS)
    asm = Asm().raw(body)
    asm.push(0).op("CALLDATALOAD").push(248).op("SHR").op("DUP1").push(1).op("EQ")
    asm.push_label("revert").op("JUMPI")
    asm.push(2).op("EQ").push_label("revert").op("JUMPI")
    # The inner call: calldata 0x02.
    asm.push(2).push(248).op("SHL").push(0).op("MSTORE")
    asm.push(0).push(0).push(1).push(0).op("ADDRESS").op("GAS").op("STATICCALL").op("POP")
    asm.op("STOP")
    asm.label("revert").push(0).push(0).op("REVERT")
    return asm.build()


def _anvil(port: int, log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "wb") as out:
        return subprocess.Popen(
            [str(ANVIL), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _exercise(url: str) -> None:
    chain = Chain(url)
    chain.send("deploy", None, initcode_for(_contract()))
    address = chain.addresses["deploy"]
    chain.send("mined", address, b"")
    _call(url, "eth_call", [{"to": address}, "latest"])
    answer = _call(url, "eth_call", [{"to": address, "data": "0x01"}, "latest"])
    assert isinstance(answer, dict) and "error" in answer  # reverted after logging
    time.sleep(0.3)  # the node writes its log asynchronously


def _anvil_lines(text: str) -> list[str]:
    """anvil prints console lines raw between its own lines: keep those that are none
    of its own (method names, the startup banner, transaction summaries)."""
    body = text.split("Listening on", 1)[1].splitlines()[1:]
    ours = []
    for line in body:
        stripped = line.strip()
        if not stripped or line.startswith("    ") or stripped.startswith(ANVIL_OWN):
            continue
        ours.append(line)
    return ours


def _our_lines(node: RunningNode) -> list[str]:
    """Our console lines in order: a transaction's under its ``console.log:`` line in
    the block lines (indented six spaces), an eth_call's on ``hummingbird.console``."""
    out = []
    under_transaction = False
    for line in node.log().splitlines():
        if line == "    console.log:":
            under_transaction = True
            continue
        if under_transaction:
            if line.startswith("      "):
                out.append(line[6:])
                continue
            under_transaction = False
        if "hummingbird.console: " not in line:
            continue
        message = line.split("hummingbird.console: ", 1)[1]
        if message.startswith("  "):
            out.append(message[2:])
    return out


@pytest.fixture(scope="module")
def lines(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[str], list[str]]]:
    if not ANVIL.is_file():
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail(f"anvil is not installed ({ANVIL}); make test installs it")
        pytest.skip("anvil is not installed")
    workdir = tmp_path_factory.mktemp("console")
    port = free_port()
    anvil = _anvil(port, workdir / "anvil.log")
    try:
        for _ in range(200):
            try:
                _call(f"http://127.0.0.1:{port}", "eth_chainId", [])
                break
            except OSError:
                time.sleep(0.05)
        _exercise(f"http://127.0.0.1:{port}")
    finally:
        anvil.terminate()
        anvil.wait(10)
    theirs = _anvil_lines((workdir / "anvil.log").read_text())
    with hummingbird(workdir) as node:
        _exercise(node.url)
        ours = _our_lines(node)
    yield ours, theirs


def test_console_lines_match_anvil(lines: tuple[list[str], list[str]]) -> None:
    ours, theirs = lines
    assert theirs, "anvil printed no console line: the probe is broken"
    assert ours == theirs


def test_disable_console_log_prints_nothing(tmp_path: Path) -> None:
    with hummingbird(tmp_path, "--disable-console-log") as node:
        _exercise(node.url)
        assert _our_lines(node) == []
        assert "console.log in" not in node.log()


def test_estimate_gas_prints_its_console_lines_once(tmp_path: Path) -> None:
    """anvil prints an estimate's console.log lines for every run of its gas search;
    we print those of the first run (at the cap), once."""
    with hummingbird(tmp_path) as node:
        chain = Chain(node.url)
        chain.send("deploy", None, initcode_for(_contract()))
        gas = _call(node.url, "eth_estimateGas", [{"to": chain.addresses["deploy"]}])
        assert isinstance(gas, str) and int(gas, 16) > 21_000
        time.sleep(0.3)
        log = node.log()
        assert log.count("console.log in eth_estimateGas:") == 1
        assert _our_lines(node).count("hello 5") == 2  # the call and its inner call
