"""Precompile 0x100 P256VERIFY (EIP-7951, Osaka): ECDSA verification on secp256r1.

Input is exactly 160 bytes: message hash h, r, s, public key qx, qy (32 bytes
each). Gas is 6900 whatever the input; every invalid input (wrong length, r or
s outside [1, n-1], a coordinate >= p, the point (0, 0), a point off the curve,
a signature that does not verify) returns empty output -- it is not a
precompile failure. A valid signature returns the 32-byte word 1.

Verification is OpenSSL's (``cryptography``), which computes exactly the EIP's
check: R' = (h * s^-1) G + (r * s^-1) Q, fail if R' is infinity, accept iff
R'.x mod n == r. The range and curve checks are done here, before OpenSSL sees
the key, so its own (reducing) decoding can never accept what the EIP rejects.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, encode_dss_signature

from jit.evm.precompiles.base import charge

GAS_P256VERIFY = 6900  # EIP-7951
P256VERIFY_INPUT = 160

# secp256r1 (NIST P-256) domain parameters.
P256_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
P256_A = P256_P - 3
P256_B = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

_VALID = (1).to_bytes(32, "big")
_CURVE = ec.SECP256R1()
_ALGORITHM = ec.ECDSA(Prehashed(hashes.SHA256()))


def p256verify(data: bytes, gas: int) -> tuple[bytes, int]:
    used = charge(gas, GAS_P256VERIFY)
    if len(data) != P256VERIFY_INPUT:
        return b"", used
    r = int.from_bytes(data[32:64], "big")
    s = int.from_bytes(data[64:96], "big")
    qx = int.from_bytes(data[96:128], "big")
    qy = int.from_bytes(data[128:160], "big")
    if not (0 < r < P256_N and 0 < s < P256_N):
        return b"", used
    if qx >= P256_P or qy >= P256_P or (qx == 0 and qy == 0):
        return b"", used
    if (qy * qy - (qx * qx * qx + P256_A * qx + P256_B)) % P256_P:
        return b"", used
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(_CURVE, b"\x04" + data[96:160])
        key.verify(encode_dss_signature(r, s), data[0:32], _ALGORITHM)
    except (InvalidSignature, ValueError):
        return b"", used
    return _VALID, used
