"""Benchmark the precompiles: time per call and Mgas/s at typical inputs, and the
worst case the gas schedule allows (the input family that buys the most CPU per
gas), reported as milliseconds per 1M gas.

    .venv/bin/python scripts/bench_precompiles.py [--quick] [--only NAME]

Mgas/s = gas charged / wall time of the call. The target (issue 3) is >= 30
Mgas/s at typical inputs; rows below it are marked. Timings are medians over
several batches (CPU time of this process), so a noisy neighbour shows as
spread, not as a shifted median.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from coincurve import PrivateKey
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from py_arkworks_bls12381 import G1Point, G2Point, Scalar

from jit.evm.precompiles import bls12_381 as bls
from jit.evm.precompiles.base import Precompile
from jit.evm.precompiles.blake2f import blake2f
from jit.evm.precompiles.bn254 import ecadd, ecmul, ecpairing
from jit.evm.precompiles.ecrecover import ecrecover
from jit.evm.precompiles.hashing import identity, ripemd160, sha256
from jit.evm.precompiles.kzg import point_evaluation, trusted_setup
from jit.evm.precompiles.modexp import modexp, modexp_osaka
from jit.evm.precompiles.p256 import p256verify

TARGET_MGAS = 30.0
GAS_LIMIT = 10**9
rng = random.Random(3)


@dataclass(frozen=True, slots=True)
class Case:
    precompile: str
    label: str
    fn: Precompile
    data: bytes
    worst: bool = False  # part of a worst-case family


def w(value: int, size: int = 32) -> bytes:
    return value.to_bytes(size, "big")


def modexp_input(base: bytes, exp: bytes, mod: bytes) -> bytes:
    return w(len(base)) + w(len(exp)) + w(len(mod)) + base + exp + mod


# --- BN254 inputs (the generator and multiples, computed with our own precompiles)
BN_G1 = w(1) + w(2)
BN_G2 = bytes.fromhex(
    "198e9393920d483a7260bfb731fb5d25f1aa493335a9e71297e485b7aef312c2"
    "1800deef121f1e76426a00665e5c4479674322d4f75edadd46debd5cd992f6ed"
    "090689d0585ff075ec9e99ad690c3395bc4b313370b38ef355acdadcd122975b"
    "12c85ea5db8c6deb4aab71808dcb408fe3d1e7690c43d37b4ce6cc0166fa7daa"
)
BN_P = 21888242871839275222246405745257275088696311157297823662689037894645226208583


def bn_mul(point: bytes, k: int) -> bytes:
    return ecmul(point + w(k), 6000)[0]


def bn_neg(point: bytes) -> bytes:
    return point[:32] + w((BN_P - int.from_bytes(point[32:], "big")) % BN_P)


def bn_pairs(k: int) -> bytes:
    """k pairs whose product is 1 (so every Miller loop and the final exponentiation run)."""
    pairs = b""
    for _ in range(k // 2):
        pa = bn_mul(BN_G1, rng.randrange(1, 2**250))
        pairs += pa + BN_G2 + bn_neg(pa) + BN_G2
    if k % 2:
        pairs += BN_G1 + BN_G2
    return pairs


# --- BLS12-381 inputs
BLS_R = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001


def pad(xy: bytes) -> bytes:
    return b"".join(b"\x00" * 16 + xy[i : i + 48] for i in range(0, len(xy), 48))


def bls_g1() -> bytes:
    return pad((G1Point() * Scalar(rng.randrange(1, BLS_R))).to_xy_bytes_be())


def bls_g2() -> bytes:
    return pad((G2Point() * Scalar(rng.randrange(1, BLS_R))).to_xy_bytes_be())


def bls_scalar() -> bytes:
    return w(rng.randrange(2**255, 2**256))


def bls_pairs(k: int) -> bytes:
    return b"".join(bls_g1() + bls_g2() for _ in range(k))


def fp(v: int) -> bytes:
    return v.to_bytes(64, "big")


# --- signatures
def ecrecover_input() -> bytes:
    key = PrivateKey(b"\x01" * 32)
    digest = hashlib.sha256(b"bench").digest()
    sig = key.sign_recoverable(digest, hasher=None)
    return digest + w(sig[64] + 27) + sig[0:32] + sig[32:64]


def p256_input() -> bytes:
    key = ec.derive_private_key(987654321, ec.SECP256R1())
    r, s = decode_dss_signature(key.sign(b"bench", ec.ECDSA(hashes.SHA256())))
    numbers = key.public_key().public_numbers()
    return hashlib.sha256(b"bench").digest() + w(r) + w(s) + w(numbers.x) + w(numbers.y)


KZG_INPUT = bytes.fromhex(
    "01e798154708fe7789429634053cbf9f99b619f9f084048927333fce637f549b"
    "564c0a11a0f704f4fc3e8acfe0f8245f0ad1347b378fbf96e206da11a5d36306"
    "24d25032e67a7e6a4910df5834b8fe70e6bcfeeac0352434196bdf4b2485d5a1"
    "8f59a8d2a1a625a17f3fea0fe5eb8c896db3764f3185481bc22f91b4aaffcca25f"
    "26936857bc3a7c2539ea8ec3a952b7873033e038326e87ed3e1276fd140253fa08"
    "e9fc25fb2d9a98527fc22a2c9612fbeafdad446cbc7bcdbdcd780af2c16a"
)
BLAKE_STATE = bytes.fromhex(
    "48c9bdf267e6096a3ba7ca8485ae67bb2bf894fe72f36e3cf1361d5f3af54fa5"
    "d182e6ad7f520e511f6c3e2b8c68059b6bbd41fbabd9831f79217e1319cde05b"
)


def blake_input(rounds: int) -> bytes:
    return (
        w(rounds, 4)
        + BLAKE_STATE
        + b"abc".ljust(128, b"\x00")
        + w(3, 8)[::-1]
        + b"\x00" * 8
        + b"\x01"
    )


def cases() -> list[Case]:
    r256 = rng.getrandbits(256) | 1 << 255
    mod256 = rng.getrandbits(256) | 1 << 255 | 1
    rsa_mod = (rng.getrandbits(2048) | 1 << 2047 | 1).to_bytes(256, "big")
    rsa_sig = (rng.getrandbits(2040)).to_bytes(256, "big")
    big_exp_cancun = b"\xff" * 375_000  # ~1M gas under EIP-2565 with 8-byte operands
    out: list[Case] = [
        Case("0x01 ECRECOVER", "valid signature", ecrecover, ecrecover_input()),
        Case("0x02 SHA256", "1 KiB", sha256, b"\xab" * 1024),
        Case("0x03 RIPEMD160", "1 KiB", ripemd160, b"\xab" * 1024),
        Case("0x04 IDENTITY", "1 KiB", identity, b"\xab" * 1024),
    ]
    for name, fn in (("0x05 MODEXP (Cancun)", modexp), ("0x05 MODEXP (Osaka)", modexp_osaka)):
        out += [
            Case(
                name, "32-byte base/exp/mod", fn, modexp_input(w(r256 % mod256), w(r256), w(mod256))
            ),
            Case(
                name, "RSA-2048 verify (e=65537)", fn, modexp_input(rsa_sig, w(65537, 3), rsa_mod)
            ),
            Case(
                name,
                "4096-bit base/exp/mod",
                fn,
                modexp_input(b"\x5a" * 512, b"\xff" * 512, b"\xa5" * 512),
            ),
        ]
    out += [
        Case("0x05 MODEXP (Cancun)", "worst: 8-byte mod, 375 kB exponent", modexp,
             modexp_input(b"\xfe" * 8, big_exp_cancun, b"\xfd" * 8), worst=True),
        Case("0x05 MODEXP (Cancun)", "worst: 1-byte mod, 375 kB exponent", modexp,
             modexp_input(b"\x03", big_exp_cancun, b"\xfd"), worst=True),
        Case("0x05 MODEXP (Cancun)", "worst: 32-byte mod, 37-bit exp (200 gas)", modexp,
             modexp_input(b"\xfe" * 32, b"\x1f" + b"\xff" * 4, b"\xfd" * 32), worst=True),
        Case("0x05 MODEXP (Osaka)", "worst: 32-byte mod, 1024-byte exponent", modexp_osaka,
             modexp_input(b"\xfe" * 32, b"\xff" * 1024, b"\xfd" * 32), worst=True),
        Case("0x05 MODEXP (Osaka)", "worst: 8-byte mod, 1024-byte exponent", modexp_osaka,
             modexp_input(b"\xfe" * 8, b"\xff" * 1024, b"\xfd" * 8), worst=True),
        Case("0x05 MODEXP (Osaka)", "worst: 1024-byte mod, 32-byte exponent", modexp_osaka,
             modexp_input(b"\xfe" * 1024, b"\xff" * 32, b"\xfd" * 1024), worst=True),
        Case("0x05 MODEXP (Osaka)", "worst: 32-byte mod, 31-bit exp (500 gas)", modexp_osaka,
             modexp_input(b"\xfe" * 32, b"\x7f\xff\xff\xff", b"\xfd" * 32), worst=True),
    ]  # fmt: skip
    p1, p2 = bn_mul(BN_G1, rng.randrange(2**250)), bn_mul(BN_G1, rng.randrange(2**250))
    out += [
        Case("0x06 BN254 ECADD", "two random points", ecadd, p1 + p2),
        Case("0x06 BN254 ECADD", "worst: doubling", ecadd, p1 + p1, worst=True),
        Case("0x07 BN254 ECMUL", "random 254-bit scalar", ecmul, p1 + w(rng.randrange(2**254))),
        Case("0x07 BN254 ECMUL", "worst: scalar 2^256-1", ecmul, p1 + w(2**256 - 1), worst=True),
        Case("0x08 BN254 PAIRING", "2 pairs", ecpairing, bn_pairs(2)),
        Case("0x08 BN254 PAIRING", "4 pairs (Groth16)", ecpairing, bn_pairs(4)),
        Case("0x08 BN254 PAIRING", "worst: 1 pair", ecpairing, bn_pairs(1), worst=True),
        Case("0x08 BN254 PAIRING", "worst: 16 pairs", ecpairing, bn_pairs(16), worst=True),
        Case("0x09 BLAKE2F", "12 rounds", blake2f, blake_input(12)),
        Case("0x09 BLAKE2F", "worst: 1M rounds", blake2f, blake_input(1_000_000), worst=True),
        Case("0x09 BLAKE2F", "worst: 1 round", blake2f, blake_input(1), worst=True),
        Case("0x0a POINT_EVALUATION", "valid proof", point_evaluation, KZG_INPUT),
        Case("0x0b BLS G1ADD", "two random points", bls.g1add, bls_g1() + bls_g1()),
        Case("0x0c BLS G1MSM", "1 pair", bls.g1msm, bls_g1() + bls_scalar()),
        Case("0x0c BLS G1MSM", "32 pairs", bls.g1msm, b"".join(bls_g1() + bls_scalar() for _ in range(32))),
        Case("0x0c BLS G1MSM", "worst: 128 pairs", bls.g1msm,
             b"".join(bls_g1() + bls_scalar() for _ in range(128)), worst=True),
        Case("0x0c BLS G1MSM", "worst: 256 pairs", bls.g1msm,
             b"".join(bls_g1() + bls_scalar() for _ in range(256)), worst=True),
        Case("0x0d BLS G2ADD", "two random points", bls.g2add, bls_g2() + bls_g2()),
        Case("0x0e BLS G2MSM", "1 pair", bls.g2msm, bls_g2() + bls_scalar()),
        Case("0x0e BLS G2MSM", "32 pairs", bls.g2msm, b"".join(bls_g2() + bls_scalar() for _ in range(32))),
        Case("0x0e BLS G2MSM", "worst: 128 pairs", bls.g2msm,
             b"".join(bls_g2() + bls_scalar() for _ in range(128)), worst=True),
        Case("0x0f BLS PAIRING_CHECK", "2 pairs", bls.pairing_check, bls_pairs(2)),
        Case("0x0f BLS PAIRING_CHECK", "worst: 1 pair", bls.pairing_check, bls_pairs(1), worst=True),
        Case("0x0f BLS PAIRING_CHECK", "worst: 16 pairs", bls.pairing_check, bls_pairs(16), worst=True),
        Case("0x10 BLS MAP_FP_TO_G1", "random Fp", bls.map_fp_to_g1, fp(rng.randrange(bls.FIELD_MODULUS))),
        Case("0x11 BLS MAP_FP2_TO_G2", "random Fp2", bls.map_fp2_to_g2,
             fp(rng.randrange(bls.FIELD_MODULUS)) + fp(rng.randrange(bls.FIELD_MODULUS))),
        Case("0x100 P256VERIFY", "valid signature", p256verify, p256_input()),
        Case("0x100 P256VERIFY", "worst: valid signature, high s", p256verify, p256_input(), worst=True),
    ]  # fmt: skip
    return out


def measure(case: Case, budget: float) -> tuple[float, int]:
    """Median CPU seconds per call over batches filling ``budget`` seconds, and gas used."""
    _, gas = case.fn(case.data, GAS_LIMIT)
    start = time.process_time()
    case.fn(case.data, GAS_LIMIT)
    once = max(time.process_time() - start, 1e-7)
    per_batch = max(1, int(budget / 5 / once))
    samples = []
    for _ in range(5):
        start = time.process_time()
        for _ in range(per_batch):
            case.fn(case.data, GAS_LIMIT)
        samples.append((time.process_time() - start) / per_batch)
    return statistics.median(samples), gas


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="0.1 s per case instead of 0.5 s")
    parser.add_argument(
        "--only", default="", help="run only cases whose precompile name contains this"
    )
    args = parser.parse_args()
    budget = 0.1 if args.quick else 0.5
    trusted_setup()  # load the KZG setup (~2 s) outside the timings
    print("| precompile | input | gas | µs/call | Mgas/s | ms per 1M gas |")
    print("|---|---|---:|---:|---:|---:|")
    for case in cases():
        if args.only and args.only.lower() not in case.precompile.lower():
            continue
        seconds, gas = measure(case, budget)
        rate = gas / seconds / 1e6
        flag = " **(< 30)**" if rate < TARGET_MGAS and not case.worst else ""
        per_million = seconds / gas * 1e6 * 1e3 if gas else float("nan")
        print(
            f"| {case.precompile} | {case.label} | {gas:,} | {seconds * 1e6:,.1f} | "
            f"{rate:,.1f}{flag} | {per_million:,.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
