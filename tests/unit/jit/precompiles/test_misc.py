"""BLAKE2F, KZG point evaluation, P256VERIFY edge cases and the per-fork registry."""

from __future__ import annotations

import contextlib
import hashlib
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from jit.evm.precompiles import registry
from jit.evm.precompiles.base import PrecompileFailure
from jit.evm.precompiles.blake2f import blake2f
from jit.evm.precompiles.kzg import point_evaluation
from jit.evm.precompiles.modexp import modexp, modexp_osaka
from jit.evm.precompiles.p256 import P256_N, P256_P, p256verify
from tests.unit.jit.precompiles.support import load

# --- BLAKE2F (EIP-152)


def test_blake2f_rounds_are_gas_and_checked_first() -> None:
    data = bytearray(bytes.fromhex(load("blake2F")[1]["Input"]))
    data[0:4] = (0xFFFFFFFF).to_bytes(4, "big")  # 2^32 - 1 rounds: must fail on gas, not run
    with pytest.raises(PrecompileFailure):
        blake2f(bytes(data), 30_000_000)


def test_blake2f_zero_rounds_is_free() -> None:
    vector = load("blake2F")[0]
    assert blake2f(bytes.fromhex(vector["Input"]), 0) == (bytes.fromhex(vector["Expected"]), 0)


# --- KZG point evaluation (EIP-4844)

KZG = bytes.fromhex(load("pointEvaluation")[0]["Input"])


def test_point_evaluation_failures() -> None:
    bad_hash = b"\x02" + KZG[1:]  # wrong version byte
    bad_y = KZG[:95] + bytes([KZG[95] ^ 1]) + KZG[96:]  # proof no longer opens to y
    non_canonical_z = KZG[:32] + (2**256 - 1).to_bytes(32, "big") + KZG[64:]
    bad_proof = KZG[:144] + b"\x00" * 48  # not a valid compressed G1 point
    for data in (KZG[:-1], KZG + b"\x00", b"", bad_hash, bad_y, non_canonical_z, bad_proof):
        with pytest.raises(PrecompileFailure):
            point_evaluation(data, 50000)
    with pytest.raises(PrecompileFailure):
        point_evaluation(KZG, 49999)


def test_point_evaluation_versioned_hash_must_match_commitment() -> None:
    commitment = KZG[96:144]
    assert KZG[:32] == b"\x01" + hashlib.sha256(commitment).digest()[1:]


# --- P256VERIFY (EIP-7951)


def _signed() -> bytes:
    key = ec.derive_private_key(123456789, ec.SECP256R1())
    digest = hashlib.sha256(b"hummingbird").digest()
    r, s = decode_dss_signature(key.sign(b"hummingbird", ec.ECDSA(hashes.SHA256())))
    numbers = key.public_key().public_numbers()
    return digest + b"".join(v.to_bytes(32, "big") for v in (r, s, numbers.x, numbers.y))


def _with(data: bytes, index: int, value: int) -> bytes:
    return data[: 32 * index] + value.to_bytes(32, "big") + data[32 * (index + 1) :]


def test_p256_valid_and_high_s() -> None:
    data = _signed()
    assert p256verify(data, 6900) == ((1).to_bytes(32, "big"), 6900)
    s = int.from_bytes(data[64:96], "big")
    # EIP-7951 has no low-s rule: (r, n - s) verifies too.
    assert p256verify(_with(data, 2, P256_N - s), 6900)[0] == (1).to_bytes(32, "big")


def test_p256_invalid_inputs_return_empty_not_failure() -> None:
    data = _signed()
    x = int.from_bytes(data[96:128], "big")
    cases = [
        data[:-1],
        data + b"\x00",
        b"",
        _with(data, 0, int.from_bytes(data[:32], "big") ^ 1),  # other message
        _with(data, 1, 0),
        _with(data, 1, P256_N),
        _with(data, 2, 0),
        _with(data, 2, P256_N),
        _with(data, 3, x + P256_P) if x + P256_P < 2**256 else _with(data, 3, P256_P),
        _with(_with(data, 3, 0), 4, 0),  # (0, 0): infinity is not a key
        _with(data, 4, (int.from_bytes(data[128:], "big") + 1) % P256_P),  # off the curve
    ]
    for case in cases:
        assert p256verify(case, 6900) == (b"", 6900)


def test_p256_gas_is_flat_and_checked() -> None:
    with pytest.raises(PrecompileFailure):
        p256verify(_signed(), 6899)
    with pytest.raises(PrecompileFailure):
        p256verify(b"", 6899)


# --- registry: the per-fork deltas


def test_registry_deltas() -> None:
    assert sorted(registry.CANCUN) == list(range(0x01, 0x0B))
    assert sorted(registry.PRAGUE) == list(range(0x0B, 0x12))
    assert sorted(registry.OSAKA) == [0x05, 0x100]
    # Entries load their module at the first call and then are that module's function.
    modexp_input = (1).to_bytes(32, "big") * 3 + b"\x03\x05\x07"
    assert registry.CANCUN[0x05](modexp_input, 10**6) == modexp(modexp_input, 10**6)
    assert registry.OSAKA[0x05](modexp_input, 10**6) == modexp_osaka(modexp_input, 10**6)
    assert registry.OSAKA[0x05].__name__ == "modexp_osaka"
    for table in (registry.CANCUN, registry.PRAGUE, registry.OSAKA):
        for fn in table.values():
            # Every entry is implemented: a call returns or raises PrecompileFailure.
            with contextlib.suppress(PrecompileFailure):
                fn(b"", 10**7)


def test_registry_imports_no_precompile_library_before_a_call() -> None:
    """Start-up (issue 21): the fork tables name the precompiles without loading gmpy2,
    pycryptodome, cryptography, arkworks, pyrevm or blake2b."""
    probe = (
        "import sys, jit.forks\n"
        "heavy = ('gmpy2', 'Crypto', 'cryptography', 'py_arkworks_bls12381', 'pyrevm', 'blake2b')\n"
        "print(sorted(name for name in heavy if name in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
