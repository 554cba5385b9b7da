"""Wire codecs for JSON-RPC scalars: hex quantities, data, addresses, hashes, block ids.

Owns the output encoders (``quantity``, ``data``) and the strict input parsers, each
raising ``InvalidParams`` worded like geth's ``hexutil`` and naming the argument
(``invalid argument 0: hex string without 0x prefix``). Quantities follow geth's
``hexutil.Big``/``Uint64``: a JSON string, ``0x`` prefix, no leading zero digits, at
most 256 (or 64) bits. Data is even-length hex. Block ids accept the five tags, a
quantity, a 32-byte hash and the EIP-1898 objects ``{"blockNumber": ...}`` /
``{"blockHash": ..., "requireCanonical": bool}``. Every parser checks the input's size
before doing any work proportional to it, so hostile inputs fail fast.

Also owns the ``Annotated`` parameter types ``rpc.dispatch`` decodes by:
``Quantity``, ``Uint64``, ``Data``, ``Address``, ``Hash``, ``BlockIdParam``, ``Bool``,
``StorageSlot``. A handler can declare its own with ``Annotated[T, Codec(fn)]`` where
``fn(value, arg) -> T`` raises ``InvalidParams``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Final

from rpc.errors import InvalidParams

_HEX = re.compile(r"[0-9a-fA-F]*")

MAX_INT64: Final = (1 << 63) - 1

TAGS: Final = frozenset({"latest", "pending", "safe", "finalized", "earliest"})


# ---------------------------------------------------------------- output


def quantity(n: int) -> str:
    """``n`` as a JSON-RPC quantity: ``0x0``, ``0x1f`` (no leading zeros)."""
    if n < 0:
        raise ValueError(f"quantity must be non-negative, got {n}")
    return hex(n)


def data(b: bytes) -> str:
    """``b`` as JSON-RPC data: ``0x`` and two lower-case hex digits a byte."""
    return "0x" + b.hex()


# ---------------------------------------------------------------- input helpers


def json_type(value: object) -> str:
    """The JSON type name of a decoded value (for error messages)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def invalid(arg: int | None, message: str) -> InvalidParams:
    """``InvalidParams`` with geth's ``invalid argument N:`` prefix when ``arg`` is given."""
    if arg is None:
        return InvalidParams(message)
    return InvalidParams(f"invalid argument {arg}: {message}")


def _string(value: object, arg: int | None, into: str) -> str:
    if not isinstance(value, str):
        raise invalid(arg, f"cannot unmarshal {json_type(value)} into {into}")
    return value


def _has_prefix(s: str) -> bool:
    return len(s) >= 2 and s[0] == "0" and s[1] in "xX"


def _is_hex(digits: str) -> bool:
    return _HEX.fullmatch(digits) is not None


# ---------------------------------------------------------------- quantities


def parse_quantity(value: object, arg: int | None = None, *, bits: int = 256) -> int:
    """A hex quantity as geth's ``hexutil.Big`` (``bits=256``) or ``Uint64`` (``bits=64``)."""
    s = _string(value, arg, "quantity")
    if s == "":
        raise invalid(arg, "empty hex string")
    if not _has_prefix(s):
        raise invalid(arg, "hex string without 0x prefix")
    digits = s[2:]
    if digits == "":
        raise invalid(arg, 'hex string "0x"')
    if len(digits) > 1 and digits[0] == "0":
        raise invalid(arg, "hex number with leading zero digits")
    if len(digits) > (bits + 3) // 4:  # checked before any parsing: a 10 MB string fails here
        raise invalid(arg, f"hex number > {bits} bits")
    if not _is_hex(digits):
        raise invalid(arg, "invalid hex string")
    n = int(digits, 16)
    if n.bit_length() > bits:
        raise invalid(arg, f"hex number > {bits} bits")
    return n


def parse_uint64(value: object, arg: int | None = None) -> int:
    """A hex quantity of at most 64 bits (geth's ``hexutil.Uint64``)."""
    return parse_quantity(value, arg, bits=64)


def parse_data(
    value: object,
    arg: int | None = None,
    *,
    length: int | None = None,
    max_bytes: int | None = None,
    type_name: str | None = None,
) -> bytes:
    """``0x``-prefixed even-length hex (geth's ``hexutil.Bytes``); ``""`` is empty data.

    ``length`` demands exactly that many bytes (worded like geth's fixed-size types,
    ``type_name`` naming the type); ``max_bytes`` caps the size.
    """
    s = _string(value, arg, type_name or "data")
    if s == "" and not length:
        return b""
    if s != "" and not _has_prefix(s):
        raise invalid(arg, "hex string without 0x prefix")
    digits = s[2:]
    if length is not None and len(digits) != 2 * length:
        if len(digits) % 2 == 1:
            raise invalid(arg, "hex string of odd length")
        name = f" for {type_name}" if type_name else ""
        raise invalid(arg, f"hex string has length {len(digits)}, want {2 * length}{name}")
    if len(digits) % 2 == 1:
        raise invalid(arg, "hex string of odd length")
    if max_bytes is not None and len(digits) > 2 * max_bytes:
        raise invalid(arg, f"hex data too long: {len(digits) // 2} bytes, want at most {max_bytes}")
    if not _is_hex(digits):
        raise invalid(arg, "invalid hex string")
    return bytes.fromhex(digits)


