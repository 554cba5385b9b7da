"""Two-tier blocks (issue 17, ``--evm-block-time``) over real HTTP and WebSocket: mini-
blocks preconfirm transactions (receipts at once, under MegaETH's placeholder block
hash), ``latest`` state reads see them while numbered reads and ``eth_blockNumber`` see
sealed EVM blocks, the EVM block seals them all (real hash, ``newHeads`` with
``miniBlockCount`` / ``miniBlockOffset``), and a kill before the seal loses nothing."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sequencer.mini_block_signing import (
    SEQUENCER_REGISTRY_ADDRESS,
    MiniBlockHeader,
    MiniBlockSignature,
    SignedMiniBlockHeader,
    verify_mini_block,
)
from tests.integration.node_process import hummingbird, rpc

SENDER = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
SINK = "0x" + "52" * 20
PLACEHOLDER = "0x" + "ff" * 32


def call(url: str, method: str, params: list[Any]) -> Any:
    answer = rpc(url, method, params)
    assert isinstance(answer, dict)
    if "error" in answer:
        raise AssertionError(f"{method}: {answer['error']}")
    return answer["result"]


def mini_block_signed_by(mini: dict[str, Any], sequencer: str) -> bool:
    """The notification's signature checked as a MegaETH client does: recover the signer
    of keccak256(rlp(the eight header fields)) and compare with the registry's."""
    header = MiniBlockHeader(
        *(
            int(mini[name], 16)
            for name in (
                "block_number",
                "block_timestamp",
                "index",
                "mini_block_number",
                "mini_block_timestamp",
                "gas_used",
            )
        ),
        bytes.fromhex(mini["transaction_root"][2:]),
        bytes.fromhex(mini["receipt_root"][2:]),
    )
    sig = mini["signature"]
    signature = MiniBlockSignature(int(sig["r"], 16), int(sig["s"], 16), int(sig["yParity"], 16))
    return verify_mini_block(SignedMiniBlockHeader(header, signature), bytes.fromhex(sequencer[2:]))


def registry_call(url: str, data: str) -> str:
    request = {"to": "0x" + SEQUENCER_REGISTRY_ADDRESS.hex(), "data": data}
    word = call(url, "eth_call", [request, "latest"])
    assert isinstance(word, str)
    return "0x" + word[-40:]


def signed(url: str, nonce: int, value: int, gas: int = 21_000) -> str:
    tx = {"from": SENDER, "to": SINK, "value": hex(value), "nonce": hex(nonce), "gas": hex(gas)}
    raw = call(url, "eth_signTransaction", [tx])
    assert isinstance(raw, str)
    return raw


