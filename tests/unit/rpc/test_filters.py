"""rpc.namespaces.filters: the polling-filter table's journals, caps, expiry timer and
reverts, fed by a stand-in node (only the three subscribe methods are used)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

from rpc.namespaces.filters import (
    FilterLimits,
    FilterTable,
    _Journal,
    install_filters,
)
from sequencer.chain import LogFilter
from sequencer.errors import NodeError
from sequencer.types.blocks import ChainLog

EMITTER = b"\x11" * 20
OTHER = b"\x22" * 20
TOPIC = b"\xaa" * 32


class FakeNode:
    def __init__(self) -> None:
        self.blocks: list[Callable[[Any], None]] = []
        self.reverts: list[Callable[[Any], None]] = []
        self.pending: list[Callable[[Any], None]] = []

    def subscribe_blocks(self, fn: Callable[[Any], None]) -> Callable[[], None]:
        self.blocks.append(fn)
        return lambda: self.blocks.remove(fn)

    def subscribe_reverts(self, fn: Callable[[Any], None]) -> Callable[[], None]:
        self.reverts.append(fn)
        return lambda: self.reverts.remove(fn)

    def subscribe_pending(self, fn: Callable[[Any], None]) -> Callable[[], None]:
        self.pending.append(fn)
        return lambda: self.pending.remove(fn)

    def mine(self, number: int, logs: int = 1, address: bytes = EMITTER, size: int = 32) -> None:
        tx = SimpleNamespace(hash=number.to_bytes(32, "big"))
        receipt = SimpleNamespace(
            logs=tuple(ChainLog(address, (TOPIC,), bytes(size)) for _ in range(logs))
        )
        block = SimpleNamespace(
            number=number,
            hash=(number + 10**6).to_bytes(32, "big"),
            header=SimpleNamespace(timestamp=1000 + number),
            transactions=(tx,),
            receipts=(receipt,),
        )
        for fn in list(self.blocks):
            fn(block)

    def revert_to(self, head: int) -> None:
        event = SimpleNamespace(head=SimpleNamespace(number=head), removed_to=head + 100)
        for fn in list(self.reverts):
            fn(event)

    def announce(self, n: int) -> None:
        for fn in list(self.pending):
            fn(SimpleNamespace(hash=n.to_bytes(32, "big")))


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def table(
    limits: FilterLimits | None = None, clock: Clock | None = None
) -> tuple[FakeNode, FilterTable]:
    node = FakeNode()
    return node, FilterTable(node, limits, clock or Clock())  # type: ignore[arg-type]


def block_hash(number: int) -> str:
    return "0x" + (number + 10**6).to_bytes(32, "big").hex()


def all_logs(from_block: int = 0) -> LogFilter:
    return LogFilter(from_block, 2**63)


def test_block_log_and_pending_filters_read_their_changes() -> None:
    node, filters = table()
    node.mine(1)  # before any filter: not recorded at all
    assert len(filters.blocks) == 0
    blocks = filters.add("blocks")
    logs = filters.add("logs", LogFilter(0, 2**63, frozenset({EMITTER})))
    closed = filters.add("logs", LogFilter(3, 3), open_end=False)
    pending = filters.add("pending")
    node.mine(2)
    node.mine(3, logs=2)
    node.mine(4, address=OTHER)
    node.announce(7)
    assert filters.changes(blocks) == [block_hash(2), block_hash(3), block_hash(4)]
    got = filters.changes(logs)
    assert [(log["blockNumber"], log["logIndex"]) for log in got] == [
        ("0x2", "0x0"),
        ("0x3", "0x0"),
        ("0x3", "0x1"),
    ]
    assert got[0]["blockTimestamp"] == hex(1002) and got[0]["removed"] is False
    assert [log["blockNumber"] for log in filters.changes(closed)] == ["0x3", "0x3"]
    assert filters.changes(pending) == ["0x" + (7).to_bytes(32, "big").hex()]
    for filter_id in (blocks, logs, closed, pending):
        assert filters.changes(filter_id) == []  # read once
    node.mine(5)
    assert filters.changes(blocks) == [block_hash(5)]


def test_one_journal_entry_per_block_whatever_the_number_of_filters() -> None:
    node, filters = table()
    ids = [filters.add("logs", all_logs()) for _ in range(1000)]
    for number in range(1, 101):
        node.mine(number)
    assert len(filters.blocks) == 100
    assert len(filters.changes(ids[0])) == 100
    assert len(filters.changes(ids[-1])) == 100


def test_max_filters() -> None:
    _, filters = table(FilterLimits(max_filters=2))
    first = filters.add("blocks")
    filters.add("pending")
    with pytest.raises(NodeError, match=r"too many filters \(limit 2\).*--max-filters"):
        filters.add("blocks")
    assert filters.remove(first) is True
    assert filters.remove(first) is False
    filters.add("blocks")


def test_max_filters_makes_room_by_expiring_first() -> None:
    clock = Clock()
    _, filters = table(FilterLimits(max_filters=1, timeout=10), clock)
    filters.add("blocks")
    clock.now = 11
    filters.add("blocks")  # the first one had expired
    assert len(filters.filters) == 1


def test_backlog_overflow_is_reported_on_the_next_poll_and_uninstalls() -> None:
    node, filters = table(FilterLimits(backlog_bytes=20_000))
    slow = filters.add("logs", all_logs())
    fast = filters.add("blocks")
    for number in range(1, 200):
        node.mine(number, size=100)
        if number % 5 == 0:
            assert len(filters.changes(fast)) == 5  # a polled filter keeps up
    assert filters.blocks.bytes <= 20_000
    with pytest.raises(NodeError, match=r"filter 0x[0-9a-f]+ overflowed: more than 20000 bytes"):
        filters.changes(slow)
    with pytest.raises(NodeError, match="filter not found"):
        filters.changes(slow)
    assert len(filters.changes(fast)) == 4


def test_pending_backlog_overflow() -> None:
    node, filters = table(FilterLimits(backlog_bytes=1200))
    pending = filters.add("pending")
    for n in range(100):
        node.announce(n)
    assert filters.pending.bytes <= 1200
    with pytest.raises(NodeError, match="overflowed"):
        filters.changes(pending)


def test_expiry_with_an_injected_clock() -> None:
    clock = Clock()
    node, filters = table(FilterLimits(timeout=300), clock)
    old = filters.add("blocks")
    clock.now = 200
    polled = filters.add("blocks")
    clock.now = 299
    filters.changes(polled)
    node.mine(1)
    clock.now = 300.5
    filters.expire()
    assert set(filters.filters) == {polled}
    assert filters.changes(polled) == [block_hash(1)]
    clock.now = 700
    filters.expire()
    assert filters.filters == {}
    assert len(filters.blocks) == 0  # nothing left to read it
    with pytest.raises(NodeError, match="filter not found"):
        filters.changes(old)


async def test_expiry_runs_on_a_timer_without_other_filter_calls() -> None:
    node, filters = table(FilterLimits(timeout=0.05, sweep_interval=0.01), clock=None)
    filters.clock = asyncio.get_running_loop().time
    filters.add("logs", all_logs())
    node.mine(1)
    for _ in range(100):
        if not filters.filters:
            break
        await asyncio.sleep(0.01)
    assert filters.filters == {}  # nobody created or polled anything meanwhile
    assert len(filters.blocks) == 0
    assert filters._timer is None  # the timer stops once no filter is left


def test_sweep_interval_default() -> None:
    assert FilterLimits().sweep_every == 10.0
    assert FilterLimits(timeout=1).sweep_every == 0.1


def test_journal_is_trimmed_to_the_slowest_cursor() -> None:
    node, filters = table()
    slow = filters.add("blocks")
    fast = filters.add("blocks")
    for number in range(1, 11):
        node.mine(number)
    filters.changes(fast)
    filters.expire()
    assert len(filters.blocks) == 10  # slow still needs them
    assert len(filters.changes(slow)) == 10
    filters.expire()
    assert len(filters.blocks) == 0


def test_revert_drops_unread_changes_of_removed_blocks() -> None:
    node, filters = table()
    reader = filters.add("blocks")
    logs = filters.add("logs", all_logs())
    read_ahead = filters.add("blocks")
    for number in range(1, 6):
        node.mine(number)
    assert len(filters.changes(read_ahead)) == 5  # it has seen blocks 4 and 5
    node.revert_to(3)
    node.mine(4)  # a new block 4 after the revert
    assert filters.changes(reader) == [block_hash(n) for n in (1, 2, 3, 4)]
    assert [log["blockNumber"] for log in filters.changes(logs)] == ["0x1", "0x2", "0x3", "0x4"]
    assert filters.changes(read_ahead) == [block_hash(4)]  # the new block 4, not missed


def test_journal_numbers_survive_compaction() -> None:
    journal: _Journal[int] = _Journal(max_bytes=100)
    for n in range(1000):
        journal.append(n, 10)
        assert len(journal) <= 10 and journal.bytes <= 100
    assert journal.start == 990 and journal.end == 1000
    assert journal.since(995) == [995, 996, 997, 998, 999]
    assert journal.since(989) is None
    assert journal.since(1000) == []
    journal.pop_while(lambda n: n > 997)
    assert journal.end == 998 and journal.since(990) == list(range(990, 998))
    journal.trim_before(2000)
    assert len(journal) == 0 and journal.start == journal.end == 998


def test_install_filters_replaces_the_table() -> None:
    node = FakeNode()
    first = install_filters(node, FilterLimits(max_filters=3))  # type: ignore[arg-type]
    second = install_filters(node, FilterLimits(max_filters=5))  # type: ignore[arg-type]
    assert node._rpc_filters is second and second is not first  # type: ignore[attr-defined]
    assert second.limits.max_filters == 5
    assert len(node.blocks) == len(node.reverts) == len(node.pending) == 1  # first closed
    second.close()
    assert node.blocks == node.reverts == node.pending == []
