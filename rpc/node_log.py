"""The node log (issue 21): its levels, its two formats and the chain activity lines.

Owns ``configure_logging`` (``--quiet`` / default / ``-v`` / ``-vv``, ``--log-format
text|json``) and ``ActivityLog``, the subscriber (``Node.subscribe_activity``) that
prints each sealed block the way anvil does, plus console.log lines under their
transaction:

    Transaction: 0x6a98...
    Contract created: 0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512
    Gas used: 55330
    console.log:
      hello 5
    Error: reverted with: bad

    Block Number: 2
    Block Hash: 0x6c6c...
    Block Time: "Sun, 6 Dec 2026 22:13:05 +0000"

Levels: ``--quiet`` prints warnings and console.log lines only (the node's own lines,
under a line naming their transaction: no ``ActivityLog`` is attached); the default adds one line per request (``rpc.server``) and the
blocks with transactions; ``-v`` adds each request's parameters; ``-vv`` everything at
debug level. With ``--log-format json`` every line is one JSON object with ``time``,
``level``, ``logger`` and ``message``, and the chain lines carry their values as fields
(``event``: ``block`` with ``number``, ``hash``, ``timestamp``, ``gasUsed`` and
``transactions``, each a ``transaction`` object with ``hash``, ``from``, ``to``,
``contractAddress``, ``gasUsed``, ``status``, ``revertReason``, ``output`` and
``console``). Blocks without transactions (interval mining, ``evm_mine``) get the
block lines alone, as in anvil.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import IO, Any, Final

import orjson

from sequencer.activity import BlockActivity, TxActivity
from statedb.types import Address, keccak256

LOG_FORMATS: Final = ("text", "json")
TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
CHAIN_LOGGER: Final = "hummingbird.chain"
CONSOLE_LOGGER: Final = "hummingbird.console"


def checksummed(address: Address) -> str:
    """EIP-55 mixed-case hex, as anvil prints a created contract."""
    plain = address.hex()
    digest = keccak256(plain.encode()).hex()
    return "0x" + "".join(c.upper() if int(d, 16) >= 8 else c for c, d in zip(plain, digest))


class JsonFormatter(logging.Formatter):
    """One JSON object per record; a record's ``fields`` (``extra={"fields": ...}``)
    are merged in."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def configure_logging(verbosity: int, log_format: str, stream: IO[str] | None = None) -> None:
    """Set up the node log: ``verbosity`` -1 (``--quiet``), 0, 1 (``-v``) or 2+
    (``-vv``); ``log_format`` text or json. Replaces any handlers set before."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}")
    stream = sys.stderr if stream is None else stream
    json_lines = log_format == "json"
    formatter: logging.Formatter = JsonFormatter() if json_lines else logging.Formatter(TEXT_FORMAT)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(
        logging.WARNING if verbosity < 0 else logging.DEBUG if verbosity >= 2 else logging.INFO
    )
    logging.getLogger("hummingbird.rpc").setLevel(
        logging.DEBUG if verbosity >= 1 else logging.NOTSET
    )
    # console.log lines are what a contract asked to print: --quiet keeps them
    # (--disable-console-log drops them).
    logging.getLogger(CONSOLE_LOGGER).setLevel(logging.INFO)
    # The chain lines are anvil's indented blocks in text, bare (no time or level
    # prefix); in JSON the records go through the root handler like every other.
    chain = logging.getLogger(CHAIN_LOGGER)
    for old in list(chain.handlers):
        chain.removeHandler(old)
    chain.setLevel(logging.INFO)
    if json_lines:
        chain.propagate = True
    else:
        bare = logging.StreamHandler(stream)
        bare.setFormatter(logging.Formatter("%(message)s"))
        chain.addHandler(bare)
        chain.propagate = False


def block_time(timestamp: int) -> str:
    """anvil's "Sun, 6 Dec 2026 22:13:05 +0000" (RFC 2822, day not padded)."""
    moment = time.gmtime(timestamp)
    return time.strftime(f"%a, {moment.tm_mday} %b %Y %H:%M:%S +0000", moment)


def _hex(value: bytes | None) -> str | None:
    return None if value is None else "0x" + value.hex()


def transaction_lines(tx: TxActivity) -> list[str]:
    lines = [f"    Transaction: 0x{tx.hash.hex()}"]
    if tx.contract_address is not None:
        lines.append(f"    Contract created: {checksummed(tx.contract_address)}")
    lines.append(f"    Gas used: {tx.gas_used}")
    if tx.console:
        lines.append("    console.log:")
        lines += [f"      {line}" for line in tx.console]
    if not tx.success:
        if tx.revert_reason is not None:
            lines.append(f"    Error: reverted with: {tx.revert_reason}")
        elif tx.output:
            lines.append(f"    Error: reverted with data: 0x{tx.output.hex()}")
        else:
            lines.append("    Error: reverted without a reason")
    return lines


def block_lines(block: BlockActivity) -> list[str]:
    lines = [""]
    for tx in block.transactions:
        lines += transaction_lines(tx)
        lines.append("")
    lines += [
        f"    Block Number: {block.number}",
        f"    Block Hash: 0x{block.hash.hex()}",
        f'    Block Time: "{block_time(block.timestamp)}"',
        "",
    ]
    return lines


def transaction_fields(tx: TxActivity) -> dict[str, Any]:
    return {
        "event": "transaction",
        "hash": _hex(tx.hash),
        "from": _hex(tx.sender),
        "to": _hex(tx.to),
        "contractAddress": _hex(tx.contract_address),
        "gasUsed": tx.gas_used,
        "status": "success" if tx.success else "reverted",
        "revertReason": tx.revert_reason,
        "output": None if tx.success else _hex(tx.output),
        "console": list(tx.console),
    }


def block_fields(block: BlockActivity) -> dict[str, Any]:
    return {
        "event": "block",
        "number": block.number,
        "hash": _hex(block.hash),
        "timestamp": block.timestamp,
        "gasUsed": block.gas_used,
        "transactions": [transaction_fields(tx) for tx in block.transactions],
    }


class ActivityLog:
    """Prints each sealed block (``Node.subscribe_activity``) the way anvil does, with
    console.log lines under their transaction. Not attached under ``--quiet``: the node
    then logs only transactions' console.log lines itself (``sequencer.console_log``),
    under a line naming the transaction, and no block is turned into lines."""

    def __init__(self, log_format: str) -> None:
        self.json_lines = log_format == "json"
        self.chain = logging.getLogger(CHAIN_LOGGER)

    def attach(
        self, subscribe: Callable[[Callable[[BlockActivity], None]], Callable[[], None]]
    ) -> Callable[[], None]:
        return subscribe(self.on_block)

    def on_block(self, block: BlockActivity) -> None:
        if self.json_lines:
            self.chain.info("block %d", block.number, extra={"fields": block_fields(block)})
        else:
            self.chain.info("%s", "\n".join(block_lines(block)))
