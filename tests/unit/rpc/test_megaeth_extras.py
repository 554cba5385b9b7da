"""MegaETH's optional methods (``--megaeth-extras``): refused without the flag, as
MegaETH's public RPC refuses them; eth_callAfter waits for the nonce then calls, or times
out with MegaETH's error; eth_getLogsWithCursor pages every log exactly once; bad
conditions, cursors and filters refused."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from rpc.cli import build_parser, config_from
from rpc.dispatch import RequestContext, default_registry
from rpc.errors import InvalidParams
from rpc.namespaces import megaeth
from sequencer.config import NodeConfig
from sequencer.errors import NodeError
from sequencer.node import Node
from sequencer.types.transactions import Transaction, sign_transaction

IDENTITY = "0x" + "00" * 19 + "04"  # the identity precompile: eth_call echoes the data
# Runtime: LOG1(0, 0, topic 0x01) three times, then stop.
EMITTER = bytes.fromhex("60015f5fa1" * 3 + "00")


def _run(node: Node, job: Callable[[Node], Awaitable[Any]]) -> Any:
    async def go() -> Any:
        await node.start()
        try:
            return await job(node)
        finally:
            await node.stop()

    return asyncio.run(go())


def _request(node: Node, method: str, params: list[Any]) -> Awaitable[Any]:
    return default_registry.call(RequestContext(node), method, params)


def _transfer(node: Node, nonce: int, to: bytes = b"\x01" * 20) -> str:
    tx = sign_transaction(
        Transaction(2, 31337, nonce, 100_000, to, 1, b"", 10**10, 10**9),
        node.accounts[0].private_key,
    )
    return "0x" + tx.encode().hex()


def test_refused_without_the_flag() -> None:
    node = Node(NodeConfig(data_dir=None, accounts=1))

    async def job(n: Node) -> list[NodeError]:
        errors = []
        for method, params in (
            ("eth_callAfter", [{"to": IDENTITY}, {"account": IDENTITY, "nonce": "0x0"}]),
            ("eth_getLogsWithCursor", [{}]),
        ):
            with pytest.raises(NodeError) as raised:
                await _request(n, method, params)
            errors.append(raised.value)
        return errors

    for error in _run(node, job):
        assert error.code == -32601 and "--megaeth-extras" in error.message
    assert config_from(build_parser().parse_args(["--megaeth-extras"])).megaeth_extras


def test_call_after_waits_for_the_nonce() -> None:
    node = Node(NodeConfig(data_dir=None, accounts=1, megaeth_extras=True))
    sender = "0x" + node.accounts[0].address.hex()

    async def job(n: Node) -> tuple[Any, float]:
        async def send_later() -> None:
            await asyncio.sleep(0.2)
            await _request(n, "eth_sendRawTransaction", [_transfer(n, 0)])

        sending = asyncio.create_task(send_later())
        start = time.monotonic()
        output = await _request(
            n,
            "eth_callAfter",
            [
                {"to": IDENTITY, "data": "0xbeef"},
                {"account": sender, "nonce": "0x1", "timeout": 5000},
            ],
        )
        await sending
        return output, time.monotonic() - start

    output, waited = _run(node, job)
    assert output == "0xbeef" and waited >= 0.15


def test_call_after_times_out_with_megaeths_error() -> None:
    node = Node(NodeConfig(data_dir=None, accounts=1, megaeth_extras=True))
    condition = {"account": "0x" + "22" * 20, "nonce": "0x5", "timeout": 50}
    with pytest.raises(NodeError) as raised:
        _run(node, lambda n: _request(n, "eth_callAfter", [{"to": IDENTITY}, condition]))
    assert (raised.value.code, raised.value.message) == (
        -32000,
        "Timeout: timeout waiting for nonce condition",
    )


@pytest.mark.parametrize(
    "condition",
    [
        None,
        "0x1",
        {"nonce": "0x1"},
        {"account": "0x12", "nonce": "0x1"},
        {"account": "0x" + "22" * 20},
        {"account": "0x" + "22" * 20, "nonce": "0x1", "timeout": 0},
        {"account": "0x" + "22" * 20, "nonce": "0x1", "timeout": 60_001},
        {"account": "0x" + "22" * 20, "nonce": "0x1", "timeout": "soon"},
        {"account": "0x" + "22" * 20, "nonce": "0x" + "f" * 17},
        {"account": "0x" + "22" * 20, "nonce": "0x1", "extra": 1},
    ],
)
def test_bad_conditions(condition: object) -> None:
    node = Node(NodeConfig(data_dir=None, accounts=1, megaeth_extras=True))
    with pytest.raises(InvalidParams):
        _run(node, lambda n: _request(n, "eth_callAfter", [{"to": IDENTITY}, condition]))


def test_cursor_pages_every_log_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(megaeth, "LOG_PAGE", 4)
    node = Node(NodeConfig(data_dir=None, accounts=1, megaeth_extras=True))
    emitter = b"\xe1" * 20
    node.edit_state(emitter, code=EMITTER)

    async def job(n: Node) -> tuple[list[Any], list[Any], list[str]]:
        for nonce in range(3):  # three blocks of three logs
            await _request(n, "eth_sendRawTransaction", [_transfer(n, nonce, emitter)])
        everything = await _request(n, "eth_getLogs", [{"fromBlock": "0x0"}])
        pages: list[Any] = []
        cursors: list[str] = []
        cursor = None
        while True:
            criteria: dict[str, Any] = {"fromBlock": "0x0", "address": "0x" + emitter.hex()}
            if cursor is not None:
                criteria["cursor"] = cursor
            page = await _request(n, "eth_getLogsWithCursor", [criteria])
            pages.append(page["logs"])
            cursor = page.get("cursor")
            if cursor is None:
                break
            cursors.append(cursor)
        return everything, pages, cursors

    everything, pages, cursors = _run(node, job)
    assert len(everything) == 9
    assert [len(page) for page in pages] == [4, 4, 1]
    assert [log for page in pages for log in page] == everything
    assert len(set(cursors)) == 2


@pytest.mark.parametrize(
    "criteria",
    [
        "0x1",
        {"cursor": 5},
        {"cursor": "0x12"},
        {"cursor": "0x" + "g" * 16},
        {"cursor": "0x" + "0" * 40},
        {"blockHash": "0x" + "00" * 32, "fromBlock": "0x0"},
    ],
)
def test_bad_cursor_queries(criteria: object) -> None:
    node = Node(NodeConfig(data_dir=None, accounts=1, megaeth_extras=True))
    with pytest.raises((InvalidParams, NodeError)):
        _run(node, lambda n: _request(n, "eth_getLogsWithCursor", [criteria]))
