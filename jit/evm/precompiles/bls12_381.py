"""Precompiles 0x0b-0x11: BLS12-381 curve operations (EIP-2537, Prague).

    0x0b G1ADD   0x0c G1MSM   0x0d G2ADD   0x0e G2MSM
    0x0f PAIRING_CHECK   0x10 MAP_FP_TO_G1   0x11 MAP_FP2_TO_G2

Encoding (EIP-2537): an Fp element is 64 bytes big-endian, its top 16 bytes
zero and its value below p; an Fp2 element c0 + c1*v is c0 || c1; a G1 point is
x || y (128 bytes), a G2 point x || y (256 bytes); the point at infinity is all
zeros; a scalar is 32 bytes big-endian and may exceed the group order. Points
must be on their curve; MSM and PAIRING_CHECK also require them to be in the
r-order subgroup, ADD does not. Any violation, and any input of the wrong
length, is a precompile failure.

Arithmetic is arkworks' (``py-arkworks-bls12381``), which offers exactly the
primitives the EIP names: affine decoding with and without the subgroup check,
addition on the whole curve, Pippenger MSM, a multi-pairing check and the
SSWU map with cofactor clearing (RFC 9380 ``map_to_curve`` + ``clear_cofactor``,
no hashing).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from py_arkworks_bls12381 import GT, G1Point, G2Point, Scalar

from jit.evm.precompiles.base import PrecompileFailure, charge

GAS_BLS_G1ADD = 375
GAS_BLS_G2ADD = 600
GAS_BLS_G1MUL = 12000  # per pair of G1MSM before the discount
GAS_BLS_G2MUL = 22500  # per pair of G2MSM before the discount
GAS_BLS_PAIRING_BASE = 37700
GAS_BLS_PAIRING_PER_PAIR = 32600
GAS_BLS_MAP_FP_TO_G1 = 5500
GAS_BLS_MAP_FP2_TO_G2 = 23800
MSM_MULTIPLIER = 1000

# EIP-2537 MSM discount tables, in thousandths, indexed by k - 1 for k <= 128.
G1_MSM_DISCOUNT = (
    1000, 949, 848, 797, 764, 750, 738, 728, 719, 712, 705, 698, 692, 687, 682, 677,
    673, 669, 665, 661, 658, 654, 651, 648, 645, 642, 640, 637, 635, 632, 630, 627,
    625, 623, 621, 619, 617, 615, 613, 611, 609, 608, 606, 604, 603, 601, 599, 598,
    596, 595, 593, 592, 591, 589, 588, 586, 585, 584, 582, 581, 580, 579, 577, 576,
    575, 574, 573, 572, 570, 569, 568, 567, 566, 565, 564, 563, 562, 561, 560, 559,
    558, 557, 556, 555, 554, 553, 552, 551, 550, 549, 548, 547, 547, 546, 545, 544,
    543, 542, 541, 540, 540, 539, 538, 537, 536, 536, 535, 534, 533, 532, 532, 531,
    530, 529, 528, 528, 527, 526, 525, 525, 524, 523, 522, 522, 521, 520, 520, 519,
)  # fmt: skip
G2_MSM_DISCOUNT = (
    1000, 1000, 923, 884, 855, 832, 812, 796, 782, 770, 759, 749, 740, 732, 724, 717,
    711, 704, 699, 693, 688, 683, 679, 674, 670, 666, 663, 659, 655, 652, 649, 646,
    643, 640, 637, 634, 632, 629, 627, 624, 622, 620, 618, 615, 613, 611, 609, 607,
    606, 604, 602, 600, 598, 597, 595, 593, 592, 590, 589, 587, 586, 584, 583, 582,
    580, 579, 578, 576, 575, 574, 573, 571, 570, 569, 568, 567, 566, 565, 563, 562,
    561, 560, 559, 558, 557, 556, 555, 554, 553, 552, 552, 551, 550, 549, 548, 547,
    546, 545, 545, 544, 543, 542, 541, 541, 540, 539, 538, 537, 537, 536, 535, 535,
    534, 533, 532, 532, 531, 530, 530, 529, 528, 528, 527, 526, 526, 525, 524, 524,
)  # fmt: skip
G1_MSM_MAX_DISCOUNT = 519
G2_MSM_MAX_DISCOUNT = 524

FP_LENGTH = 64
FP_PADDING = 16  # the top 16 bytes of a 64-byte Fp element, always zero
G1_LENGTH = 2 * FP_LENGTH
G2_LENGTH = 4 * FP_LENGTH
SCALAR_LENGTH = 32
G1_MSM_PAIR = G1_LENGTH + SCALAR_LENGTH
G2_MSM_PAIR = G2_LENGTH + SCALAR_LENGTH
PAIRING_PAIR = G1_LENGTH + G2_LENGTH

FIELD_MODULUS = int(
    "1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f624"
    "1eabfffeb153ffffb9feffffffffaaab",
    16,
)

_ZERO_PADDING = b"\x00" * FP_PADDING
_FIELD_MODULUS_48 = FIELD_MODULUS.to_bytes(48, "big")

Point = TypeVar("Point", G1Point, G2Point)


def _fp48(data: bytes, offset: int) -> bytes:
    """The 48 significant bytes of the Fp element at ``offset``, checked canonical."""
    if data[offset : offset + FP_PADDING] != _ZERO_PADDING:
        raise PrecompileFailure("bls12-381: Fp element has nonzero top 16 bytes")
    value = data[offset + FP_PADDING : offset + FP_LENGTH]
    # Equal-length big-endian byte strings compare as the integers they encode.
    if value >= _FIELD_MODULUS_48:
        raise PrecompileFailure("bls12-381: Fp element not below the field modulus")
    return value


def _coords(data: bytes, offset: int, count: int) -> bytes:
    return b"".join(_fp48(data, offset + i * FP_LENGTH) for i in range(count))


def _g1(data: bytes, offset: int, subgroup: bool) -> G1Point:
    xy = _coords(data, offset, 2)
    try:
        # All zeros decodes to the identity; the unchecked form still checks the curve.
        if subgroup:
            return G1Point.from_xy_bytes_be(xy)
        return G1Point.from_xy_bytes_unchecked_be(xy)
    except Exception as exc:  # arkworks raises ValueError/Exception with a message
        raise PrecompileFailure(f"bls12-381: invalid G1 point: {exc}") from None


def _g2(data: bytes, offset: int, subgroup: bool) -> G2Point:
    xy = _coords(data, offset, 4)
    try:
        if subgroup:
            return G2Point.from_xy_bytes_be(xy)
        return G2Point.from_xy_bytes_unchecked_be(xy)
    except Exception as exc:
        raise PrecompileFailure(f"bls12-381: invalid G2 point: {exc}") from None


def _pad(xy: bytes) -> bytes:
    """48-byte coordinates from arkworks -> the EIP's 64-byte padded encoding."""
    return b"".join(_ZERO_PADDING + xy[i : i + 48] for i in range(0, len(xy), 48))


