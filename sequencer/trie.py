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


# Nibble paths are lowercase hex strings: ``bytes.hex`` makes them, their order is the
# nibbles' order, and ``bytes.fromhex`` packs a compact (hex-prefix) path in one call.
_HEX_PREFIX: Final = {(True, 1): "3", (True, 0): "20", (False, 1): "1", (False, 0): "00"}


def _hex_prefix(path: str, leaf: bool) -> bytes:
    """Yellow Paper appendix C: the flag nibble(s), then the path packed two per byte."""
    return bytes.fromhex(_HEX_PREFIX[leaf, len(path) % 2] + path)


def _list(encoded_items: list[bytes]) -> bytes:
    """An RLP list from its items' encodings (each node is encoded once, bottom up)."""
    payload = b"".join(encoded_items)
    return rlp.list_header(len(payload)) + payload


def _reference(encoded: bytes) -> bytes:
    """How a parent embeds a child: inline when its encoding is under 32 bytes, else
    the RLP string of its hash."""
    return encoded if len(encoded) < 32 else b"\xa0" + keccak256(encoded)


def _build(pairs: list[tuple[str, bytes]], depth: int) -> bytes:
    """The RLP encoding of the node holding ``pairs`` (sorted, distinct hex-nibble paths)."""
    if len(pairs) == 1:
        path, value = pairs[0]
        return _list([rlp.encode(_hex_prefix(path[depth:], True)), rlp.encode(value)])
    first = pairs[0][0]
    shortest = min(len(path) for path, _ in pairs)
    common = depth
    while common < shortest and all(path[common] == first[common] for path, _ in pairs):
        common += 1
    if common > depth:
        return _list(
            [rlp.encode(_hex_prefix(first[depth:common], False)), _reference(_build(pairs, common))]
        )
    branch = [_EMPTY_STRING] * 17
    groups: dict[str, list[tuple[str, bytes]]] = {}
    for path, value in pairs:
        if len(path) == depth:
            branch[16] = rlp.encode(value)
        else:
            groups.setdefault(path[depth], []).append((path, value))
    for nibble, group in groups.items():
        branch[int(nibble, 16)] = _reference(_build(group, depth + 1))
    return _list(branch)


def ordered_trie_root(items: Sequence[bytes]) -> bytes:
    """The root of the trie mapping ``rlp(i)`` to ``items[i]``."""
    if not items:
        return EMPTY_TRIE_ROOT
    pairs = sorted((rlp.encode(i).hex(), item) for i, item in enumerate(items))
    return keccak256(_build(pairs, 0))


def trie_root(pairs: dict[bytes, bytes]) -> bytes:
    """The root of the trie holding ``pairs`` (keys of any length, no key a prefix of another)."""
    if not pairs:
        return EMPTY_TRIE_ROOT
    nodes = sorted((key.hex(), value) for key, value in pairs.items())
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
