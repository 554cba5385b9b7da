"""Polling filters (eth_newFilter & co.) and WebSocket subscriptions (eth_subscribe).

Owns the per-node filter table and the subscription fan-out. Both are fed only
by published ``MiniBlock``s and pending-transaction events from the ``Node``
(DESIGN §1), never by reaching into the sequencer. Polling filters expire after
five minutes without a poll (geth's deadline); subscriptions live as long as
their socket.
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from rpc.codecs import BlockId, data
from rpc.dispatch import RequestContext, method
from rpc.errors import InvalidParams
from rpc.namespaces.eth import node_of
from rpc.requests import parse_filter
from rpc.serialize import header_json, log_json, transaction_json
from sequencer.chain import LogEntry, LogFilter, block_logs
from sequencer.errors import NodeError
from sequencer.node import ChainReverted, Node
from sequencer.types.blocks import MiniBlock
from sequencer.types.transactions import Transaction

FILTER_TIMEOUT: Final = 300.0
MAX_FILTERS: Final = 10_000
MAX_FILTER_BACKLOG: Final = 100_000
MAX_REMOVABLE_LOGS: Final = 10_000  # per logs subscription: what a revert can take back


@dataclass(slots=True)
class _Filter:
    kind: str  # "logs" | "blocks" | "pending"
    query: LogFilter | None = None
    open_end: bool = True  # toBlock was latest/pending/absent: follows the head
    # (block number, change); -1 for pending transactions
    backlog: deque[tuple[int, Any]] = field(
        default_factory=lambda: deque(maxlen=MAX_FILTER_BACKLOG)
    )
    last_poll: float = field(default_factory=time.monotonic)


class FilterTable:
    """All polling filters of one node; attached to the node on first use."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.filters: dict[str, _Filter] = {}
        node.subscribe_blocks(self._on_block)
        node.subscribe_reverts(self._on_revert)
        node.subscribe_pending(self._on_pending)

    def add(self, flt: _Filter) -> str:
        self._expire()
        if len(self.filters) >= MAX_FILTERS:
            raise NodeError(f"too many filters (limit {MAX_FILTERS}); uninstall some")
        filter_id = "0x" + secrets.token_hex(16)
        self.filters[filter_id] = flt
        return filter_id

    def get(self, filter_id: str) -> _Filter:
        flt = self.filters.get(filter_id)
        if flt is None:
            raise NodeError("filter not found")
        flt.last_poll = time.monotonic()
        return flt

    def _expire(self) -> None:
        cutoff = time.monotonic() - FILTER_TIMEOUT
        for filter_id in [k for k, f in self.filters.items() if f.last_poll < cutoff]:
            del self.filters[filter_id]

    def _on_block(self, block: MiniBlock) -> None:
        if not self.filters:
            return
        for flt in self.filters.values():
            if flt.kind == "blocks":
                flt.backlog.append((block.number, data(block.hash)))
            elif flt.kind == "logs" and flt.query is not None:
                query = flt.query
                if block.number < query.from_block:
                    continue
                if not flt.open_end and block.number > query.to_block:
                    continue
                for entry in block_logs(block):
                    if query.matches(entry.log):
                        flt.backlog.append((block.number, log_json(entry, block.header.timestamp)))

    def _on_pending(self, tx: Transaction) -> None:
        for flt in self.filters.values():
            if flt.kind == "pending":
                flt.backlog.append((-1, data(tx.hash)))

    def _on_revert(self, event: ChainReverted) -> None:
        """Blocks were removed (evm_revert, anvil_rollback): changes not yet polled that
        came from them are dropped, as if those blocks had never been seen."""
        head = event.head.number
        for flt in self.filters.values():
            if flt.kind != "pending" and flt.backlog:
                kept = [item for item in flt.backlog if item[0] <= head]
                flt.backlog.clear()
                flt.backlog.extend(kept)


def _table(node: Node) -> FilterTable:
    table = getattr(node, "_rpc_filters", None)
    if table is None:
        table = FilterTable(node)
        node._rpc_filters = table  # type: ignore[attr-defined]
    return table


def _resolver(node: Node) -> Callable[[BlockId], int]:
    def resolve(block: BlockId) -> int:
        if block.tag == "earliest":
            return 0
        if block.number is not None:
            return block.number
        return node.head_number

    return resolve


@method("eth_getLogs")
async def get_logs(ctx: RequestContext, criteria: object) -> list[dict[str, Any]]:
    node = node_of(ctx)
    query, block_hash = parse_filter(criteria, 0, _resolver(node), node.head_number)
    if block_hash is not None:
        block = node.block_by_hash(block_hash)
        if block is None:
            raise NodeError("unknown block")
        query = LogFilter(block.number, block.number, query.addresses, query.topics)
    entries = node.logs(query)
    stamps: dict[int, int] = {}
    out = []
    for entry in entries:
        stamp = stamps.get(entry.block_number)
        if stamp is None:
            block = node.block(entry.block_number)
            stamp = stamps[entry.block_number] = block.header.timestamp if block else 0
        out.append(log_json(entry, stamp))
    return out


