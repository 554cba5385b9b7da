"""A first start killed (SIGKILL) at any moment leaves no data directory or a complete one,
and the next start serves (issue 14: a kill within ~3 ms of the directory's creation
left one the node refused on every later start).

The kill points are anchored on the creation itself, not on the spawn: the process
spends ~0.7 s importing before it touches the disk, so a delay counted from the spawn
would never land inside the ~60 ms of creation. Each trial waits for the temporary
sibling ``.chain.tmp-<pid>`` to appear, then kills after a random delay over 1.5
times the creation's measured duration (during it, and after the rename into place).
Each killed directory is then opened: absent, or a database holding its genesis block;
the next start (in-process, or every fourth trial a real process answering over HTTP)
serves block 0 and has removed the killed start's temporary directory."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sequencer.chain import Chain
from sequencer.config import NodeConfig
from sequencer.node import Node
from statedb import StateDB
from tests.integration.node_process import REPO, free_port, hummingbird, rpc

TRIALS = 24
REAL_RESTART_EVERY = 4  # the other trials restart in-process (the same start-up path)


def spawn(chain: Path) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "rpc.cli", "--port", str(free_port()), "--quiet"]
    return subprocess.Popen(
        [*cmd, "--data-dir", str(chain)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(condition: Callable[[], bool], process: subprocess.Popen[bytes]) -> float:
    """Poll ``condition`` (every 0.5 ms); the monotonic time it became true."""
    deadline = time.monotonic() + 30
    while not condition():
        assert process.poll() is None, "the node exited during start-up"
        assert time.monotonic() < deadline, "the node never created its database"
        time.sleep(0.0005)
    return time.monotonic()


def creation_window(workdir: Path) -> float:
    """How long a first start takes from its temporary directory to the rename, here."""
    chain = workdir / "chain"
    process = spawn(chain)
    try:
        temp = workdir / f".chain.tmp-{process.pid}"
        began = wait_for(lambda: temp.exists() or chain.exists(), process)
        return wait_for(chain.exists, process) - began
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()


def kill_during_first_start(workdir: Path, delay: float) -> tuple[str, bool]:
    """Start a node on a fresh ``workdir/chain`` and SIGKILL it ``delay`` seconds after
    its database starts being created. Returns what was left ("none" or "complete")
    and whether the kill landed inside the creation (temporary directory, no
    ``chain`` yet)."""
    chain = workdir / "chain"
    process = spawn(chain)
    temp = workdir / f".chain.tmp-{process.pid}"
    try:
        wait_for(lambda: temp.exists() or chain.exists(), process)
        time.sleep(delay)
        during = temp.exists() and not chain.exists()
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    if not chain.exists():
        return "none", during
    with StateDB.open(chain) as db:  # a complete database: genesis committed
        assert db.head_number == 0 and Chain(db).head is not None
    return "complete", during


def restart(workdir: Path, real_process: bool) -> None:
    if real_process:
        with hummingbird(workdir, ephemeral=False) as node:
            assert rpc(node.url, "eth_blockNumber")["result"] == "0x0"  # type: ignore[index]
    else:
        node = Node(NodeConfig(data_dir=str(workdir / "chain"), accounts=1))
        try:
            block = node.block(0)
            assert node.head_number == 0 and block is not None
        finally:
            node.close()
    leftovers = [p.name for p in workdir.iterdir() if p.name.startswith(".chain.tmp-")]
    assert leftovers == [], leftovers  # the killed start's temporary directory is gone


def trial(root: Path, index: int, delay: float) -> tuple[str, bool]:
    workdir = root / f"trial{index}"
    workdir.mkdir()
    outcome = kill_during_first_start(workdir, delay)
    restart(workdir, real_process=index % REAL_RESTART_EVERY == 0)
    return outcome


def test_first_start_killed_at_any_moment_leaves_a_usable_directory(tmp_path: Path) -> None:
    probe = tmp_path / "probe"
    probe.mkdir()
    window = creation_window(probe)
    rng = random.Random(14)
    # Kill points over the creation and a little after it; the first two at once.
    delays = [0.0, 0.0] + [rng.uniform(0.0, 1.5 * window) for _ in range(TRIALS - 2)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = list(pool.map(lambda args: trial(tmp_path, *args), enumerate(delays)))
    assert any(during for _, during in outcomes), (window, outcomes)  # mid-creation kills


def test_unusable_directory_is_refused_with_the_fix(tmp_path: Path) -> None:
    chain = tmp_path / "chain"
    chain.mkdir()
    (chain / "stray.txt").write_text("not a database")
    result = subprocess.run(
        [sys.executable, "-m", "rpc.cli", "--port", str(free_port()), "--data-dir", str(chain)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"the data directory {chain} cannot be used" in result.stderr
    assert f"rm -rf {chain}" in result.stderr
