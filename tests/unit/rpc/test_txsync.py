"""EIP-7966 sends: the timeout error (code 4, the hash as data), the node's default and
maximum waits (--txsync-timeout, --txsync-max), and their bad values."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from rpc.cli import build_parser, config_from
from rpc.dispatch import RequestContext, default_registry
from sequencer.config import ConfigError, NodeConfig
from sequencer.errors import NodeError
from sequencer.node import Node
from sequencer.types.transactions import Transaction, sign_transaction


def _call(node: Node, method: str, params: list[Any]) -> Any:
    async def go() -> Any:
        await node.start()
        try:
            return await default_registry.call(RequestContext(node), method, params)
        finally:
            await node.stop()

    return asyncio.run(go())


def test_a_send_that_is_not_mined_in_time_is_code_4_with_its_hash() -> None:
    node = Node(NodeConfig(data_dir=None, accounts=1, no_mining=True, txsync_timeout=0.05))
    tx = sign_transaction(
        Transaction(2, 31337, 0, 21_000, b"\x01" * 20, 1, b"", 10**10, 10**9),
        node.accounts[0].private_key,
    )
    with pytest.raises(NodeError) as raised:
        _call(node, "realtime_sendRawTransaction", ["0x" + tx.encode().hex()])
    assert raised.value.code == 4 and raised.value.data == "0x" + tx.hash.hex()
    assert "50 ms" in raised.value.message


@pytest.mark.parametrize(("timeout", "most"), [(2.0, 600.0), (0.5, 1.0), (1.0, 1.0)])
def test_good_waits(timeout: float, most: float) -> None:
    config = NodeConfig(data_dir=None, txsync_timeout=timeout, txsync_max=most)
    assert (config.txsync_timeout, config.txsync_max) == (timeout, most)


@pytest.mark.parametrize(
    ("timeout", "most"), [(0.0, 600.0), (5.0, 1.0), (1.0, 601.0), (1.0, 0.0), (-1.0, 600.0)]
)
def test_bad_waits_are_refused(timeout: float, most: float) -> None:
    with pytest.raises(ConfigError, match="txsync"):
        NodeConfig(data_dir=None, txsync_timeout=timeout, txsync_max=most)


def test_cli_flags() -> None:
    config = config_from(
        build_parser().parse_args(["--txsync-timeout", "250ms", "--txsync-max", "3s"])
    )
    assert (config.txsync_timeout, config.txsync_max) == (0.25, 3.0)
    for argv in (["--txsync-timeout", "soon"], ["--txsync-max", "601s"], ["--txsync-timeout", "0"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(argv)
    with pytest.raises(ConfigError):
        config_from(build_parser().parse_args(["--txsync-timeout", "5s", "--txsync-max", "1s"]))
    # Without --txsync-timeout the default wait follows a lower maximum.
    lowered = config_from(build_parser().parse_args(["--txsync-max", "500ms"]))
    assert (lowered.txsync_timeout, lowered.txsync_max) == (0.5, 0.5)
    assert config_from(build_parser().parse_args([])).txsync_timeout == 2.0


def test_a_request_may_not_wait_past_the_maximum() -> None:
    node = Node(NodeConfig(data_dir=None, accounts=1, txsync_timeout=0.5, txsync_max=1.0))
    tx = sign_transaction(
        Transaction(2, 31337, 0, 21_000, b"\x01" * 20, 1, b"", 10**10, 10**9),
        node.accounts[0].private_key,
    )
    with pytest.raises(Exception, match=r"timeout must be in 1\.\.1000 milliseconds"):
        _call(node, "eth_sendRawTransactionSync", ["0x" + tx.encode().hex(), 1001])
