"""The ``blockStats`` subscription (Hummingbird's own; the dashboard's feed, issue 21).

``eth_subscribe("blockStats", {"maxRate": 20})`` sends at most ``maxRate`` notifications a
second (1..100, default 20) whatever the block rate, each covering every block sealed
since the previous one:

    {"blocks": 7, "fromBlock": "0x10", "toBlock": "0x16", "transactions": 350,
     "gasUsed": "0x...", "failed": 2, "buildSeconds": 0.0123,
     "head": {"number": "0x16", "hash": "0x..", "timestamp": "0x..",
              "sealedMicros": 1796595274123456, "transactions": 50, "gasUsed": "0x..."},
     "recent": [{"hash", "from", "to", "status", "logs", "contractAddress", "block"}, ...]}

``recent`` holds the newest transactions of those blocks (at most ``MAX_RECENT``),
newest last. A block sealed when the last notification is older than the interval goes out
at once (so a quiet chain's blocks are seen within a few milliseconds of their seal);
otherwise it is folded into the notification a timer sends at the end of the interval.
Per block the subscription only adds counters (and reads each receipt's status) and keeps
references to the newest transactions: its cost does not grow with the block rate, unlike ``miniBlocks``, whose
notification carries every transaction and receipt of every block.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Final

from rpc.codecs import data, quantity
from rpc.errors import InvalidParams
from sequencer.node import Node
from sequencer.publication import BlockSealed, ChainEvent
from sequencer.types.blocks import MiniBlock

DEFAULT_MAX_RATE: Final = 20
MAX_RATE: Final = 100
MAX_RECENT: Final = 25


def _max_rate(options: object) -> int:
    if options is None:
        return DEFAULT_MAX_RATE
    if not isinstance(options, dict) or set(options) - {"maxRate"}:
        raise InvalidParams('invalid argument 1: blockStats takes {"maxRate": 1..100} or nothing')
    rate = options.get("maxRate", DEFAULT_MAX_RATE)
    if type(rate) is not int or not 1 <= rate <= MAX_RATE:
        raise InvalidParams(f"invalid argument 1: maxRate must be an integer in 1..{MAX_RATE}")
    return rate


class _Window:
    """What happened since the last notification."""

    def __init__(self) -> None:
        self.blocks = 0
        self.first = 0
        self.transactions = 0
        self.failed = 0
        self.gas = 0
        self.build_seconds = 0.0
        self.head: BlockSealed | None = None
        self.recent: deque[tuple[MiniBlock, int]] = deque(maxlen=MAX_RECENT)

    def add(self, event: BlockSealed) -> None:
        block = event.block
        if not self.blocks:
            self.first = block.number
        self.blocks += 1
        count = len(block.encoded)
        self.transactions += count
        self.gas += block.header.gas_used
        self.failed += sum(1 for receipt in block.receipts if receipt.status != 1)
        self.build_seconds += event.build_seconds
        self.head = event
        for index in range(max(0, count - MAX_RECENT), count):
            self.recent.append((block, index))

    def json(self) -> dict[str, Any]:
        assert self.head is not None
        block = self.head.block
        recent = []
        for owner, index in self.recent:
            tx = owner.transactions[index]
            receipt = owner.receipts[index]
            recent.append(
                {
                    "hash": data(tx.hash),
                    "from": data(tx.sender),
                    "to": None if tx.to is None else data(tx.to),
                    "status": quantity(receipt.status),
                    "logs": len(receipt.logs),
                    "contractAddress": (
                        None if receipt.contract_address is None else data(receipt.contract_address)
                    ),
                    "block": quantity(owner.number),
                }
            )
        mini = self.head.mini
        return {
            "blocks": self.blocks,
            "fromBlock": quantity(self.first),
            "toBlock": quantity(block.number),
            "transactions": self.transactions,
            "gasUsed": quantity(self.gas),
            "failed": self.failed,
            "buildSeconds": round(self.build_seconds, 6),
            "head": {
                "number": quantity(block.number),
                "hash": data(block.hash),
                "timestamp": quantity(block.header.timestamp),
                "sealedMicros": mini.mini_block_timestamp if mini is not None else None,
                "transactions": len(block.encoded),
                "gasUsed": quantity(block.header.gas_used),
            },
            "recent": recent,
        }


def block_stats_subscription(
    node: Node, notify: Callable[[str, Any], object], sub_id: str, options: object
) -> Callable[[], None]:
    """Register the subscription; returns its cancel function."""
    interval = 1.0 / _max_rate(options)
    loop = asyncio.get_running_loop()
    window = _Window()
    last_sent = [0.0]
    timer: list[asyncio.TimerHandle | None] = [None]

    def send() -> None:
        nonlocal window
        timer[0] = None
        if not window.blocks:
            return
        notify(sub_id, window.json())
        window = _Window()
        last_sent[0] = time.monotonic()

    def on_event(event: ChainEvent) -> None:
        if not isinstance(event, BlockSealed):
            return
        window.add(event)
        if timer[0] is not None:
            return
        wait = last_sent[0] + interval - time.monotonic()
        if wait <= 0:
            send()
        else:
            timer[0] = loop.call_later(wait, send)

    unsubscribe = node.subscribe(on_event)

    def cancel() -> None:
        unsubscribe()
        if timer[0] is not None:
            timer[0].cancel()
            timer[0] = None

    return cancel
