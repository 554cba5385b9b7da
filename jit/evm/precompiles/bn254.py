"""Precompiles 0x06 ECADD, 0x07 ECMUL and 0x08 ECPAIRING on BN254 (alt_bn128).

EIP-196 (add, scalar multiplication) and EIP-197 (pairing check) semantics,
EIP-1108 (Istanbul) gas. Validity rules: every coordinate must be below the
field modulus, G1 points must be on ``y^2 = x^3 + 3``, G2 points on the twist
and in the r-torsion subgroup, ``(0, 0)`` encodes the point at infinity; the
add/mul input is zero-padded (or truncated) to its fixed size, the pairing
input must be a multiple of 192 bytes. Any violation is a precompile failure.

Backends (measured in docs/benchmarks.md): no maintained Python binding exposes
BN254 arithmetic directly, so ECMUL and ECPAIRING call revm's production
precompiles (substrate-bn, Rust) through ``pyrevm``, whose in-memory EVM we use
as a library: a message call straight to the precompile address. ECADD is done
here in Python (the one field inversion in GMP via gmpy2): one affine addition
costs ~4 us, less than the ~10 us a pyrevm call costs, and its rules are short
enough to state exactly.
"""

from __future__ import annotations

import threading

import gmpy2
import pyrevm

from jit.evm.precompiles.base import PrecompileFailure, charge

GAS_ECADD = 150  # EIP-1108
GAS_ECMUL = 6000  # EIP-1108
GAS_ECPAIRING_BASE = 45000  # EIP-1108
GAS_ECPAIRING_PER_PAIR = 34000  # EIP-1108

ECADD_INPUT = 128
ECMUL_INPUT = 96
ECPAIRING_PAIR = 192

# The base field modulus p of BN254.
FIELD_MODULUS = 21888242871839275222246405745257275088696311157297823662689037894645226208583

# revm's EVM keeps a journal entry for every message call it never commits
# (~400 bytes each), so each thread's instance is replaced after this many calls.
_CALLS_PER_EVM = 4096
_CALLER = "0x" + "00" * 19 + "01"
_ECMUL_ADDRESS = "0x" + "00" * 19 + "07"
_ECPAIRING_ADDRESS = "0x" + "00" * 19 + "08"
# Gas for the inner call: revm charges its own intrinsic and calldata gas on
# top of the precompile's; ours has been charged already, so never run short.
_REVM_GAS = 2**62


class _Revm(threading.local):
    evm: pyrevm.EVM | None = None
    calls = 0


_revm = _Revm()


def _call_revm(address: str, data: bytes) -> bytes:
    evm = _revm.evm
    if evm is None or _revm.calls >= _CALLS_PER_EVM:
        evm = _revm.evm = pyrevm.EVM(spec_id="CANCUN")
        _revm.calls = 0
    _revm.calls += 1
    try:
        return bytes(evm.message_call(_CALLER, address, data, gas=_REVM_GAS, gas_price=0))
    except RuntimeError as exc:  # pyrevm raises RuntimeError("Halt { reason: PrecompileError .. }")
        raise PrecompileFailure(f"bn254: {exc}") from None


def _inverse(value: int) -> int:
    # GMP: CPython's pow(value, -1, p) takes ~13 us on 254-bit operands, gmpy2 ~1 us.
    return int(gmpy2.invert(value, FIELD_MODULUS))


def _g1(x: int, y: int) -> bool:
    """Validate an affine G1 point; True if it is the point at infinity."""
    if x >= FIELD_MODULUS or y >= FIELD_MODULUS:
        raise PrecompileFailure("bn254: coordinate not below the field modulus")
    if x == 0 and y == 0:
        return True
    if (y * y - x * x * x - 3) % FIELD_MODULUS:
        raise PrecompileFailure("bn254: point not on curve")
    return False


def ecadd(data: bytes, gas: int) -> tuple[bytes, int]:
    used = charge(gas, GAS_ECADD)
    if len(data) != ECADD_INPUT:
        data = data[:ECADD_INPUT].ljust(ECADD_INPUT, b"\x00")
    x1 = int.from_bytes(data[0:32], "big")
    y1 = int.from_bytes(data[32:64], "big")
    x2 = int.from_bytes(data[64:96], "big")
    y2 = int.from_bytes(data[96:128], "big")
    # Validate both points before short-cutting on infinity: (0, 0) + off-curve must fail.
    first_infinite, second_infinite = _g1(x1, y1), _g1(x2, y2)
    if first_infinite:
        return data[64:128], used
    if second_infinite:
        return data[0:64], used
    p = FIELD_MODULUS
    if x1 == x2:
        if y1 != y2:  # P + (-P); y == 0 cannot occur: the group has odd (prime) order
            return b"\x00" * 64, used
        slope = 3 * x1 * x1 * _inverse(2 * y1) % p
    else:
        slope = (y2 - y1) * _inverse(x2 - x1) % p
    x3 = (slope * slope - x1 - x2) % p
    y3 = (slope * (x1 - x3) - y1) % p
    return x3.to_bytes(32, "big") + y3.to_bytes(32, "big"), used


def ecmul(data: bytes, gas: int) -> tuple[bytes, int]:
    used = charge(gas, GAS_ECMUL)
    if len(data) != ECMUL_INPUT:
        data = data[:ECMUL_INPUT].ljust(ECMUL_INPUT, b"\x00")
    # Check the point here too, so failures never depend on the backend alone.
    _g1(int.from_bytes(data[0:32], "big"), int.from_bytes(data[32:64], "big"))
    return _call_revm(_ECMUL_ADDRESS, data), used


def ecpairing(data: bytes, gas: int) -> tuple[bytes, int]:
    pairs, rest = divmod(len(data), ECPAIRING_PAIR)
    used = charge(gas, GAS_ECPAIRING_BASE + GAS_ECPAIRING_PER_PAIR * pairs)
    if rest:
        raise PrecompileFailure("bn254: pairing input not a multiple of 192 bytes")
    if pairs == 0:
        # EIP-197: the empty product is 1, so the check succeeds.
        return (1).to_bytes(32, "big"), used
    return _call_revm(_ECPAIRING_ADDRESS, data), used
