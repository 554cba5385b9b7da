"""Test support: vector loading and square roots to build off-subgroup points."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).parent / "vectors"


def load(name: str) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads((VECTORS / f"{name}.json").read_text())
    return data


def sqrt_fp(a: int, p: int) -> int | None:
    """Square root mod p for p = 3 mod 4 (BN254 and BLS12-381 both are)."""
    root = pow(a, (p + 1) // 4, p)
    return root if root * root % p == a % p else None


def sqrt_fp2(a0: int, a1: int, p: int) -> tuple[int, int] | None:
    """Square root of a0 + a1*i in Fp[i]/(i^2 + 1), or None."""
    alpha = sqrt_fp((a0 * a0 + a1 * a1) % p, p)
    if alpha is None:
        return None
    half = pow(2, -1, p)
    for candidate in (alpha, -alpha):
        x0 = sqrt_fp((a0 + candidate) * half % p, p)
        if x0:
            x1 = a1 * pow(2 * x0, -1, p) % p
            if ((x0 * x0 - x1 * x1) % p, (2 * x0 * x1) % p) == (a0 % p, a1 % p):
                return x0, x1
    return None


def fp2_mul(a: tuple[int, int], b: tuple[int, int], p: int) -> tuple[int, int]:
    return ((a[0] * b[0] - a[1] * b[1]) % p, (a[0] * b[1] + a[1] * b[0]) % p)


def twist_point(
    b: tuple[int, int], p: int, start: int = 1
) -> tuple[tuple[int, int], tuple[int, int]]:
    """Some point on y^2 = x^3 + b over Fp2 (almost surely outside the r-subgroup)."""
    x0 = start
    while True:
        x = (x0, 1)
        x3 = fp2_mul(fp2_mul(x, x, p), x, p)
        y = sqrt_fp2((x3[0] + b[0]) % p, (x3[1] + b[1]) % p, p)
        if y is not None:
            return x, y
        x0 += 1


def curve_point(b: int, p: int, start: int = 1) -> tuple[int, int]:
    """Some point on y^2 = x^3 + b over Fp."""
    x = start
    while True:
        y = sqrt_fp((x * x * x + b) % p, p)
        if y is not None:
            return x, y
        x += 1
