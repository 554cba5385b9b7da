"""Which precompile lives at which address, per fork, as deltas.

``forks.py`` composes these: Cancun = ``CANCUN``; Prague = Cancun updated with
``PRAGUE``; Osaka = Prague updated with ``OSAKA``.
"""

from __future__ import annotations

from jit.evm.precompiles.base import Precompile, PrecompileNotImplemented
from jit.evm.precompiles.ecrecover import ecrecover
from jit.evm.precompiles.hashing import identity, ripemd160, sha256


def _missing(name: str) -> Precompile:
    def call(data: bytes, gas: int) -> tuple[bytes, int]:
        raise PrecompileNotImplemented(f"precompile {name} is not implemented yet")

    return call


CANCUN: dict[int, Precompile] = {
    0x01: ecrecover,
    0x02: sha256,
    0x03: ripemd160,
    0x04: identity,
    0x05: _missing("0x05 MODEXP"),
    0x06: _missing("0x06 BN254_ADD"),
    0x07: _missing("0x07 BN254_MUL"),
    0x08: _missing("0x08 BN254_PAIRING"),
    0x09: _missing("0x09 BLAKE2F"),
    0x0A: _missing("0x0a POINT_EVALUATION"),
}

# EIP-2537 BLS12-381.
PRAGUE: dict[int, Precompile] = {
    0x0B: _missing("0x0b BLS12_G1ADD"),
    0x0C: _missing("0x0c BLS12_G1MSM"),
    0x0D: _missing("0x0d BLS12_G2ADD"),
    0x0E: _missing("0x0e BLS12_G2MSM"),
    0x0F: _missing("0x0f BLS12_PAIRING_CHECK"),
    0x10: _missing("0x10 BLS12_MAP_FP_TO_G1"),
    0x11: _missing("0x11 BLS12_MAP_FP2_TO_G2"),
}

# EIP-7823/7883 MODEXP bounds and gas; EIP-7951 P256VERIFY.
OSAKA: dict[int, Precompile] = {
    0x05: _missing("0x05 MODEXP (Osaka)"),
    0x100: _missing("0x100 P256VERIFY"),
}
