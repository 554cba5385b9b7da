"""Decoding revert data into the reason text clients show (geth / anvil wording).

``Error(string)`` (selector 0x08c379a0) gives its string; ``Panic(uint256)``
(0x4e487b71) gives ``panic: <kind> (0xNN)`` as anvil does. Anything else,
custom errors included, has no text: callers show the raw data.
"""

from __future__ import annotations

from typing import Final

ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)

# Solidity panic codes, worded as alloy's PanicKind (what anvil prints).
PANIC_REASONS: dict[int, str] = {
    0x00: "generic/unspecified error",
    0x01: "assertion failed",
    0x11: "arithmetic underflow or overflow",
    0x12: "division or modulo by zero",
    0x21: "failed to convert value into enum type",
    0x22: "storage byte array incorrectly encoded",
    0x31: "called `.pop()` on an empty array",
    0x32: "array out-of-bounds access",
    0x41: "memory allocation error",
    0x51: "called an invalid internal function",
}


def decode_revert_reason(output: bytes | bytearray | memoryview) -> str | None:
    """The reason in revert data, as anvil words it; None when it is neither
    ``Error(string)`` nor ``Panic(uint256)`` or is malformed (never raises).

    ``Error(string)`` gives the string itself (invalid UTF-8 replaced, trailing bytes
    ignored like alloy's lenient decoding); ``Panic(uint256)`` gives
    ``panic: <kind> (0x<code>)``, e.g. ``panic: assertion failed (0x01)``.
    """
    selector, body = bytes(output[:4]), output[4:]
    if selector == ERROR_SELECTOR:
        if len(body) < 64:
            return None
        offset = int.from_bytes(body[:32], "big")
        if offset > len(body) - 32:
            return None
        length = int.from_bytes(body[offset : offset + 32], "big")
        start = offset + 32
        if length > len(body) - start:
            return None
        return bytes(body[start : start + length]).decode("utf-8", errors="replace")
    if selector == PANIC_SELECTOR:
        if len(body) < 32:
            return None
        code = int.from_bytes(body[:32], "big")
        kind = PANIC_REASONS.get(code)
        if kind is None:
            return f"panic: unknown code (0x{code:x})"
        return f"panic: {kind} (0x{code:02x})"
    return None


# geth's words for a Panic code in a trace's ``revertReason`` (abi.UnpackRevert), which
# anvil's tracers use too.
TRACE_PANIC_REASONS: Final = {
    0x00: "generic panic",
    0x01: "assert(false)",
    0x11: "arithmetic underflow or overflow",
    0x12: "division or modulo by zero",
    0x21: "enum overflow",
    0x22: "invalid encoded storage byte array accessed",
    0x31: "out-of-bounds array access; popping on an empty array",
    0x32: "out-of-bounds access of an array or bytesN",
    0x41: "out of memory",
    0x51: "uninitialized function",
}


def trace_revert_reason(output: bytes | bytearray | memoryview) -> str | None:
    """A trace's ``revertReason``: the ``Error(string)`` text, or geth's words for a
    ``Panic(uint256)`` code; None otherwise."""
    if bytes(output[:4]) == PANIC_SELECTOR and len(output) >= 36:
        code = int.from_bytes(output[4:36], "big")
        return TRACE_PANIC_REASONS.get(code, f"unknown panic code: {code:#x}")
    return decode_revert_reason(output)
