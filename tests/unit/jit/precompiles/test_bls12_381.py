"""0x0b-0x11 BLS12-381 (EIP-2537): cross-checked against py_ecc, which execution-specs uses."""

from __future__ import annotations

import random

import pytest
from py_ecc import optimized_bls12_381 as bls
from py_ecc.bls.hash_to_curve import (
    clear_cofactor_G1,
    clear_cofactor_G2,
    map_to_curve_G1,
    map_to_curve_G2,
)

from jit.evm.precompiles import bls12_381 as pc
from jit.evm.precompiles.base import PrecompileFailure
from tests.unit.jit.precompiles.support import curve_point, twist_point

P = pc.FIELD_MODULUS
ORDER = bls.curve_order
rng = random.Random(2537)


def fp(value: int) -> bytes:
    return value.to_bytes(64, "big")


def g1_bytes(point: object) -> bytes:
    if bls.is_inf(point):  # type: ignore[arg-type]
        return b"\x00" * 128
    x, y = bls.normalize(point)  # type: ignore[arg-type]
    return fp(int(x)) + fp(int(y))


def g2_bytes(point: object) -> bytes:
    if bls.is_inf(point):  # type: ignore[arg-type]
        return b"\x00" * 256
    x, y = bls.normalize(point)  # type: ignore[arg-type]
    return b"".join(fp(int(c)) for c in (*x.coeffs, *y.coeffs))


def rand_g1() -> object:
    return bls.multiply(bls.G1, rng.randrange(1, ORDER))


def rand_g2() -> object:
    return bls.multiply(bls.G2, rng.randrange(1, ORDER))


# A G1 point on the curve but outside the r-subgroup (the cofactor is > 1).
_X1, _Y1 = curve_point(4, P, start=3)
G1_OFF_SUBGROUP = fp(_X1) + fp(_Y1)
_OFF_REF1 = (bls.FQ(_X1), bls.FQ(_Y1), bls.FQ.one())
(_X20, _X21), (_Y20, _Y21) = twist_point((4, 4), P)
G2_OFF_SUBGROUP = fp(_X20) + fp(_X21) + fp(_Y20) + fp(_Y21)
_OFF_REF2 = (bls.FQ2([_X20, _X21]), bls.FQ2([_Y20, _Y21]), bls.FQ2.one())


def test_off_subgroup_fixtures_are_what_they_claim() -> None:
    assert bls.is_on_curve(_OFF_REF1, bls.b) and not bls.is_inf(bls.multiply(_OFF_REF1, ORDER))
    assert bls.is_on_curve(_OFF_REF2, bls.b2) and not bls.is_inf(bls.multiply(_OFF_REF2, ORDER))


def test_g1add_matches_py_ecc() -> None:
    a, b = rand_g1(), rand_g1()
    for left, right in [(a, b), (a, a), (a, bls.neg(a)), (a, bls.Z1), (bls.Z1, bls.Z1)]:  # type: ignore[arg-type]
        assert pc.g1add(g1_bytes(left) + g1_bytes(right), 375) == (
            g1_bytes(bls.add(left, right)),
            375,
        )  # type: ignore[arg-type]
    # ADD does no subgroup check (EIP-2537): a point off the subgroup is fine.
    out, _ = pc.g1add(G1_OFF_SUBGROUP + g1_bytes(bls.G1), 375)
    assert out == g1_bytes(bls.add(_OFF_REF1, bls.G1))
    out, _ = pc.g1add(G1_OFF_SUBGROUP + G1_OFF_SUBGROUP, 375)
    assert out == g1_bytes(bls.double(_OFF_REF1))


def test_g2add_matches_py_ecc() -> None:
    a, b = rand_g2(), rand_g2()
    for left, right in [(a, b), (a, a), (a, bls.neg(a)), (bls.Z2, a)]:  # type: ignore[arg-type]
        assert pc.g2add(g2_bytes(left) + g2_bytes(right), 600) == (
            g2_bytes(bls.add(left, right)),
            600,
        )  # type: ignore[arg-type]
    out, _ = pc.g2add(G2_OFF_SUBGROUP + g2_bytes(bls.G2), 600)
    assert out == g2_bytes(bls.add(_OFF_REF2, bls.G2))


