"""MegaETH mode (``--megaeth``, issue 17) over real HTTP and WebSocket: MegaETH's chain
id, fixed 0.001 gwei base fee and zero tip, 10 G gas blocks, two tiers on, a null pending
block, receipts with the L1 fee fields, Rex5's storage gas (a transfer costs 60,000; the
interpreter and JIT rules are tested in tests/unit/jit/test_megaeth_gas.py), WebSocket
limits with MegaETH's codes, and the realtime send's ``realtime transaction expired``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from sequencer.megaeth import L1_RECEIPT_FIELDS
from tests.integration.node_process import hummingbird, rpc
from tests.integration.test_two_tier import PLACEHOLDER, SENDER, SINK, call, signed

L1_FIELDS = L1_RECEIPT_FIELDS


async def _subscriptions(ws_url: str) -> list[Any]:
    answers = []
    async with aiohttp.ClientSession() as session, session.ws_connect(ws_url) as ws:
        params: list[list[Any]] = [
            ["newHeads"],
            ["miniBlocks"],
            ["newHeads"],  # the same again: refused
            ["stateChanges", [SINK]],
            ["logs", {"address": SINK}],
            ["transactionReceipts"],
            ["newPendingTransactions"],  # the sixth: over the limit of five
        ]
        for number, item in enumerate(params):
            await ws.send_json(
                {"jsonrpc": "2.0", "id": number, "method": "eth_subscribe", "params": item}
            )
            answers.append(await ws.receive_json(timeout=10))
    return answers


def test_megaeth_mode(tmp_path: Path) -> None:
    with hummingbird(tmp_path, "--megaeth") as node:
        url = node.url
        assert call(url, "eth_chainId", []) == hex(4326)
        assert call(url, "eth_gasPrice", []) == "0xf4240"
        assert call(url, "eth_maxPriorityFeePerGas", []) == "0x0"
        assert call(url, "eth_getBlockByNumber", ["pending", False]) is None
        # Rex5: 21,000 compute gas + 39,000 intrinsic storage gas.
        transfer = {"from": SENDER, "to": SINK, "value": "0x1"}
        assert call(url, "eth_estimateGas", [transfer]) == hex(60_000)
        refused = rpc(url, "eth_sendRawTransaction", [signed(url, 0, 1)])
        assert isinstance(refused, dict) and "intrinsic gas too low" in refused["error"]["message"]
        receipt = call(url, "realtime_sendRawTransaction", [signed(url, 0, 1, gas=60_000)])
        assert receipt["blockHash"] == PLACEHOLDER and receipt["gasUsed"] == hex(60_000)
        assert all(receipt[field] == "0x0" for field in L1_FIELDS)
        assert receipt["effectiveGasPrice"] == "0xf4240"  # no tip
        call(url, "evm_mine", [])
        latest = call(url, "eth_getBlockByNumber", ["latest", False])
        assert latest["gasLimit"] == hex(10_000_000_000)
        assert latest["baseFeePerGas"] == "0xf4240"  # fixed, whatever the blocks use
        sealed = call(url, "eth_getTransactionReceipt", [receipt["transactionHash"]])
        assert sealed["blockHash"] == latest["hash"]
        assert all(sealed[field] == "0x0" for field in L1_FIELDS)
        # A send that cannot be preconfirmed in time: MegaETH's error, not EIP-7966's.
        call(url, "evm_setAutomine", [False])
        expired = rpc(url, "realtime_sendRawTransaction", [signed(url, 1, 1, gas=60_000), 50])
        assert isinstance(expired, dict)
        assert expired["error"] == {"code": -32000, "message": "realtime transaction expired"}
        answers = asyncio.run(_subscriptions(node.ws_url))
    codes = [answer.get("error", {}).get("code") for answer in answers]
    assert codes == [None, None, -32600, None, None, None, -32005], answers
    assert "duplicate subscription" in answers[2]["error"]["message"]


def test_megaeth_flags_can_be_overridden(tmp_path: Path) -> None:
    # A worker process too: it must rebuild MegaETH's rules (ForkRules.key), not Prague's.
    args = (
        "--megaeth",
        "--chain-id",
        "6343",
        "--max-subscriptions",
        "50",
        "--evm-block-time",
        "200ms",
        "--workers",
        "1",
    )
    with hummingbird(tmp_path, *args) as node:
        assert call(node.url, "eth_chainId", []) == hex(6343)
        transfer = {"from": SENDER, "to": SINK, "value": "0x1"}
        assert call(node.url, "eth_estimateGas", [transfer]) == hex(60_000)
        raw = signed(node.url, 0, 1, gas=60_000)
        receipt = call(node.url, "realtime_sendRawTransaction", [raw])
        assert receipt["blockHash"] == PLACEHOLDER
        assert "l1Fee" in receipt
