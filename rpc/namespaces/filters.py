"""Polling filters (eth_newFilter & co.) and WebSocket subscriptions (eth_subscribe).

Owns the per-node filter table and the subscription fan-out. Both are fed only
by published ``MiniBlock``s and pending-transaction events from the ``Node``
(DESIGN §1), never by reaching into the sequencer.

Polling filters share two journals (one of blocks with their logs, one of pending
transaction hashes) and each keeps only a cursor into one, so a block costs one
journal entry however many filters are installed, and an unpolled filter costs a few
hundred bytes, not a copy of every change. A journal holds at most
``FilterLimits.backlog_bytes`` (estimated memory); a filter whose unread changes were
dropped to stay under it is told so on its next poll and uninstalled. At most
``max_filters`` filters are installed; one unpolled for ``timeout`` seconds (five
minutes, geth's deadline) is removed by a timer. Subscriptions live as long as their
socket; each connection holds at most ``--max-subscriptions`` (``WsConnection``).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Final, Generic, NoReturn, TypeVar

from rpc.codecs import BlockId, data, parse_address, parse_hash, quantity
from rpc.dispatch import RequestContext, method
from rpc.errors import InvalidParams
from rpc.namespaces.block_stats import block_stats_subscription
from rpc.namespaces.eth import node_of, receipts_of
from rpc.namespaces.replication import replication_subscription
from rpc.requests import parse_filter
from rpc.serialize import header_json, log_json, transaction_json
from sequencer.chain import LogEntry, LogFilter, block_logs
from sequencer.errors import NodeError
from sequencer.megaeth import DUPLICATE_SUBSCRIPTION_CODE
from sequencer.mini_block_signing import MiniBlockHeader, MiniBlockSignature
from sequencer.node import (
    BlockSealed,
    ChainEvent,
    ChainReverted,
    MiniBlockPreconfirmed,
    Node,
)
from sequencer.types.blocks import MiniBlock
from sequencer.types.transactions import Transaction
from statedb.types import StateDiff

FILTER_TIMEOUT: Final = 300.0
DEFAULT_MAX_FILTERS: Final = 10_000
DEFAULT_FILTER_BACKLOG_BYTES: Final = 64 * 1024 * 1024
MAX_SWEEP_INTERVAL: Final = 10.0  # seconds between expiry sweeps (less for short timeouts)
MAX_REMOVABLE_LOGS: Final = 10_000  # per logs subscription: what a revert can take back
MAX_RECEIPT_HASHES: Final = 1_000  # transactionReceipts' filter list
MAX_WATCHED_ADDRESSES: Final = 1_000  # stateChanges' address list

# Estimated memory a journal entry keeps alive (measured with tracemalloc on CPython
# 3.11: a block's change object, hash text and log tuple; per log its LogEntry, topic
# and data bytes; a pending hash's text). Estimates, not exact: they bound the journal.
BLOCK_ENTRY_BYTES: Final = 360
LOG_ENTRY_BYTES: Final = 320
TOPIC_BYTES: Final = 72
PENDING_ENTRY_BYTES: Final = 120

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FilterLimits:
    """How many polling filters, how much unread change, and how long unpolled."""

    max_filters: int = DEFAULT_MAX_FILTERS
    backlog_bytes: int = DEFAULT_FILTER_BACKLOG_BYTES
    timeout: float = FILTER_TIMEOUT
    sweep_interval: float | None = None  # None: timeout / 10, at most MAX_SWEEP_INTERVAL

    @property
    def sweep_every(self) -> float:
        if self.sweep_interval is not None:
            return self.sweep_interval
        return min(self.timeout / 10, MAX_SWEEP_INTERVAL)


@dataclass(frozen=True, slots=True)
class _BlockChange:
    """What block and log filters read of one block."""

    number: int
    hash: str  # 0x-hex, as block filters answer it
    timestamp: int
    logs: tuple[LogEntry, ...]

    @staticmethod
    def of(block: MiniBlock) -> tuple[_BlockChange, int]:
        """The change and its estimated size in bytes."""
        logs = tuple(block_logs(block))
        size = BLOCK_ENTRY_BYTES + sum(
            LOG_ENTRY_BYTES + TOPIC_BYTES * len(entry.log.topics) + len(entry.log.data)
            for entry in logs
        )
        return _BlockChange(block.number, data(block.hash), block.header.timestamp, logs), size


class _Journal(Generic[T]):
    """Changes of one kind in arrival order, numbered from 0 (numbers are never reused),
    read by filters through cursors (the number of the next change to read). Holds at
    most ``max_bytes``: beyond, the oldest changes go."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: list[T | None] = []  # None: dropped, awaiting compaction
        self._sizes: list[int] = []
        self._head = 0  # index in _items of the first live change
        self.start = 0  # number of the first live change
        self.bytes = 0

    @property
    def end(self) -> int:
        """The number the next change will get."""
        return self.start + len(self._items) - self._head

    def __len__(self) -> int:
        return len(self._items) - self._head

    def append(self, item: T, size: int) -> None:
        self._items.append(item)
        self._sizes.append(size)
        self.bytes += size
        while self.bytes > self.max_bytes and len(self) > 0:
            self._drop_first()
        self._compact()

    def since(self, cursor: int) -> list[T] | None:
        """Changes numbered ``cursor`` and later; None when some of them were dropped."""
        if cursor < self.start:
            return None
        index = self._head + min(cursor, self.end) - self.start
        return [item for item in self._items[index:] if item is not None]

    def trim_before(self, cursor: int) -> None:
        """Drop changes no cursor still needs (those numbered below ``cursor``)."""
        while self.start < min(cursor, self.end):
            self._drop_first()
        self._compact()

    def pop_while(self, drop: Callable[[T], bool]) -> None:
        """Remove newest changes while ``drop`` says so (a revert took their blocks)."""
        while len(self) > 0:
            last = self._items[-1]
            if last is None or not drop(last):
                break
            self._items.pop()
            self.bytes -= self._sizes.pop()

    def _drop_first(self) -> None:
        self._items[self._head] = None
        self.bytes -= self._sizes[self._head]
        self._head += 1
        self.start += 1

    def _compact(self) -> None:
        # Amortised O(1): the list is copied only once half of it is dropped changes.
        if self._head > 64 and self._head * 2 > len(self._items):
            del self._items[: self._head]
            del self._sizes[: self._head]
            self._head = 0


