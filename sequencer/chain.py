"""The chain: sealed blocks, receipts, the transaction and log indexes.

Owns how ``MiniBlock``s are written into statedb's chain column families (in the
same WriteBatch as their state, so a block and its state land together or not
at all) and every read of them: by number, by hash, transaction location, logs
(via the address/topic index), and the block hashes BLOCKHASH reads
(``block_hashes_at``: an immutable reader pinned at a block, over an append-only
log). Recent blocks stay decoded in memory, so RPC reads of the head do not touch
RocksDB.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final

from jit.evm.block_hashes import BlockHashes, BlockHashLog
from sequencer.errors import InvalidInput
from sequencer.types.blocks import ChainLog, IndexKeys, MiniBlock, Receipt, decode_stored_block
from sequencer.types.transactions import Transaction
from statedb import StateDB
from statedb.keys import (
    CF_ADDRESS_INDEX,
    CF_BLOCK_HASHES,
    CF_BLOCKS,
    CF_CHAIN_META,
    CF_LOG_INDEX,
    CF_RECEIPTS,
    CF_TX_INDEX,
    address_index_key,
    block_number_key,
    log_index_key,
    tx_index_value,
)
from statedb.types import Address, Hash32

RECENT_BLOCKS: Final = 2048
BLOCKHASH_WINDOW: Final = 256
MAX_LOG_RESULTS: Final = 10_000
MAX_LOG_BLOCK_RANGE: Final = 100_000


@dataclass(frozen=True, slots=True)
class LogEntry:
    """A log with its position, as eth_getLogs and subscriptions report it."""

    log: ChainLog
    block_number: int
    block_hash: Hash32
    tx_index: int
    tx_hash: Hash32
    log_index: int


@dataclass(frozen=True, slots=True)
class LogFilter:
    """Addresses (any of; empty = all) and topic positions (None = any; else any of)."""

    from_block: int
    to_block: int
    addresses: frozenset[Address] = frozenset()
    topics: tuple[frozenset[Hash32] | None, ...] = ()

    def matches(self, log: ChainLog) -> bool:
        if self.addresses and log.address not in self.addresses:
            return False
        if len(self.topics) > len(log.topics):
            return False
        for wanted, topic in zip(self.topics, log.topics, strict=False):
            if wanted is not None and topic not in wanted:
                return False
        return True


def block_logs(block: MiniBlock, first_tx: int = 0) -> Iterator[LogEntry]:
    """The block's logs with their positions; from transaction ``first_tx`` on (a
    mini-block's own in the open block's preview), log indices still counted from the
    block's first log."""
    index = sum(len(receipt.logs) for receipt in block.receipts[:first_tx])
    pairs = zip(block.transactions[first_tx:], block.receipts[first_tx:], strict=True)
    for tx_index, (tx, receipt) in enumerate(pairs, first_tx):
        for log in receipt.logs:
            yield LogEntry(log, block.number, block.hash, tx_index, tx.hash, index)
            index += 1


# The chain record families a new block only adds to: keyed by its number, its hash, its
# transactions' hashes (a hash is mined once; a revert deletes its records) and its logs'
# positions. ``StateDB.commit(fresh=...)`` skips reading their previous values.
FRESH_CHAIN_CFS: Final = frozenset(
    {CF_BLOCKS, CF_BLOCK_HASHES, CF_RECEIPTS, CF_TX_INDEX, CF_LOG_INDEX, CF_ADDRESS_INDEX}
)


