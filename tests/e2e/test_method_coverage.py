"""Method coverage against anvil 1.7.1 (issue 13's measure): every ``anvil_``,
``hardhat_`` and ``evm_`` name anvil answers (anything but -32601 to ``params: []``) is
answered here too, and at least as many ``eth_`` names. Names come from
``scripts/probe_methods.py`` (anvil's own method table plus ours)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scripts.peers.start import ANVIL, start_peer
from scripts.probe_methods import DEV_PREFIXES, answers, candidate_names, summary
from tests.integration.node_process import free_port, hummingbird


def test_every_dev_method_anvil_answers_is_answered(tmp_path: Path) -> None:
    if not ANVIL.is_file():
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail(f"anvil is not installed ({ANVIL}); make test installs it")
        pytest.skip("anvil is not installed")
    names = candidate_names()
    with start_peer("anvil", free_port()) as url:
        theirs = answers(url, names)
    with hummingbird(tmp_path) as node:
        ours = answers(node.url, names)
    missing = sorted(n for n in names if n.startswith(DEV_PREFIXES) and theirs[n] and not ours[n])
    assert not missing, f"dev methods anvil answers and we do not: {missing}"
    assert summary(ours).get("eth", 0) >= summary(theirs).get("eth", 0)


def test_the_probe_tells_unknown_names(tmp_path: Path) -> None:
    with hummingbird(tmp_path) as node:
        found = answers(node.url, ["anvil_noSuchMethod", "eth_chainId"])
    assert found == {"anvil_noSuchMethod": False, "eth_chainId": True}
