"""The published MiniBlock as bytes: the compact encoding that crosses a process boundary.

Owns the byte layout of a block's state diff and of a whole published block (header,
transactions with their senders, receipts, diff), for worker processes and, later,
replicas that follow the sequencer. Decoding is strict (a truncated, padded or
inconsistent record raises ``WireError``) and never runs code: it is safe on bytes
from another process or the network.

Diff layout (all integers big-endian, fixed width, so decoding is slicing)::

    accounts:  count (4), then per account: address (20) | flag (1: 0 deleted, 1 present)
               | nonce (8) | balance (32) | code hash (32)       (flag 0: zeros after it)
    storage:   count (4), then per address: address (20) | n (4) | n x (slot 32 | value 32)
    codes:     count (4), then per code: length (4) | code     (its hash is recomputed)

A published diff is normalised (``sequencer.builder.published_diff``): no wipes, a
deleted account is ``None``, so ``storage_cleared`` is not encoded and must be empty.

Index layout (``IndexKeys``: the keys the sequencer's commit wrote in the log and
address indexes; every key ends with the block number (8) and a position (4))::

    address keys:       count (4), then 32 bytes each      (address | number | tx index)
    log keys by address: count (4), then 32 bytes each     (address | number | log index)
    log keys by topic:   count (4), then 44 bytes each     (topic | number | log index)

Block layout: RLP ``[block record, receipts record, diff, index]`` where the first two
are the chain-record encodings (``MiniBlock.encode_for_storage``/``encode_receipts``);
a block without its index (``MiniBlock.index`` None) leaves the fourth item out. The
decoded block splits the block record at once and decodes its transactions and
receipts on first use (``decode_stored_block``); a follower writes the index as sent.
"""

from __future__ import annotations

from typing import Final

from jit import rlp
from sequencer.types.blocks import IndexKeys, MiniBlock, decode_stored_block
from statedb.types import EMPTY_CODE_HASH, Account, StateDiff, keccak256

_ABSENT: Final = b"\x00" * 72


class WireError(ValueError):
    """Bytes that are not a valid encoding."""


def encode_diff(diff: StateDiff) -> bytes:
    """``diff`` (normalised: ``storage_cleared`` empty) as bytes."""
    if diff.storage_cleared:
        raise WireError("a published diff has no wipes (expand them into slot writes first)")
    return _encode_body(diff)


def encode_change(diff: StateDiff) -> bytes:
    """A state change that may wipe storage (a mini-block's, not normalised): the wiped
    addresses (count (4), then 20 bytes each) before the diff layout."""
    wipes = sorted(diff.storage_cleared)
    return len(wipes).to_bytes(4, "big") + b"".join(wipes) + _encode_body(diff)


def decode_change(data: bytes) -> StateDiff:
    """The change ``encode_change`` wrote; ``WireError`` for anything else."""
    if not isinstance(data, bytes):
        raise WireError(f"expected bytes, got {type(data).__name__}")
    reader = _Reader(data)
    wipes = {reader.take(20) for _ in range(reader.count())}
    diff = _decode_body(reader, data)
    diff.storage_cleared = wipes
    return diff


def _encode_body(diff: StateDiff) -> bytes:
    parts = [len(diff.accounts).to_bytes(4, "big")]
    for address, account in diff.accounts.items():
        if account is None:
            parts.append(address + b"\x00" + _ABSENT)
        else:
            parts.append(
                address
                + b"\x01"
                + account.nonce.to_bytes(8, "big")
                + account.balance.to_bytes(32, "big")
                + account.code_hash
            )
    parts.append(len(diff.storage).to_bytes(4, "big"))
    for address, slots in diff.storage.items():
        parts.append(address + len(slots).to_bytes(4, "big"))
        parts.extend(
            slot.to_bytes(32, "big") + value.to_bytes(32, "big") for slot, value in slots.items()
        )
    parts.append(len(diff.codes).to_bytes(4, "big"))
    for code in diff.codes.values():
        parts.append(len(code).to_bytes(4, "big") + code)
    return b"".join(parts)


class _Reader:
    __slots__ = ("data", "pos", "what")

    def __init__(self, data: bytes, what: str = "diff") -> None:
        self.data = data
        self.pos = 0
        self.what = what  # named in the truncation error

    def take(self, size: int) -> bytes:
        end = self.pos + size
        if end > len(self.data):
            raise WireError(f"truncated {self.what}: needs {end} bytes, has {len(self.data)}")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def count(self) -> int:
        return int.from_bytes(self.take(4), "big")


def decode_diff(data: bytes) -> StateDiff:
    """The diff ``encode_diff`` wrote; ``WireError`` for anything else."""
    if not isinstance(data, bytes):
        raise WireError(f"expected bytes, got {type(data).__name__}")
    return _decode_body(_Reader(data), data)