def parse_address(value: object, arg: int | None = None) -> bytes:
    """A 20-byte address in any letter case (the EIP-55 checksum is not enforced)."""
    return parse_data(value, arg, length=20, type_name="common.Address")


def parse_hash(value: object, arg: int | None = None) -> bytes:
    """A 32-byte hash."""
    return parse_data(value, arg, length=32, type_name="common.Hash")


def parse_bool(value: object, arg: int | None = None) -> bool:
    """A JSON ``true`` / ``false`` (strings and numbers are refused, as geth does)."""
    if not isinstance(value, bool):
        raise invalid(arg, f"cannot unmarshal {json_type(value)} into bool")
    return value


def parse_storage_slot(value: object, arg: int | None = None) -> int:
    """An ``eth_getStorageAt`` slot as geth's ``decodeHash``: optional ``0x``, any
    length up to 32 bytes, leading zeros and odd length allowed; the slot as an int."""
    s = _string(value, arg, "storage key")
    digits = s[2:] if _has_prefix(s) else s
    if len(digits) > 64:
        raise invalid(
            arg, "unable to decode storage key: hex string too long, want at most 32 bytes"
        )
    if not _is_hex(digits):
        raise invalid(arg, "unable to decode storage key: hex string invalid")
    return int(digits, 16) if digits else 0


# ---------------------------------------------------------------- block ids


@dataclass(frozen=True, slots=True)
class BlockId:
    """A block reference: exactly one of ``tag``, ``number`` and ``hash`` is set.

    ``tag`` is one of ``latest``, ``pending``, ``safe``, ``finalized``, ``earliest``
    (left for the node to resolve); ``require_canonical`` only matters with ``hash``
    (EIP-1898).
    """

    tag: str | None = None
    number: int | None = None
    hash: bytes | None = None
    require_canonical: bool = False


LATEST: Final = BlockId(tag="latest")
PENDING: Final = BlockId(tag="pending")


def parse_block_number(value: object, arg: int | None = None) -> BlockId:
    """A tag or a hex block number (geth's ``rpc.BlockNumber``; at most int64)."""
    s = _string(value, arg, "block number")
    if s in TAGS:
        return BlockId(tag=s)
    n = parse_quantity(s, arg, bits=64)
    if n > MAX_INT64:
        raise invalid(arg, "block number larger than int64")
    return BlockId(number=n)


def parse_block_id(value: object, arg: int | None = None) -> BlockId:
    """A block tag, number, 32-byte hash or EIP-1898 object (geth's ``BlockNumberOrHash``)."""
    if isinstance(value, dict):
        number = value.get("blockNumber")
        block_hash = value.get("blockHash")
        if number is not None and block_hash is not None:
            raise invalid(
                arg, "cannot specify both BlockHash and BlockNumber, choose one or the other"
            )
        if number is not None:
            return parse_block_number(number, arg)
        if block_hash is not None:
            canonical = value.get("requireCanonical", False)
            if canonical is None:
                canonical = False
            return BlockId(
                hash=parse_hash(block_hash, arg),
                require_canonical=parse_bool(canonical, arg),
            )
        raise invalid(arg, "invalid arguments; neither block nor hash specified")
    s = _string(value, arg, "block number or hash")
    if len(s) == 66:
        return BlockId(hash=parse_hash(s, arg))
    return parse_block_number(s, arg)


# ---------------------------------------------------------------- annotated types


@dataclass(frozen=True, slots=True)
class Codec:
    """Marks an ``Annotated`` parameter type with the function that decodes it."""

    parse: Callable[[Any, int | None], Any]


Quantity = Annotated[int, Codec(parse_quantity)]
Uint64 = Annotated[int, Codec(parse_uint64)]
Data = Annotated[bytes, Codec(parse_data)]
Address = Annotated[bytes, Codec(parse_address)]
Hash = Annotated[bytes, Codec(parse_hash)]
Bool = Annotated[bool, Codec(parse_bool)]
StorageSlot = Annotated[int, Codec(parse_storage_slot)]
BlockIdParam = Annotated[BlockId, Codec(parse_block_id)]
BlockNumberParam = Annotated[BlockId, Codec(parse_block_number)]
