"""Worker processes change no answer: the whole side-by-side scenario (every method,
``tests.e2e.scenario``) on a node with ``--workers 1`` and on one with ``--workers 0``,
compared step by step as the anvil comparison does (hashes to positions, timestamps by
kind).

With one worker, eth_call, eth_estimateGas and eth_createAccessList at the head or the
pending block run on the worker process and large batches on the optimistic executor
(issue 15); without, everything runs on the sequencer and its threads. Any step whose
answer differs is a bug in the worker path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.normalise import Comparator
from tests.e2e.scenario import STEPS, Run, run_scenario
from tests.integration.node_process import hummingbird


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Run, Run]:
    """(the run with a worker process, the run without)."""
    out = []
    for workers in ("1", "0"):
        workdir: Path = tmp_path_factory.mktemp(f"workers{workers}")
        with hummingbird(workdir, "--workers", workers) as node:
            run = run_scenario(node.url)
            if workers == "1":
                assert "worker processes disabled" not in node.log(), node.log()
            out.append(run)
    return out[0], out[1]


def _scrub(value: Any) -> Any:
    """The fork id is a CRC32 of each node's genesis hash (its timestamp differs between
    the two nodes), and its hex may or may not start with a zero digit, which the
    comparator's shape rules tell apart: it is compared as present only."""
    if isinstance(value, dict):
        return {k: "<forkId>" if k == "forkId" else _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    return value


def test_every_step_answers_the_same_with_and_without_workers(runs: tuple[Run, Run]) -> None:
    with_workers, without = runs
    comparator = Comparator()
    differences = []
    for step in STEPS:
        for who, run in (("--workers 1", with_workers), ("--workers 0", without)):
            assert "scenario_error" not in run.responses[step.name], (who, step.name)
        difference = comparator.diff(
            step.name,
            _scrub(with_workers.responses[step.name]),
            _scrub(without.responses[step.name]),
            our_labels=with_workers.labels,
            their_labels=without.labels,
            check=step.check,
            message=step.message,
            loose=step.loose,
        )
        if difference is not None:
            differences.append(f"{step.name} ({step.method}):\n{difference}")
    assert not differences, "\n\n".join(differences)
