"""scripts/bench_realtime.py: argument checks (the run itself is a benchmark)."""

from __future__ import annotations

import pytest

from scripts import bench_realtime


@pytest.mark.parametrize(
    "argv",
    [
        ["--rate", "0"],
        ["--rate", "20001"],
        ["--seconds", "0"],
        ["--senders", "0"],
        ["--watched", "65"],
        ["--sync-clients", "0"],
        ["--sync-clients", "1,x"],
        ["--sync-clients", ""],
        ["--sync-txs", "0"],
        ["--rate", "fast"],
    ],
)
def test_bad_arguments_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        bench_realtime.main(argv)
    assert raised.value.code == 2


def test_stats() -> None:
    assert bench_realtime._stats([]) == {"count": 0}
    stats = bench_realtime._stats([float(i) for i in range(1, 101)])
    assert stats == {"count": 100, "p50_ms": 51.0, "p99_ms": 100.0, "max_ms": 100.0}
