"""Recursive Length Prefix encoding (Ethereum Yellow Paper, appendix B).

Items are ``bytes`` or lists of items; ``encode`` also takes non-negative
``int`` (big-endian, no leading zeros). ``decode`` is strict: it rejects
non-canonical lengths, single bytes wrapped in a string header and trailing
data, because transaction hashes must be unique per transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

Item: TypeAlias = "bytes | list[Item]"
Encodable: TypeAlias = "bytes | bytearray | int | Sequence[Encodable]"


class RLPDecodingError(ValueError):
    pass


def _length_prefix(length: int, offset: int) -> bytes:
    if length < 56:
        return bytes((offset + length,))
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((offset + 55 + len(raw),)) + raw


def encode(item: Encodable) -> bytes:
    if isinstance(item, (bytes, bytearray)):
        if len(item) == 1 and item[0] < 0x80:
            return bytes(item)
        return _length_prefix(len(item), 0x80) + bytes(item)
    if isinstance(item, int):
        if item < 0:
            raise ValueError("RLP cannot encode negative integers")
        if item == 0:
            return b"\x80"
        if item < 0x80:
            return bytes((item,))
        raw = item.to_bytes((item.bit_length() + 7) // 8, "big")
        return _length_prefix(len(raw), 0x80) + raw
    payload = b"".join(encode(element) for element in item)
    return _length_prefix(len(payload), 0xC0) + payload


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
