"""Block headers, receipts, logs and the published ``MiniBlock``; their encodings.

Owns the post-Prague header (EIP-1559 base fee, EIP-4895 withdrawals root,
EIP-4844 blob gas, EIP-4788 parent beacon root, EIP-7685 requests hash; from
Amsterdam the EIP-7928 block access list hash and the EIP-7843 slot number), the
typed receipt encoding (EIP-2718), the 2048-bit logs bloom, and the storage
encodings of blocks and receipts in statedb's chain column families.

A ``MiniBlock`` is plain frozen data: the one thing the producer publishes;
RPC views, subscriptions and filters are fed from it (DESIGN §1).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from jit import rlp
from jit.rlp import decode_uint
from sequencer.types.transactions import Transaction, decode_transaction
from statedb.types import Address, Hash32, StateDiff, keccak256

EMPTY_OMMERS_HASH: Final = keccak256(rlp.encode([]))
# EIP-7685: the requests hash of a block with no requests.
EMPTY_REQUESTS_HASH: Final = hashlib.sha256(b"").digest()
ZERO_HASH: Final = b"\x00" * 32
EMPTY_BLOOM: Final = b"\x00" * 256


@dataclass(frozen=True, slots=True)
class Header:
    parent_hash: Hash32
    coinbase: Address
    state_root: Hash32
    transactions_root: Hash32
    receipts_root: Hash32
    logs_bloom: bytes
    number: int
    gas_limit: int
    gas_used: int
    timestamp: int
    base_fee_per_gas: int
    withdrawals_root: Hash32
    blob_gas_used: int
    excess_blob_gas: int
    parent_beacon_block_root: Hash32
    requests_hash: Hash32
    extra_data: bytes = b""
    prev_randao: Hash32 = ZERO_HASH
    ommers_hash: Hash32 = EMPTY_OMMERS_HASH
    difficulty: int = 0
    nonce: bytes = b"\x00" * 8
    # Amsterdam (``ForkRules.eip7928``): the 22nd and 23rd fields, in this order, as the
    # execution-specs and geth encode them; None (absent) before Amsterdam, both or neither.
    block_access_list_hash: Hash32 | None = None  # EIP-7928
    slot_number: int | None = None  # EIP-7843

    def __post_init__(self) -> None:
        if (self.block_access_list_hash is None) != (self.slot_number is None):
            raise ValueError("an Amsterdam header has both the access list hash and the slot")

    def fields(self) -> list[object]:
        amsterdam: list[object] = (
            []
            if self.block_access_list_hash is None
            else [self.block_access_list_hash, self.slot_number]
        )
        return [
            self.parent_hash,
            self.ommers_hash,
            self.coinbase,
            self.state_root,
            self.transactions_root,
            self.receipts_root,
            self.logs_bloom,
            self.difficulty,
            self.number,
            self.gas_limit,
            self.gas_used,
            self.timestamp,
            self.extra_data,
            self.prev_randao,
            self.nonce,
            self.base_fee_per_gas,
            self.withdrawals_root,
            self.blob_gas_used,
            self.excess_blob_gas,
            self.parent_beacon_block_root,
            self.requests_hash,
            *amsterdam,
        ]

    def encode(self) -> bytes:
        return rlp.encode(self.fields())  # type: ignore[arg-type]

    def hash(self) -> Hash32:
        return keccak256(self.encode())

    @classmethod
    def from_fields(cls, f: Sequence[rlp.Item]) -> Header:
        b = [x for x in f if isinstance(x, bytes)]
        if len(b) != len(f) or len(f) not in (21, 23):
            raise ValueError("header must have 21 (23 from Amsterdam) byte-string fields")
        amsterdam = len(f) == 23
        if amsterdam and len(b[21]) != 32:
            raise ValueError("header's block access list hash is not 32 bytes")
        return cls(
            parent_hash=b[0],
            ommers_hash=b[1],
            coinbase=b[2],
            state_root=b[3],
            transactions_root=b[4],
            receipts_root=b[5],
            logs_bloom=b[6],
            difficulty=decode_uint(b[7]),
            number=decode_uint(b[8]),
            gas_limit=decode_uint(b[9]),
            gas_used=decode_uint(b[10]),
            timestamp=decode_uint(b[11]),
            extra_data=b[12],
            prev_randao=b[13],
            nonce=b[14],
            base_fee_per_gas=decode_uint(b[15]),
            withdrawals_root=b[16],
            blob_gas_used=decode_uint(b[17]),
            excess_blob_gas=decode_uint(b[18]),
            parent_beacon_block_root=b[19],
            requests_hash=b[20],
            block_access_list_hash=b[21] if amsterdam else None,
            slot_number=decode_uint(b[22], max_bits=64, name="slot number") if amsterdam else None,
        )


@dataclass(frozen=True, slots=True)
class ChainLog:
    """A log as emitted; its position (block, tx, index) comes from where it is stored."""

    address: Address
    topics: tuple[Hash32, ...]
    data: bytes

    def fields(self) -> list[object]:
        return [self.address, list(self.topics), self.data]


def encode_logs(logs: Sequence[ChainLog]) -> bytes:
    """The RLP list of ``logs``, as receipts carry it."""
    return rlp.encode([log.fields() for log in logs])  # type: ignore[misc]


@dataclass(frozen=True, slots=True)
class Receipt:
    """The outcome of one included transaction (consensus fields + what RPC shows)."""

    tx_type: int
    status: int  # 1 success, 0 failure
    cumulative_gas_used: int
    gas_used: int
    effective_gas_price: int
    contract_address: Address | None
    blob_gas_used: int
    logs: tuple[ChainLog, ...]
    logs_bloom: bytes
    # rlp of ``logs`` when the producer made it (both encodings below share it); b"": not made
    logs_rlp: bytes = field(default=b"", compare=False, repr=False)

    def _logs_item(self) -> rlp.Encoded:
        return rlp.Encoded(self.logs_rlp or encode_logs(self.logs))

    def consensus_encoding(self) -> bytes:
        body = rlp.encode(
            [self.status, self.cumulative_gas_used, self.logs_bloom, self._logs_item()]
        )
        return body if self.tx_type == 0 else bytes((self.tx_type,)) + body

    def storage_fields(self) -> list[object]:
        return [
            self.tx_type,
            self.status,
            self.cumulative_gas_used,
            self.gas_used,
            self.effective_gas_price,
            self.contract_address or b"",
            self.blob_gas_used,
            self._logs_item(),
        ]

    @classmethod
    def from_storage(cls, f: Sequence[rlp.Item]) -> Receipt:
        logs_raw = f[7]
        if not isinstance(logs_raw, list):
            raise ValueError("bad receipt record")
        logs = tuple(_log_from_fields(item) for item in logs_raw)
        contract = f[5]
        assert isinstance(contract, bytes)
        return cls(
            tx_type=_uint(f[0]),
            status=_uint(f[1]),
            cumulative_gas_used=_uint(f[2]),
            gas_used=_uint(f[3]),
            effective_gas_price=_uint(f[4]),
            contract_address=contract or None,
            blob_gas_used=_uint(f[6]),
            logs=logs,
            logs_bloom=logs_bloom(logs),
        )


def _uint(item: rlp.Item) -> int:
    if not isinstance(item, bytes):
        raise ValueError("expected an integer field")
    return decode_uint(item)


def _log_from_fields(item: rlp.Item) -> ChainLog:
    if not isinstance(item, list) or len(item) != 3:
        raise ValueError("bad log record")
    address, topics, data = item
    if not isinstance(address, bytes) or not isinstance(topics, list):
        raise ValueError("bad log record")
    if not isinstance(data, bytes) or not all(isinstance(t, bytes) for t in topics):
        raise ValueError("bad log record")
    return ChainLog(address, tuple(t for t in topics if isinstance(t, bytes)), data)


def bloom_bits(value: bytes) -> int:
    """The three bloom bits of ``value`` (yellow paper M3:2048), as an int mask."""
    digest = keccak256(value)
    mask = 0
    for i in (0, 2, 4):
        mask |= 1 << (((digest[i] << 8) | digest[i + 1]) & 2047)
    return mask


def logs_bloom(logs: Iterable[ChainLog]) -> bytes:
    bloom = 0
    for log in logs:
        bloom |= bloom_bits(log.address)
        for topic in log.topics:
            bloom |= bloom_bits(topic)
    return bloom.to_bytes(256, "big")


def bloom_may_contain(bloom: bytes, value: bytes) -> bool:
    mask = bloom_bits(value)
    return int.from_bytes(bloom, "big") & mask == mask


@dataclass(frozen=True, slots=True)
class IndexKeys:
    """The index records a block's commit adds beyond its own block, receipts and
    transaction-hash records, as keys (their values are empty): the log index
    (``statedb.keys.log_index_key``: each log's address and topics) and the address
    index (``address_index_key``: every address each transaction touched, inner calls
    included, which only the executing sequencer knows)."""

    logs: tuple[bytes, ...]
    addresses: tuple[bytes, ...]


class MiniBlock:
    """A sealed block: what the producer publishes and what every reader is fed.

    Plain frozen data. ``diff`` is the block's normalised state change (only real
    changes; wipes expanded into zero writes of the slots that existed; a deleted
    account is None), read-only. Every block the sequencer publishes carries it; a block
    decoded from the chain records has None (the records keep pre-images, in the
    changesets, not the diff). ``index``: the index keys its commit wrote
    (``IndexKeys``), carried by published blocks so a follower writes the sequencer's
    exact index without deriving it from the receipts.

    A block read back from its chain records (``decode_stored_block``) splits the block
    record at once (header, each transaction's encoding and sender, the size) and
    decodes the transactions and receipts on first use: a replica applying a block and
    a reader asking for a header never pay for them. Two threads that touch them first
    together both decode them; both results are equal and either is kept.
    """

    __slots__ = (
        "_receipts",
        "_senders",
        "_transactions",
        "diff",
        "encoded",
        "hash",
        "header",
        "index",
        "size",
        "stored",
    )

    header: Header
    hash: Hash32
    size: int
    encoded: tuple[bytes, ...]  # each transaction's canonical encoding, in order
    diff: StateDiff | None
    # The chain records it was decoded from (block, receipts), kept so that writing the
    # block again (a replica applying it) does not re-encode them.
    stored: tuple[bytes, bytes] | None
    index: IndexKeys | None
    _transactions: tuple[Transaction, ...] | None
    _receipts: tuple[Receipt, ...] | None
    _senders: tuple[Address, ...] | None

    def __init__(
        self,
        header: Header,
        hash: Hash32,
        transactions: tuple[Transaction, ...] | None,
        receipts: tuple[Receipt, ...] | None,
        size: int,
        encoded: tuple[bytes, ...],
        diff: StateDiff | None = None,
        stored: tuple[bytes, bytes] | None = None,
        index: IndexKeys | None = None,
        senders: tuple[Address, ...] | None = None,
    ) -> None:
        if (transactions is None and (stored is None or senders is None)) or (
            receipts is None and stored is None
        ):
            raise ValueError("a block without decoded transactions or receipts needs its records")
        init = object.__setattr__
        init(self, "header", header)
        init(self, "hash", hash)
        init(self, "size", size)
        init(self, "encoded", encoded)
        init(self, "diff", diff)
        init(self, "stored", stored)
        init(self, "index", index)
        init(self, "_transactions", transactions)
        init(self, "_receipts", receipts)
        init(self, "_senders", senders)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"MiniBlock is frozen: cannot set {name}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"MiniBlock is frozen: cannot delete {name}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MiniBlock):
            return NotImplemented
        return (
            self.hash == other.hash
            and self.header == other.header
            and self.size == other.size
            and self.encoded == other.encoded
            and self.transactions == other.transactions
            and self.receipts == other.receipts
        )

    def __hash__(self) -> int:
        return hash(self.hash)

    def __repr__(self) -> str:
        return (
            f"MiniBlock(number={self.header.number}, hash=0x{self.hash.hex()}, "
            f"transactions={len(self.encoded)})"
        )

    def published(self, diff: StateDiff | None = None, index: IndexKeys | None = None) -> MiniBlock:
        """This block carrying ``diff`` and ``index`` (what is published with it)."""
        return MiniBlock(
            self.header,
            self.hash,
            self._transactions,
            self._receipts,
            self.size,
            self.encoded,
            diff,
            self.stored,
            index,
            self._senders,
        )

    @property
    def transactions(self) -> tuple[Transaction, ...]:
        txs = self._transactions
        if txs is None:
            senders = self._senders
            assert senders is not None  # the constructor checks it
            txs = tuple(
                decode_transaction(raw, known_sender=sender)
                for raw, sender in zip(self.encoded, senders, strict=True)
            )
            object.__setattr__(self, "_transactions", txs)
        return txs

    @property
    def receipts(self) -> tuple[Receipt, ...]:
        receipts = self._receipts
        if receipts is None:
            assert self.stored is not None  # the constructor checks it
            receipts = decode_receipts(self.stored[1])
            object.__setattr__(self, "_receipts", receipts)
        return receipts

    @property
    def senders(self) -> tuple[Address, ...]:
        """Each transaction's sender, without decoding the transactions."""
        if self._senders is not None:
            return self._senders
        return tuple(tx.sender for tx in self.transactions)

    @property
    def tx_hashes(self) -> tuple[Hash32, ...]:
        """Each transaction's hash, without decoding the transactions."""
        if self._transactions is not None:
            return tuple(tx.hash for tx in self._transactions)
        return tuple(keccak256(raw) for raw in self.encoded)

    @property
    def number(self) -> int:
        return self.header.number

    def encode_consensus(self) -> bytes:
        """The block as the network encodes it: [header, transactions, ommers,
        withdrawals] (legacy transactions as RLP lists, typed ones as byte strings; no
        ommers, and no withdrawals on this chain), as debug_getRawBlock answers it."""
        txs = [raw if raw[0] < 0xC0 else rlp.decode(raw) for raw in self.encoded]
        return rlp.encode([self.header.fields(), txs, [], []])  # type: ignore[list-item]

    def encode_for_storage(self) -> bytes:
        """[header fields, [[tx encoding, sender], ...]]; receipts are stored apart."""
        if self.stored is not None:
            return self.stored[0]
        return rlp.encode(
            [
                self.header.fields(),  # type: ignore[list-item]
                [[raw, tx.sender] for raw, tx in zip(self.encoded, self.transactions, strict=True)],
            ]
        )

    def encode_receipts(self) -> bytes:
        if self.stored is not None:
            return self.stored[1]
        return rlp.encode([r.storage_fields() for r in self.receipts])  # type: ignore[misc]


def _list_prefix(length: int) -> bytes:
    if length < 56:
        return bytes((0xC0 + length,))
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((0xF7 + len(size),)) + size


def block_size(header: Header, encoded: Sequence[bytes]) -> int:
    """The RLP size of [header, txs, ommers, withdrawals], as eth_getBlock's ``size``.

    Legacy transactions sit in the body as RLP lists, typed ones as byte strings.
    """
    return block_size_from(header, sum(body_size(raw) for raw in encoded))


def body_size(raw: bytes) -> int:
    """What one transaction adds to its block's body (a typed one is an RLP string)."""
    size = len(raw)
    if raw[0] >= 0xC0 or (size == 1 and raw[0] < 0x80):
        return size
    # An RLP string's header: one byte below 56 bytes, else one plus the length's bytes.
    return size + 1 + (0 if size < 56 else (size.bit_length() + 7) // 8)


def block_size_from(header: Header, tx_bytes: int) -> int:
    """``block_size`` from the transactions' summed ``body_size`` (kept as they come)."""
    body = len(header.encode()) + len(_list_prefix(tx_bytes)) + tx_bytes + 2
    return len(_list_prefix(body)) + body


def decode_stored_block(block_bytes: bytes, receipts_bytes: bytes) -> MiniBlock:
    """Inverse of ``encode_for_storage`` / ``encode_receipts``; senders are not
    re-recovered. The block record is split here (``ValueError`` if it is malformed);
    the transactions and the receipts are decoded on first use (``MiniBlock``)."""
    decoded = rlp.decode(block_bytes)
    if not isinstance(decoded, list) or len(decoded) != 2:
        raise ValueError("bad block record")
    header_fields, tx_items = decoded
    if not isinstance(header_fields, list) or not isinstance(tx_items, list):
        raise ValueError("bad block record")
    header = Header.from_fields(header_fields)
    senders = []
    encoded = []
    for item in tx_items:
        if not isinstance(item, list) or len(item) != 2:
            raise ValueError("bad block record")
        raw, sender = item
        if not isinstance(raw, bytes) or not raw or not isinstance(sender, bytes):
            raise ValueError("bad block record")
        if len(sender) != 20:
            raise ValueError("bad block record: a sender is not 20 bytes")
        senders.append(sender)
        encoded.append(raw)
    return MiniBlock(
        header,
        header.hash(),
        None,
        None,
        block_size(header, encoded),
        tuple(encoded),
        stored=(bytes(block_bytes), bytes(receipts_bytes)),
        senders=tuple(senders),
    )


def decode_receipts(receipts_bytes: bytes) -> tuple[Receipt, ...]:
    """A block's receipts record (``MiniBlock.encode_receipts``); ``ValueError`` if it
    is malformed."""
    receipts_raw = rlp.decode(receipts_bytes)
    if not isinstance(receipts_raw, list):
        raise ValueError("bad receipts record")
    receipts = []
    for r in receipts_raw:
        if not isinstance(r, list) or len(r) != 8:
            raise ValueError("bad receipts record")
        receipts.append(Receipt.from_storage(r))
    return tuple(receipts)
