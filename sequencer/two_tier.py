"""Two-tier blocks (MegaETH's model, ``--evm-block-time``): mini-blocks inside EVM blocks.

Owns the open EVM block between its seals: the transactions its mini-blocks have
preconfirmed, their receipts (cumulative gas and log indices counted from the EVM
block's start, as the sealed block will have them), each mini-block's record
(``MiniBlockInfo``), the preview block that reads of a preconfirmed transaction are
answered from (the placeholder block hash until the seal), a frozen copy of the open
state change for simulations off the loop, the journal that makes a preconfirmation
survive a kill (one chain-meta record per mini-block, deleted by the EVM block's
atomic commit), and the per-EVM-block mini-block span record (``newHeads``'
``miniBlockCount`` / ``miniBlockOffset``).

Mini-block numbers are global and never reused on a line of blocks: an EVM block's
first mini-block follows the last one of its parent. A block sealed with one tier
(or before two-tier mode was on) counts as one mini-block numbered as the block, the
single-tier ``miniBlocks`` subscription's numbering.

No EIP: this is a sequencer schedule. The EVM sees one block per EVM block (its
number, timestamp, base fee and system calls); mini-blocks only decide when a
transaction is preconfirmed.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from jit import rlp
from jit.evm.frame import BlockEnv
from sequencer.builder import Included, OpenBlock, build_receipts
from sequencer.mini_block_signing import MiniBlockHeader, MiniBlockSignature
from sequencer.trie import ordered_trie_root
from sequencer.types.blocks import (
    EMPTY_BLOOM,
    ZERO_HASH,
    Header,
    MiniBlock,
    Receipt,
    block_size_from,
    body_size,
)
from sequencer.types.transactions import Transaction
from statedb.types import Address, Hash32, StateDiff

# What a preconfirmed transaction's receipt, location and logs name as their block hash
# until the EVM block is sealed: MegaETH's realtime API placeholder, 32 bytes of 0xff
# (megaeth-labs/documentation, "Realtime API": receipts of mini-block transactions).
PRECONFIRMED_BLOCK_HASH: Final = b"\xff" * 32

JOURNAL_PREFIX: Final = b"open-evm/"  # chain meta: the open EVM block's journal
JOURNAL_ENV: Final = JOURNAL_PREFIX + b"env"
JOURNAL_MINI: Final = JOURNAL_PREFIX + b"mini/"  # + 4-byte big-endian mini-block index
SPAN_PREFIX: Final = b"mini-span/"  # chain meta: + 8-byte block number -> (offset, count)


def journal_mini_key(index: int) -> bytes:
    return JOURNAL_MINI + index.to_bytes(4, "big")


def span_key(number: int) -> bytes:
    return SPAN_PREFIX + number.to_bytes(8, "big")


class JournalError(ValueError):
    """A journal record that cannot be decoded."""


def _fields(raw: bytes, count: int, what: str) -> list[rlp.Item]:
    try:
        item = rlp.decode(raw)
    except ValueError as error:
        raise JournalError(f"unreadable {what} record: {error}") from None
    if not isinstance(item, list) or len(item) != count:
        raise JournalError(f"unreadable {what} record: expected a list of {count} items")
    return item


def _bytes(item: rlp.Item, size: int | None, what: str) -> bytes:
    if not isinstance(item, bytes) or (size is not None and len(item) != size):
        raise JournalError(f"unreadable {what} record: bad field")
    return item


@dataclass(frozen=True, slots=True)
class MiniBlockSpan:
    """The mini-blocks of a sealed EVM block: global numbers ``offset .. offset+count-1``."""

    offset: int
    count: int

    def encode(self) -> bytes:
        return rlp.encode([self.offset, self.count])

    @classmethod
    def decode(cls, raw: bytes) -> MiniBlockSpan:
        offset, count = _fields(raw, 2, "mini-block span")
        try:
            return cls(rlp.decode_uint(offset), rlp.decode_uint(count))
        except ValueError as error:
            raise JournalError(f"unreadable mini-block span record: {error}") from None


@dataclass(frozen=True, slots=True)
class MiniBlockInfo:
    """One preconfirmed mini-block: global ``number``, ``index`` within EVM block
    ``block_number``, its transactions ``first_tx .. first_tx + tx_count - 1`` of that
    block, the gas they used, and when it was sealed (Unix microseconds)."""

    number: int
    index: int
    block_number: int
    first_tx: int
    tx_count: int
    gas_used: int
    timestamp_us: int


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One journaled mini-block: its seal time and its transactions (raw encoding,
    sender, and whether it was sent unsigned by an impersonated account)."""

    timestamp_us: int
    transactions: tuple[tuple[bytes, Address, bool], ...]

    def encode(self) -> bytes:
        return rlp.encode(
            [
                self.timestamp_us,
                [[raw, sender, int(unsigned)] for raw, sender, unsigned in self.transactions],
            ]
        )

    @classmethod
    def decode(cls, raw: bytes) -> JournalEntry:
        what = "mini-block journal"
        stamp, txs = _fields(raw, 2, what)
        if not isinstance(txs, list):
            raise JournalError(f"unreadable {what} record: bad transaction list")
        transactions = []
        for tx in txs:
            if not isinstance(tx, list) or len(tx) != 3:
                raise JournalError(f"unreadable {what} record: bad transaction entry")
            flag = _bytes(tx[2], None, what)
            transactions.append(
                (_bytes(tx[0], None, what), _bytes(tx[1], 20, what), flag == b"\x01")
            )
        try:
            return cls(rlp.decode_uint(stamp), tuple(transactions))
        except ValueError as error:
            raise JournalError(f"unreadable {what} record: {error}") from None


