"""Precompile 0x09 BLAKE2F (EIP-152): the BLAKE2b compression function F.

Input is exactly 213 bytes: rounds (4 bytes, big-endian), h (8 x 8 bytes),
m (16 x 8 bytes), t (2 x 8 bytes; all little-endian) and the final-block flag
(1 byte, 0 or 1); anything else fails. Gas is one per round. F runs in
``blake2b-py`` (Rust, written for py-evm's EIP-152): a pure-Python round costs
~20 us, which would make the precompile hundreds of times slower than its gas.
"""

from __future__ import annotations

import struct

from blake2b import compress

from jit.evm.precompiles.base import PrecompileFailure, charge

GAS_BLAKE2F_PER_ROUND = 1
BLAKE2F_INPUT = 213

_WORDS = struct.Struct("<8Q16Q2Q")


def blake2f(data: bytes, gas: int) -> tuple[bytes, int]:
    if len(data) != BLAKE2F_INPUT:
        raise PrecompileFailure("blake2f: input must be 213 bytes")
    rounds = int.from_bytes(data[0:4], "big")
    used = charge(gas, GAS_BLAKE2F_PER_ROUND * rounds)
    final = data[212]
    if final > 1:
        raise PrecompileFailure("blake2f: final-block flag must be 0 or 1")
    words = _WORDS.unpack_from(data, 4)
    return bytes(compress(rounds, words[0:8], words[8:24], words[24:26], final == 1)), used
