"""The node log (issue 21): anvil-style block lines, JSON lines, levels, and a live node's
blocks through ``Node.subscribe_activity`` with console.log lines under their
transaction."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from rpc.node_log import (
    ActivityLog,
    block_lines,
    block_time,
    checksummed,
    configure_logging,
    transaction_lines,
)
from sequencer.activity import BlockActivity, TxActivity
from sequencer.config import NodeConfig
from sequencer.node import Node
from sequencer.types.call import CallRequest
from statedb.types import keccak256

HASH = bytes(range(32))
SENDER = bytes.fromhex("f39fd6e51aad88f6f4ce6ab8827279cfffb92266")
CONSOLE = bytes.fromhex("000000000000000000636f6e736f6c652e6c6f67")
ERROR_BAD = bytes.fromhex(
    "08c379a0"
    "0000000000000000000000000000000000000000000000000000000000000020"
    "0000000000000000000000000000000000000000000000000000000000000003"
    "6261640000000000000000000000000000000000000000000000000000000000"
)


def tx(**fields: object) -> TxActivity:
    base: dict[str, object] = {
        "hash": HASH,
        "sender": SENDER,
        "to": None,
        "contract_address": None,
        "gas_used": 21000,
        "success": True,
        "revert_reason": None,
        "output": b"",
        "console": (),
    }
    base.update(fields)
    return TxActivity(**base)  # type: ignore[arg-type]


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    yield stream
    configure_logging(0, "text")  # back to stderr for the other tests


def test_checksummed_follows_eip55() -> None:
    # EIP-55's own test vectors.
    for address in (
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
    ):
        assert checksummed(bytes.fromhex(address[2:])) == address


def test_block_time_is_anvils_rfc_2822_without_padding() -> None:
    assert block_time(1796595274) == "Sun, 6 Dec 2026 22:14:34 +0000"
    assert block_time(0) == "Thu, 1 Jan 1970 00:00:00 +0000"


def test_transaction_lines_as_anvil_prints_them() -> None:
    created = bytes.fromhex("e7f1725e7734ce288f8367e1bb143e90bb3f0512")
    assert transaction_lines(tx(contract_address=created, gas_used=55330)) == [
        f"    Transaction: 0x{HASH.hex()}",
        "    Contract created: 0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
        "    Gas used: 55330",
    ]
    reverted = tx(success=False, revert_reason="bad", output=ERROR_BAD, console=("hi", "2"))
    assert transaction_lines(reverted)[2:] == [
        "    console.log:",
        "      hi",
        "      2",
        "    Error: reverted with: bad",
    ]
    custom = tx(success=False, output=bytes.fromhex("deadbeef"))
    assert transaction_lines(custom)[-1] == "    Error: reverted with data: 0xdeadbeef"
    halted = tx(success=False)
    assert transaction_lines(halted)[-1] == "    Error: reverted without a reason"


def test_block_lines_put_the_block_after_its_transactions() -> None:
    block = BlockActivity(7, HASH, 1796595274, 42000, (tx(), tx(gas_used=21001)))
    lines = block_lines(block)
    assert lines[0] == "" and lines[-1] == ""
    assert lines[-4:-1] == [
        "    Block Number: 7",
        f"    Block Hash: 0x{HASH.hex()}",
        '    Block Time: "Sun, 6 Dec 2026 22:14:34 +0000"',
    ]
    assert [line for line in lines if "Gas used" in line] == [
        "    Gas used: 21000",
        "    Gas used: 21001",
    ]
    empty = block_lines(BlockActivity(8, HASH, 0, 0, ()))
    assert empty[1] == "    Block Number: 8"  # an empty block: the block lines alone


def test_json_lines_carry_the_values(captured: io.StringIO) -> None:
    configure_logging(0, "json", captured)
    log = ActivityLog("json")
    reverted = tx(success=False, revert_reason="bad", output=ERROR_BAD, console=("x",))
    log.on_block(BlockActivity(3, HASH, 5, 21000, (reverted,)))
    logging.getLogger("hummingbird.rpc").info("a request", extra={"fields": {"event": "rpc"}})
    first, second = (json.loads(line) for line in captured.getvalue().splitlines())
    assert first["event"] == "block" and first["number"] == 3 and first["level"] == "info"
    (entry,) = first["transactions"]
    assert entry["status"] == "reverted" and entry["revertReason"] == "bad"
    assert entry["output"] == "0x" + ERROR_BAD.hex() and entry["console"] == ["x"]
    assert entry["from"] == "0x" + SENDER.hex() and entry["to"] is None
    assert second == {
        "time": second["time"],
        "level": "info",
        "logger": "hummingbird.rpc",
        "message": "a request",
        "event": "rpc",
    }


def test_levels(captured: io.StringIO) -> None:
    rpc = logging.getLogger("hummingbird.rpc")
    configure_logging(-1, "text", captured)
    rpc.info("per request")
    logging.getLogger("hummingbird.console").info("console line")
    logging.getLogger("hummingbird.node").warning("a warning")
    assert "per request" not in captured.getvalue()
    assert "console line" in captured.getvalue() and "a warning" in captured.getvalue()
    configure_logging(0, "text", captured)
    rpc.info("per request")
    rpc.debug("params")
    assert "per request" in captured.getvalue() and "params" not in captured.getvalue()
    configure_logging(1, "text", captured)
    rpc.debug("params")
    logging.getLogger("hummingbird.executor").debug("deep")
    assert "params" in captured.getvalue() and "deep" not in captured.getvalue()
    configure_logging(2, "text", captured)
    logging.getLogger("hummingbird.executor").debug("deep")
    assert "deep" in captured.getvalue()
    with pytest.raises(ValueError, match="log format"):
        configure_logging(0, "xml", captured)


async def test_quiet_prints_only_console_lines_under_their_transaction(
    captured: io.StringIO,
) -> None:
    # As the command runs it under --quiet: no ActivityLog, the node's own console lines.
    configure_logging(-1, "text", captured)
    node = Node(NodeConfig(data_dir=None, accounts=1))
    try:
        await node.start()
        sender = node.accounts[0].address
        tx_hash = await node.send_transaction(
            CallRequest(sender=sender, data=_console_log_initcode(b"hello"))
        )
    finally:
        await node.stop()
    text = captured.getvalue()
    assert "Block Number" not in text and "Gas used" not in text
    assert f"console.log in transaction 0x{tx_hash.hex()} (block 1):" in text
    assert "hummingbird.console:   hello" in text


def _console_log_initcode(message: bytes) -> bytes:
    """Initcode that calls console.log(string) with ``message`` (< 32 bytes), then
    returns no code."""
    selector = keccak256(b"log(string)")[:4]
    payload = (
        selector
        + (32).to_bytes(32, "big")
        + len(message).to_bytes(32, "big")
        + message.ljust(32, b"\0")
    )
    code = b""
    for offset in range(0, len(payload), 32):
        chunk = payload[offset : offset + 32].ljust(32, b"\0")
        code += b"\x7f" + chunk + bytes([0x60, offset, 0x52])  # PUSH32 chunk, MSTORE
    # STATICCALL(gas, console, 0, len, 0, 0), then STOP
    code += bytes([0x5F, 0x5F, 0x60, len(payload), 0x5F, 0x73]) + CONSOLE
    code += bytes([0x5A, 0xFA, 0x50, 0x00])
    return code


async def test_a_live_node_logs_its_blocks_with_console_lines_under_them(
    captured: io.StringIO,
) -> None:
    configure_logging(0, "text", captured)
    node = Node(NodeConfig(data_dir=None, accounts=1))
    try:
        await node.start()
        stop = ActivityLog("text").attach(node.subscribe_activity)
        sender = node.accounts[0].address
        tx_hash = await node.send_transaction(
            CallRequest(sender=sender, data=_console_log_initcode(b"hello node"))
        )
        stop()
        stop()  # a second call does nothing
        await node.send_transaction(CallRequest(sender=sender, to=sender, value=1))
    finally:
        await node.stop()
    text = captured.getvalue()
    assert f"    Transaction: 0x{tx_hash.hex()}" in text
    assert "    console.log:\n      hello node\n" in text
    assert "    Contract created: 0x" in text and "    Block Number: 1" in text
    assert "Block Number: 2" not in text  # not listening any more
    # While a log listened, the node did not print the transaction's lines itself (the
    # send's gas estimate printed its own run's, as anvil does).
    assert "console.log in transaction" not in text
    assert text.count("hello node") == 2 and "console.log in eth_estimateGas:" in text
