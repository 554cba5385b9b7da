"""The precompile calling convention and its two exceptions."""

from __future__ import annotations

from collections.abc import Callable

Precompile = Callable[[bytes, int], tuple[bytes, int]]
"""``(input, gas) -> (output, gas_used)``; raises ``PrecompileFailure``."""


class PrecompileFailure(Exception):  # an outcome, named after the spec's term
    """The precompile failed (invalid input or out of gas): all gas is consumed."""


class PrecompileNotImplemented(Exception):
    """Raised (never caught by the EVM) for a precompile this build lacks, so a
    call to it fails loudly instead of silently succeeding."""


def charge(gas: int, cost: int) -> int:
    """Return ``cost`` if it fits in ``gas``, else fail (before doing the work)."""
    if cost > gas:
        raise PrecompileFailure("out of gas")
    return cost


def words(length: int) -> int:
    return (length + 31) // 32
