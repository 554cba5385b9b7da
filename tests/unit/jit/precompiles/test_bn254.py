"""0x06-0x08 BN254: cross-checked against py_ecc (the execution-specs' reference) plus hostile input."""

from __future__ import annotations

import random

import pytest
from py_ecc import optimized_bn128 as bn

from jit.evm.precompiles.base import PrecompileFailure
from jit.evm.precompiles.bn254 import FIELD_MODULUS, ecadd, ecmul, ecpairing
from tests.unit.jit.precompiles.support import curve_point, twist_point

P = FIELD_MODULUS
ORDER = bn.curve_order
rng = random.Random(1108)


def g1_bytes(point: object) -> bytes:
    if bn.is_inf(point):  # type: ignore[arg-type]
        return b"\x00" * 64
    x, y = bn.normalize(point)  # type: ignore[arg-type]
    return int(x).to_bytes(32, "big") + int(y).to_bytes(32, "big")


def g2_bytes(point: object) -> bytes:
    if bn.is_inf(point):  # type: ignore[arg-type]
        return b"\x00" * 128
    x, y = bn.normalize(point)  # type: ignore[arg-type]
    # EIP-197 orders each Fp2 element as (imaginary, real).
    return b"".join(
        int(c).to_bytes(32, "big") for c in (x.coeffs[1], x.coeffs[0], y.coeffs[1], y.coeffs[0])
    )


def random_g1() -> object:
    return bn.multiply(bn.G1, rng.randrange(1, ORDER))


@pytest.mark.parametrize("seed", range(8))
def test_add_matches_py_ecc(seed: int) -> None:
    a, b = random_g1(), random_g1()
    for left, right in [(a, b), (a, a), (a, bn.neg(a)), (a, bn.Z1), (bn.Z1, bn.Z1)]:  # type: ignore[arg-type]
        out, used = ecadd(g1_bytes(left) + g1_bytes(right), 150)
        assert used == 150
        assert out == g1_bytes(bn.add(left, right))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "scalar", [0, 1, 2, ORDER - 1, ORDER, ORDER + 1, 2**256 - 1, 12345678901234567890]
)
def test_mul_matches_py_ecc(scalar: int) -> None:
    point = random_g1()
    out, used = ecmul(g1_bytes(point) + scalar.to_bytes(32, "big"), 6000)
    assert used == 6000
    assert out == g1_bytes(bn.multiply(point, scalar % ORDER))  # type: ignore[arg-type]
    out, _ = ecmul(b"\x00" * 64 + scalar.to_bytes(32, "big"), 6000)
    assert out == b"\x00" * 64


def test_mul_input_truncated_and_padded() -> None:
    point = g1_bytes(bn.G1)
    assert ecmul(point + (2).to_bytes(32, "big") + b"\xff" * 40, 6000)[0] == g1_bytes(
        bn.double(bn.G1)
    )
    # Scalar 0x02 cut to its first byte reads as 0x02 << 248.
    assert ecmul(point + b"\x02", 6000)[0] == g1_bytes(bn.multiply(bn.G1, (2 << 248) % ORDER))


def test_pairing_bilinearity() -> None:
    a, b = rng.randrange(1, ORDER), rng.randrange(1, ORDER)
    pa, qb = bn.multiply(bn.G1, a), bn.multiply(bn.G2, b)
    pab = bn.multiply(bn.G1, a * b % ORDER)
    good = g1_bytes(pa) + g2_bytes(qb) + g1_bytes(bn.neg(pab)) + g2_bytes(bn.G2)
    out, used = ecpairing(good, 200_000)
    assert (out, used) == ((1).to_bytes(32, "big"), 45000 + 2 * 34000)
    bad = g1_bytes(pa) + g2_bytes(qb) + g1_bytes(pab) + g2_bytes(bn.G2)
    assert ecpairing(bad, 200_000)[0] == b"\x00" * 32
    # Infinity in either slot contributes 1.
    assert ecpairing(b"\x00" * 64 + g2_bytes(bn.G2), 79000)[0] == (1).to_bytes(32, "big")
    assert ecpairing(g1_bytes(bn.G1) + b"\x00" * 128, 79000)[0] == (1).to_bytes(32, "big")


