"""scripts/soak.py, the parts that need no node: argument checks and the process tree."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

SCRIPTS = Path(__file__).resolve().parents[3] / "scripts"


def _load() -> ModuleType:
    if str(SCRIPTS) not in sys.path:
        sys.path.insert(0, str(SCRIPTS))  # it imports bench_rpc and probe_stall as siblings
    spec = importlib.util.spec_from_file_location("soak", SCRIPTS / "soak.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["soak"] = module
    spec.loader.exec_module(module)
    return module


soak = _load()


def test_the_process_tree_holds_the_children_and_sums_their_rss() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        deadline = time.monotonic() + 10
        while child.pid not in soak.process_tree(os.getpid()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert child.pid in soak.process_tree(os.getpid())
        assert soak.tree_rss_bytes(os.getpid()) > soak.rss_bytes(os.getpid()) > 0
    finally:
        child.kill()
        child.wait()
    assert soak.rss_bytes(child.pid) == 0  # gone: reads as 0, no error


@pytest.mark.parametrize(
    "argv",
    [
        ["--minutes", "0"],
        ["--minutes", "1441"],
        ["--rate", "0"],
        ["--senders", "0"],
        ["--tick-ms", "0"],
        ["--minutes", "1", "--window-min", "1"],
        ["--sample-s", "0"],
        ["--minutes", "lots"],
    ],
)
def test_bad_arguments_exit_2(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", ["soak.py", *argv])
    with pytest.raises(SystemExit) as exited:
        soak.main()
    assert exited.value.code == 2
