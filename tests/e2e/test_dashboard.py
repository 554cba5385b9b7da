"""The dashboard in a real browser (issue 21): Debian's headless Chromium, driven by
puppeteer-core (npm, pinned by tests/e2e/dashboard/package-lock.json; ``make test``
installs it), opens ``http://127.0.0.1:PORT/`` on a fresh node and ``check.mjs`` reports
what it saw: the live view fed by the node's own WebSocket (a transfer's block on screen,
how long after its seal each drawn block appeared, a burst sampled between frames), the
accounts, a deployed contract, a transaction page with its call tree and state diff, a
block page with its state diff, a screenshot and where the view's parts are on it.

Skipped without Chromium or the driver, and failed then when ``CI`` is set."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import struct
import subprocess
from pathlib import Path

import pytest

from tests.integration.node_process import hummingbird

HERE = Path(__file__).resolve().parent / "dashboard"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
DEV0 = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
VIEWPORT = (1400, 1000)


def _missing(what: str) -> None:
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
        pytest.fail(f"{what} is not installed; make test installs it")
    pytest.skip(f"{what} is not installed")


def _chromium() -> str:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path is not None:
            return path
    _missing("chromium")
    raise AssertionError("unreachable")


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and header[12:16] == b"IHDR", "not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_the_dashboard_shows_the_chain_live(tmp_path: Path) -> None:
    browser = _chromium()
    node_binary = shutil.which("node")
    if node_binary is None or not (HERE / "node_modules" / "puppeteer-core").is_dir():
        _missing("node and puppeteer-core (tests/e2e/dashboard)")
    screenshot = tmp_path / "dashboard.png"
    with hummingbird(tmp_path) as node:
        done = subprocess.run(
            [str(node_binary), "check.mjs", node.url, browser, str(screenshot)],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=240,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])

    assert report["errors"] == []  # nothing failed in the page
    assert report["title"] == "Hummingbird"
    assert report["firstBlockShown"] and report["transactionListed"]
    # Every block was received; the screen drew some and counted the rest as sampled.
    assert report["seen"] == report["chainHead"] == report["head"]
    assert report["shown"] + report["skipped"] == report["seen"]
    assert report["shown"] == len(report["latencies"]) >= 1
    # Seal to screen: each drawn block's delay after its seal. The bound is 100 ms;
    # on a loaded 2-core CI machine single frames can be late, so the median is held to it
    # (docs/benchmarks.md records the measured figures).
    assert statistics.median(report["latencies"]) < 100, report["latencies"]
    assert report["accounts"] == 10 and report["transactions"] >= 20
    assert report["texts"]["head"] == str(report["head"])
    assert report["texts"]["chain"].startswith("chain 31337")
    assert report["contractListed"]
    assert "CALL" in report["txPage"]["tree"] and DEV0 in report["txPage"]["diff"]
    assert DEV0 in report["blockPage"] and "balance" in report["blockPage"]
    # The screenshot: the viewport, with every part of the live view laid out inside it.
    assert _png_size(screenshot) == VIEWPORT
    width, _ = VIEWPORT
    for part, box in report["boxes"].items():
        assert box is not None, part
        x, _, w, h = box
        assert w > 0 and h > 0 and x >= 0 and x + w <= width, (part, box)
    assert (
        report["boxes"]["head"][1] < report["boxes"]["chart-tps"][1] < report["boxes"]["blocks"][1]
    )
