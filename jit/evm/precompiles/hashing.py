"""Precompiles 0x02 SHA256, 0x03 RIPEMD160 and 0x04 IDENTITY (Frontier)."""

from __future__ import annotations

import hashlib

from Crypto.Hash import RIPEMD160

from jit.evm.precompiles.base import charge, words

GAS_SHA256_BASE = 60
GAS_SHA256_WORD = 12
GAS_RIPEMD160_BASE = 600
GAS_RIPEMD160_WORD = 120
GAS_IDENTITY_BASE = 15
GAS_IDENTITY_WORD = 3


def sha256(data: bytes, gas: int) -> tuple[bytes, int]:
    used = charge(gas, GAS_SHA256_BASE + GAS_SHA256_WORD * words(len(data)))
    return hashlib.sha256(data).digest(), used


def ripemd160(data: bytes, gas: int) -> tuple[bytes, int]:
    used = charge(gas, GAS_RIPEMD160_BASE + GAS_RIPEMD160_WORD * words(len(data)))
    # pycryptodome, since OpenSSL 3 builds may lack ripemd160 in hashlib.
    return RIPEMD160.new(data).digest().rjust(32, b"\x00"), used


def identity(data: bytes, gas: int) -> tuple[bytes, int]:
    used = charge(gas, GAS_IDENTITY_BASE + GAS_IDENTITY_WORD * words(len(data)))
    return bytes(data), used
