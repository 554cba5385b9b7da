"""The blockStats subscription (the dashboard's feed): every block counted, at most
maxRate notifications a second however fast blocks come, a quiet chain's block sent at
once, and bad parameters refused."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from rpc.namespaces import default_registry
from rpc.server import create_app
from sequencer.config import NodeConfig
from sequencer.node import Node
from sequencer.types.call import CallRequest

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def running() -> AsyncIterator[tuple[Node, Client]]:
    node = Node(NodeConfig(data_dir=None, accounts=2))
    await node.start()
    try:
        async with TestClient(TestServer(create_app(node, default_registry, info=node.info))) as c:
            yield node, c
    finally:
        await node.stop()


async def subscribe(ws: Any, params: list[Any]) -> dict[str, Any]:
    await ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": params})
    return dict(await ws.receive_json(timeout=5))


async def notifications(ws: Any, until: float) -> list[dict[str, Any]]:
    out = []
    while True:
        left = until - time.monotonic()
        if left <= 0:
            return out
        try:
            message = await ws.receive_json(timeout=left)
        except TimeoutError:
            return out
        if message.get("method") == "eth_subscription":
            out.append(message["params"]["result"])


async def test_a_quiet_chains_block_is_sent_at_once(running: tuple[Node, Client]) -> None:
    node, client = running
    async with client.ws_connect("/") as ws:
        answer = await subscribe(ws, ["blockStats"])
        assert isinstance(answer["result"], str)
        sender = node.accounts[0].address
        tx_hash = await node.send_transaction(CallRequest(sender=sender, to=sender, value=1))
        sent = time.monotonic()
        (stats,) = await notifications(ws, sent + 0.5)
    assert stats["blocks"] == 1 and stats["transactions"] == 1 and stats["failed"] == 0
    assert stats["fromBlock"] == stats["toBlock"] == stats["head"]["number"] == "0x1"
    assert stats["recent"][0]["hash"] == "0x" + tx_hash.hex()
    assert stats["recent"][0]["status"] == "0x1" and stats["head"]["sealedMicros"] > 0
    assert stats["buildSeconds"] > 0


async def test_fast_blocks_are_folded_at_the_rate(running: tuple[Node, Client]) -> None:
    node, client = running
    async with client.ws_connect("/") as ws:
        await subscribe(ws, ["blockStats", {"maxRate": 5}])
        started = time.monotonic()
        node.mine(1)  # sent at once
        for _ in range(30):  # 30 blocks within a fraction of a second
            node.mine(1)
            await asyncio.sleep(0.005)
        got = await notifications(ws, started + 1.0)
    assert sum(item["blocks"] for item in got) == 31  # every block counted
    assert 2 <= len(got) <= 6  # about 5 a second, not 31
    numbers = [int(item["toBlock"], 16) for item in got]
    assert numbers == sorted(numbers) and numbers[-1] == 31
    for before, after in itertools.pairwise(got):
        assert int(after["fromBlock"], 16) == int(before["toBlock"], 16) + 1


@pytest.mark.parametrize(
    "options",
    [{"maxRate": 0}, {"maxRate": 101}, {"maxRate": "20"}, {"maxRate": 2.5}, {"maxRate": True},
     {"rate": 5}, [5], "fast", {"maxRate": 10**100}],
)  # fmt: skip
async def test_bad_parameters_are_refused(running: tuple[Node, Client], options: object) -> None:
    _, client = running
    async with client.ws_connect("/") as ws:
        answer = await subscribe(ws, ["blockStats", options])
    assert (answer["error"]["code"] == -32602 and "blockStats" in answer["error"]["message"]) or (
        "maxRate" in answer["error"]["message"]
    )


async def test_unsubscribing_stops_it_and_its_timer(running: tuple[Node, Client]) -> None:
    node, client = running
    async with client.ws_connect("/") as ws:
        sub = (await subscribe(ws, ["blockStats", {"maxRate": 1}]))["result"]
        node.mine(1)
        node.mine(1)  # folded: a timer is pending
        first = await notifications(ws, time.monotonic() + 0.3)
        await ws.send_json(
            {"jsonrpc": "2.0", "id": 2, "method": "eth_unsubscribe", "params": [sub]}
        )
        node.mine(1)
        later = await notifications(ws, time.monotonic() + 1.5)
    assert [item["blocks"] for item in first] == [1]
    assert later == []
