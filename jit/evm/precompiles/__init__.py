"""Precompiled contracts: pure functions ``(input, gas) -> (output, gas_used)``.

A precompile signals failure (bad input, or ``gas_used > gas``) by raising
``PrecompileFailure``; the caller then consumes all gas it passed in. The
per-fork sets are in ``registry``.
"""

from jit.evm.precompiles.base import Precompile, PrecompileFailure, PrecompileNotImplemented

__all__ = ["Precompile", "PrecompileFailure", "PrecompileNotImplemented"]
