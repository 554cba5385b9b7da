"""Precompile 0x01 ECRECOVER (Frontier), with coincurve (libsecp256k1)."""

from __future__ import annotations

from coincurve import PublicKey

from jit.evm.precompiles.base import charge
from statedb.types import keccak256

GAS_ECRECOVER = 3000
SECP256K1N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def recover_address(msg_hash: bytes, v: int, r: int, s: int) -> bytes | None:
    """The address whose key signed ``msg_hash`` with (v in {0, 1}, r, s), or None.

    Only range checks that every signature use shares are done here; callers
    add their own (EIP-2 low-s for transactions, none for the precompile).
    """
    if not (0 < r < SECP256K1N and 0 < s < SECP256K1N) or v not in (0, 1):
        return None
    signature = r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes((v,))
    try:
        public_key = PublicKey.from_signature_and_message(signature, msg_hash, hasher=None)
    except Exception:  # coincurve raises plain Exception for unrecoverable signatures
        return None
    return keccak256(public_key.format(compressed=False)[1:])[12:]


def ecrecover(data: bytes, gas: int) -> tuple[bytes, int]:
    used = charge(gas, GAS_ECRECOVER)
    data = data[:128].ljust(128, b"\x00")
    v = int.from_bytes(data[32:64], "big")
    if v not in (27, 28):
        return b"", used
    address = recover_address(
        data[:32], v - 27, int.from_bytes(data[64:96], "big"), int.from_bytes(data[96:128], "big")
    )
    return (b"" if address is None else address.rjust(32, b"\x00")), used
