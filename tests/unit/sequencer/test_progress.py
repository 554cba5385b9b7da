"""sequencer.progress: progress lines at most once per interval, with rate, the time left
and a closing line only after long work."""

from __future__ import annotations

from sequencer.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_short_work_prints_nothing() -> None:
    lines: list[str] = []
    clock = Clock()
    progress = Progress("loading state", 10, "accounts", emit=lines.append, clock=clock)
    for _ in range(10):
        clock.now += 0.1
        progress.advance()
    progress.finish()
    assert lines == []


def test_long_work_prints_each_interval_and_a_closing_line() -> None:
    lines: list[str] = []
    clock = Clock()
    failed = [0]
    progress = Progress(
        "conformance", 1000, "files", interval=10, emit=lines.append, clock=clock,
        extra=lambda: f"{failed[0]} failed",
    )  # fmt: skip
    for i in range(1000):
        clock.now += 0.0625  # 16 files a second (exact in binary): 62.5 s in all
        if i == 500:
            failed[0] = 2
        progress.advance()
    progress.finish()
    assert len(lines) == 7  # at 10, 20, ..., 60 s, and the closing one
    assert lines[0] == "conformance: 160 of 1,000 files (16%), 16/s, about 53s left, 0 failed"
    assert lines[-1] == "conformance: 1,000 of 1,000 files (100%), done in 1m03s, 2 failed"


def test_unknown_totals_and_long_durations() -> None:
    lines: list[str] = []
    clock = Clock()
    progress = Progress("catching up", None, "blocks", interval=1, emit=lines.append, clock=clock)
    clock.now += 2
    progress.advance(50)
    assert lines == ["catching up: 50 blocks, 25/s"]
    slow = Progress("x", 10**6, "items", interval=1, emit=lines.append, clock=clock)
    clock.now += 7200
    slow.advance(1000)
    assert lines[-1].endswith("0.14/s, about 1998h00m left")
    stalled = Progress("y", 5, interval=1, emit=lines.append, clock=clock)
    clock.now += 5
    stalled.advance(0)  # nothing done yet: no rate, no estimate
    assert lines[-1] == "y: 0 of 5 items (0%), 0/s"
