"""WebSocket subscriptions with web3.py, and a restarted node resuming its chain."""

from __future__ import annotations

import asyncio
from pathlib import Path

from web3 import AsyncWeb3, Web3, WebSocketProvider

from tests.integration.node_process import contract, hummingbird


async def _subscriptions(ws_url: str, http_url: str) -> None:
    w3 = Web3(Web3.HTTPProvider(http_url))
    spec = contract("Counter")
    factory = w3.eth.contract(abi=spec["abi"], bytecode=spec["bytecode"])
    receipt = w3.eth.get_transaction_receipt(
        factory.constructor().transact({"from": w3.eth.accounts[0]})
    )
    counter = w3.eth.contract(address=receipt["contractAddress"], abi=spec["abi"])

    async with AsyncWeb3(WebSocketProvider(ws_url)) as aw3:
        heads = await aw3.eth.subscribe("newHeads")
        logs = await aw3.eth.subscribe("logs", {"address": counter.address})
        pending = await aw3.eth.subscribe("newPendingTransactions")
        full = await aw3.eth.subscribe("newPendingTransactions", True)
        assert len({heads, logs, pending, full}) == 4

        tx_hash = await asyncio.to_thread(
            counter.functions.increment().transact, {"from": w3.eth.accounts[0]}
        )
        seen: dict[str, object] = {}

        async def collect() -> None:
            async for message in aw3.socket.process_subscriptions():
                sub = message["subscription"]
                if sub not in seen:
                    seen[sub] = message["result"]
                if len(seen) == 4:
                    return

        await asyncio.wait_for(collect(), 10)
        assert seen[heads]["number"] == w3.eth.block_number  # type: ignore[index]
        assert seen[logs]["transactionHash"] == tx_hash  # type: ignore[index]
        assert seen[pending] == tx_hash
        assert seen[full]["hash"] == tx_hash  # type: ignore[index]
        assert await aw3.eth.unsubscribe(heads) is True
        again = await aw3.provider.make_request("eth_unsubscribe", [heads])  # type: ignore[arg-type]
        assert again["result"] is False


def test_websocket_subscriptions(tmp_path: Path) -> None:
    with hummingbird(tmp_path) as node:
        asyncio.run(_subscriptions(node.ws_url, node.url))


def test_restart_resumes_the_same_chain(tmp_path: Path) -> None:
    with hummingbird(tmp_path, ephemeral=False) as node:
        w3 = Web3(Web3.HTTPProvider(node.url))
        sender, to = w3.eth.accounts[0], w3.eth.accounts[1]
        hashes = [w3.eth.send_transaction({"from": sender, "to": to, "value": i}) for i in range(3)]
        spec = contract("Counter")
        factory = w3.eth.contract(abi=spec["abi"], bytecode=spec["bytecode"])
        deployed = w3.eth.get_transaction_receipt(factory.constructor().transact({"from": sender}))
        counter = w3.eth.contract(address=deployed["contractAddress"], abi=spec["abi"])
        counter.functions.set(99).transact({"from": sender})
        head = w3.eth.get_block("latest")
        receipts = [w3.eth.get_transaction_receipt(h) for h in hashes]
        nonce = w3.eth.get_transaction_count(sender)
    with hummingbird(tmp_path, ephemeral=False) as node:
        w3 = Web3(Web3.HTTPProvider(node.url))
        assert w3.eth.get_block("latest") == head
        assert [w3.eth.get_transaction_receipt(h) for h in hashes] == receipts
        assert w3.eth.get_transaction_count(sender) == nonce
        counter = w3.eth.contract(address=deployed["contractAddress"], abi=spec["abi"])
        assert counter.functions.counter().call() == 99
        assert len(w3.eth.get_logs({"fromBlock": 0, "address": counter.address})) == 0
        receipt = w3.eth.get_transaction_receipt(
            w3.eth.send_transaction({"from": sender, "to": to, "value": 1})
        )
        assert receipt["blockNumber"] == head["number"] + 1
        assert w3.eth.get_block(receipt["blockNumber"])["parentHash"] == head["hash"]
