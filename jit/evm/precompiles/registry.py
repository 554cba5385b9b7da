"""Which precompile lives at which address, per fork, as deltas.

``forks.py`` composes these: Cancun = ``CANCUN``; Prague = Cancun updated with
``PRAGUE``; Osaka = Prague updated with ``OSAKA``.
"""

from __future__ import annotations

from jit.evm.precompiles import bls12_381
from jit.evm.precompiles.base import Precompile
from jit.evm.precompiles.blake2f import blake2f
from jit.evm.precompiles.bn254 import ecadd, ecmul, ecpairing
from jit.evm.precompiles.ecrecover import ecrecover
from jit.evm.precompiles.hashing import identity, ripemd160, sha256
from jit.evm.precompiles.kzg import point_evaluation
from jit.evm.precompiles.modexp import modexp, modexp_osaka
from jit.evm.precompiles.p256 import p256verify

CANCUN: dict[int, Precompile] = {
    0x01: ecrecover,
    0x02: sha256,
    0x03: ripemd160,
    0x04: identity,
    0x05: modexp,  # EIP-198, EIP-2565 gas
    0x06: ecadd,  # EIP-196, EIP-1108 gas
    0x07: ecmul,  # EIP-196, EIP-1108 gas
    0x08: ecpairing,  # EIP-197, EIP-1108 gas
    0x09: blake2f,  # EIP-152
    0x0A: point_evaluation,  # EIP-4844
}

# EIP-2537 BLS12-381.
PRAGUE: dict[int, Precompile] = {
    0x0B: bls12_381.g1add,
    0x0C: bls12_381.g1msm,
    0x0D: bls12_381.g2add,
    0x0E: bls12_381.g2msm,
    0x0F: bls12_381.pairing_check,
    0x10: bls12_381.map_fp_to_g1,
    0x11: bls12_381.map_fp2_to_g2,
}

# EIP-7823/7883 MODEXP bounds and gas; EIP-7951 P256VERIFY.
OSAKA: dict[int, Precompile] = {
    0x05: modexp_osaka,
    0x100: p256verify,
}
