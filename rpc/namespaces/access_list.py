"""Block-level access lists (EIP-7928) over JSON-RPC, and their JSON forms.

Owns the methods ``eth_getBlockAccessList`` (execution-apis; any block id),
``eth_getBlockAccessListByBlockHash`` / ``eth_getBlockAccessListByBlockNumber`` and
``eth_getBlockAccessListRaw`` (reth's and anvil's), and ``debug_getRawBlockAccessList``
(execution-apis, reth), plus the two JSON shapes of ``sequencer.access_list``:

- ``to_json``: the execution-apis ``BlockAccessList`` schema, which reth and anvil
  (alloy-eip7928) also serve: ``{"address", "storageChanges": [{"key", "changes":
  [{"index", "value"}]}], "storageReads", "balanceChanges": [{"index", "value"}],
  "nonceChanges": [{"index", "value"}], "codeChanges": [{"index", "code"}]}``; indices,
  balances and nonces are quantities, slots and storage values 32-byte hex (``hash32``).
- ``to_fixture_json``: the shape of the EEST blockchain fixtures (``blockAccessIndex``,
  ``postBalance``, ``postNonce``, ``newCode``, ``slot``/``slotChanges``/``postValue``,
  numbers as minimal big-endian bytes, ``0x00`` for zero).

``from_json`` reads either. The node answers ``await node.block_access_list(number,
block_hash, tag)`` (the selector ``Node.resolve`` takes) with the list or None for an
unknown block; a block without a recorded list is the node's error to raise.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final, Protocol

from rpc.codecs import BlockId, data, quantity
from rpc.dispatch import BlockIdParam, BlockNumberParam, Hash, RequestContext, method
from sequencer.access_list import (
    MAX_INDEX,
    MAX_NONCE,
    MAX_UINT256,
    AccountChanges,
    BalanceChange,
    BlockAccessList,
    CodeChange,
    InvalidBlockAccessList,
    NonceChange,
    SlotChanges,
    StorageChange,
    encode,
)
from sequencer.errors import ResourceNotFound
from statedb.types import Hash32

__all__ = ["accounts_from_json", "from_json", "to_fixture_json", "to_json"]


class AccessListSource(Protocol):
    """The node verb these methods need."""

    async def block_access_list(
        self, number: int | None, block_hash: Hash32 | None, tag: str | None
    ) -> BlockAccessList | None: ...


# --------------------------------------------------------------------------- JSON


def _hash32(n: int) -> str:
    return "0x" + n.to_bytes(32, "big").hex()


def _minimal(n: int) -> str:
    # EEST's number form: the big-endian bytes without leading zero bytes, 0 as "0x00".
    return "0x" + n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big").hex()


def to_json(bal: BlockAccessList) -> list[dict[str, Any]]:
    """The execution-apis ``BlockAccessList`` object: every field present, in RLP order."""
    return [
        {
            "address": data(a.address),
            "storageChanges": [
                {
                    "key": _hash32(s.slot),
                    "changes": [
                        {"index": quantity(c.index), "value": _hash32(c.value)} for c in s.changes
                    ],
                }
                for s in a.storage_changes
            ],
            "storageReads": [_hash32(slot) for slot in a.storage_reads],
            "balanceChanges": [
                {"index": quantity(c.index), "value": quantity(c.balance)}
                for c in a.balance_changes
            ],
            "nonceChanges": [
                {"index": quantity(c.index), "value": quantity(c.nonce)} for c in a.nonce_changes
            ],
            "codeChanges": [
                {"index": quantity(c.index), "code": data(c.code)} for c in a.code_changes
            ],
        }
        for a in bal.accounts
    ]


def to_fixture_json(bal: BlockAccessList) -> list[dict[str, Any]]:
    """The EEST fixtures' ``blockAccessList``, key for key and digit for digit."""
    return [
        {
            "address": data(a.address),
            "nonceChanges": [
                {"blockAccessIndex": _minimal(c.index), "postNonce": _minimal(c.nonce)}
                for c in a.nonce_changes
            ],
            "balanceChanges": [
                {"blockAccessIndex": _minimal(c.index), "postBalance": _minimal(c.balance)}
                for c in a.balance_changes
            ],
            "codeChanges": [
                {"blockAccessIndex": _minimal(c.index), "newCode": data(c.code)}
                for c in a.code_changes
            ],
            "storageChanges": [
                {
                    "slot": _minimal(s.slot),
                    "slotChanges": [
                        {"blockAccessIndex": _minimal(c.index), "postValue": _minimal(c.value)}
                        for c in s.changes
                    ],
                }
                for s in a.storage_changes
            ],
            "storageReads": [_minimal(slot) for slot in a.storage_reads],
        }
        for a in bal.accounts
    ]


