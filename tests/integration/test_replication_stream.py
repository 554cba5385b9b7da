"""The replication stream (issue 18) over a real WebSocket: a follower that subscribes
from block 0 gets every sealed block once, in order, then the new ones as they seal, and
a revert before the new line; applying the blocks' diffs to an empty StateDB reproduces
every header's state root (genesis included); resuming from a later block starts there;
bad parameters are refused."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from sequencer.types.wire import decode_block
from statedb import StateDB
from tests.integration.node_process import hummingbird, rpc

SENDER = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
OTHER = "0x" + "61" * 20


def call(url: str, method: str, params: list[Any]) -> Any:
    answer = rpc(url, method, params)
    assert isinstance(answer, dict) and "error" not in answer, answer
    return answer["result"]


def send(url: str, value: int = 1, data: str | None = None, to: str | None = OTHER) -> str:
    tx: dict[str, Any] = {"from": SENDER, "value": hex(value)}
    if to is not None:
        tx["to"] = to
    if data is not None:
        tx["data"] = data
    result = call(url, "eth_sendTransaction", [tx])
    assert isinstance(result, str)
    return result


async def _subscribe(ws: aiohttp.ClientWebSocketResponse, params: list[Any]) -> Any:
    await ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": params})
    return await ws.receive_json(timeout=10)


async def _until(ws: aiohttp.ClientWebSocketResponse, notes: list[Any], done: Any) -> None:
    while not done():
        note = await ws.receive_json(timeout=10)
        notes.append(note["params"]["result"])


def _apply(notes: list[Any]) -> list[tuple[int, str]]:
    """Apply the stream to an empty StateDB as a replica would: (number, hash) per block,
    each block's root checked against the state the diffs build."""
    db = StateDB.ephemeral(history_window=0)
    applied: list[tuple[int, str]] = []
    try:
        for note in notes:
            if "reverted" in note:
                head = int(note["reverted"]["head"], 16)
                db.revert_to(head)
                applied = [item for item in applied if item[0] <= head]
                continue
            block = decode_block(bytes.fromhex(note["block"][2:]))
            assert block.diff is not None and block.number == db.head_number + 1
            assert "0x" + block.hash.hex() == note["hash"]
            root = db.commit(block.number, db.prepare(block.diff), {})
            assert root == block.header.state_root, block.number
            applied.append((block.number, note["hash"]))
    finally:
        db.close()
    return applied


async def _scenario(url: str, ws_url: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    # Blocks before anyone follows: transfers, a contract, dev edits.
    send(url, 5)
    send(url, 0, data="0x600a600c600039600a6000f3602a60005260206000f3", to=None)
    call(url, "anvil_setBalance", [OTHER, "0x1234"])
    call(url, "anvil_setStorageAt", [OTHER, "0x1", "0x" + "00" * 31 + "07"])
    send(url, 6)
    head = int(call(url, "eth_blockNumber", []), 16)
    async with aiohttp.ClientSession() as session, session.ws_connect(ws_url) as ws:
        answer = await _subscribe(ws, ["replication", {"fromBlock": "0x0"}])
        assert "result" in answer, answer
        notes: list[Any] = []
        await _until(ws, notes, lambda: notes and int(notes[-1]["number"], 16) == head)
        out["catch_up"] = [int(n["number"], 16) for n in notes]
        send(url, 7)
        send(url, 8)
        await _until(ws, notes, lambda: int(notes[-1]["number"], 16) == head + 2)
        snapshot = call(url, "evm_snapshot", [])
        send(url, 9)
        await _until(ws, notes, lambda: int(notes[-1].get("number", "0x0"), 16) == head + 3)
        call(url, "evm_revert", [snapshot])
        send(url, 10)
        await _until(
            ws, notes, lambda: "number" in notes[-1] and notes[-2:-1] and "reverted" in notes[-2]
        )
        out["notes"] = notes
        out["hashes"] = {
            number: call(url, "eth_getBlockByNumber", [hex(number), False])["hash"]
            for number in range(head + 4)
        }
        # A follower resuming from a later block.
        resumed = await _subscribe(ws, ["replication", {"fromBlock": hex(head)}])
        later: list[Any] = []
        while len(later) < 4:
            note = await ws.receive_json(timeout=10)
            if note["params"]["subscription"] == resumed["result"]:
                later.append(note["params"]["result"])
        out["resumed"] = [int(n["number"], 16) for n in later]
        out["bad"] = [
            await _subscribe(ws, ["replication", params])
            for params in (
                "0x0",
                {"fromBlock": "0xffff"},
                {"from": "0x0"},
                {"fromBlock": "soon"},
                {"fromBlock": "0x" + "f" * 40},
                {"preconfirmations": "yes"},
            )
        ]
    return out


def test_replication_stream(tmp_path: Path) -> None:
    with hummingbird(tmp_path) as node:
        out = asyncio.run(_scenario(node.url, node.ws_url))
    catch_up = out["catch_up"]
    assert catch_up == list(range(len(catch_up)))  # from genesis, each once, in order
    applied = _apply(out["notes"])
    head = len(catch_up) - 1
    # After the revert, the new block replaced block head + 3; every applied block is
    # the node's block of that number.
    assert [number for number, _ in applied] == list(range(head + 4))
    assert all(out["hashes"][number] == block_hash for number, block_hash in applied)
    reverts = [n["reverted"] for n in out["notes"] if "reverted" in n]
    assert reverts == [
        {"head": hex(head + 2), "hash": out["hashes"][head + 2], "removedTo": hex(head + 3)}
    ]
    assert out["resumed"] == [head, head + 1, head + 2, head + 3]
    for answer in out["bad"]:
        assert answer["error"]["code"] == -32602, answer
