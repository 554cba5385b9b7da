"""Precompile 0x05 MODEXP: EIP-198 semantics with two gas schedules.

``modexp`` is the Cancun/Prague function (EIP-198 input format, EIP-2565 gas);
``modexp_osaka`` adds the EIP-7823 input bounds and the EIP-7883 gas. Both
price the call from the three length words and the exponent's first 32 bytes
*before* reading the operands, so hostile lengths (2**255) fail on gas without
allocating. The exponentiation itself runs in GMP (gmpy2): CPython's ``pow`` is
7-10x slower on these sizes and would put typical calls under the throughput
budget (see docs/benchmarks.md).
"""

from __future__ import annotations

import gmpy2

from jit.evm.precompiles.base import PrecompileFailure, charge

# EIP-2565 (Berlin .. Prague).
GAS_MODEXP_MIN_EIP2565 = 200
GAS_MODEXP_DIVISOR_EIP2565 = 3
GAS_MODEXP_EXP_BYTE_EIP2565 = 8  # iterations per exponent byte beyond the first 32

# EIP-7883 (Osaka).
GAS_MODEXP_MIN_EIP7883 = 500
GAS_MODEXP_EXP_BYTE_EIP7883 = 16
GAS_MODEXP_SMALL_COMPLEXITY_EIP7883 = 16  # flat complexity when max(len) <= 32 bytes

# EIP-7823 (Osaka): each of the three lengths is bounded.
MODEXP_MAX_LENGTH_EIP7823 = 1024

_HEADER = 96


def _header(data: bytes) -> tuple[int, int, int]:
    header = data[:_HEADER].ljust(_HEADER, b"\x00")
    return (
        int.from_bytes(header[0:32], "big"),
        int.from_bytes(header[32:64], "big"),
        int.from_bytes(header[64:96], "big"),
    )


def _read(data: bytes, start: int, size: int) -> bytes:
    """``size`` bytes of ``data`` from ``start``, zero-padded on the right (EIP-198)."""
    # Only called once the gas for ``size`` is paid, so ``size`` is bounded.
    chunk = data[start : start + size]
    return chunk + b"\x00" * (size - len(chunk))


def _exponent_head(data: bytes, base_len: int, exp_len: int) -> int:
    """The first min(32, exp_len) bytes of the exponent, as an integer."""
    # ``base_len`` may be huge; slicing past the end of ``data`` just gives b"".
    return int.from_bytes(_read(data, _HEADER + base_len, min(32, exp_len)), "big")


def _iterations(exp_len: int, exp_head: int, per_byte: int) -> int:
    if exp_len <= 32:
        count = max(exp_head.bit_length() - 1, 0)
    else:
        count = per_byte * (exp_len - 32) + max(exp_head.bit_length() - 1, 0)
    return max(count, 1)


def gas_eip2565(base_len: int, exp_len: int, mod_len: int, exp_head: int) -> int:
    words = (max(base_len, mod_len) + 7) // 8
    iterations = _iterations(exp_len, exp_head, GAS_MODEXP_EXP_BYTE_EIP2565)
    return max(GAS_MODEXP_MIN_EIP2565, words * words * iterations // GAS_MODEXP_DIVISOR_EIP2565)


def gas_eip7883(base_len: int, exp_len: int, mod_len: int, exp_head: int) -> int:
    max_len = max(base_len, mod_len)
    if max_len > 32:
        words = (max_len + 7) // 8
        complexity = 2 * words * words
    else:
        complexity = GAS_MODEXP_SMALL_COMPLEXITY_EIP7883
    iterations = _iterations(exp_len, exp_head, GAS_MODEXP_EXP_BYTE_EIP7883)
    # EIP-7883 also drops EIP-2565's division by 3.
    return max(GAS_MODEXP_MIN_EIP7883, complexity * iterations)


def _compute(data: bytes, base_len: int, exp_len: int, mod_len: int) -> bytes:
    if base_len == 0 and mod_len == 0:
        return b""
    base = int.from_bytes(_read(data, _HEADER, base_len), "big")
    exp = int.from_bytes(_read(data, _HEADER + base_len, exp_len), "big")
    modulus = int.from_bytes(_read(data, _HEADER + base_len + exp_len, mod_len), "big")
    if modulus == 0:
        return b"\x00" * mod_len
    # gmpy2.powmod(b, 0, 1) is 0 and powmod(0, 0, m) is 1 % m, as EIP-198 wants.
    return int(gmpy2.powmod(base, exp, modulus)).to_bytes(mod_len, "big")


def modexp(data: bytes, gas: int) -> tuple[bytes, int]:
    """0x05 MODEXP, Berlin to Prague: EIP-198 with EIP-2565 gas."""
    base_len, exp_len, mod_len = _header(data)
    exp_head = _exponent_head(data, base_len, exp_len)
    used = charge(gas, gas_eip2565(base_len, exp_len, mod_len, exp_head))
    return _compute(data, base_len, exp_len, mod_len), used


def modexp_osaka(data: bytes, gas: int) -> tuple[bytes, int]:
    """0x05 MODEXP, Osaka: EIP-7823 bounds (each length <= 1024 bytes), EIP-7883 gas."""
    base_len, exp_len, mod_len = _header(data)
    if (
        base_len > MODEXP_MAX_LENGTH_EIP7823
        or exp_len > MODEXP_MAX_LENGTH_EIP7823
        or mod_len > MODEXP_MAX_LENGTH_EIP7823
    ):
        raise PrecompileFailure("modexp operand longer than 1024 bytes (EIP-7823)")
    exp_head = _exponent_head(data, base_len, exp_len)
    used = charge(gas, gas_eip7883(base_len, exp_len, mod_len, exp_head))
    return _compute(data, base_len, exp_len, mod_len), used
