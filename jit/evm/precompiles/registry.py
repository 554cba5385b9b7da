"""Which precompile lives at which address, per fork, as deltas.

``forks.py`` composes these: Cancun = ``CANCUN``; Prague = Cancun updated with
``PRAGUE``; Osaka = Prague updated with ``OSAKA``.
"""

from __future__ import annotations

import importlib

from jit.evm.precompiles.base import Precompile
from jit.evm.precompiles.ecrecover import ecrecover  # loaded anyway: senders are recovered with it


def _on_first_call(module: str, name: str) -> Precompile:
    """The precompile ``name`` of ``jit.evm.precompiles.<module>``, imported at its first
    call. Their native libraries (gmpy2, pycryptodome, cryptography, arkworks, pyrevm,
    blake2b) took about 0.1 s of every node's start, mostly for precompiles a devnet
    never calls."""
    loaded: list[Precompile] = []

    def precompile(data: bytes, gas: int) -> tuple[bytes, int]:
        if not loaded:
            loaded.append(getattr(importlib.import_module(f"jit.evm.precompiles.{module}"), name))
        return loaded[0](data, gas)

    precompile.__name__ = precompile.__qualname__ = name
    return precompile


sha256 = _on_first_call("hashing", "sha256")
ripemd160 = _on_first_call("hashing", "ripemd160")
identity = _on_first_call("hashing", "identity")
modexp = _on_first_call("modexp", "modexp")
modexp_osaka = _on_first_call("modexp", "modexp_osaka")
ecadd = _on_first_call("bn254", "ecadd")
ecmul = _on_first_call("bn254", "ecmul")
ecpairing = _on_first_call("bn254", "ecpairing")
blake2f = _on_first_call("blake2f", "blake2f")
point_evaluation = _on_first_call("kzg", "point_evaluation")
p256verify = _on_first_call("p256", "p256verify")
bls_g1add = _on_first_call("bls12_381", "g1add")
bls_g1msm = _on_first_call("bls12_381", "g1msm")
bls_g2add = _on_first_call("bls12_381", "g2add")
bls_g2msm = _on_first_call("bls12_381", "g2msm")
bls_pairing_check = _on_first_call("bls12_381", "pairing_check")
bls_map_fp_to_g1 = _on_first_call("bls12_381", "map_fp_to_g1")
bls_map_fp2_to_g2 = _on_first_call("bls12_381", "map_fp2_to_g2")

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
    0x0B: bls_g1add,
    0x0C: bls_g1msm,
    0x0D: bls_g2add,
    0x0E: bls_g2msm,
    0x0F: bls_pairing_check,
    0x10: bls_map_fp_to_g1,
    0x11: bls_map_fp2_to_g2,
}

# EIP-7823/7883 MODEXP bounds and gas; EIP-7951 P256VERIFY.
OSAKA: dict[int, Precompile] = {
    0x05: modexp_osaka,
    0x100: p256verify,
}
