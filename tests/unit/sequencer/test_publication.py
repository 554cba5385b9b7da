"""The event stream and the waiting senders (sequencer.publication)."""

from __future__ import annotations

import asyncio

import pytest

from sequencer.config import NodeConfig
from sequencer.errors import TransactionRejected
from sequencer.node import Node
from sequencer.publication import BlockSealed, ChainEvent, ChainReverted, Mined, Publisher, Waiters


def test_a_failing_subscriber_does_not_starve_the_others() -> None:
    publisher = Publisher()
    seen: list[str] = []

    def bad(event: ChainEvent) -> None:
        raise RuntimeError("subscriber bug")

    publisher.subscribe(bad)
    cancel = publisher.subscribe(lambda event: seen.append(type(event).__name__))
    node = Node(NodeConfig(data_dir=None, accounts=1, no_mining=True))
    try:
        head = node.chain.head
        assert head is not None
        publisher.publish(ChainReverted(head, 3))
        cancel()
        cancel()  # a second call does nothing
        publisher.publish(ChainReverted(head, 4))
    finally:
        node.close()
    assert seen == ["ChainReverted"]


async def test_waiters_are_answered_by_the_pool_or_the_block() -> None:
    waiters = Waiters()
    dropped = asyncio.ensure_future(waiters.wait(b"\x01" * 32))
    queued = asyncio.ensure_future(waiters.wait(b"\x02" * 32))
    shared = asyncio.ensure_future(waiters.wait(b"\x02" * 32))
    await asyncio.sleep(0)
    assert len(waiters) == 2  # one future per hash
    waiters.settle(b"\x01" * 32, TransactionRejected("nonce too low"))
    waiters.settle(b"\x02" * 32, None)
    waiters.settle(b"\x03" * 32, None)  # nobody waits: nothing happens
    with pytest.raises(TransactionRejected, match="nonce too low"):
        await dropped
    assert await queued is None and await shared is None
    assert len(waiters) == 0


async def test_a_sender_that_goes_away_leaves_no_unretrieved_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    waiters = Waiters()
    task = asyncio.ensure_future(waiters.wait(b"\x01" * 32))
    await asyncio.sleep(0)
    task.cancel()
    await asyncio.sleep(0)
    waiters.settle(b"\x01" * 32, TransactionRejected("replaced"))
    await asyncio.sleep(0)
    assert "never retrieved" not in caplog.text


async def test_a_mined_transaction_answers_with_its_block_and_output() -> None:
    node = Node(NodeConfig(data_dir=None, accounts=1, no_mining=True))
    try:
        from tests.unit.sequencer.test_pool_validity import transfer

        tx = transfer(node.accounts[0].private_key, 0)
        node.pool.add(tx, tx.encode())
        waiting = asyncio.ensure_future(node.waiters.wait(tx.hash))
        events: list[ChainEvent] = []
        node.subscribe(events.append)
        await asyncio.sleep(0)
        (block,) = node.mine()
        assert await waiting == Mined(block.number, 0, True, b"")
        assert isinstance(events[0], BlockSealed) and events[0].block is block
        assert events[0].outputs == (b"",)
    finally:
        node.close()