def encode_env(env: BlockEnv, first_mini: int) -> bytes:
    """The open EVM block's environment (what a restart re-opens it with)."""
    return rlp.encode(
        [
            env.coinbase,
            env.number,
            env.timestamp,
            env.gas_limit,
            env.base_fee,
            env.prev_randao,
            env.excess_blob_gas,
            first_mini,
        ]
    )


@dataclass(frozen=True, slots=True)
class JournaledEnv:
    """An open EVM block's environment as it travels (the journal, a replica's copy):
    what ``Producer.env_of`` rebuilds its ``BlockEnv`` from."""

    coinbase: Address
    number: int
    timestamp: int
    gas_limit: int
    base_fee: int
    prev_randao: bytes
    excess_blob_gas: int
    first_mini: int


def decode_env(raw: bytes) -> JournaledEnv:
    what = "open-block"
    fields = _fields(raw, 8, what)
    coinbase, prev_randao = _bytes(fields[0], 20, what), _bytes(fields[5], 32, what)
    try:
        ints = [rlp.decode_uint(fields[i]) for i in (1, 2, 3, 4, 6, 7)]
    except ValueError as error:
        raise JournalError(f"unreadable {what} record: {error}") from None
    number, timestamp, gas_limit, base_fee, excess, first_mini = ints
    return JournaledEnv(
        coinbase, number, timestamp, gas_limit, base_fee, prev_randao, excess, first_mini
    )