@method("eth_newFilter")
async def new_filter(ctx: RequestContext, criteria: object) -> str:
    node = node_of(ctx)
    query, block_hash = parse_filter(criteria, 0, _resolver(node), node.head_number)
    if block_hash is not None:
        raise InvalidParams("invalid argument 0: blockHash is not supported by eth_newFilter")
    to_raw = criteria.get("toBlock") if isinstance(criteria, dict) else None
    open_end = to_raw is None or to_raw in ("latest", "pending", "safe", "finalized")
    return _table(node).add(_Filter("logs", query, open_end))


@method("eth_newBlockFilter")
async def new_block_filter(ctx: RequestContext) -> str:
    return _table(node_of(ctx)).add(_Filter("blocks"))


@method("eth_newPendingTransactionFilter")
async def new_pending_filter(ctx: RequestContext, full: object = None) -> str:
    return _table(node_of(ctx)).add(_Filter("pending"))


@method("eth_getFilterChanges")
async def get_filter_changes(ctx: RequestContext, filter_id: str) -> list[Any]:
    flt = _table(node_of(ctx)).get(filter_id)
    out = [change for _, change in flt.backlog]
    flt.backlog.clear()
    return out


@method("eth_getFilterLogs")
async def get_filter_logs(ctx: RequestContext, filter_id: str) -> list[dict[str, Any]]:
    node = node_of(ctx)
    flt = _table(node).get(filter_id)
    if flt.kind != "logs" or flt.query is None:
        raise NodeError("filter not found")
    query = flt.query
    if flt.open_end:
        query = LogFilter(query.from_block, node.head_number, query.addresses, query.topics)
    return [log_json(entry, _timestamp(node, entry.block_number)) for entry in node.logs(query)]


def _timestamp(node: Node, number: int) -> int:
    block = node.block(number)
    return block.header.timestamp if block else 0


@method("eth_uninstallFilter")
async def uninstall_filter(ctx: RequestContext, filter_id: str) -> bool:
    return _table(node_of(ctx)).filters.pop(filter_id, None) is not None


# ------------------------------------------------------------------ subscriptions


# Subscriptions per live connection (keyed by id(); dropped when the socket closes).
_BY_CONNECTION: dict[int, dict[str, Callable[[], None]]] = {}


def _subscriptions(connection: Any) -> dict[str, Callable[[], None]]:
    key = id(connection)
    subs = _BY_CONNECTION.get(key)
    if subs is None:
        subs = _BY_CONNECTION[key] = {}

        def close_all() -> None:
            for cancel in list(subs.values()):
                cancel()
            subs.clear()
            _BY_CONNECTION.pop(key, None)

        connection.on_close(close_all)
    return subs


@method("eth_subscribe")
async def subscribe(ctx: RequestContext, kind: str, options: object = None) -> str:
    connection = ctx.connection
    if connection is None:
        raise NodeError("notifications not supported", code=-32601)
    node = node_of(ctx)
    sub_id = connection.new_subscription_id(ctx)
    notify = connection.notify
    cancel: Callable[[], None]
    if kind == "newHeads":

        def on_head(block: MiniBlock) -> None:
            notify(sub_id, header_json(block))

        cancel = node.subscribe_blocks(on_head)
    elif kind == "logs":
        query, _ = parse_filter(options or {}, 1, _resolver(node), node.head_number)
        criteria = LogFilter(0, 2**63, query.addresses, query.topics)

        # What was sent from recent blocks, so a revert can take it back as geth does
        # on a reorg: the same logs again with "removed": true.
        sent: deque[tuple[int, LogEntry, int]] = deque(maxlen=MAX_REMOVABLE_LOGS)

        def on_logs(block: MiniBlock) -> None:
            for entry in block_logs(block):
                if criteria.matches(entry.log):
                    notify(sub_id, log_json(entry, block.header.timestamp))
                    sent.append((block.number, entry, block.header.timestamp))

        def on_revert(event: ChainReverted) -> None:
            head = event.head.number
            removed = [item for item in sent if item[0] > head]
            for _, entry, timestamp in removed:
                notify(sub_id, log_json(entry, timestamp, removed=True))
            kept = [item for item in sent if item[0] <= head]
            sent.clear()
            sent.extend(kept)

        cancel_blocks = node.subscribe_blocks(on_logs)
        cancel_reverts = node.subscribe_reverts(on_revert)

        def cancel() -> None:
            cancel_blocks()
            cancel_reverts()

    elif kind == "newPendingTransactions":
        full = False
        if options is not None:
            if not isinstance(options, bool):
                raise InvalidParams("invalid argument 1: expected a boolean (full transactions)")
            full = options

        def on_pending(tx: Transaction) -> None:
            notify(sub_id, transaction_json(tx, None, None) if full else data(tx.hash))

        cancel = node.subscribe_pending(on_pending)
    else:
        raise InvalidParams(f'invalid argument 0: no "{kind}" subscription in eth namespace')
    _subscriptions(connection)[sub_id] = cancel
    return sub_id


@method("eth_unsubscribe")
async def unsubscribe(ctx: RequestContext, sub_id: str) -> bool:
    connection = ctx.connection
    if connection is None:
        raise NodeError("notifications not supported", code=-32601)
    cancel = _subscriptions(connection).pop(sub_id, None)
    if cancel is None:
        return False
    cancel()
    return True