def off_curve() -> bytes:
    return (1).to_bytes(32, "big") + (3).to_bytes(32, "big")


@pytest.mark.parametrize(
    "point",
    [
        off_curve(),
        P.to_bytes(32, "big") + b"\x00" * 32,  # x = p (would be 0 mod p)
        (1).to_bytes(32, "big") + (2 + P).to_bytes(32, "big"),  # G1 with y + p
        b"\x00" * 32 + (1).to_bytes(32, "big"),  # (0, 1) is not the infinity encoding
    ],
)
def test_invalid_g1_fails(point: bytes) -> None:
    with pytest.raises(PrecompileFailure):
        ecadd(point + g1_bytes(bn.G1), 150)
    with pytest.raises(PrecompileFailure):
        ecadd(g1_bytes(bn.G1) + point, 150)
    with pytest.raises(PrecompileFailure):
        ecmul(point + (1).to_bytes(32, "big"), 6000)
    with pytest.raises(PrecompileFailure):
        ecpairing(point + g2_bytes(bn.G2), 79000)


def test_infinity_plus_invalid_point_fails() -> None:
    # stZeroKnowledge2 ecadd_0-0_1-3: the infinity short cut must not skip the other check.
    for data in (b"\x00" * 64 + off_curve(), off_curve() + b"\x00" * 64):
        with pytest.raises(PrecompileFailure):
            ecadd(data, 150)


def test_g2_not_in_subgroup_fails() -> None:
    (x0, x1), (y0, y1) = twist_point((int(bn.b2.coeffs[0]), int(bn.b2.coeffs[1])), P)
    reference = (bn.FQ2([x0, x1]), bn.FQ2([y0, y1]), bn.FQ2.one())
    assert bn.is_on_curve(reference, bn.b2)  # on the twist ...
    assert not bn.is_inf(bn.multiply(reference, ORDER))  # ... but not in the r-subgroup
    point = b"".join(v.to_bytes(32, "big") for v in (x1, x0, y1, y0))
    with pytest.raises(PrecompileFailure):
        ecpairing(g1_bytes(bn.G1) + point, 79000)


def test_g2_invalid_encodings_fail() -> None:
    g2 = g2_bytes(bn.G2)
    off = g2[:-1] + bytes([g2[-1] ^ 1])
    big = (int.from_bytes(g2[:32], "big") + P).to_bytes(32, "big") + g2[32:]
    for point in (off, big, g2[64:] + g2[:64]):
        with pytest.raises(PrecompileFailure):
            ecpairing(g1_bytes(bn.G1) + point, 79000)


def test_pairing_length_and_gas() -> None:
    good = g1_bytes(bn.G1) + g2_bytes(bn.G2)
    for data in (good[:-1], good + b"\x00", b"\x00"):
        with pytest.raises(PrecompileFailure):
            ecpairing(data, 10**6)
    with pytest.raises(PrecompileFailure):
        ecpairing(good, 78999)
    with pytest.raises(PrecompileFailure):
        ecpairing(b"", 44999)
    assert ecpairing(b"", 45000) == ((1).to_bytes(32, "big"), 45000)


def test_add_and_mul_out_of_gas() -> None:
    with pytest.raises(PrecompileFailure):
        ecadd(b"", 149)
    with pytest.raises(PrecompileFailure):
        ecmul(b"", 5999)


def test_curve_point_helper_builds_valid_g1() -> None:
    # BN254 G1 has cofactor 1: any curve point is in the group and must be accepted.
    x, y = curve_point(3, P, start=5)
    point = x.to_bytes(32, "big") + y.to_bytes(32, "big")
    out, _ = ecmul(point + (1).to_bytes(32, "big"), 6000)
    assert out == point


def test_many_calls_recycle_the_backend() -> None:
    data = g1_bytes(bn.G1) + (3).to_bytes(32, "big")
    expected = g1_bytes(bn.multiply(bn.G1, 3))
    for _ in range(5000):  # more than one backend lifetime (_CALLS_PER_EVM)
        assert ecmul(data, 6000)[0] == expected
