"""Start a real ``hummingbird`` process on a free 127.0.0.1 port for integration tests."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "tests" / "contracts" / "build"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rpc(url: str, method: str, params: list[object] | None = None) -> object:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    request = urllib.request.Request(url, body.encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@dataclass
class RunningNode:
    url: str
    ws_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def hummingbird(
    workdir: Path, *args: str, ephemeral: bool = True, port: int | None = None
) -> Iterator[RunningNode]:
    """A node process (on ``port``, or a free one); stopped with SIGTERM (clean shutdown)
    when the block exits."""
    storage = ["--ephemeral"] if ephemeral else ["--data-dir", str(workdir / "chain")]
    with _running(workdir, [*storage, *args], port=port) as node:
        yield node


@contextlib.contextmanager
def replica(
    workdir: Path, follow: str, *args: str, ephemeral: bool = True, name: str = "replica"
) -> Iterator[RunningNode]:
    """A replica process following the node at WebSocket URL ``follow``."""
    storage = ["--ephemeral"] if ephemeral else ["--data-dir", str(workdir / name)]
    with _running(workdir, ["--follow", follow, *storage, *args], prefix=["replica"]) as node:
        yield node


@contextlib.contextmanager
def _running(
    workdir: Path, args: list[str], prefix: list[str] | None = None, port: int | None = None
) -> Iterator[RunningNode]:
    port = free_port() if port is None else port
    cmd = [sys.executable, "-m", "rpc.cli", *(prefix or []), "--port", str(port), "--quiet"]
    cmd += args
    log_path = workdir / f"node-{port}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env={**os.environ}
        )
    url = f"http://127.0.0.1:{port}"
    node = RunningNode(url, f"ws://127.0.0.1:{port}", process, log_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"node exited with {process.returncode}:\n{node.log()}")
            try:
                rpc(url, "eth_chainId")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"node did not start:\n{node.log()}") from None
                time.sleep(0.05)
        yield node
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def contract(name: str) -> dict[str, object]:
    data: dict[str, object] = json.loads((BUILD / f"{name}.json").read_text())
    return data