# Field names of the two shapes: (execution-apis, EEST).
_ACCOUNT_FIELDS: Final = frozenset(
    {"address", "storageChanges", "storageReads", "balanceChanges", "nonceChanges", "codeChanges"}
)
_INDEX: Final = ("index", "blockAccessIndex")
_SLOT: Final = ("key", "slot")
_SLOT_CHANGES: Final = ("changes", "slotChanges")
_STORAGE_VALUE: Final = ("value", "postValue")
_BALANCE: Final = ("value", "postBalance")
_NONCE: Final = ("value", "postNonce")
_CODE: Final = ("code", "newCode")
_MAX_DIGITS: Final = 64  # a uint256 in any of the accepted spellings
_MAX_CODE_BYTES: Final = 1 << 20  # far above any fork's code size limit
# int(x, 16) and bytes.fromhex also take signs, underscores and spaces: check the digits.
_HEX_DIGITS: Final = re.compile(r"[0-9a-fA-F]*")


def from_json(value: object) -> BlockAccessList:
    """An access list in either JSON shape (one shape per object, never mixed).

    Numbers are ``0x`` hex of any length up to 64 digits (quantities, EEST's minimal
    bytes and 32-byte words all pass), checked against the field's width. Raises
    ``InvalidBlockAccessList`` naming the offending path, also for lists that are not
    canonical (EIP-7928 ordering and uniqueness)."""
    return BlockAccessList(accounts_from_json(value))


def accounts_from_json(value: object) -> tuple[AccountChanges, ...]:
    """The accounts of an access list in either JSON shape, in the order given: each
    one canonical (``InvalidBlockAccessList`` otherwise), their order and uniqueness
    not checked (``from_json`` checks them)."""
    return tuple(_account(item, f"[{n}]") for n, item in enumerate(_array(value, "access list")))


