"""Recursive Length Prefix encoding (Ethereum Yellow Paper, appendix B).

Items are ``bytes`` or lists of items; ``encode`` also takes non-negative
``int`` (big-endian, no leading zeros). ``decode`` is strict: it rejects
non-canonical lengths, single bytes wrapped in a string header and trailing
data, because transaction hashes must be unique per transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

Item: TypeAlias = "bytes | list[Item]"
Encodable: TypeAlias = "bytes | bytearray | int | Sequence[Encodable]"


class RLPDecodingError(ValueError):
    pass


def _length_prefix(length: int, offset: int) -> bytes:
    if length < 56:
        return bytes((offset + length,))
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((offset + 55 + len(raw),)) + raw


# Single-byte headers, indexed by length: the common case needs no ``bytes(...)`` call.
_STRING_HEADERS = tuple(bytes((0x80 + n,)) for n in range(56))
_LIST_HEADERS = tuple(bytes((0xC0 + n,)) for n in range(56))


class Encoded(bytes):
    """An item already RLP-encoded: ``encode`` inserts it verbatim (to encode a part
    shared by several structures once)."""


def list_header(payload_length: int) -> bytes:
    """The header of a list whose items' encodings total ``payload_length`` bytes."""
    return (
        _LIST_HEADERS[payload_length]
        if payload_length < 56
        else _length_prefix(payload_length, 0xC0)
    )


def encode(item: Encodable) -> bytes:
    # Exact-type tests first: this runs for every field of every transaction, receipt,
    # header and trie node the node builds, so the common shapes take the fewest steps.
    value: Any = item  # narrowed by the exact-type tests below, which mypy cannot follow
    kind = type(value)
    if kind is bytes:
        size = len(value)
        if size < 56:
            if size == 1 and value[0] < 0x80:
                return value
            return _STRING_HEADERS[size] + value
        return _length_prefix(size, 0x80) + value
    if kind is int:
        if value < 0x80:
            if value == 0:
                return b"\x80"
            if value < 0:
                raise ValueError("RLP cannot encode negative integers")
            return bytes((value,))
        raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
        return (
            _STRING_HEADERS[len(raw)] + raw
            if len(raw) < 56
            else _length_prefix(len(raw), 0x80) + raw
        )
    if kind is list or kind is tuple:
        payload = b"".join([encode(element) for element in value])
        size = len(payload)
        return (_LIST_HEADERS[size] if size < 56 else _length_prefix(size, 0xC0)) + payload
    if kind is Encoded:
        return bytes(value)
    # Subclasses and other types: bool is an int, bytearray/memoryview-like are bytes.
    if isinstance(value, (bytes, bytearray)):
        return encode(bytes(value))
    if isinstance(value, int):
        return encode(int(value))
    if isinstance(value, Sequence) and not isinstance(value, str):
        return encode(list(value))
    raise TypeError(f"RLP cannot encode {type(value).__name__}")


def _decode_at(data: bytes, position: int) -> tuple[Item, int]:
    if position >= len(data):
        raise RLPDecodingError("unexpected end of input")
    prefix = data[position]
    if prefix < 0x80:
        return data[position : position + 1], position + 1
    if prefix < 0xB8:
        length = prefix - 0x80
        start = position + 1
        end = start + length
        if end > len(data):
            raise RLPDecodingError("string runs past the end of input")
        if length == 1 and data[start] < 0x80:
            raise RLPDecodingError("single byte below 0x80 must not have a string header")
        return data[start:end], end
    if prefix < 0xC0:
        length, start = _long_length(data, position, prefix - 0xB7)
        end = start + length
        if end > len(data):
            raise RLPDecodingError("string runs past the end of input")
        return data[start:end], end
    if prefix < 0xF8:
        length = prefix - 0xC0
        start = position + 1
    else:
        length, start = _long_length(data, position, prefix - 0xF7)
    end = start + length
    if end > len(data):
        raise RLPDecodingError("list runs past the end of input")
    items: list[Item] = []
    cursor = start
    while cursor < end:
        element, cursor = _decode_at(data, cursor)
        items.append(element)
    if cursor != end:
        raise RLPDecodingError("list payload length mismatch")
    return items, end


def _long_length(data: bytes, position: int, size_of_length: int) -> tuple[int, int]:
    start = position + 1
    end = start + size_of_length
    if end > len(data):
        raise RLPDecodingError("length runs past the end of input")
    if data[start] == 0:
        raise RLPDecodingError("length has leading zero bytes")
    length = int.from_bytes(data[start:end], "big")
    if length < 56:
        raise RLPDecodingError("long form used for a short length")
    return length, end


def decode(data: bytes) -> Item:
    item, end = _decode_at(bytes(data), 0)
    if end != len(data):
        raise RLPDecodingError("trailing bytes after the RLP item")
    return item


def decode_uint(raw: Item, *, max_bits: int = 256, name: str = "integer") -> int:
    """A canonical big-endian unsigned integer (no leading zeros)."""
    if not isinstance(raw, bytes):
        raise RLPDecodingError(f"{name}: expected a string, got a list")
    if raw[:1] == b"\x00":
        raise RLPDecodingError(f"{name}: leading zero bytes")
    value = int.from_bytes(raw, "big")
    if value.bit_length() > max_bits:
        raise RLPDecodingError(f"{name}: does not fit in {max_bits} bits")
    return value