async def _preconfirm_then_seal(url: str, ws_url: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with aiohttp.ClientSession() as session, session.ws_connect(ws_url) as ws:
        ids: dict[str, str] = {}
        for name, params in (
            ("mini", ["miniBlocks"]),
            ("heads", ["newHeads"]),
            ("state", ["stateChanges"]),
            ("logs", ["logs", {"fromBlock": "pending", "toBlock": "pending"}]),
        ):
            await ws.send_json(
                {"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": params}
            )
            ids[name] = (await ws.receive_json(timeout=10))["result"]
        notes: dict[str, list[Any]] = {name: [] for name in ids}
        by_id = {sub: name for name, sub in ids.items()}

        async def drain(until: float) -> None:
            while time.monotonic() < until:
                try:
                    note = await ws.receive_json(timeout=max(0.01, until - time.monotonic()))
                except TimeoutError:
                    return
                notes[by_id[note["params"]["subscription"]]].append(note["params"]["result"])

        # Wait for one EVM block to seal (its newHeads), so the sends land in a fresh one.
        while not notes["heads"]:
            await drain(time.monotonic() + 0.2)
        for name in notes:
            notes[name].clear()
        head = await asyncio.to_thread(call, url, "eth_blockNumber", [])
        out["head"] = int(head, 16)
        first = await asyncio.to_thread(
            call, url, "realtime_sendRawTransaction", [signed(url, 0, 5)]
        )
        second = await asyncio.to_thread(
            call, url, "eth_sendRawTransactionSync", [signed(url, 1, 6)]
        )
        out["sync"] = (first, second)
        out["block_number_before"] = int(
            await asyncio.to_thread(call, url, "eth_blockNumber", []), 16
        )
        out["receipt_before"] = await asyncio.to_thread(
            call, url, "eth_getTransactionReceipt", [first["transactionHash"]]
        )
        out["tx_before"] = await asyncio.to_thread(
            call, url, "eth_getTransactionByHash", [second["transactionHash"]]
        )
        out["latest_balance"] = await asyncio.to_thread(
            call, url, "eth_getBalance", [SINK, "latest"]
        )
        out["numbered_balance"] = await asyncio.to_thread(
            call, url, "eth_getBalance", [SINK, hex(out["head"])]
        )
        out["latest_nonce"] = await asyncio.to_thread(
            call, url, "eth_getTransactionCount", [SENDER, "latest"]
        )
        out["latest_block"] = await asyncio.to_thread(
            call, url, "eth_getBlockByNumber", ["latest", False]
        )
        # A Flashblocks-style reader: the pending block and pending state hold them.
        out["pending_block"] = await asyncio.to_thread(
            call, url, "eth_getBlockByNumber", ["pending", True]
        )
        out["pending_balance"] = await asyncio.to_thread(
            call, url, "eth_getBalance", [SINK, "pending"]
        )
        while not notes["heads"]:
            await drain(time.monotonic() + 0.2)
        await drain(time.monotonic() + 0.1)
        out["notes"] = notes
        out["receipt_after"] = await asyncio.to_thread(
            call, url, "eth_getTransactionReceipt", [first["transactionHash"]]
        )
        out["sealed"] = await asyncio.to_thread(
            call, url, "eth_getBlockByNumber", [notes["heads"][0]["number"], False]
        )
        # The registry names the signer: currentSequencer() and sequencerAt(block).
        number = notes["heads"][0]["number"][2:].rjust(64, "0")
        out["current_sequencer"] = await asyncio.to_thread(registry_call, url, "0xe8129030")
        out["sequencer_at"] = await asyncio.to_thread(registry_call, url, "0x129c8240" + number)
    return out


def test_preconfirmed_then_sealed(tmp_path: Path) -> None:
    with hummingbird(tmp_path, "--evm-block-time", "1s") as node:
        out = asyncio.run(_preconfirm_then_seal(node.url, node.ws_url))
    first, second = out["sync"]
    open_number = hex(out["head"] + 1)
    # Preconfirmed: the open EVM block's number, the placeholder hash, final positions.
    for receipt in (first, second, out["receipt_before"]):
        assert receipt["blockHash"] == PLACEHOLDER and receipt["blockNumber"] == open_number
        assert receipt["status"] == "0x1"
    assert first["transactionIndex"] == "0x0" and second["transactionIndex"] == "0x1"
    assert second["cumulativeGasUsed"] == hex(2 * 21_000)
    assert out["receipt_before"] == first
    assert out["tx_before"]["blockHash"] == PLACEHOLDER
    assert out["block_number_before"] == out["head"]  # eth_blockNumber: sealed blocks
    assert out["latest_balance"] == hex(11) and out["numbered_balance"] == "0x0"
    assert out["latest_nonce"] == "0x2"
    assert out["latest_block"]["number"] == hex(out["head"])
    assert out["pending_block"]["number"] == open_number
    assert [tx["hash"] for tx in out["pending_block"]["transactions"]] == [
        first["transactionHash"],
        second["transactionHash"],
    ]
    assert out["pending_balance"] == hex(11)
    # Sealed: one EVM block with both, the real hash from then on.
    notes = out["notes"]
    (head,) = notes["heads"]
    assert head["number"] == open_number
    assert out["sealed"]["transactions"] == [first["transactionHash"], second["transactionHash"]]
    assert out["receipt_after"]["blockHash"] == head["hash"] != PLACEHOLDER
    assert {k: v for k, v in out["receipt_after"].items() if k != "blockHash"} == {
        k: v for k, v in first.items() if k != "blockHash"
    }
    # Mini-blocks: one per preconfirmation (the sends waited for each other), numbered
    # globally as miniBlockOffset + index.
    minis = notes["mini"]
    assert int(head["miniBlockCount"], 16) == len(minis) == 2
    offset = int(head["miniBlockOffset"], 16)
    for index, mini in enumerate(minis):
        assert mini["block_number"] == open_number and mini["index"] == hex(index)
        assert mini["mini_block_number"] == hex(offset + index)
        assert len(mini["transactions"]) == 1 and mini["gas_used"] == hex(21_000)
    assert [m["receipts"][0] for m in minis] == [first, second]
    assert out["current_sequencer"] == out["sequencer_at"] != "0x" + "00" * 20
    assert all(mini_block_signed_by(mini, out["current_sequencer"]) for mini in minis)
    assert not mini_block_signed_by({**minis[0], "gas_used": "0x1"}, out["current_sequencer"])
    # stateChanges with no list: every changed account, per mini-block.
    sink_changes = [c for c in notes["state"] if c["address"] == SINK]
    assert [c["balance"] for c in sink_changes] == [hex(5), hex(11)]
    assert notes["logs"] == []  # transfers log nothing


def test_empty_evm_blocks_have_one_mini_block(tmp_path: Path) -> None:
    async def watch(ws_url: str) -> list[Any]:
        async with aiohttp.ClientSession() as session, session.ws_connect(ws_url) as ws:
            await ws.send_json(
                {"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["newHeads"]}
            )
            await ws.receive_json(timeout=10)
            return [(await ws.receive_json(timeout=5))["params"]["result"] for _ in range(2)]

    with hummingbird(tmp_path, "--evm-block-time", "200ms") as node:
        heads = asyncio.run(watch(node.ws_url))
    first, second = heads
    assert int(second["number"], 16) == int(first["number"], 16) + 1
    assert first["miniBlockCount"] == second["miniBlockCount"] == "0x1"
    assert int(second["miniBlockOffset"], 16) == int(first["miniBlockOffset"], 16) + 1


def test_kill_before_the_seal_keeps_preconfirmed(tmp_path: Path) -> None:
    """A preconfirmed transaction is on disk before its sender hears: a SIGKILL before
    the EVM block seals loses nothing; the restarted node re-opens the block."""
    args = ("--evm-block-time", "3600")
    with hummingbird(tmp_path, *args, ephemeral=False) as node:
        head = int(call(node.url, "eth_blockNumber", []), 16)
        receipt = call(node.url, "realtime_sendRawTransaction", [signed(node.url, 0, 9)])
        assert receipt["blockHash"] == PLACEHOLDER
        node.process.send_signal(signal.SIGKILL)
        node.process.wait()
    with hummingbird(tmp_path, *args, ephemeral=False) as node:
        again = call(node.url, "eth_getTransactionReceipt", [receipt["transactionHash"]])
        assert again == receipt
        assert call(node.url, "eth_getBalance", [SINK, "latest"]) == hex(9)
        assert call(node.url, "eth_blockNumber", []) == hex(head)
        # More mini-blocks join the re-opened block; evm_mine seals it.
        second = call(node.url, "realtime_sendRawTransaction", [signed(node.url, 1, 1)])
        assert second["transactionIndex"] == "0x1"
        call(node.url, "evm_mine", [])
        block = call(node.url, "eth_getBlockByNumber", [hex(head + 1), False])
        assert block["transactions"] == [receipt["transactionHash"], second["transactionHash"]]
    # Without two-tier mode a left-open block is sealed at start.
    with hummingbird(tmp_path, "--evm-block-time", "3600", ephemeral=False) as node:
        third = call(node.url, "realtime_sendRawTransaction", [signed(node.url, 2, 1)])
        node.process.send_signal(signal.SIGKILL)
        node.process.wait()
    with hummingbird(tmp_path, ephemeral=False) as node:
        found = call(node.url, "eth_getTransactionReceipt", [third["transactionHash"]])
        assert found["blockHash"] != PLACEHOLDER
        assert found["blockNumber"] == call(node.url, "eth_blockNumber", [])


def test_dev_methods_seal_the_open_block_first(tmp_path: Path) -> None:
    with hummingbird(tmp_path, "--evm-block-time", "3600") as node:
        head = int(call(node.url, "eth_blockNumber", []), 16)
        receipt = call(node.url, "realtime_sendRawTransaction", [signed(node.url, 0, 3)])
        snapshot = call(node.url, "evm_snapshot", [])
        # The snapshot sealed the open block: the transaction is in a sealed block now.
        assert call(node.url, "eth_blockNumber", []) == hex(head + 1)
        call(node.url, "anvil_setBalance", [SINK, "0x64"])
        assert call(node.url, "eth_getBalance", [SINK, "latest"]) == "0x64"
        after = call(node.url, "realtime_sendRawTransaction", [signed(node.url, 1, 1)])
        assert after["blockNumber"] == hex(head + 2)
        assert call(node.url, "eth_getBalance", [SINK, "latest"]) == "0x65"
        assert call(node.url, "evm_revert", [snapshot]) is True
        assert call(node.url, "eth_getBalance", [SINK, "latest"]) == "0x3"
        assert call(node.url, "eth_getTransactionReceipt", [after["transactionHash"]]) is None
        found = call(node.url, "eth_getTransactionReceipt", [receipt["transactionHash"]])
        assert found["blockNumber"] == hex(head + 1)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--evm-block-time", "0"), "EVM block time must be in 1ms"),
        (("--evm-block-time", "soon"), "EVM block time must look like"),
        (("--evm-block-time", "5ms"), "must not be shorter than the mini-block time"),
        (("--evm-block-time", "1s", "--block-interval", "2"), "pass one"),
        (("--evm-block-time", "3601"), "EVM block time must be in 1ms..3600s"),
    ],
)
def test_bad_evm_block_time(tmp_path: Path, args: tuple[str, ...], message: str) -> None:
    with pytest.raises(RuntimeError, match=message), hummingbird(tmp_path, *args):
        pass
