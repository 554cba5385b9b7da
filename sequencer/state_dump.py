"""anvil's state dump format (``SerializableState``), as values and pure bytes-in/bytes-out codecs.

Owns the shape of what ``anvil_dumpState`` returns, ``anvil_loadState`` takes and
``--dump-state`` / ``--load-state`` / ``--state`` write and read, checked against anvil 1.7.1
(foundry tag v1.7.1: crates/anvil/src/eth/backend/db.rs, backend/mem/mod.rs). No I/O here:
callers read files and answer RPC.

The JSON (serde_json, compact, keys in this order)::

    {"block": {"number": "0x2", "beneficiary": "0x00..", "timestamp": "0x6b1444d8",
               "gas_limit": 30000000, "basefee": 875175000, "difficulty": "0x0",
               "prevrandao": "0x<32 bytes>",
               "blob_excess_gas_and_price": {"excess_blob_gas": 0, "blob_gasprice": 1},
               "slot_num": 0},
     "accounts": {"0x<20 bytes, lower case>": {"nonce": 1, "balance": "0x1234",
                  "code": "0x..", "storage": {"0x<32 bytes>": "0x<32 bytes>"}}},
     "best_block_number": 2, "blocks": [...], "transactions": [...],
     "historical_states": null}

Accounts are sorted by address and slots by key (anvil's BTreeMaps); U256 values are minimal
``0x`` hex, u64/u128 fields JSON numbers, storage keys and values 32-byte hex.

How anvil 1.7.1 reads it (measured against the binary, not only the source):

- ``anvil_loadState`` takes hex bytes (``0x`` optional). If they begin with a gzip header they
  are gunzipped, otherwise parsed as JSON as they are. ``anvil_dumpState`` returns ``0x`` + gzip
  (level 6) of the JSON. ``--load-state FILE`` / ``--state FILE`` read plain JSON only (no gzip);
  ``--dump-state FILE`` writes the same compact JSON ``anvil_dumpState`` would gzip.
- ``block`` and ``best_block_number`` must be present (``null`` allowed); ``accounts`` and each
  account's four fields are required; ``blocks``, ``transactions``, ``historical_states`` may be
  missing. ``nonce`` must be a JSON number; balances and storage words may be hex (short hex is
  fine), decimal strings or JSON numbers; addresses may lack ``0x`` and be any case.
- Loading sets each listed account's balance, code and storage slots (slots not listed keep
  their value, accounts not listed are untouched) and its nonce to the larger of the old and the
  new. ``blocks`` and ``transactions`` are inserted into anvil's block store as they are. When
  ``block`` is not null it becomes the pending block environment and the best block becomes
  ``best_block_number`` (or ``block.number`` when that is null); anvil then looks that number up
  in its block store, so with an empty ``blocks`` array the load fails with "Best hash not found
  for best number N" unless anvil already has block N (only block 0 on a fresh node). A dump
  without blocks therefore loads into anvil with ``block`` null (accounts only) or with
  ``best_block_number`` 0.

This module keeps the accounts, ``block`` and ``best_block_number``; ``blocks``,
``transactions`` and ``historical_states`` are checked to be arrays (or null) and dropped on
decode, and written as ``[]``, ``[]``, ``null`` on encode.

``decode_dump`` raises :class:`StateDumpError` for every malformed input. It refuses inputs
over :data:`MAX_JSON_BYTES` (1 GiB) of JSON, decompressed (gzip bombs are cut off at that
size while inflating, never inflated in full), and hex text over twice that.
"""

from __future__ import annotations

import binascii
import decimal
import json
import re
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

MAX_JSON_BYTES = 1 << 30  # 1 GiB: the largest JSON document decode_dump accepts (decompressed)
U64 = 1 << 64
U128 = 1 << 128
U256 = 1 << 256
GZIP_MAGIC = b"\x1f\x8b"
GZIP_LEVEL = 6  # flate2's Compression::default(), what anvil uses
ZERO_ADDRESS = bytes(20)
ZERO_WORD = bytes(32)
# What anvil fills in for a missing blob_gasprice (revm's minimum blob base fee).
DEFAULT_BLOB_GASPRICE = 1

