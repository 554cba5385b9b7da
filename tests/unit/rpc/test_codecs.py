"""rpc.codecs: output encoders and the strict, size-checked input parsers."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from rpc.codecs import (
    LATEST,
    BlockId,
    data,
    json_type,
    parse_address,
    parse_block_id,
    parse_block_number,
    parse_bool,
    parse_data,
    parse_hash,
    parse_quantity,
    parse_storage_slot,
    parse_uint64,
    quantity,
)
from rpc.errors import InvalidParams

ADDR = "0x" + "ab" * 20
HASH = "0x" + "cd" * 32
HUGE = "0x1" + "0" * 10_000_000  # 10 MB


def error(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
    with pytest.raises(InvalidParams) as info:
        fn(*args, **kwargs)
    assert info.value.code == -32602
    return info.value.message


def test_quantity_output() -> None:
    assert quantity(0) == "0x0"
    assert quantity(1) == "0x1"
    assert quantity(0x1F) == "0x1f"
    assert quantity(2**256 - 1) == "0x" + "f" * 64
    with pytest.raises(ValueError):
        quantity(-1)


def test_data_output() -> None:
    assert data(b"") == "0x"
    assert data(b"\x00\xab") == "0x00ab"


def test_json_type_names() -> None:
    values: list[object] = [None, True, 1, 1.5, "s", [], {}]
    assert [json_type(v) for v in values] == [
        "null",
        "bool",
        "number",
        "number",
        "string",
        "array",
        "object",
    ]


# ---------------------------------------------------------------- quantities


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0x0", 0),
        ("0x1", 1),
        ("0xff", 255),
        ("0XFF", 255),
        ("0xAbC", 0xABC),
        ("0x" + "f" * 64, 2**256 - 1),
    ],
)
def test_quantity_parses(text: str, value: int) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "empty hex string"),
        ("12", "hex string without 0x prefix"),
        ("x1", "hex string without 0x prefix"),
        ("0x", 'hex string "0x"'),
        ("0x00", "hex number with leading zero digits"),
        ("0x01", "hex number with leading zero digits"),
        ("0xg", "invalid hex string"),
        ("0x1_0", "invalid hex string"),
        ("0x 1", "invalid hex string"),
        ("0x1 ", "invalid hex string"),
        ("0x-1", "invalid hex string"),
        ("0x1" + "0" * 64, "hex number > 256 bits"),
        (HUGE, "hex number > 256 bits"),
        (1, "cannot unmarshal number into quantity"),
        (True, "cannot unmarshal bool into quantity"),
        (None, "cannot unmarshal null into quantity"),
        ([], "cannot unmarshal array into quantity"),
        ({}, "cannot unmarshal object into quantity"),
        (1.5, "cannot unmarshal number into quantity"),
    ],
)
def test_quantity_rejects(value: object, message: str) -> None:
    assert error(parse_quantity, value, 0) == f"invalid argument 0: {message}"


def test_quantity_error_names_the_argument() -> None:
    assert (
        error(parse_quantity, "0x01", 1)
        == "invalid argument 1: hex number with leading zero digits"
    )
    assert error(parse_quantity, "0x01") == "hex number with leading zero digits"


def test_uint64_bounds() -> None:
    assert parse_uint64("0x" + "f" * 16) == 2**64 - 1
    assert error(parse_uint64, "0x1" + "0" * 16, 2) == "invalid argument 2: hex number > 64 bits"


def test_huge_inputs_fail_fast() -> None:
    start = time.perf_counter()
    for fn in (
        parse_quantity,
        parse_uint64,
        parse_storage_slot,
        parse_block_id,
        parse_address,
        parse_hash,
    ):
        with pytest.raises(InvalidParams):
            fn(HUGE, 0)
    assert time.perf_counter() - start < 0.5


# ---------------------------------------------------------------- data, address, hash


def test_data_parses() -> None:
    assert parse_data("0x") == b""
    assert parse_data("") == b""  # geth's hexutil.Bytes allows the empty string
    assert parse_data("0xABcd") == b"\xab\xcd"
    assert parse_data("0X00") == b"\x00"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abcd", "hex string without 0x prefix"),
        ("0xabc", "hex string of odd length"),
        ("0xzz", "invalid hex string"),
        ("0xab  cd", "invalid hex string"),
        ("0x ab ", "invalid hex string"),
        ("0xab\ncd\n", "invalid hex string"),
        (5, "cannot unmarshal number into data"),
        (None, "cannot unmarshal null into data"),
        (["0x00"], "cannot unmarshal array into data"),
    ],
)
def test_data_rejects(value: object, message: str) -> None:
    assert error(parse_data, value, 3) == f"invalid argument 3: {message}"


def test_data_limits() -> None:
    assert parse_data("0x" + "00" * 4, max_bytes=4) == b"\0" * 4
    assert error(parse_data, "0x" + "00" * 5, 0, max_bytes=4) == (
        "invalid argument 0: hex data too long: 5 bytes, want at most 4"
    )
    assert parse_data("0x" + "11" * 3, length=3) == b"\x11" * 3
    assert (
        error(parse_data, "0x11", 0, length=3)
        == "invalid argument 0: hex string has length 2, want 6"
    )


def test_big_data_is_linear() -> None:
    big = "0x" + "ab" * 5_000_000
    start = time.perf_counter()
    assert len(parse_data(big)) == 5_000_000
    assert time.perf_counter() - start < 1.0


def test_address_any_case_no_checksum() -> None:
    assert parse_address(ADDR) == b"\xab" * 20
    assert parse_address(ADDR.upper().replace("0X", "0x")) == b"\xab" * 20
    # a wrongly checksummed mixed-case address is accepted
    assert parse_address("0x" + "aB" * 20) == b"\xab" * 20


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0x" + "ab" * 19, "hex string has length 38, want 40 for common.Address"),
        ("0x" + "ab" * 21, "hex string has length 42, want 40 for common.Address"),
        ("0x" + "a" * 39, "hex string of odd length"),
        ("", "hex string has length 0, want 40 for common.Address"),
        ("0x", "hex string has length 0, want 40 for common.Address"),
        ("ab" * 20, "hex string without 0x prefix"),
        ("0x" + "zz" * 20, "invalid hex string"),
        (0, "cannot unmarshal number into common.Address"),
        (None, "cannot unmarshal null into common.Address"),
    ],
)
def test_address_rejects(value: object, message: str) -> None:
    assert error(parse_address, value, 0) == f"invalid argument 0: {message}"


def test_hash() -> None:
    assert parse_hash(HASH) == b"\xcd" * 32
    assert (
        error(parse_hash, ADDR, 1)
        == "invalid argument 1: hex string has length 40, want 64 for common.Hash"
    )
    assert (
        error(parse_hash, {}, 1) == "invalid argument 1: cannot unmarshal object into common.Hash"
    )


def test_bool() -> None:
    assert parse_bool(True) is True
    assert parse_bool(False) is False
    for value, name in (("true", "string"), (1, "number"), (0, "number"), (None, "null")):
        assert (
            error(parse_bool, value, 1) == f"invalid argument 1: cannot unmarshal {name} into bool"
        )


# ---------------------------------------------------------------- storage slots


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0x0", 0),
        ("0x", 0),
        ("", 0),
        ("0x00", 0),
        ("0x01", 1),
        ("0x1", 1),
        ("0xabc", 0xABC),
        ("abc", 0xABC),  # geth's decodeHash: the prefix is optional
        ("0X0F", 15),
        ("0x" + "0" * 63 + "5", 5),
        ("0x" + "f" * 64, 2**256 - 1),
    ],
)
def test_storage_slot_parses_like_geth(text: str, value: int) -> None:
    assert parse_storage_slot(text) == value


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "0x" + "0" * 65,
            "unable to decode storage key: hex string too long, want at most 32 bytes",
        ),
        ("0xg", "unable to decode storage key: hex string invalid"),
        ("0x 1", "unable to decode storage key: hex string invalid"),
        (5, "cannot unmarshal number into storage key"),
        (None, "cannot unmarshal null into storage key"),
    ],
)
def test_storage_slot_rejects(value: object, message: str) -> None:
    assert error(parse_storage_slot, value, 1) == f"invalid argument 1: {message}"


# ---------------------------------------------------------------- block ids


@pytest.mark.parametrize("tag", ["latest", "pending", "safe", "finalized", "earliest"])
def test_block_tags(tag: str) -> None:
    assert parse_block_id(tag) == BlockId(tag=tag)
    assert parse_block_number(tag) == BlockId(tag=tag)
    assert parse_block_id({"blockNumber": tag}) == BlockId(tag=tag)


def test_block_numbers_and_hashes() -> None:
    assert parse_block_id("0x0") == BlockId(number=0)
    assert parse_block_id("0x10") == BlockId(number=16)
    assert parse_block_id(HASH) == BlockId(hash=b"\xcd" * 32)
    assert parse_block_id({"blockNumber": "0x5"}) == BlockId(number=5)
    assert parse_block_id({"blockHash": HASH}) == BlockId(hash=b"\xcd" * 32)
    assert parse_block_id({"blockHash": HASH, "requireCanonical": True}) == BlockId(
        hash=b"\xcd" * 32, require_canonical=True
    )
    assert parse_block_id({"blockHash": HASH, "requireCanonical": None}).require_canonical is False
    assert parse_block_id({"blockNumber": "0x1", "unknown": 1}) == BlockId(number=1)
    assert parse_block_id("0x" + "7" + "f" * 15) == BlockId(number=2**63 - 1)
    assert BlockId(tag="latest") == LATEST


def test_block_id_is_frozen_and_slotted() -> None:
    block = BlockId(number=1)
    with pytest.raises(AttributeError):
        block.number = 2  # type: ignore[misc]
    assert not hasattr(block, "__dict__")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("Latest", "hex string without 0x prefix"),
        ("0x01", "hex number with leading zero digits"),
        ("0x" + "8" + "0" * 15, "block number larger than int64"),
        ("0x1" + "0" * 16, "hex number > 64 bits"),
        (5, "cannot unmarshal number into block number or hash"),
        (None, "cannot unmarshal null into block number or hash"),
        (
            {"blockNumber": "0x1", "blockHash": HASH},
            "cannot specify both BlockHash and BlockNumber, choose one or the other",
        ),
        ({}, "invalid arguments; neither block nor hash specified"),
        ({"requireCanonical": True}, "invalid arguments; neither block nor hash specified"),
        ({"blockHash": "0x12"}, "hex string has length 2, want 64 for common.Hash"),
        ({"blockHash": HASH, "requireCanonical": "yes"}, "cannot unmarshal string into bool"),
        ({"blockNumber": 7}, "cannot unmarshal number into block number"),
        ("0x" + "zz" * 32, "invalid hex string"),
    ],
)
def test_block_id_rejects(value: object, message: str) -> None:
    assert error(parse_block_id, value, 2) == f"invalid argument 2: {message}"
