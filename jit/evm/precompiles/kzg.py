"""Precompile 0x0a POINT_EVALUATION (EIP-4844, Cancun): verify a KZG opening.

Input is exactly 192 bytes: versioned_hash (32), z (32), y (32), commitment
(48), proof (48). The versioned hash must be ``0x01 || sha256(commitment)[1:]``,
z and y canonical field elements, and the proof must open the commitment to y
at z; on success the output is FIELD_ELEMENTS_PER_BLOB and BLS_MODULUS as two
32-byte words. Verification runs in ckzg (c-kzg-4844 on blst) against the
mainnet trusted setup, loaded once on first use (~2 s).

ckzg's wheel does not carry the setup file; eth-account (already a runtime
dependency) ships the same mainnet ``trusted_setup.txt`` in the format ckzg
reads, so we take it from there.
"""

from __future__ import annotations

import hashlib
import threading
from importlib.resources import as_file, files
from typing import Any

import ckzg

from jit.evm.precompiles.base import PrecompileFailure, charge

GAS_POINT_EVALUATION = 50000
POINT_EVALUATION_INPUT = 192
VERSIONED_HASH_VERSION_KZG = 0x01
FIELD_ELEMENTS_PER_BLOB = 4096
BLS_MODULUS = 0x73EDA753299D7D483339D80809A1D80553BDA402FFFE5BFEFFFFFFFF00000001

_RESULT = FIELD_ELEMENTS_PER_BLOB.to_bytes(32, "big") + BLS_MODULUS.to_bytes(32, "big")
_SETUP_PACKAGE = "eth_account"
_SETUP_PATH = "typed_transactions/blob_transactions/kzg_trusted_setup.txt"
# Precomputation level for ckzg's cell proofs (EIP-7594); point evaluation does not use it.
_SETUP_PRECOMPUTE = 0

_setup: Any = None
_setup_lock = threading.Lock()


def trusted_setup() -> Any:
    """The mainnet KZG setup, loaded on first use."""
    global _setup
    if _setup is None:
        with _setup_lock:
            if _setup is None:
                with as_file(files(_SETUP_PACKAGE).joinpath(_SETUP_PATH)) as path:
                    _setup = ckzg.load_trusted_setup(str(path), _SETUP_PRECOMPUTE)
    return _setup


def point_evaluation(data: bytes, gas: int) -> tuple[bytes, int]:
    used = charge(gas, GAS_POINT_EVALUATION)
    if len(data) != POINT_EVALUATION_INPUT:
        raise PrecompileFailure("point evaluation: input must be 192 bytes")
    versioned_hash = data[0:32]
    z, y = data[32:64], data[64:96]
    commitment, proof = data[96:144], data[144:192]
    if (
        versioned_hash
        != bytes((VERSIONED_HASH_VERSION_KZG,)) + hashlib.sha256(commitment).digest()[1:]
    ):
        raise PrecompileFailure("point evaluation: versioned hash mismatch")
    try:
        # Raises on non-canonical z/y and on malformed or off-subgroup G1 encodings.
        valid = ckzg.verify_kzg_proof(commitment, z, y, proof, trusted_setup())
    except Exception as exc:  # ckzg raises plain RuntimeError/ValueError
        raise PrecompileFailure(f"point evaluation: {exc}") from None
    if not valid:
        raise PrecompileFailure("point evaluation: proof does not verify")
    return _RESULT, used
