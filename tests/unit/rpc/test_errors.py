"""rpc.errors: the exception -> JSON-RPC error mapping and the revert reason decoder."""

from __future__ import annotations

import logging

import pytest

from jit.evm.exceptions import InvalidTransaction, NonceTooLow
from rpc.errors import (
    InternalError,
    InvalidParams,
    InvalidRequest,
    MethodNotFound,
    ParseError,
    RpcError,
    decode_revert_reason,
    error_object,
)
from sequencer.errors import ExecutionReverted, NodeError, ResourceNotFound


def abi_error(reason: bytes, *, offset: int = 32, length: int | None = None) -> bytes:
    n = len(reason) if length is None else length
    padded = reason + b"\0" * (-len(reason) % 32)
    return bytes.fromhex("08c379a0") + offset.to_bytes(32, "big") + n.to_bytes(32, "big") + padded


def abi_panic(code: int) -> bytes:
    return bytes.fromhex("4e487b71") + code.to_bytes(32, "big")


@pytest.mark.parametrize(
    ("exc", "code", "message"),
    [
        (ParseError(), -32700, "parse error"),
        (InvalidRequest(), -32600, "invalid request"),
        (InvalidRequest("empty batch"), -32600, "empty batch"),
        (MethodNotFound("foo_bar"), -32601, "the method foo_bar does not exist/is not available"),
        (
            InvalidParams("too many arguments, want at most 1"),
            -32602,
            "too many arguments, want at most 1",
        ),
        (InternalError(), -32603, "internal error"),
        (RpcError("custom", code=-32099), -32099, "custom"),
    ],
)
def test_rpc_errors_carry_their_fields(exc: RpcError, code: int, message: str) -> None:
    assert error_object(exc) == {"code": code, "message": message}


def test_rpc_error_data_is_kept() -> None:
    assert error_object(InvalidParams("bad", data={"x": 1})) == {
        "code": -32602,
        "message": "bad",
        "data": {"x": 1},
    }


def test_node_errors_map_to_their_code_message_and_data() -> None:
    assert error_object(NodeError("nonce too low")) == {"code": -32000, "message": "nonce too low"}
    assert error_object(ResourceNotFound("header not found"))["code"] == -32001
    reverted = ExecutionReverted(abi_error(b"nope"), "nope")
    assert error_object(reverted) == {
        "code": 3,
        "message": "execution reverted: nope",
        "data": "0x" + abi_error(b"nope").hex(),
    }


def test_invalid_transaction_is_minus_32000_with_its_text() -> None:
    assert error_object(NonceTooLow("nonce too low: next nonce 5, tx nonce 1")) == {
        "code": -32000,
        "message": "nonce too low: next nonce 5, tx nonce 1",
    }
    assert error_object(InvalidTransaction("intrinsic gas too low"))["code"] == -32000


def test_unexpected_exception_is_internal_error_and_logs_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def boom() -> None:
        raise KeyError("missing")

    with caplog.at_level(logging.ERROR, logger="hummingbird.rpc"):
        try:
            boom()
        except KeyError as exc:
            obj = error_object(exc)
    assert obj["code"] == -32603
    assert obj["message"] == "internal error"
    assert "KeyError" in str(obj["data"])
    record = caplog.records[-1]
    assert record.name == "hummingbird.rpc"
    assert record.exc_info is not None
    assert "boom" in caplog.text  # the traceback names the failing frame


# ---------------------------------------------------------------- revert reasons


def test_error_string_is_decoded() -> None:
    assert decode_revert_reason(abi_error(b"Ownable: caller is not the owner")) == (
        "Ownable: caller is not the owner"
    )
    assert decode_revert_reason(abi_error(b"")) == ""
    assert decode_revert_reason(abi_error("héllo ✓".encode())) == "héllo ✓"


def test_error_string_with_trailing_garbage_is_decoded_leniently() -> None:
    # solc 0.5 (Uniswap V2) appends a stray word; alloy decodes it without validation
    assert decode_revert_reason(abi_error(b"UniswapV2: K") + b"\x80" * 32) == "UniswapV2: K"


def test_error_string_with_invalid_utf8_is_replaced() -> None:
    assert decode_revert_reason(abi_error(b"a\xffb")) == "a\ufffdb"


@pytest.mark.parametrize(
    "output",
    [
        b"",
        b"\x08\xc3\x79",
        bytes.fromhex("08c379a0"),
        bytes.fromhex("08c379a0") + b"\0" * 63,
        abi_error(b"short", length=1000),
        abi_error(b"x", offset=1 << 255),
        abi_error(b"x", offset=10_000),
        abi_error(b"x", length=(1 << 256) - 1),
        abi_error(b"x")[:-32],
        bytes.fromhex("4e487b71") + b"\0" * 31,
        bytes.fromhex("deadbeef") + b"\0" * 64,
        b"plain text revert",
    ],
)
def test_malformed_or_unknown_revert_data_is_none(output: bytes) -> None:
    assert decode_revert_reason(output) is None


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (0x00, "panic: generic/unspecified error (0x00)"),
        (0x01, "panic: assertion failed (0x01)"),
        (0x11, "panic: arithmetic underflow or overflow (0x11)"),
        (0x12, "panic: division or modulo by zero (0x12)"),
        (0x21, "panic: failed to convert value into enum type (0x21)"),
        (0x22, "panic: storage byte array incorrectly encoded (0x22)"),
        (0x31, "panic: called `.pop()` on an empty array (0x31)"),
        (0x32, "panic: array out-of-bounds access (0x32)"),
        (0x41, "panic: memory allocation error (0x41)"),
        (0x51, "panic: called an invalid internal function (0x51)"),
        (0x99, "panic: unknown code (0x99)"),
        (1 << 200, f"panic: unknown code (0x{1 << 200:x})"),
    ],
)
def test_panic_is_worded_like_anvil(code: int, text: str) -> None:
    assert decode_revert_reason(abi_panic(code)) == text


def test_decoder_accepts_memoryview_and_bytearray() -> None:
    raw = abi_error(b"why")
    assert decode_revert_reason(bytearray(raw)) == "why"
    assert decode_revert_reason(memoryview(raw)) == "why"