def test_g1msm_matches_py_ecc() -> None:
    points = [rand_g1() for _ in range(3)] + [bls.Z1]
    scalars = [0, 1, 2**256 - 1, ORDER + 5]
    data = b"".join(g1_bytes(p) + s.to_bytes(32, "big") for p, s in zip(points, scalars))
    expected = bls.Z1
    for p, s in zip(points, scalars):
        expected = bls.add(expected, bls.multiply(p, s % ORDER))  # type: ignore[arg-type]
    out, used = pc.g1msm(data, 10**6)
    assert out == g1_bytes(expected)
    assert used == 4 * 12000 * 797 // 1000


def test_g2msm_matches_py_ecc() -> None:
    points = [rand_g2(), rand_g2()]
    scalars = [rng.randrange(2**256), 7]
    data = b"".join(g2_bytes(p) + s.to_bytes(32, "big") for p, s in zip(points, scalars))
    expected = bls.add(bls.multiply(points[0], scalars[0] % ORDER), bls.multiply(points[1], 7))  # type: ignore[arg-type]
    out, used = pc.g2msm(data, 10**6)
    assert out == g2_bytes(expected)
    assert used == 2 * 22500 * 1000 // 1000  # the G2 table's second entry is still 1000


def test_msm_gas_table() -> None:
    assert pc._msm_gas(1, 12000, pc.G1_MSM_DISCOUNT, 519) == 12000
    assert pc._msm_gas(128, 12000, pc.G1_MSM_DISCOUNT, 519) == 128 * 12000 * 519 // 1000
    assert pc._msm_gas(129, 12000, pc.G1_MSM_DISCOUNT, 519) == 129 * 12000 * 519 // 1000
    assert pc._msm_gas(3, 22500, pc.G2_MSM_DISCOUNT, 524) == 3 * 22500 * 923 // 1000
    assert pc._msm_gas(200, 22500, pc.G2_MSM_DISCOUNT, 524) == 200 * 22500 * 524 // 1000
    assert len(pc.G1_MSM_DISCOUNT) == len(pc.G2_MSM_DISCOUNT) == 128


def test_msm_requires_subgroup() -> None:
    with pytest.raises(PrecompileFailure):
        pc.g1msm(G1_OFF_SUBGROUP + (1).to_bytes(32, "big"), 10**6)
    with pytest.raises(PrecompileFailure):
        pc.g2msm(G2_OFF_SUBGROUP + (1).to_bytes(32, "big"), 10**6)
    # Even with scalar 0 the point must be checked.
    with pytest.raises(PrecompileFailure):
        pc.g1msm(G1_OFF_SUBGROUP + b"\x00" * 32, 10**6)


def test_pairing_check() -> None:
    a, b = rng.randrange(1, ORDER), rng.randrange(1, ORDER)
    pa, qb = bls.multiply(bls.G1, a), bls.multiply(bls.G2, b)
    pab = bls.multiply(bls.G1, a * b % ORDER)
    good = g1_bytes(pa) + g2_bytes(qb) + g1_bytes(bls.neg(pab)) + g2_bytes(bls.G2)
    assert pc.pairing_check(good, 10**6) == ((1).to_bytes(32, "big"), 37700 + 2 * 32600)
    bad = g1_bytes(pa) + g2_bytes(qb) + g1_bytes(pab) + g2_bytes(bls.G2)
    assert pc.pairing_check(bad, 10**6)[0] == b"\x00" * 32
    assert pc.pairing_check(b"\x00" * 128 + g2_bytes(bls.G2), 10**6)[0] == (1).to_bytes(32, "big")
    assert pc.pairing_check(g1_bytes(bls.G1) + g2_bytes(bls.G2), 10**6)[0] == b"\x00" * 32
    for data in (G1_OFF_SUBGROUP + g2_bytes(bls.G2), g1_bytes(bls.G1) + G2_OFF_SUBGROUP):
        with pytest.raises(PrecompileFailure):
            pc.pairing_check(data, 10**6)
    for data in (b"", good[:-1], good + b"\x00"):
        with pytest.raises(PrecompileFailure):
            pc.pairing_check(data, 10**6)
    with pytest.raises(PrecompileFailure):
        pc.pairing_check(good, 37700 + 2 * 32600 - 1)


