"""Ordered Merkle-Patricia trie roots for block headers (transactionsRoot, receiptsRoot,
withdrawalsRoot).

State has no MPT (DESIGN §5); headers still carry the standard ordered-trie roots
of their transactions and receipts so every tool that checks them agrees. The
trie is built once per block from its items, keyed by ``rlp(index)``: a small
recursive builder that encodes each node once, bottom up, no database.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from jit import rlp
from statedb.types import keccak256

EMPTY_TRIE_ROOT: Final = keccak256(rlp.encode(b""))

_EMPTY_STRING: Final = b"\x80"


def _nibbles(key: bytes) -> bytes:
    out = bytearray()
    for byte in key:
        out.append(byte >> 4)
        out.append(byte & 0x0F)
    return bytes(out)


def _hex_prefix(nibbles: bytes, leaf: bool) -> bytes:
    flag = 2 if leaf else 0
    if len(nibbles) % 2:
        packed = bytes((((flag + 1) << 4) | nibbles[0],))
        rest = nibbles[1:]
    else:
        packed = bytes((flag << 4,))
        rest = nibbles
    return packed + bytes((rest[i] << 4) | rest[i + 1] for i in range(0, len(rest), 2))


def _list(encoded_items: list[bytes]) -> bytes:
    """An RLP list from its items' encodings (each node is encoded once, bottom up)."""
    payload = b"".join(encoded_items)
    return rlp.list_header(len(payload)) + payload


def _reference(encoded: bytes) -> bytes:
    """How a parent embeds a child: inline when its encoding is under 32 bytes, else
    the RLP string of its hash."""
    return encoded if len(encoded) < 32 else b"\xa0" + keccak256(encoded)


def _build(pairs: list[tuple[bytes, bytes]], depth: int) -> bytes:
    """The RLP encoding of the node holding ``pairs`` (sorted, distinct nibble keys)."""
    if len(pairs) == 1:
        key, value = pairs[0]
        return _list([rlp.encode(_hex_prefix(key[depth:], True)), rlp.encode(value)])
    first = pairs[0][0]
    shortest = min(len(key) for key, _ in pairs)
    common = depth
    while common < shortest and all(key[common] == first[common] for key, _ in pairs):
        common += 1
    if common > depth:
        return _list(
            [rlp.encode(_hex_prefix(first[depth:common], False)), _reference(_build(pairs, common))]
        )
    branch = [_EMPTY_STRING] * 17
    groups: dict[int, list[tuple[bytes, bytes]]] = {}
    for key, value in pairs:
        if len(key) == depth:
            branch[16] = rlp.encode(value)
        else:
            groups.setdefault(key[depth], []).append((key, value))
    for nibble, group in groups.items():
        branch[nibble] = _reference(_build(group, depth + 1))
    return _list(branch)


def ordered_trie_root(items: Sequence[bytes]) -> bytes:
    """The root of the trie mapping ``rlp(i)`` to ``items[i]``."""
    if not items:
        return EMPTY_TRIE_ROOT
    pairs = sorted((_nibbles(rlp.encode(i)), item) for i, item in enumerate(items))
    return keccak256(_build(pairs, 0))


def trie_root(pairs: dict[bytes, bytes]) -> bytes:
    """The root of the trie holding ``pairs`` (keys of any length, no key a prefix of another)."""
    if not pairs:
        return EMPTY_TRIE_ROOT
    nodes = sorted((_nibbles(key), value) for key, value in pairs.items())
    return keccak256(_build(nodes, 0))


def secure_trie_root(storage: dict[int, int]) -> bytes:
    """An account's storage root: keccak(slot) -> rlp(value), zero slots absent."""
    return trie_root(
        {
            keccak256(slot.to_bytes(32, "big")): rlp.encode(value)
            for slot, value in storage.items()
            if value
        }
    )