def _decode_body(reader: _Reader, data: bytes) -> StateDiff:
    diff = StateDiff()
    accounts = diff.accounts
    for _ in range(reader.count()):
        record = reader.take(93)
        address, flag = record[:20], record[20]
        if address in accounts:
            raise WireError(f"account 0x{address.hex()} appears twice")
        if flag == 0:
            if record[21:] != _ABSENT:
                raise WireError("a deleted account carries fields")
            accounts[address] = None
        elif flag == 1:
            nonce = int.from_bytes(record[21:29], "big")
            balance = int.from_bytes(record[29:61], "big")
            accounts[address] = Account(nonce, balance, record[61:93])
        else:
            raise WireError(f"bad account flag {flag}")
    storage = diff.storage
    for _ in range(reader.count()):
        address = reader.take(20)
        if address in storage:
            raise WireError(f"storage of 0x{address.hex()} appears twice")
        n = reader.count()
        raw = reader.take(64 * n)
        slots = {
            int.from_bytes(raw[i : i + 32], "big"): int.from_bytes(raw[i + 32 : i + 64], "big")
            for i in range(0, 64 * n, 64)
        }
        if len(slots) != n:
            raise WireError(f"storage of 0x{address.hex()} repeats a slot")
        storage[address] = slots
    for _ in range(reader.count()):
        code = reader.take(reader.count())
        code_hash = keccak256(code)
        if code_hash == EMPTY_CODE_HASH:
            raise WireError("the empty code is never carried")
        diff.codes[code_hash] = code
    if reader.pos != len(data):
        raise WireError(f"{len(data) - reader.pos} bytes after the diff")
    return diff


def encode_index(index: IndexKeys) -> bytes:
    """``index`` as bytes (the index layout above)."""
    if any(len(key) != 32 for key in index.addresses):
        raise WireError("an address-index key is 32 bytes")
    by_address = [key for key in index.logs if len(key) == 32]
    by_topic = [key for key in index.logs if len(key) == 44]
    if len(by_address) + len(by_topic) != len(index.logs):
        raise WireError("a log-index key is 32 or 44 bytes")
    return b"".join(
        (
            len(index.addresses).to_bytes(4, "big"),
            *index.addresses,
            len(by_address).to_bytes(4, "big"),
            *by_address,
            len(by_topic).to_bytes(4, "big"),
            *by_topic,
        )
    )


def decode_index(data: bytes, number: int) -> IndexKeys:
    """The index ``encode_index`` wrote for block ``number`` (every key must name that
    block); ``WireError`` for anything else."""
    if not isinstance(data, bytes):
        raise WireError(f"expected bytes, got {type(data).__name__}")
    number8 = number.to_bytes(8, "big")
    reader = _Reader(data, "index")
    groups = []
    for width in (32, 32, 44):
        count = reader.count()
        raw = reader.take(width * count)
        keys = [raw[i : i + width] for i in range(0, width * count, width)]
        # Each key's block number, 12 bytes from its end, is this block's.
        if any(key[-12:-4] != number8 for key in keys):
            raise WireError(f"an index key does not name block {number}")
        groups.append(keys)
    if reader.pos != len(data):
        raise WireError(f"{len(data) - reader.pos} bytes after the index")
    addresses, by_address, by_topic = groups
    return IndexKeys((*by_address, *by_topic), tuple(addresses))


def encode_block(block: MiniBlock) -> bytes:
    """A published block (it must carry its diff) as bytes."""
    if block.diff is None:
        raise WireError(f"block {block.number} carries no diff: only published blocks do")
    items = [block.encode_for_storage(), block.encode_receipts(), encode_diff(block.diff)]
    if block.index is not None:
        items.append(encode_index(block.index))
    return rlp.encode(items)


def decode_block(data: bytes) -> MiniBlock:
    """The block ``encode_block`` wrote, its diff (and index) included; ``WireError``
    otherwise."""
    try:
        items = rlp.decode(data)
    except ValueError as error:  # RLPDecodingError
        raise WireError(f"not an encoded block: {error}") from None
    if (
        not isinstance(items, list)
        or len(items) not in (3, 4)
        or not all(isinstance(item, bytes) for item in items)
    ):
        raise WireError("an encoded block is a list of three or four byte strings")
    block_bytes, receipts_bytes, diff_bytes = items[:3]
    assert isinstance(block_bytes, bytes) and isinstance(receipts_bytes, bytes)
    assert isinstance(diff_bytes, bytes)
    try:
        block = decode_stored_block(block_bytes, receipts_bytes)
    except ValueError as error:
        raise WireError(f"bad block record: {error}") from None
    index = None
    if len(items) == 4:
        index_bytes = items[3]
        assert isinstance(index_bytes, bytes)
        index = decode_index(index_bytes, block.number)
    return block.published(decode_diff(diff_bytes), index)


__all__ = [
    "WireError",
    "decode_block",
    "decode_change",
    "decode_diff",
    "decode_index",
    "encode_block",
    "encode_change",
    "encode_diff",
    "encode_index",
]