@dataclass(slots=True)
class _Filter:
    kind: str  # "logs" | "blocks" | "pending"
    cursor: int  # next change to read in its journal
    last_poll: float
    query: LogFilter | None = None
    open_end: bool = True  # toBlock was latest/pending/absent: follows the head

    @property
    def reads_blocks(self) -> bool:
        return self.kind != "pending"


class FilterTable:
    """All polling filters of one node; attached to the node by ``install_filters`` or
    on first use. ``clock`` (seconds, monotonic) is injectable for tests."""

    def __init__(
        self,
        node: Node,
        limits: FilterLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.node = node
        self.limits = FilterLimits() if limits is None else limits
        self.clock = clock
        self.filters: dict[str, _Filter] = {}
        self.blocks: _Journal[_BlockChange] = _Journal(self.limits.backlog_bytes)
        self.pending: _Journal[str] = _Journal(self.limits.backlog_bytes)
        self._block_readers = 0
        self._pending_readers = 0
        self._timer: asyncio.TimerHandle | None = None
        self._unsubscribe: tuple[Callable[[], None], ...] = (
            node.subscribe_blocks(self._on_block),
            node.subscribe_reverts(self._on_revert),
            node.subscribe_pending(self._on_pending),
        )

    def add(self, kind: str, query: LogFilter | None = None, open_end: bool = True) -> str:
        if len(self.filters) >= self.limits.max_filters:
            self.expire()
            if len(self.filters) >= self.limits.max_filters:
                raise NodeError(
                    f"too many filters (limit {self.limits.max_filters}); uninstall some "
                    "(eth_uninstallFilter) or start the node with a higher --max-filters"
                )
        journal_end = self.pending.end if kind == "pending" else self.blocks.end
        flt = _Filter(kind, journal_end, self.clock(), query, open_end)
        filter_id = "0x" + secrets.token_hex(16)
        self.filters[filter_id] = flt
        if flt.reads_blocks:
            self._block_readers += 1
        else:
            self._pending_readers += 1
        self._schedule_sweep()
        return filter_id

    def get(self, filter_id: str) -> _Filter:
        flt = self.filters.get(filter_id)
        if flt is None:
            raise NodeError("filter not found")
        flt.last_poll = self.clock()
        return flt

    def remove(self, filter_id: str) -> bool:
        flt = self.filters.pop(filter_id, None)
        if flt is None:
            return False
        if flt.reads_blocks:
            self._block_readers -= 1
        else:
            self._pending_readers -= 1
        return True

    def changes(self, filter_id: str) -> list[Any]:
        """What eth_getFilterChanges answers: every change since the last poll."""
        flt = self.get(filter_id)
        if flt.kind == "pending":
            hashes = self.pending.since(flt.cursor)
            flt.cursor = self.pending.end
            if hashes is None:
                self._overflowed(filter_id)
            return list(hashes)
        blocks = self.blocks.since(flt.cursor)
        flt.cursor = self.blocks.end
        if blocks is None:
            self._overflowed(filter_id)
        if flt.kind == "blocks":
            return [change.hash for change in blocks]
        query = flt.query
        assert query is not None
        out = []
        for change in blocks:
            if change.number < query.from_block:
                continue
            if not flt.open_end and change.number > query.to_block:
                continue
            for entry in change.logs:
                if query.matches(entry.log):
                    out.append(log_json(entry, change.timestamp))
        return out

    def _overflowed(self, filter_id: str) -> NoReturn:
        self.remove(filter_id)
        raise NodeError(
            f"filter {filter_id} overflowed: more than {self.limits.backlog_bytes} bytes of "
            "changes arrived since its last poll and the oldest were dropped, so it has been "
            "uninstalled; create a new filter (and use eth_getLogs for the blocks missed), "
            "poll more often, or start the node with a higher --filter-backlog"
        )

    def expire(self) -> None:
        """Remove filters unpolled for ``timeout`` seconds, then drop journal entries
        that no remaining filter will read."""
        cutoff = self.clock() - self.limits.timeout
        for filter_id in [k for k, f in self.filters.items() if f.last_poll < cutoff]:
            self.remove(filter_id)
        block_cursor = self.blocks.end
        pending_cursor = self.pending.end
        for flt in self.filters.values():
            if flt.reads_blocks:
                block_cursor = min(block_cursor, flt.cursor)
            else:
                pending_cursor = min(pending_cursor, flt.cursor)
        self.blocks.trim_before(block_cursor)
        self.pending.trim_before(pending_cursor)

    def _schedule_sweep(self) -> None:
        if self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a synchronous caller): add() still expires
            return
        self._timer = loop.call_later(self.limits.sweep_every, self._sweep)

    def _sweep(self) -> None:
        self._timer = None
        self.expire()
        if self.filters:
            self._schedule_sweep()

    def close(self) -> None:
        """Stop the expiry timer and stop listening to the node (the node is going
        away, or another table replaces this one)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = ()

    def _on_block(self, block: MiniBlock) -> None:
        if self._block_readers:
            change, size = _BlockChange.of(block)
            self.blocks.append(change, size)

    def _on_pending(self, tx: Transaction) -> None:
        if self._pending_readers:
            self.pending.append(data(tx.hash), PENDING_ENTRY_BYTES)

    def _on_revert(self, event: ChainReverted) -> None:
        """Blocks were removed (evm_revert, anvil_rollback): changes not yet polled that
        came from them are dropped, as if those blocks had never been seen."""
        head = event.head.number
        self.blocks.pop_while(lambda change: change.number > head)
        end = self.blocks.end
        for flt in self.filters.values():
            if flt.reads_blocks and flt.cursor > end:
                flt.cursor = end


def install_filters(node: Node, limits: FilterLimits) -> FilterTable:
    """Give ``node`` a filter table with ``limits`` (the command does this at start-up;
    otherwise the first filter method makes one with the defaults)."""
    old = getattr(node, "_rpc_filters", None)
    if old is not None:
        old.close()
    table = FilterTable(node, limits)
    node._rpc_filters = table  # type: ignore[attr-defined]
    return table


def _table(node: Node) -> FilterTable:
    table = getattr(node, "_rpc_filters", None)
    if table is None:
        table = FilterTable(node)
        node._rpc_filters = table  # type: ignore[attr-defined]
    return table


def log_block_resolver(node: Node) -> Callable[[BlockId], int]:
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
    fork = node.fork_number
    if fork is not None and isinstance(criteria, dict):
        return await _forked_logs(node, criteria, fork)
    return logs_json(node, await node.find_logs(log_query(node, criteria)))


async def _forked_logs(node: Node, criteria: dict[str, Any], fork: int) -> list[dict[str, Any]]:
    """A fork's logs: the upstream's for its blocks up to the fork block, this chain's
    after it, merged in block order (a range across the fork point asks both)."""
    block_hash = criteria.get("blockHash")
    if block_hash is not None:
        parse_filter(criteria, 0, log_block_resolver(node), node.head_number)  # checks it
        local = node.block_by_hash(parse_hash(block_hash))
        if local is not None and local.number > fork:
            return logs_json(node, await node.find_logs(log_query(node, criteria)))
        answer = await node.upstream_history("eth_getLogs", [criteria])
        return list(answer) if isinstance(answer, list) else []
    query = log_query(node, criteria)
    out: list[dict[str, Any]] = []
    if query.from_block <= fork:
        upstream_part = {
            **criteria,
            "fromBlock": quantity(query.from_block),
            "toBlock": quantity(min(query.to_block, fork)),
        }
        answer = await node.upstream_history("eth_getLogs", [upstream_part])
        if not isinstance(answer, list):
            raise NodeError("the fork's upstream answered eth_getLogs with something else")
        out.extend(answer)
    if query.to_block > fork:
        after_fork = replace(query, from_block=max(query.from_block, fork + 1))
        out.extend(logs_json(node, await node.find_logs(after_fork)))
    return out


def log_query(node: Node, criteria: object) -> LogFilter:
    """eth_getLogs' filter object as a query (a ``blockHash`` as its block's range)."""
    query, block_hash = parse_filter(criteria, 0, log_block_resolver(node), node.head_number)
    if block_hash is not None:
        block = node.block_by_hash(block_hash)
        if block is None:
            raise NodeError("unknown block")
        query = LogFilter(block.number, block.number, query.addresses, query.topics)
    return query


def logs_json(node: Node, entries: list[LogEntry]) -> list[dict[str, Any]]:
    """Logs as eth_getLogs answers them (each with its block's timestamp)."""
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
    query, block_hash = parse_filter(criteria, 0, log_block_resolver(node), node.head_number)
    if block_hash is not None:
        raise InvalidParams("invalid argument 0: blockHash is not supported by eth_newFilter")
    to_raw = criteria.get("toBlock") if isinstance(criteria, dict) else None
    open_end = to_raw is None or to_raw in ("latest", "pending", "safe", "finalized")
    return _table(node).add("logs", query, open_end)


@method("eth_newBlockFilter")
async def new_block_filter(ctx: RequestContext) -> str:
    return _table(node_of(ctx)).add("blocks")


@method("eth_newPendingTransactionFilter")
async def new_pending_filter(ctx: RequestContext, full: object = None) -> str:
    return _table(node_of(ctx)).add("pending")


@method("eth_getFilterChanges")
async def get_filter_changes(ctx: RequestContext, filter_id: str) -> list[Any]:
    return _table(node_of(ctx)).changes(filter_id)


@method("eth_getFilterLogs")
async def get_filter_logs(ctx: RequestContext, filter_id: str) -> list[dict[str, Any]]:
    node = node_of(ctx)
    flt = _table(node).get(filter_id)
    if flt.kind != "logs" or flt.query is None:
        raise NodeError("filter not found")
    query = flt.query
    if flt.open_end:
        query = LogFilter(query.from_block, node.head_number, query.addresses, query.topics)
    entries = await node.find_logs(query)
    return [log_json(entry, _timestamp(node, entry.block_number)) for entry in entries]


def _timestamp(node: Node, number: int) -> int:
    block = node.block(number)
    return block.header.timestamp if block else 0


@method("eth_uninstallFilter")
async def uninstall_filter(ctx: RequestContext, filter_id: str) -> bool:
    return _table(node_of(ctx)).remove(filter_id)


# ------------------------------------------------------------------ subscriptions


# A subscription's callbacks hold the connection (through ``notify``) and the node
# holds the callbacks until ``cancel``: the connection keeps each ``cancel``
# (``add_subscription``) and runs them all when it closes, which ends that cycle.


@method("eth_subscribe")
async def subscribe(ctx: RequestContext, kind: str, options: object = None) -> str:
    connection = ctx.connection
    if connection is None:
        raise NodeError("notifications not supported", code=-32601)
    node = node_of(ctx)
    connection.check_subscription_room()  # before anything is registered with the node
    key = _subscription_key(kind, options)
    if node.config.megaeth and connection.has_subscription_key(key):
        raise NodeError(
            f"duplicate subscription: this connection already subscribes to {kind} with "
            "these parameters",
            code=DUPLICATE_SUBSCRIPTION_CODE,
        )
    sub_id = connection.new_subscription_id(ctx)
    notify = connection.notify
    cancel: Callable[[], None]
    if kind == "newHeads":

        def on_head(event: ChainEvent) -> None:
            if isinstance(event, BlockSealed):
                head = header_json(event.block)
                if event.span is not None:  # two-tier mode: MegaETH's header fields
                    head["miniBlockCount"] = quantity(event.span.count)
                    head["miniBlockOffset"] = quantity(event.span.offset)
                notify(sub_id, head)

        cancel = node.subscribe(on_head)
    elif kind == "logs":
        query, _ = parse_filter(options or {}, 1, log_block_resolver(node), node.head_number)
        criteria = LogFilter(0, 2**63, query.addresses, query.topics)
        # Two-tier mode, a filter that names the pending block: each mini-block's logs as
        # it is preconfirmed (the placeholder block hash), not each sealed block's.
        per_mini_block = node.two_tier and _names_pending(options)

        # What was sent from recent blocks, so a revert can take it back as geth does
        # on a reorg: the same logs again with "removed": true.
        sent: deque[tuple[int, LogEntry, int]] = deque(maxlen=MAX_REMOVABLE_LOGS)

        def on_logs(block: MiniBlock, first_tx: int = 0) -> None:
            for entry in block_logs(block, first_tx):
                if criteria.matches(entry.log):
                    notify(sub_id, log_json(entry, block.header.timestamp))
                    sent.append((block.number, entry, block.header.timestamp))

        def on_mini_logs(event: MiniBlockPreconfirmed) -> None:
            on_logs(event.block, event.info.first_tx)

        def on_revert(event: ChainReverted) -> None:
            head = event.head.number
            removed = [item for item in sent if item[0] > head]
            for _, entry, timestamp in removed:
                notify(sub_id, log_json(entry, timestamp, removed=True))
            kept = [item for item in sent if item[0] <= head]
            sent.clear()
            sent.extend(kept)

        cancel_blocks = (
            node.subscribe_mini_blocks(on_mini_logs)
            if per_mini_block
            else node.subscribe_blocks(on_logs)
        )
        cancel_reverts = node.subscribe_reverts(on_revert)

        def cancel() -> None:
            cancel_blocks()
            cancel_reverts()

    elif kind == "transactionReceipts":
        wanted = _receipt_hashes(options)

        def on_receipts(block: MiniBlock) -> None:
            receipts = receipts_of(
                node,
                block,
                [
                    index
                    for index, tx in enumerate(block.transactions)
                    if wanted is None or tx.hash in wanted
                ],
            )
            if receipts:
                notify(sub_id, receipts)

        cancel = node.subscribe_blocks(on_receipts)
    elif kind == "miniBlocks":
        if options is not None:
            raise InvalidParams("invalid argument 1: miniBlocks takes no parameters")

        def on_mini_block(event: ChainEvent) -> None:
            if isinstance(event, MiniBlockPreconfirmed):
                first_tx = event.info.first_tx
            elif isinstance(event, BlockSealed) and event.mini is not None:
                first_tx = 0  # one tier: the sealed block is its own mini-block
            else:
                return
            assert event.mini is not None
            notify(
                sub_id, mini_block_json(node, event.block, first_tx, event.mini, event.signature)
            )

        cancel = node.subscribe(on_mini_block)
    elif kind == "stateChanges":
        watched = _watched_addresses(options)

        def on_state(event: ChainEvent) -> None:
            if isinstance(event, MiniBlockPreconfirmed):
                diff: StateDiff | None = event.diff
            elif isinstance(event, BlockSealed) and event.span is None:
                diff = event.block.diff
            else:
                return
            if diff is None:
                return
            head = node.head_state  # the state after this block or mini-block
            addresses = watched or tuple(dict.fromkeys([*diff.accounts, *diff.storage]))
            for address in addresses:
                if address not in diff.accounts and address not in diff.storage:
                    continue
                account = diff.accounts.get(address, head.get_account(address))
                slots = diff.storage.get(address, {})
                notify(
                    sub_id,
                    {
                        "address": data(address),
                        "nonce": account.nonce if account else 0,
                        "balance": quantity(account.balance if account else 0),
                        "storage": {
                            f"0x{slot:064x}": quantity(value) for slot, value in slots.items()
                        },
                    },
                )

        cancel = node.subscribe(on_state)
    elif kind == "replication":
        cancel = replication_subscription(node, connection, sub_id, options)
    elif kind == "blockStats":
        cancel = block_stats_subscription(node, notify, sub_id, options)
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
    connection.add_subscription(sub_id, cancel, key)
    return sub_id


def _subscription_key(kind: str, options: object) -> str:
    """What a subscription is to (MegaETH mode refuses the same one twice per
    connection): its kind and parameters, canonically."""
    try:
        return kind + json.dumps(options, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):  # not JSON-shaped: never a duplicate
        return f"{kind}#{id(options)}"


def _names_pending(options: object) -> bool:
    return isinstance(options, dict) and "pending" in (
        options.get("fromBlock"),
        options.get("toBlock"),
    )


def _watched_addresses(options: object) -> tuple[bytes, ...]:
    """MegaETH's stateChanges parameter: a list of addresses (at most
    ``MAX_WATCHED_ADDRESSES``), in the order notifications come; absent or empty, every
    account that changed (MegaETH's rule)."""
    if options is None:
        return ()
    if not isinstance(options, list) or len(options) > MAX_WATCHED_ADDRESSES:
        raise InvalidParams(
            f"invalid argument 1: stateChanges takes a list of at most "
            f"{MAX_WATCHED_ADDRESSES} addresses"
        )
    return tuple(dict.fromkeys(parse_address(item, 1) for item in options))


def mini_block_json(
    node: Node,
    block: MiniBlock,
    first_tx: int,
    mini: MiniBlockHeader,
    signature: MiniBlockSignature | None,
) -> dict[str, Any]:
    """MegaETH's miniBlocks notification (megaeth-labs/documentation, "Realtime API"):
    the signed header's fields (``index`` within its EVM block, the global
    ``mini_block_number``, the Unix-microsecond ``mini_block_timestamp`` of its seal, the
    ordered-trie roots of its own transactions and receipts), those transactions and
    receipts (transactions ``first_tx`` on of ``block``, the open EVM block's preview in
    two-tier mode, whose receipts carry the placeholder block hash), and the
    sequencer's ``signature`` as ``{r, s, yParity}`` (MegaETH Rex5)."""
    indices = range(first_tx, len(block.transactions))
    out: dict[str, Any] = {
        "block_number": quantity(mini.block_number),
        "block_timestamp": quantity(mini.block_timestamp),
        "index": quantity(mini.index),
        "mini_block_number": quantity(mini.mini_block_number),
        "mini_block_timestamp": quantity(mini.mini_block_timestamp),
        "gas_used": quantity(mini.gas_used),
        "transactions": [transaction_json(block.transactions[i], block, i) for i in indices],
        "receipts": receipts_of(node, block, indices),
        "transaction_root": data(mini.transaction_root),
        "receipt_root": data(mini.receipt_root),
    }
    if signature is not None:
        out["signature"] = {
            "r": quantity(signature.r),
            "s": quantity(signature.s),
            "yParity": quantity(signature.y_parity),
        }
    return out


def _receipt_hashes(options: object) -> frozenset[bytes] | None:
    """geth 1.16.5's ``transactionReceipts`` filter: ``{"transactionHashes": [...]}`` (at
    most ``MAX_RECEIPT_HASHES``), or none for every transaction."""
    if options is None:
        return None
    if not isinstance(options, dict) or set(options) - {"transactionHashes"}:
        raise InvalidParams(
            'invalid argument 1: expected {"transactionHashes": [hash, ...]} or nothing'
        )
    hashes = options.get("transactionHashes")
    if hashes is None:
        return None
    if not isinstance(hashes, list) or len(hashes) > MAX_RECEIPT_HASHES:
        raise InvalidParams(
            f"invalid argument 1: transactionHashes must be a list of at most "
            f"{MAX_RECEIPT_HASHES} hashes"
        )
    return frozenset(parse_hash(item, 1) for item in hashes)


@method("eth_unsubscribe")
async def unsubscribe(ctx: RequestContext, sub_id: str) -> bool:
    connection = ctx.connection
    if connection is None:
        raise NodeError("notifications not supported", code=-32601)
    return connection.remove_subscription(sub_id)