def _array(value: object, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidBlockAccessList(f"{path}: expected an array")
    return value


def _object(value: object, path: str, names: frozenset[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidBlockAccessList(f"{path}: expected an object")
    unknown = sorted(set(value) - names)
    if unknown:
        raise InvalidBlockAccessList(f"{path}: unknown field {unknown[0]!r}")
    return value


def _pair(
    value: object, path: str, first: tuple[str, str], second: tuple[str, str]
) -> tuple[Any, Any]:
    """The two fields of an object, both named the execution-apis way (``first[0]``,
    ``second[0]``) or both the EEST way (``first[1]``, ``second[1]``)."""
    obj = _object(value, path, frozenset({*first, *second}))
    for dialect in (0, 1):
        if first[dialect] in obj and second[dialect] in obj:
            if len(obj) != 2:
                raise InvalidBlockAccessList(f"{path}: mixes field names of both shapes")
            return obj[first[dialect]], obj[second[dialect]]
    raise InvalidBlockAccessList(
        f"{path}: expected fields {first[0]!r} and {second[0]!r} "
        f"(or {first[1]!r} and {second[1]!r})"
    )


def _hex(value: object, path: str, max_digits: int) -> str:
    if not isinstance(value, str) or not value.startswith(("0x", "0X")):
        raise InvalidBlockAccessList(f"{path}: expected a 0x-prefixed hex string")
    digits = value[2:]
    if len(digits) > max_digits:  # before any work proportional to the size
        raise InvalidBlockAccessList(f"{path}: more than {max_digits} hex digits")
    if _HEX_DIGITS.fullmatch(digits) is None:
        raise InvalidBlockAccessList(f"{path}: invalid hex string")
    return digits


def _number(value: object, path: str, limit: int) -> int:
    digits = _hex(value, path, _MAX_DIGITS)
    if not digits:
        raise InvalidBlockAccessList(f"{path}: expected at least one hex digit")
    n = int(digits, 16)
    if n > limit:
        raise InvalidBlockAccessList(f"{path}: {value} is out of range")
    return n


def _bytes(value: object, path: str, max_bytes: int) -> bytes:
    digits = _hex(value, path, 2 * max_bytes)
    if len(digits) % 2:
        raise InvalidBlockAccessList(f"{path}: odd-length hex string")
    return bytes.fromhex(digits)


def _changes(
    value: object, path: str, names: tuple[str, str], parse: Callable[[object, str], Any]
) -> list[tuple[int, Any]]:
    out = []
    for n, item in enumerate(_array(value, path)):
        where = f"{path}[{n}]"
        index, raw = _pair(item, where, _INDEX, names)
        out.append((_number(index, f"{where}.index", MAX_INDEX), parse(raw, f"{where}.value")))
    return out


def _word(value: object, path: str) -> int:
    return _number(value, path, MAX_UINT256)


def _nonce(value: object, path: str) -> int:
    return _number(value, path, MAX_NONCE)


def _code(value: object, path: str) -> bytes:
    return _bytes(value, path, _MAX_CODE_BYTES)


def _account(value: object, path: str) -> AccountChanges:
    obj = _object(value, path, _ACCOUNT_FIELDS)
    missing = sorted(_ACCOUNT_FIELDS - set(obj))
    if missing:
        raise InvalidBlockAccessList(f"{path}: missing field {missing[0]!r}")
    address = _bytes(obj["address"], f"{path}.address", 20)
    if len(address) != 20:
        raise InvalidBlockAccessList(f"{path}.address: expected 20 bytes")
    storage = []
    for n, item in enumerate(_array(obj["storageChanges"], f"{path}.storageChanges")):
        where = f"{path}.storageChanges[{n}]"
        slot, changes = _pair(item, where, _SLOT, _SLOT_CHANGES)
        storage.append(
            SlotChanges(
                _word(slot, f"{where}.key"),
                tuple(
                    StorageChange(i, v)
                    for i, v in _changes(changes, f"{where}.changes", _STORAGE_VALUE, _word)
                ),
            )
        )
    reads = tuple(
        _word(slot, f"{path}.storageReads[{n}]")
        for n, slot in enumerate(_array(obj["storageReads"], f"{path}.storageReads"))
    )
    return AccountChanges(
        address,
        tuple(storage),
        reads,
        tuple(
            BalanceChange(i, v)
            for i, v in _changes(obj["balanceChanges"], f"{path}.balanceChanges", _BALANCE, _word)
        ),
        tuple(
            NonceChange(i, v)
            for i, v in _changes(obj["nonceChanges"], f"{path}.nonceChanges", _NONCE, _nonce)
        ),
        tuple(
            CodeChange(i, v)
            for i, v in _changes(obj["codeChanges"], f"{path}.codeChanges", _CODE, _code)
        ),
    )


# ------------------------------------------------------------------------ methods


def _source(ctx: RequestContext) -> AccessListSource:
    node: AccessListSource = ctx.node
    return node


async def _lookup(ctx: RequestContext, block: BlockId) -> BlockAccessList | None:
    if block.tag == "pending":
        # execution-apis: null for the pending tag (its list is not final).
        return None
    return await _source(ctx).block_access_list(block.number, block.hash, block.tag)


def _raw(bal: BlockAccessList | None) -> str | None:
    return None if bal is None else data(encode(bal))


@method("eth_getBlockAccessList")
async def get_block_access_list(
    ctx: RequestContext, block: BlockIdParam
) -> list[dict[str, Any]] | None:
    bal = await _lookup(ctx, block)
    return None if bal is None else to_json(bal)


@method("eth_getBlockAccessListByBlockHash")
async def get_block_access_list_by_hash(
    ctx: RequestContext, block_hash: Hash
) -> list[dict[str, Any]] | None:
    bal = await _lookup(ctx, BlockId(hash=block_hash))
    return None if bal is None else to_json(bal)


@method("eth_getBlockAccessListByBlockNumber")
async def get_block_access_list_by_number(
    ctx: RequestContext, block: BlockNumberParam
) -> list[dict[str, Any]] | None:
    bal = await _lookup(ctx, block)
    return None if bal is None else to_json(bal)


@method("eth_getBlockAccessListRaw")
async def get_block_access_list_raw(ctx: RequestContext, block: BlockIdParam) -> str | None:
    return _raw(await _lookup(ctx, block))


@method("debug_getRawBlockAccessList")
async def debug_get_raw_block_access_list(ctx: RequestContext, block: BlockIdParam) -> str:
    raw = _raw(await _lookup(ctx, block))
    if raw is None:
        # reth answers an error, not null, for a block it does not have; the wording is
        # Node.resolve's (geth's) for an unknown block.
        raise ResourceNotFound("header not found")
    return raw