_HEX_QUANTITY = re.compile(r"0[xX][0-9a-fA-F]{1,64}")
_DEC_QUANTITY = re.compile(r"[0-9]{1,78}")
_ADDRESS = re.compile(r"(?:0[xX])?[0-9a-fA-F]{40}")


class StateDumpError(ValueError):
    """A state dump that anvil's format does not allow, or one too large to take."""


class _InexactNumber(Exception):
    """orjson read an integer over 64 bits as a float: parse again with the standard library."""


@dataclass(frozen=True, slots=True)
class StateDumpAccount:
    """One account: nonce < 2**64, 0 <= balance < 2**256, storage slot -> value (256-bit)."""

    nonce: int
    balance: int
    code: bytes = b""
    storage: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if type(self.nonce) is not int or not 0 <= self.nonce < U64:
            raise StateDumpError(f"nonce {self.nonce!r} is not an integer in [0, 2**64)")
        if type(self.balance) is not int or not 0 <= self.balance < U256:
            raise StateDumpError(f"balance {self.balance!r} is not an integer in [0, 2**256)")
        if not isinstance(self.code, bytes):
            raise StateDumpError(f"code is {type(self.code).__name__}, not bytes")
        if not isinstance(self.storage, dict):
            raise StateDumpError(f"storage is {type(self.storage).__name__}, not a dict")


@dataclass(frozen=True, slots=True)
class BlockInfo:
    """anvil's ``block`` (revm's BlockEnv): the environment of the next block to be mined.

    Defaults are what anvil fills in for fields a (legacy) dump leaves out.
    """

    number: int = 0
    timestamp: int = 1
    coinbase: bytes = ZERO_ADDRESS
    gas_limit: int = U64 - 1
    base_fee: int = 0
    difficulty: int = 0
    prevrandao: bytes | None = ZERO_WORD
    excess_blob_gas: int = 0
    blob_gasprice: int = DEFAULT_BLOB_GASPRICE
    slot_num: int = 0

    def __post_init__(self) -> None:
        for name, bound in (
            ("number", U256),
            ("timestamp", U256),
            ("gas_limit", U64),
            ("base_fee", U64),
            ("difficulty", U256),
            ("excess_blob_gas", U64),
            ("blob_gasprice", U128),
            ("slot_num", U64),
        ):
            value = getattr(self, name)
            if type(value) is not int or not 0 <= value < bound:
                raise StateDumpError(f"block.{name} {value!r} is not an integer in [0, {bound})")
        if not isinstance(self.coinbase, bytes) or len(self.coinbase) != 20:
            raise StateDumpError(f"block.coinbase {self.coinbase!r} is not 20 bytes")
        if self.prevrandao is not None and (
            not isinstance(self.prevrandao, bytes) or len(self.prevrandao) != 32
        ):
            raise StateDumpError(f"block.prevrandao {self.prevrandao!r} is not 32 bytes")


@dataclass(frozen=True, slots=True)
class StateDump:
    """A whole dump: accounts by 20-byte address, the pending block and the best block number."""

    accounts: dict[bytes, StateDumpAccount] = field(default_factory=dict)
    block: BlockInfo | None = None
    best_block_number: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.accounts, dict):
            raise StateDumpError(f"accounts is {type(self.accounts).__name__}, not a dict")
        if self.best_block_number is not None and (
            type(self.best_block_number) is not int or not 0 <= self.best_block_number < U64
        ):
            raise StateDumpError(
                f"best_block_number {self.best_block_number!r} is not an integer in [0, 2**64)"
            )
        if self.block is not None and not isinstance(self.block, BlockInfo):
            raise StateDumpError(f"block is {type(self.block).__name__}, not a BlockInfo")


# ---------------------------------------------------------------- encoding


def _word_hex(value: object, what: str) -> str:
    if type(value) is not int or not 0 <= value < U256:
        raise StateDumpError(f"{what} {value!r} is not a 256-bit word")
    return f"0x{value:064x}"