def _msm_gas(pairs: int, per_pair: int, table: tuple[int, ...], max_discount: int) -> int:
    discount = table[pairs - 1] if pairs <= len(table) else max_discount
    return pairs * per_pair * discount // MSM_MULTIPLIER


def _msm(
    data: bytes,
    point_length: int,
    decode: Callable[[bytes, int, bool], Point],
    multiexp: Callable[[list[Point], list[Scalar]], Point],
) -> bytes:
    pair_length = point_length + SCALAR_LENGTH
    points: list[Point] = []
    scalars: list[Scalar] = []
    for offset in range(0, len(data), pair_length):
        points.append(decode(data, offset, True))
        scalar = data[offset + point_length : offset + pair_length]
        # Points are in the r-order subgroup, so reducing the scalar mod r is exact.
        scalars.append(Scalar.from_be_bytes_mod_order(scalar))
    return _pad(multiexp(points, scalars).to_xy_bytes_be())


def g1add(data: bytes, gas: int) -> tuple[bytes, int]:
    if len(data) != 2 * G1_LENGTH:
        raise PrecompileFailure("bls12-381: G1ADD input must be 256 bytes")
    used = charge(gas, GAS_BLS_G1ADD)
    total = _g1(data, 0, False) + _g1(data, G1_LENGTH, False)
    return _pad(total.to_xy_bytes_be()), used


def g2add(data: bytes, gas: int) -> tuple[bytes, int]:
    if len(data) != 2 * G2_LENGTH:
        raise PrecompileFailure("bls12-381: G2ADD input must be 512 bytes")
    used = charge(gas, GAS_BLS_G2ADD)
    total = _g2(data, 0, False) + _g2(data, G2_LENGTH, False)
    return _pad(total.to_xy_bytes_be()), used


def g1msm(data: bytes, gas: int) -> tuple[bytes, int]:
    pairs, rest = divmod(len(data), G1_MSM_PAIR)
    if pairs == 0 or rest:
        raise PrecompileFailure("bls12-381: G1MSM input must be a nonzero multiple of 160 bytes")
    used = charge(gas, _msm_gas(pairs, GAS_BLS_G1MUL, G1_MSM_DISCOUNT, G1_MSM_MAX_DISCOUNT))
    return _msm(data, G1_LENGTH, _g1, G1Point.multiexp_unchecked), used


def g2msm(data: bytes, gas: int) -> tuple[bytes, int]:
    pairs, rest = divmod(len(data), G2_MSM_PAIR)
    if pairs == 0 or rest:
        raise PrecompileFailure("bls12-381: G2MSM input must be a nonzero multiple of 288 bytes")
    used = charge(gas, _msm_gas(pairs, GAS_BLS_G2MUL, G2_MSM_DISCOUNT, G2_MSM_MAX_DISCOUNT))
    return _msm(data, G2_LENGTH, _g2, G2Point.multiexp_unchecked), used


def pairing_check(data: bytes, gas: int) -> tuple[bytes, int]:
    pairs, rest = divmod(len(data), PAIRING_PAIR)
    if pairs == 0 or rest:
        raise PrecompileFailure("bls12-381: pairing input must be a nonzero multiple of 384 bytes")
    used = charge(gas, GAS_BLS_PAIRING_BASE + GAS_BLS_PAIRING_PER_PAIR * pairs)
    g1s = [_g1(data, offset, True) for offset in range(0, len(data), PAIRING_PAIR)]
    g2s = [_g2(data, offset + G1_LENGTH, True) for offset in range(0, len(data), PAIRING_PAIR)]
    return (1 if GT.pairing_check(g1s, g2s) else 0).to_bytes(32, "big"), used


def map_fp_to_g1(data: bytes, gas: int) -> tuple[bytes, int]:
    if len(data) != FP_LENGTH:
        raise PrecompileFailure("bls12-381: MAP_FP_TO_G1 input must be 64 bytes")
    used = charge(gas, GAS_BLS_MAP_FP_TO_G1)
    return _pad(G1Point.map_from_fp_be(_fp48(data, 0)).to_xy_bytes_be()), used


def map_fp2_to_g2(data: bytes, gas: int) -> tuple[bytes, int]:
    if len(data) != 2 * FP_LENGTH:
        raise PrecompileFailure("bls12-381: MAP_FP2_TO_G2 input must be 128 bytes")
    used = charge(gas, GAS_BLS_MAP_FP2_TO_G2)
    return _pad(G2Point.map_from_fp2_be(_coords(data, 0, 2)).to_xy_bytes_be()), used
