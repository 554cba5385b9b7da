"""Real-time subscriptions over a real WebSocket (issue 17): geth 1.16.5's
``transactionReceipts`` (each sealed block's receipts as one notification, filtered by
``transactionHashes`` when given, the same receipts eth_getTransactionReceipt answers)
and MegaETH's ``miniBlocks`` and ``stateChanges``; bad parameters refused."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from sequencer.config import DEFAULT_MNEMONIC as MNEMONIC
from sequencer.mini_block_signing import MiniBlockSigner, sequencer_key
from tests.integration.node_process import hummingbird, rpc
from tests.integration.test_two_tier import mini_block_signed_by


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


async def _realtime(url: str, ws_url: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with aiohttp.ClientSession() as session, session.ws_connect(ws_url) as ws:

        async def subscribe(params: list[Any]) -> Any:
            await ws.send_json(
                {"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": params}
            )
            return await ws.receive_json(timeout=10)

        mini = (await subscribe(["miniBlocks"]))["result"]
        state = (await subscribe(["stateChanges", [SINK, SENDER.upper().replace("0X", "0x")]]))[
            "result"
        ]
        send = [{"from": SENDER, "to": SINK, "value": "0x7"}]
        tx_hash = (await asyncio.to_thread(call, url, "eth_sendTransaction", send))["result"]
        notes = [await ws.receive_json(timeout=10) for _ in range(3)]
        by_sub: dict[str, list[Any]] = {}
        for note in notes:
            by_sub.setdefault(note["params"]["subscription"], []).append(note["params"]["result"])
        out["mini"] = by_sub.get(mini, [])
        out["state"] = by_sub.get(state, [])
        out["tx_hash"] = tx_hash
        out["receipt"] = (
            await asyncio.to_thread(call, url, "eth_getTransactionReceipt", [tx_hash])
        )["result"]
        out["balance"] = (await asyncio.to_thread(call, url, "eth_getBalance", [SINK, "latest"]))[
            "result"
        ]
        out["bad"] = [
            await subscribe(params)
            for params in (
                ["stateChanges", "0x12"],
                ["stateChanges", {"addresses": [SINK]}],
                ["stateChanges", ["0x12"]],
                ["stateChanges", [SINK] * 1001],
                ["miniBlocks", {"x": 1}],
            )
        ]
    return out


def test_mini_blocks_and_state_changes(tmp_path: Path) -> None:
    """MegaETH's miniBlocks (one per sealed block here) and stateChanges (one notification
    per watched account a block changed, with its nonce, balance and changed slots)."""
    with hummingbird(tmp_path) as node:
        out = asyncio.run(_realtime(node.url, node.ws_url))
    (mini,) = out["mini"]
    assert mini["block_number"] == out["receipt"]["blockNumber"] == mini["mini_block_number"]
    assert mini["index"] == "0x0" and mini["receipts"] == [out["receipt"]]
    assert [t["hash"] for t in mini["transactions"]] == [out["tx_hash"]]
    assert mini["gas_used"] == "0x5208" and mini["transaction_root"].startswith("0x")
    assert mini_block_signed_by(mini, "0x" + MiniBlockSigner(sequencer_key(MNEMONIC)).address.hex())
    # Published microseconds: within a second of the block's own timestamp.
    published = int(mini["mini_block_timestamp"], 16)
    assert abs(published // 1_000_000 - int(mini["block_timestamp"], 16)) <= 1
    changes = {c["address"]: c for c in out["state"]}
    assert set(changes) == {SINK, SENDER}
    assert changes[SINK]["balance"] == out["balance"] and changes[SINK]["storage"] == {}
    assert changes[SENDER]["nonce"] == 1
    for answer in out["bad"]:
        assert answer["error"]["code"] == -32602, answer
