"""geth 1.16.5's ``transactionReceipts`` subscription over a real WebSocket (issue 17):
each sealed block's receipts as one notification, filtered by ``transactionHashes``
when given, the same receipts eth_getTransactionReceipt answers; bad filters refused."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from tests.integration.node_process import hummingbird, rpc


def call(url: str, method: str, params: list[Any]) -> Any:
    return rpc(url, method, params)


SENDER = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
SINK = "0x" + "51" * 20


async def _scenario(url: str, ws_url: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with aiohttp.ClientSession() as session, session.ws_connect(ws_url) as ws:

        async def subscribe(params: list[Any]) -> Any:
            await ws.send_json(
                {"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": params}
            )
            return await ws.receive_json(timeout=10)

        everything = (await subscribe(["transactionReceipts"]))["result"]
        send = [{"from": SENDER, "to": SINK, "value": "0x1"}]
        first = (await asyncio.to_thread(call, url, "eth_sendTransaction", send))["result"]
        note = await ws.receive_json(timeout=10)
        out["all"] = (note["params"]["subscription"] == everything, note["params"]["result"])
        out["receipt"] = (await asyncio.to_thread(call, url, "eth_getTransactionReceipt", [first]))[
            "result"
        ]
        await ws.send_json(
            {"jsonrpc": "2.0", "id": 2, "method": "eth_unsubscribe", "params": [everything]}
        )
        await ws.receive_json(timeout=10)
        # A filter on a hash that is not sent yet: only its block notifies.
        second = "0x" + "00" * 32
        filtered = await subscribe(["transactionReceipts", {"transactionHashes": [second]}])
        out["filtered_id"] = filtered["result"]
        await asyncio.to_thread(call, url, "eth_sendTransaction", send)
        try:
            out["filtered"] = await ws.receive_json(timeout=1.5)
        except TimeoutError:
            out["filtered"] = None
        out["bad"] = [
            await subscribe(["transactionReceipts", bad])
            for bad in (
                "hashes",
                {"transactionHashes": "0x12"},
                {"transactionHashes": ["0x12"]},
                {"transactionHashes": ["0x" + "00" * 32] * 1001},
                {"hashes": []},
            )
        ]
    return out


def test_transaction_receipts_subscription(tmp_path: Path) -> None:
    with hummingbird(tmp_path) as node:
        out = asyncio.run(_scenario(node.url, node.ws_url))
    same_id, receipts = out["all"]
    assert same_id and receipts == [out["receipt"]]
    assert out["filtered"] is None  # its block held no wanted transaction
    for answer in out["bad"]:
        assert answer["error"]["code"] == -32602, answer