@dataclass(slots=True)
class OpenEvmBlock:
    """The EVM block mini-blocks are being added to (mutable; the producer's)."""

    block: OpenBlock
    first_mini: int  # the global number of its first mini-block
    opened_at: float = field(default_factory=time.monotonic)
    included: list[Included] = field(default_factory=list)  # the sequencer's (for the seal)
    txs: list[Transaction] = field(default_factory=list)
    raws: list[bytes] = field(default_factory=list)
    receipts: list[Receipt] = field(default_factory=list)
    outputs: list[bytes] = field(default_factory=list)
    console: list[tuple[bytes, ...]] = field(default_factory=list)
    touched: list[frozenset[Address]] = field(default_factory=list)
    minis: list[MiniBlockInfo] = field(default_factory=list)
    tx_index: dict[Hash32, int] = field(default_factory=dict)
    tx_bytes: int = 0  # the preconfirmed transactions' summed body size (the preview's size)
    _preview: MiniBlock | None = None
    _frozen: StateDiff | None = None

    @property
    def env(self) -> BlockEnv:
        return self.block.env

    @property
    def next_mini(self) -> int:
        return self.first_mini + len(self.minis)

    def add(
        self,
        items: Sequence[Included],
        outputs: Sequence[bytes],
        console: Sequence[tuple[bytes, ...]],
        timestamp_us: int,
    ) -> MiniBlockInfo:
        """Record one mini-block of ``items`` (already applied to ``block``, in order)."""
        first = len(self.txs)
        gas_before = self.receipts[-1].cumulative_gas_used if self.receipts else 0
        receipts, _ = build_receipts(items, gas_before)
        info = MiniBlockInfo(
            self.next_mini,
            len(self.minis),
            self.block.env.number,
            first,
            len(items),
            sum(item.outcome.gas_used for item in items),
            timestamp_us,
        )
        for item in items:
            self.touched.append(item.outcome.touched)
        self._extend([item.tx for item in items], [item.raw for item in items])
        self.included.extend(items)
        self.receipts.extend(receipts)
        self.outputs.extend(outputs)
        self.console.extend(console)
        self.minis.append(info)
        self._preview = None
        self._frozen = None
        return info

    def preview(self) -> MiniBlock:
        """The open block as reads see it before the seal: its preconfirmed
        transactions and receipts under the placeholder hash, no roots."""
        if self._preview is None:
            env = self.block.env
            encoded = tuple(self.raws)
            header = Header(
                parent_hash=self.block.parent.hash,
                coinbase=env.coinbase,
                state_root=ZERO_HASH,
                transactions_root=ZERO_HASH,
                receipts_root=ZERO_HASH,
                logs_bloom=EMPTY_BLOOM,
                number=env.number,
                gas_limit=env.gas_limit,
                gas_used=self.block.header_gas_used,
                timestamp=env.timestamp,
                base_fee_per_gas=env.base_fee,
                withdrawals_root=ZERO_HASH,
                blob_gas_used=self.block.blob_gas_used,
                excess_blob_gas=env.excess_blob_gas,
                parent_beacon_block_root=env.parent_beacon_block_root or ZERO_HASH,
                requests_hash=ZERO_HASH,
                prev_randao=env.prev_randao,
            )
            self._preview = MiniBlock(
                header,
                PRECONFIRMED_BLOCK_HASH,
                tuple(self.txs),
                tuple(self.receipts),
                block_size_from(header, self.tx_bytes),
                encoded,
            )
        return self._preview

    def frozen_diff(self) -> StateDiff:
        """A copy of the open block's state change as of its last mini-block, for readers
        off the loop (the block's own diff keeps growing). One copy per mini-block."""
        if self._frozen is None:
            frozen = StateDiff()
            frozen.merge(self.block.diff)
            self._frozen = frozen
        return self._frozen

    def locate(self, tx_hash: Hash32) -> tuple[MiniBlock, int] | None:
        index = self.tx_index.get(tx_hash)
        return None if index is None else (self.preview(), index)

    def _extend(self, txs: Sequence[Transaction], raws: Sequence[bytes]) -> None:
        first = len(self.txs)
        for offset, (tx, raw) in enumerate(zip(txs, raws, strict=True)):
            self.tx_index[tx.hash] = first + offset
            self.tx_bytes += body_size(raw)
        self.txs.extend(txs)
        self.raws.extend(raws)

    def add_replicated(
        self,
        txs: Sequence[Transaction],
        raws: Sequence[bytes],
        receipts: Sequence[Receipt],
        diff: StateDiff,
        info: MiniBlockInfo,
    ) -> None:
        """A replica's copy of one preconfirmed mini-block (or, ``info.first_tx`` 0 with
        several transactions, the open block so far): its change is folded into the
        block's, its receipts kept as the sequencer made them."""
        self.block.diff.merge(diff)
        self.block.gas_used += sum(receipt.gas_used for receipt in receipts)
        self.block.blob_gas_used += sum(receipt.blob_gas_used for receipt in receipts)
        self._extend(txs, raws)
        self.receipts.extend(receipts)
        self.outputs.extend(b"" for _ in txs)
        self.console.extend(() for _ in txs)
        self.minis.append(info)
        self._preview = None
        self._frozen = None

    def span(self) -> MiniBlockSpan:
        return MiniBlockSpan(self.first_mini, len(self.minis))


@dataclass(frozen=True, slots=True)
class PreconfirmedCopy:
    """A replica's copy of a preconfirmed mini-block (or of the open block so far): its
    transactions, their receipts, its state change (wipes allowed), its info and, when
    signed, its header and signature."""

    parent_hash: Hash32
    transactions: tuple[Transaction, ...]
    raws: tuple[bytes, ...]
    receipts: tuple[Receipt, ...]
    diff: StateDiff
    info: MiniBlockInfo
    mini: MiniBlockHeader | None = None
    signature: MiniBlockSignature | None = None


def mini_block_header(
    info: MiniBlockInfo,
    block_timestamp: int,
    raws: Sequence[bytes],
    receipts: Sequence[Receipt],
) -> MiniBlockHeader:
    """The header a two-tier mini-block is signed over: its place, its gas and the
    ordered-trie roots of its own transactions and receipts."""
    return MiniBlockHeader(
        info.block_number,
        block_timestamp,
        info.index,
        info.number,
        info.timestamp_us,
        info.gas_used,
        ordered_trie_root(list(raws)),
        ordered_trie_root([receipt.consensus_encoding() for receipt in receipts]),
    )


def mini_block_diff(items: Sequence[Included], pre_block: StateDiff | None) -> StateDiff:
    """What one mini-block changed: ``pre_block`` (the EVM block's edits and system
    calls, for its first mini-block) and each transaction's state change. The
    coinbase's fee credits are not in it (they are in the EVM block's diff)."""
    diff = StateDiff()
    if pre_block is not None:
        diff.merge(pre_block)
    for item in items:
        diff.merge(item.outcome.diff)
    return diff
