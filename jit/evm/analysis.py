"""Code analysis shared by the interpreter and (later) the compiler: the set of
valid JUMPDEST offsets, skipping PUSH immediates. Cached by code bytes."""

from __future__ import annotations

_CACHE: dict[bytes, frozenset[int]] = {}
_CACHE_LIMIT = 4096

JUMPDEST = 0x5B
PUSH1 = 0x60
PUSH32 = 0x7F


def valid_jump_destinations(code: bytes) -> frozenset[int]:
    cached = _CACHE.get(code)
    if cached is not None:
        return cached
    dests = []
    i = 0
    n = len(code)
    while i < n:
        op = code[i]
        if op == JUMPDEST:
            dests.append(i)
        elif PUSH1 <= op <= PUSH32:
            i += op - PUSH1 + 1
        i += 1
    result = frozenset(dests)
    if len(_CACHE) >= _CACHE_LIMIT:
        _CACHE.clear()
    _CACHE[code] = result
    return result
