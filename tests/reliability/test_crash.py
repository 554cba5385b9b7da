"""The crash tier of ``make test``: a few SIGKILL trials of every kind (``crash.py``);
``make reliability`` runs many (``HUMMINGBIRD_CRASH_TRIALS``)."""

from __future__ import annotations

import os
from pathlib import Path

from tests.reliability.crash import MODES, run_trials

TRIALS = int(os.environ.get("HUMMINGBIRD_CRASH_TRIALS", str(2 * len(MODES))))


def test_no_acknowledged_transaction_or_seen_block_is_lost_to_a_kill(tmp_path: Path) -> None:
    report = run_trials(TRIALS, tmp_path)
    assert report.trials == TRIALS
    assert set(report.kills) == set(MODES)
    assert report.acknowledged > 0 and report.acknowledged_queued > 0  # the load ran
    assert report.ok(), report.problems