@pytest.mark.parametrize("u", [0, 1, 12345678901234567890, P - 1])
def test_map_fp_to_g1_matches_py_ecc(u: int) -> None:
    expected = clear_cofactor_G1(map_to_curve_G1(bls.FQ(u)))
    assert pc.map_fp_to_g1(fp(u), 5500) == (g1_bytes(expected), 5500)


@pytest.mark.parametrize("u", [(0, 0), (1, 2), (P - 1, 12345), (98765, P - 1)])
def test_map_fp2_to_g2_matches_py_ecc(u: tuple[int, int]) -> None:
    expected = clear_cofactor_G2(map_to_curve_G2(bls.FQ2(list(u))))
    assert pc.map_fp2_to_g2(fp(u[0]) + fp(u[1]), 23800) == (g2_bytes(expected), 23800)


def _bad_fp_encodings(good: bytes) -> list[bytes]:
    """``good`` (an encoded point or element) with one coordinate made non-canonical."""
    value = int.from_bytes(good[:64], "big")
    return [
        fp(value + P) + good[64:],  # >= p
        fp(value | (1 << 400)) + good[64:],  # nonzero top 16 bytes
        fp(P) + good[64:],
    ]


def test_invalid_field_elements_fail() -> None:
    g1, g2 = g1_bytes(bls.G1), g2_bytes(bls.G2)
    for bad in _bad_fp_encodings(g1):
        with pytest.raises(PrecompileFailure):
            pc.g1add(bad + g1, 375)
        with pytest.raises(PrecompileFailure):
            pc.g1msm(bad + b"\x00" * 31 + b"\x01", 10**6)
    for bad in _bad_fp_encodings(g2):
        with pytest.raises(PrecompileFailure):
            pc.g2add(g2 + bad, 600)
    for bad in _bad_fp_encodings(fp(5)):
        with pytest.raises(PrecompileFailure):
            pc.map_fp_to_g1(bad, 5500)
        with pytest.raises(PrecompileFailure):
            pc.map_fp2_to_g2(fp(1) + bad, 23800)


def test_off_curve_fails() -> None:
    g1, g2 = g1_bytes(bls.G1), g2_bytes(bls.G2)
    off1 = g1[:-1] + bytes([g1[-1] ^ 1])
    off2 = g2[:-1] + bytes([g2[-1] ^ 1])
    for call in (
        lambda: pc.g1add(off1 + g1, 375),
        lambda: pc.g1add(fp(0) + fp(1) + g1, 375),  # (0, 1) is not the infinity encoding
        lambda: pc.g2add(off2 + g2, 600),
        lambda: pc.g1msm(off1 + b"\x00" * 32, 10**6),
        lambda: pc.g2msm(off2 + b"\x00" * 32, 10**6),
        lambda: pc.pairing_check(off1 + g2, 10**6),
        lambda: pc.pairing_check(g1 + off2, 10**6),
    ):
        with pytest.raises(PrecompileFailure):
            call()


@pytest.mark.parametrize(
    ("fn", "size", "gas"),
    [
        (pc.g1add, 256, 375),
        (pc.g2add, 512, 600),
        (pc.g1msm, 160, 12000),
        (pc.g2msm, 288, 22500),
        (pc.map_fp_to_g1, 64, 5500),
        (pc.map_fp2_to_g2, 128, 23800),
    ],
)
def test_lengths_and_gas(fn: object, size: int, gas: int) -> None:
    assert callable(fn)
    fn(b"\x00" * size, gas)  # all zeros: infinity / the zero field element, valid everywhere
    for length in (0, size - 1, size + 1):
        with pytest.raises(PrecompileFailure):
            fn(b"\x00" * length, 10**6)
    with pytest.raises(PrecompileFailure):
        fn(b"\x00" * size, gas - 1)
