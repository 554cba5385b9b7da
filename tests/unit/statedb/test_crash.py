"""kill -9 at random moments: a reopen always finds exactly the last committed block."""

from __future__ import annotations

import copy
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from statedb import StateDB, compute_root
from statedb.keys import CHAIN_CFS
from tests.unit.statedb.support import ADDRESSES, SLOTS, Model, crash_block, state_of

TRIALS = 24
SEED = 4242
REPO = Path(__file__).resolve().parents[3]
CHILD = Path(__file__).with_name("crash_child.py")


def run_child_until_killed(path: Path, rng: random.Random) -> int:
    """Start the child, SIGKILL it at a random moment; return the last block it reported."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(path), str(SEED)],
        stdout=subprocess.PIPE,
        env=env,
        cwd=REPO,
    )
    assert child.stdout is not None
    ready = child.stdout.readline().split()
    assert ready[0] == b"ready", ready
    time.sleep(rng.uniform(0.0, 0.25))
    child.send_signal(signal.SIGKILL)
    out, _ = child.communicate()
    assert child.returncode == -signal.SIGKILL
    lines = out.split(b"\n")
    # A line cut short by the kill has no trailing newline: it does not count.
    complete = [line for line in lines[:-1] if line]
    return int(complete[-1]) if complete else int(ready[1])


def test_sigkill_never_leaves_a_partial_block(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    path = tmp_path / "db"
    model = Model(keep_history=False)  # replayed incrementally as the chain grows
    previous = model.state
    unreported = 0
    for _trial in range(TRIALS):
        reported = run_child_until_killed(path, rng)
        db = StateDB.open(path, history_window=50)
        try:
            head = db.head_number
            # The write may have returned and the kill landed before the print.
            assert head in (reported, reported + 1), (head, reported)
            unreported += head == reported + 1
            if model.blocks <= head:
                while model.blocks < head:
                    model.apply(*crash_block(SEED, model.blocks))
                previous = copy.deepcopy(model.state)
                model.apply(*crash_block(SEED, head))
            assert state_of(db.resident) == state_of(model.state)
            assert db.resident.codes == model.state.codes
            assert db.state_root == compute_root(model.state.accounts, model.state.storage)
            for cf in CHAIN_CFS:
                assert dict(db.records(cf)) == model.records[cf]
            assert db.get_record(CHAIN_CFS[0], (head + 1).to_bytes(8, "big")) is None
            if head > 0:
                view = db.at(head - 1)
                for address in ADDRESSES:
                    assert view.get_account(address) == previous.get_account(address)
                    for slot in SLOTS:
                        assert view.get_storage(address, slot) == previous.get_storage(
                            address, slot
                        )
        finally:
            db.close()
    assert model.blocks > TRIALS  # the children did commit blocks
    print(f"{TRIALS} kills, {model.blocks} blocks, {unreported} committed but unreported")
