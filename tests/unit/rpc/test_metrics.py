"""GET /metrics (issue 21): a live node's blocks, transactions, calls, pool and JIT in
Prometheus' text format, with the method label bounded to registered methods."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from rpc.metrics import OTHER_METHOD, NodeMetrics
from rpc.namespaces import default_registry
from rpc.server import create_app
from sequencer.config import NodeConfig
from sequencer.node import Node

JSON = {"Content-Type": "application/json"}
Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def running() -> AsyncIterator[tuple[Node, NodeMetrics, Client]]:
    node = Node(NodeConfig(data_dir=None, accounts=2))
    await node.start()
    metrics = NodeMetrics(node.runtime_stats, default_registry)
    unsubscribe = node.subscribe(metrics.on_event)
    app = create_app(node, default_registry, info=node.info, metrics=metrics)
    try:
        async with TestClient(TestServer(app)) as client:
            yield node, metrics, client
    finally:
        unsubscribe()
        await node.stop()


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def call(client: Client, body: object) -> object:
    response = await client.post("/", data=orjson.dumps(body), headers=JSON)
    return orjson.loads(await response.read())


async def scrape(client: Client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    return samples(await response.text())


async def test_blocks_transactions_and_calls_are_counted(
    running: tuple[Node, NodeMetrics, Client],
) -> None:
    node, _, client = running
    sender = "0x" + node.accounts[0].address.hex()
    to = "0x" + node.accounts[1].address.hex()
    send = {"from": sender, "to": to, "value": "0x1"}
    for i in range(3):
        await call(
            client, {"jsonrpc": "2.0", "id": i, "method": "eth_sendTransaction", "params": [send]}
        )
    # A reverting one: a creation whose code is REVERT(0, 0).
    revert = {"from": sender, "data": "0x5f5ffd", "gas": "0x20000"}
    await call(
        client, {"jsonrpc": "2.0", "id": 9, "method": "eth_sendTransaction", "params": [revert]}
    )
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"},
        {"jsonrpc": "2.0", "id": 2, "method": "no_such_method_" + "x" * 500},
    ]
    await call(client, batch)
    got = await scrape(client)
    assert got[("hummingbird_blocks_total", ())] == 4
    assert got[("hummingbird_transactions_total", (("status", "success"),))] == 3
    assert got[("hummingbird_transactions_total", (("status", "reverted"),))] == 1
    assert got[("hummingbird_block_gas_used_count", ())] == 4
    assert got[("hummingbird_block_build_seconds_count", ())] == 4
    assert got[("hummingbird_head_block", ())] == 4
    sends = ("hummingbird_rpc_calls_total", (("method", "eth_sendTransaction"), ("outcome", "ok")))
    assert got[sends] == 4
    assert got[("hummingbird_rpc_calls_total", (("method", "eth_chainId"), ("outcome", "ok")))] == 1
    # An unknown method is "other": a client cannot add labels.
    other = ("hummingbird_rpc_calls_total", (("method", OTHER_METHOD), ("outcome", "error")))
    assert got[other] == 1
    assert not any("no_such_method" in str(labels) for _, labels in got)
    assert got[("hummingbird_rpc_message_seconds_count", (("method", "batch"),))] == 1
    assert got[("hummingbird_pool_transactions", (("state", "pending"),))] == 0
    assert ("process_resident_memory_bytes", ()) in got
    frames = [v for (name, _), v in got.items() if name == "hummingbird_jit_frames_total"]
    assert len(frames) == 2 and sum(frames) >= 0
    # The node runs --engine auto here: no machine code, none loaded.
    assert got[("hummingbird_jit_native_regions_total", ())] == 0
    assert got[("hummingbird_jit_native_loaded_total", ())] == 0


async def test_the_loop_probe_observes_lag(running: tuple[Node, NodeMetrics, Client]) -> None:
    _, metrics, client = running
    probe = asyncio.create_task(metrics.run_loop_probe())
    await asyncio.sleep(0.05)
    time.sleep(0.15)  # block the loop: the probe's timer fires late
    await asyncio.sleep(0.25)
    probe.cancel()
    got = await scrape(client)
    assert got[("hummingbird_event_loop_lag_seconds_count", ())] >= 2
    assert got[("hummingbird_event_loop_lag_seconds_sum", ())] >= 0.04


async def test_without_metrics_the_path_is_the_info_page() -> None:
    node = Node(NodeConfig(data_dir=None, accounts=1))
    try:
        app = create_app(node, default_registry, info=node.info)
        async with TestClient(TestServer(app)) as client:
            response = await client.get("/metrics")
            assert response.status == 200
            assert (await response.json())["name"] == "hummingbird"
    finally:
        node.close()


def test_two_nodes_keep_separate_registries() -> None:
    a = Node(NodeConfig(data_dir=None, accounts=1))
    b = Node(NodeConfig(data_dir=None, accounts=1))
    try:
        first = NodeMetrics(a.runtime_stats, default_registry, process=False)
        second = NodeMetrics(b.runtime_stats, default_registry, process=False)
        first.blocks.inc(5)
        text = second.exposition()[0].decode()
        assert "hummingbird_blocks_total 0.0" in text
    finally:
        a.close()
        b.close()