def block_appearances(
    block: MiniBlock, touched: Sequence[frozenset[Address]] | None = None
) -> dict[bytes, bytes | None]:
    """The address-index records of ``block``: for each transaction, its sender, its
    recipient, the contract it created, every address that emitted a log in it, and,
    when the executor's outcomes are given (``TxOutcome.touched``: what the sealing
    producer has), every address one of its frames called, ran as, borrowed code from
    or paid by SELFDESTRUCT, reverted frames included."""
    out: dict[bytes, bytes | None] = {}
    number = block.number
    for index, (tx, receipt) in enumerate(zip(block.transactions, block.receipts, strict=True)):
        seen: set[Address] = set(touched[index]) if touched is not None else set()
        seen.add(tx.sender)
        touched_here = seen
        if tx.to is not None:
            touched_here.add(tx.to)
        if receipt.contract_address is not None:
            touched_here.add(receipt.contract_address)
        touched_here.update(log.address for log in receipt.logs)
        for address in touched_here:
            out[address_index_key(address, number, index)] = b""
    return out


def index_keys(records: dict[str, dict[bytes, bytes | None]]) -> IndexKeys:
    """The log- and address-index keys among a block's chain records (``Chain.records``):
    what its published copy carries to followers."""
    return IndexKeys(tuple(records.get(CF_LOG_INDEX, ())), tuple(records.get(CF_ADDRESS_INDEX, ())))