def _block_json(block: BlockInfo) -> dict[str, Any]:
    return {
        "number": hex(block.number),
        "beneficiary": "0x" + block.coinbase.hex(),
        "timestamp": hex(block.timestamp),
        "gas_limit": block.gas_limit,
        "basefee": block.base_fee,
        "difficulty": hex(block.difficulty),
        "prevrandao": None if block.prevrandao is None else "0x" + block.prevrandao.hex(),
        "blob_excess_gas_and_price": {
            "excess_blob_gas": block.excess_blob_gas,
            "blob_gasprice": block.blob_gasprice,
        },
        "slot_num": block.slot_num,
    }


def _accounts_json(accounts: Mapping[bytes, StateDumpAccount]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        addresses = sorted(accounts)
    except TypeError:
        raise StateDumpError("account addresses are not all bytes") from None
    for address in addresses:
        if not isinstance(address, bytes) or len(address) != 20:
            raise StateDumpError(f"account address {address!r} is not 20 bytes")
        account = accounts[address]
        if not isinstance(account, StateDumpAccount):
            raise StateDumpError(f"account 0x{address.hex()} is not a StateDumpAccount")
        storage = account.storage
        what = f"accounts[0x{address.hex()}].storage"
        try:
            slots = sorted(storage)
        except TypeError:
            raise StateDumpError(f"{what} keys are not all integers") from None
        out["0x" + address.hex()] = {
            "nonce": account.nonce,
            "balance": hex(account.balance),
            "code": "0x" + account.code.hex(),
            "storage": {
                _word_hex(k, f"{what} key"): _word_hex(storage[k], f"{what}[{k!r}] value")
                for k in slots
            },
        }
    return out


def encode_dump(dump: StateDump) -> bytes:
    """The compact JSON anvil writes for ``--dump-state`` (and gzips for ``anvil_dumpState``).

    ``blocks`` and ``transactions`` are written empty and ``historical_states`` null; see the
    module docstring for what anvil does with a ``block`` but no blocks.
    """
    if not isinstance(dump, StateDump):
        raise StateDumpError(f"expected a StateDump, got {type(dump).__name__}")
    # The block goes through the standard library: blob_gasprice is a u128, which orjson
    # cannot write. It is one small object.
    block = (
        b"null"
        if dump.block is None
        else json.dumps(_block_json(dump.block), separators=(",", ":")).encode()
    )
    accounts = orjson.dumps(_accounts_json(dump.accounts))
    best = b"null" if dump.best_block_number is None else str(dump.best_block_number).encode()
    return b"".join(
        (
            b'{"block":',
            block,
            b',"accounts":',
            accounts,
            b',"best_block_number":',
            best,
            b',"blocks":[],"transactions":[],"historical_states":null}',
        )
    )


def encode_dump_rpc(dump: StateDump) -> str:
    """What ``anvil_dumpState`` returns: ``0x`` + hex of the gzipped JSON."""
    return "0x" + zlib_gzip(encode_dump(dump)).hex()


def zlib_gzip(data: bytes) -> bytes:
    """A gzip member as flate2 writes it (mtime 0, OS unknown), at anvil's level."""
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    return compressor.compress(data) + compressor.flush()


# ---------------------------------------------------------------- decoding


def decode_dump(data: bytes | str, *, max_json_bytes: int = MAX_JSON_BYTES) -> StateDump:
    """Parse a dump in any form anvil 1.7.1 reads.

    ``str``: hex (``0x`` optional) of gzipped or plain JSON, as ``anvil_loadState`` takes it,
    or JSON text itself. ``bytes``: gzip, or plain JSON (a ``--dump-state`` file), or ASCII hex
    beginning ``0x``. Raises :class:`StateDumpError` for anything else, and for JSON larger than
    ``max_json_bytes`` (default 1 GiB) before or after decompression.
    """
    if isinstance(data, str):
        raw = _from_text(data, max_json_bytes)
    elif isinstance(data, bytes | bytearray | memoryview):
        raw = bytes(data)
        if len(raw) > 2 * max_json_bytes + 2:
            raise StateDumpError(f"input is {len(raw)} bytes, over the limit")
        if raw[:2] in (b"0x", b"0X"):
            try:
                text = raw.decode("ascii")
            except UnicodeDecodeError:
                raise StateDumpError("input begins with 0x but is not ASCII hex") from None
            raw = _from_text(text, max_json_bytes)
    else:
        raise StateDumpError(f"expected bytes or str, got {type(data).__name__}")
    if raw[:2] == GZIP_MAGIC:
        raw = _gunzip(raw, max_json_bytes)
    elif len(raw) > max_json_bytes:
        raise StateDumpError(
            f"the JSON is {len(raw)} bytes, over the limit of {max_json_bytes} bytes"
        )
    try:
        return _from_json(_parse_json(raw))
    except _InexactNumber:
        return _from_json(_parse_json_exact(raw))


def _from_text(text: str, limit: int) -> bytes:
    stripped = text.lstrip()
    if stripped[:1] == "{":
        if len(text) > limit:
            raise StateDumpError(f"the JSON is {len(text)} characters, over the limit of {limit}")
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError as e:
            raise StateDumpError(f"the JSON text is not valid Unicode: {e}") from None
    if len(text) > 2 * limit + 2:
        raise StateDumpError(f"the hex input is {len(text)} characters, over the limit")
    digits = text[2:] if text[:2] in ("0x", "0X") else text
    if len(digits) % 2:
        raise StateDumpError("the hex input has an odd number of digits")
    try:
        return binascii.a2b_hex(digits)
    except (binascii.Error, ValueError):
        raise StateDumpError("the input is neither hex nor JSON") from None


def _gunzip(raw: bytes, limit: int) -> bytes:
    inflater = zlib.decompressobj(31)  # gzip wrapper only; the CRC and size are checked
    try:
        out = inflater.decompress(raw, limit + 1)
    except zlib.error as e:
        raise StateDumpError(f"bad gzip data: {e}") from None
    if len(out) > limit:
        raise StateDumpError(f"the gzipped JSON inflates to over {limit} bytes (the limit)")
    if not inflater.eof:
        raise StateDumpError("bad gzip data: truncated")
    if inflater.unused_data:
        raise StateDumpError("bad gzip data: trailing bytes after the gzip member")
    return out


def _parse_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise StateDumpError(f"not JSON: {e}") from None


def _parse_json_exact(raw: bytes) -> Any:
    """The slow path for documents with integers over 64 bits, which orjson reads as floats
    and serde_json writes (a u128 blob_gasprice) and reads (U256 balances as JSON numbers).
    Fractions become Decimals (refused where a number is expected); integers are capped at
    4300 digits and nesting by the recursion limit."""
    try:
        return json.loads(raw, parse_float=decimal.Decimal)
    except (ValueError, RecursionError) as e:
        raise StateDumpError(f"not JSON: {e}") from None


def _from_json(doc: Any) -> StateDump:
    if not isinstance(doc, dict):
        raise StateDumpError(f"the dump is a JSON {type(doc).__name__}, not an object")
    for key in ("block", "accounts", "best_block_number"):
        if key not in doc:
            raise StateDumpError(f"the dump has no {key!r} (anvil requires it; null is allowed)")
    for key in ("blocks", "transactions"):
        if not isinstance(doc.get(key, []), list):
            raise StateDumpError(f"{key!r} is not an array")
    historical = doc.get("historical_states")
    if historical is not None and not isinstance(historical, list):
        raise StateDumpError("'historical_states' is neither null nor an array")
    accounts_doc = doc["accounts"]
    if not isinstance(accounts_doc, dict):
        raise StateDumpError("'accounts' is not an object")
    accounts: dict[bytes, StateDumpAccount] = {}
    for key, record in accounts_doc.items():
        accounts[_address(key, "accounts key")] = _account(key, record)
    block_doc = doc["block"]
    block = None if block_doc is None else _block(block_doc)
    best = doc["best_block_number"]
    best_number = None if best is None else _quantity(best, U64, "best_block_number")
    return StateDump(accounts, block, best_number)


def _address(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or _ADDRESS.fullmatch(value) is None:
        raise StateDumpError(f"{what} {value!r} is not a 20-byte hex address")
    return bytes.fromhex(value[-40:])


def _quantity(value: Any, bound: int, what: str, *, decimal: bool = True) -> int:
    """A JSON number, ``0x`` hex or (``decimal``) a decimal string, in [0, bound)."""
    if type(value) is int:
        number = value
    elif type(value) is float:
        raise _InexactNumber
    elif isinstance(value, str) and _HEX_QUANTITY.fullmatch(value):
        number = int(value[2:], 16)
    elif decimal and isinstance(value, str) and _DEC_QUANTITY.fullmatch(value):
        number = int(value)
    else:
        raise StateDumpError(f"{what} {value!r} is not a number or hex quantity")
    if not 0 <= number < bound:
        raise StateDumpError(f"{what} {value!r} is outside [0, 2**{bound.bit_length() - 1})")
    return number


def _account(key: str, record: Any) -> StateDumpAccount:
    where = f"accounts[{key}]"
    if not isinstance(record, dict):
        raise StateDumpError(f"{where} is not an object")
    for name in ("nonce", "balance", "code", "storage"):
        if name not in record:
            raise StateDumpError(f"{where} has no {name!r}")
    nonce = record["nonce"]
    if type(nonce) is float:
        raise _InexactNumber
    if type(nonce) is not int or not 0 <= nonce < U64:
        raise StateDumpError(f"{where}.nonce {nonce!r} is not a JSON integer in [0, 2**64)")
    balance = _quantity(record["balance"], U256, f"{where}.balance")
    code = _hex_bytes(record["code"], f"{where}.code")
    storage_doc = record["storage"]
    if not isinstance(storage_doc, dict):
        raise StateDumpError(f"{where}.storage is not an object")
    storage = {
        _quantity(k, U256, f"{where}.storage key"): _quantity(v, U256, f"{where}.storage[{k}]")
        for k, v in storage_doc.items()
    }
    return StateDumpAccount(nonce, balance, code, storage)


def _hex_bytes(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise StateDumpError(f"{what} is not a hex string")
    digits = value[2:] if value[:2] in ("0x", "0X") else value
    if len(digits) % 2:
        raise StateDumpError(f"{what} has an odd number of hex digits")
    try:
        return binascii.a2b_hex(digits)
    except (binascii.Error, ValueError):
        raise StateDumpError(f"{what} is not hex") from None


def _block(doc: Any) -> BlockInfo:
    """anvil's BlockEnv, or the pre-1.3 form (``coinbase``, hex u64s) it also takes."""
    if not isinstance(doc, dict):
        raise StateDumpError("'block' is neither null nor an object")

    def number(name: str, bound: int, default: int) -> int:
        value = doc.get(name)
        if value is None:
            return default
        return _quantity(value, bound, f"block.{name}", decimal=False)

    coinbase_doc = doc.get("beneficiary", doc.get("coinbase"))
    coinbase = ZERO_ADDRESS if coinbase_doc is None else _address(coinbase_doc, "block.beneficiary")
    prevrandao_doc = doc.get("prevrandao")
    prevrandao = None
    if prevrandao_doc is not None:
        prevrandao = _hex_bytes(prevrandao_doc, "block.prevrandao")
        if len(prevrandao) != 32:
            raise StateDumpError(f"block.prevrandao {prevrandao_doc!r} is not 32 bytes")
    blob = doc.get("blob_excess_gas_and_price")
    excess_blob_gas, blob_gasprice = 0, DEFAULT_BLOB_GASPRICE
    if blob is not None:
        if not isinstance(blob, dict):
            raise StateDumpError("block.blob_excess_gas_and_price is not an object")
        excess_blob_gas = _quantity(
            blob.get("excess_blob_gas", 0), U64, "block.excess_blob_gas", decimal=False
        )
        blob_gasprice = _quantity(
            blob.get("blob_gasprice", DEFAULT_BLOB_GASPRICE),
            U128,
            "block.blob_gasprice",
            decimal=False,
        )
    return BlockInfo(
        number=number("number", U256, 0),
        timestamp=number("timestamp", U256, 1),
        coinbase=coinbase,
        gas_limit=number("gas_limit", U64, U64 - 1),
        base_fee=number("basefee", U64, 0),
        difficulty=number("difficulty", U256, 0),
        prevrandao=prevrandao if "prevrandao" in doc else ZERO_WORD,
        excess_blob_gas=excess_blob_gas,
        blob_gasprice=blob_gasprice,
        slot_num=number("slot_num", U64, 0),
    )
