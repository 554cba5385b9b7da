"""Decoding revert data into the reason text clients show (geth / anvil wording).

``Error(string)`` (selector 0x08c379a0) gives its string; ``Panic(uint256)``
(0x4e487b71) gives ``panic: <kind> (0xNN)`` as anvil does. Anything else,
custom errors included, has no text: callers show the raw data.
"""

from __future__ import annotations

from typing import Final

ERROR_SELECTOR: Final = bytes.fromhex("08c379a0")
PANIC_SELECTOR: Final = bytes.fromhex("4e487b71")
MAX_REASON_BYTES: Final = 4096

PANIC_KINDS: Final = {
    0x00: "generic/unspecified error",
    0x01: "assertion failed",
    0x11: "arithmetic underflow or overflow",
    0x12: "division or modulo by zero",
    0x21: "attempted to convert to an invalid type",
    0x22: "attempted to access incorrectly encoded storage",
    0x31: "attempted to .pop() an empty array",
    0x32: "array out-of-bounds access",
    0x41: "out of memory",
    0x51: "called an invalid internal function",
}


def decode_revert_reason(output: bytes) -> str | None:
    """The reason text of revert data, or None; never raises on malformed data."""
    selector, body = output[:4], output[4:]
    if selector == ERROR_SELECTOR and len(body) >= 64:
        offset = int.from_bytes(body[:32], "big")
        if offset > len(body) - 32:
            return None
        length = int.from_bytes(body[offset : offset + 32], "big")
        start = offset + 32
        if length > min(MAX_REASON_BYTES, len(body) - start):
            return None
        return body[start : start + length].decode("utf-8", errors="replace")
    if selector == PANIC_SELECTOR and len(body) == 32:
        code = int.from_bytes(body, "big")
        kind = PANIC_KINDS.get(code, "unknown panic code")
        return f"panic: {kind} (0x{code:02x})"
    return None