class Chain:
    """Reads and the chain-record half of each block's commit. Single writer."""

    def __init__(
        self,
        db: StateDB,
        *,
        floor: int = 0,
        upstream_hash: Callable[[int], Hash32 | None] | None = None,
    ) -> None:
        """``floor``: the chain's first block (fork mode: the fork block, with
        ``upstream_hash`` answering BLOCKHASH for the upstream's blocks below it)."""
        self.db = db
        self.reload(floor, upstream_hash)

    def reload(
        self, floor: int = 0, upstream_hash: Callable[[int], Hash32 | None] | None = None
    ) -> None:
        """Read the chain from the database again (it was cleared and started anew:
        fork mode's reset to another fork point)."""
        db = self.db
        self._recent: OrderedDict[int, MiniBlock] = OrderedDict()
        self.head: MiniBlock | None = None
        self._floor = floor
        self._upstream_hash = upstream_hash
        head_number = db.head_number
        first = max(floor, head_number - BLOCKHASH_WINDOW)
        # Hashes older than the log come from the stored blocks (a historical eth_call).
        self._hashes = BlockHashLog(first, self._stored_hash)
        if head_number >= 0:
            self.head = self.block_by_number(head_number)
            if self.head is None:
                raise RuntimeError(f"block {head_number} is missing from the database")
            for number in range(first, head_number + 1):
                block = self.block_by_number(number)
                self._hashes.append(number, None if block is None else block.hash)

    # ------------------------------------------------------------- writing

    def records(
        self, block: MiniBlock, touched: Sequence[frozenset[Address]] | None = None
    ) -> dict[str, dict[bytes, bytes | None]]:
        """The chain records of ``block`` for ``StateDB.commit``; ``touched``: each
        transaction's ``TxOutcome.touched`` (for the address index)."""
        number = block.number
        key = block_number_key(number)
        tx_index: dict[bytes, bytes | None] = {
            tx_hash: tx_index_value(number, i) for i, tx_hash in enumerate(block.tx_hashes)
        }
        log_index: dict[bytes, bytes | None]
        appearances: dict[bytes, bytes | None]
        if block.index is not None:  # a published block: the sequencer's own index
            log_index = dict.fromkeys(block.index.logs, b"")
            appearances = dict.fromkeys(block.index.addresses, b"")
        else:
            log_index = {}
            for entry in block_logs(block):
                log_index[log_index_key(entry.log.address, number, entry.log_index)] = b""
                for topic in entry.log.topics:
                    log_index[log_index_key(topic, number, entry.log_index)] = b""
            appearances = block_appearances(block, touched)
        records: dict[str, dict[bytes, bytes | None]] = {
            CF_BLOCKS: {key: block.encode_for_storage()},
            CF_BLOCK_HASHES: {block.hash: key},
            CF_RECEIPTS: {key: block.encode_receipts()},
        }
        if tx_index:
            records[CF_TX_INDEX] = tx_index
        if log_index:
            records[CF_LOG_INDEX] = log_index
        if appearances:
            records[CF_ADDRESS_INDEX] = appearances
        return records

    def appearances(
        self, address: bytes, block: int, before: bool, limit: int
    ) -> list[tuple[int, int]]:
        """(block, transaction index) of the transactions that touched ``address``
        (``block_appearances``) in blocks strictly before ``block`` (newest first) or,
        when not ``before``, strictly after it (oldest first); at most ``limit``."""
        if limit <= 0:
            return []
        if before:
            start, end = address, address + max(0, block).to_bytes(8, "big")
        else:
            start, end = address + (block + 1).to_bytes(8, "big"), address + b"\xff" * 12
        out = []
        for key, _ in self.db.records(CF_ADDRESS_INDEX, start, end, reverse=before):
            if len(key) != 32 or key[:20] != address:
                continue
            out.append((int.from_bytes(key[20:28], "big"), int.from_bytes(key[28:], "big")))
            if len(out) >= limit:
                break
        return out

    def appended(self, block: MiniBlock) -> None:
        """Called once ``block`` is committed: it becomes the head."""
        self.head = block
        self._remember(block)
        self._hashes.append(block.number, block.hash)

    def reverted_to(self, number: int) -> None:
        """The database was reverted to ``number``: forget every later block."""
        for n in [n for n in self._recent if n > number]:
            del self._recent[n]
        self._hashes.truncate(number)
        self.head = self.block_by_number(number)

    def _remember(self, block: MiniBlock) -> None:
        recent = self._recent
        recent[block.number] = block
        if len(recent) > RECENT_BLOCKS:
            recent.popitem(last=False)

    # ------------------------------------------------------------- reading

    @property
    def head_number(self) -> int:
        return -1 if self.head is None else self.head.number

    def block_hashes_at(self, number: int) -> BlockHashes:
        """What BLOCKHASH reads in a block at ``number`` (its hashes of blocks before
        ``number``; O(1), and unchanged by later blocks or reverts)."""
        return self._hashes.view(number)

    @property
    def block_hashes(self) -> BlockHashes:
        """``block_hashes_at(head + 1)``: what the next block's BLOCKHASH reads."""
        return self._hashes.view(self.head_number + 1)

    def _stored_hash(self, number: int) -> Hash32 | None:
        if number < self._floor and self._upstream_hash is not None:
            return self._upstream_hash(number)
        block = self.block_by_number(number)
        return None if block is None else block.hash

    @property
    def first_block(self) -> MiniBlock | None:
        """The chain's first block: the genesis, or in fork mode the fork block."""
        return self.block_by_number(self._floor)

    def block_by_number(self, number: int) -> MiniBlock | None:
        block = self._recent.get(number)
        if block is not None:
            return block
        if not 0 <= number <= self.db.head_number:
            return None
        key = block_number_key(number)
        raw = self.db.get_record(CF_BLOCKS, key)
        receipts = self.db.get_record(CF_RECEIPTS, key)
        if raw is None or receipts is None:
            return None
        return decode_stored_block(raw, receipts)

    def block_by_hash(self, block_hash: Hash32) -> MiniBlock | None:
        head = self.head
        if head is not None and head.hash == block_hash:
            return head
        number = self.db.get_record(CF_BLOCK_HASHES, block_hash)
        if number is None:
            return None
        return self.block_by_number(int.from_bytes(number, "big"))

    def number_of_hash(self, block_hash: Hash32) -> int | None:
        number = self.db.get_record(CF_BLOCK_HASHES, block_hash)
        return None if number is None else int.from_bytes(number, "big")

    def locate(self, tx_hash: Hash32) -> tuple[MiniBlock, int] | None:
        """The block holding ``tx_hash`` and the transaction's index in it."""
        where = self.db.get_record(CF_TX_INDEX, tx_hash)
        if where is None:
            return None
        block = self.block_by_number(int.from_bytes(where[:8], "big"))
        if block is None:
            return None
        return block, int.from_bytes(where[8:12], "big")

    def transaction(self, tx_hash: Hash32) -> tuple[Transaction, MiniBlock, int] | None:
        found = self.locate(tx_hash)
        if found is None:
            return None
        block, index = found
        return block.transactions[index], block, index

    def receipt(self, tx_hash: Hash32) -> tuple[Receipt, MiniBlock, int] | None:
        found = self.locate(tx_hash)
        if found is None:
            return None
        block, index = found
        return block.receipts[index], block, index

    def logs(self, query: LogFilter) -> list[LogEntry]:
        """Logs matching ``query``, in chain order; raises ``InvalidInput`` past the limits."""
        out: list[LogEntry] = []
        for entry in self._matching(query):
            out.append(entry)
            if len(out) > MAX_LOG_RESULTS:
                raise InvalidInput(
                    f"query returned more than {MAX_LOG_RESULTS} results; narrow the "
                    "block range or add an address or topic"
                )
        return out

    def logs_page(
        self, query: LogFilter, after: tuple[int, int] | None, limit: int
    ) -> tuple[list[LogEntry], bool]:
        """At most ``limit`` logs matching ``query`` that come after position ``after``
        (block number, log index) in chain order, and whether more remain (a cursor's
        page: MegaETH's eth_getLogsWithCursor)."""
        if after is not None and after[0] > query.from_block:
            query = LogFilter(after[0], query.to_block, query.addresses, query.topics)
        out: list[LogEntry] = []
        for entry in self._matching(query):
            if after is not None and (entry.block_number, entry.log_index) <= after:
                continue
            if len(out) == limit:
                return out, True
            out.append(entry)
        return out, False

    def _matching(self, query: LogFilter) -> Iterator[LogEntry]:
        start, end = query.from_block, min(query.to_block, self.head_number)
        if start > end:
            return
        candidates = self._indexed_blocks(query, start, end)
        if candidates is None and end - start + 1 > MAX_LOG_BLOCK_RANGE:
            raise InvalidInput(
                f"query block range too large: {end - start + 1} blocks, limit "
                f"{MAX_LOG_BLOCK_RANGE} without an address or topic"
            )
        numbers: Sequence[int] = range(start, end + 1) if candidates is None else candidates
        for number in numbers:
            block = self.block_by_number(number)
            if block is None:
                continue
            for entry in block_logs(block):
                if query.matches(entry.log):
                    yield entry

    def _indexed_blocks(self, query: LogFilter, start: int, end: int) -> list[int] | None:
        """Blocks that may hold a match: the intersection, over the address set and every
        topic position the query constrains, of the blocks the index lists for any of
        that position's values. The index keys each log under its address and under
        every topic it carries (whatever the position), so a block listed for a value
        is a candidate and ``LogFilter.matches`` decides. None when the query
        constrains nothing: every block in the range is a candidate."""
        term_sets: list[frozenset[bytes]] = []
        if query.addresses:
            term_sets.append(query.addresses)
        term_sets.extend(wanted for wanted in query.topics if wanted is not None)
        if not term_sets:
            return None
        candidates: set[int] | None = None
        for terms in term_sets:
            found = self._blocks_listing(terms, start, end)
            candidates = found if candidates is None else candidates & found
            if not candidates:
                return []
        assert candidates is not None
        return sorted(candidates)

    def _blocks_listing(self, terms: frozenset[bytes], start: int, end: int) -> set[int]:
        found: set[int] = set()
        stop = (end + 1).to_bytes(8, "big")
        for term in terms:
            width = len(term) + 12
            for key, _ in self.db.records(
                CF_LOG_INDEX, term + start.to_bytes(8, "big"), term + stop
            ):
                if len(key) == width:
                    found.add(int.from_bytes(key[len(term) : len(term) + 8], "big"))
        return found

    # ------------------------------------------------------------- metadata

    def meta(self, key: bytes) -> bytes | None:
        return self.db.get_record(CF_CHAIN_META, key)
