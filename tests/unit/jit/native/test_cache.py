"""The machine-code cache (``jit.native.cache``): what one engine builds another loads
(no LLVM), with the same outcomes; entries that are damaged, foreign or hostile are
misses and get rebuilt; writing never fails a build; the directory stays bounded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("llvmlite")

from jit.compiler import Engine
from jit.compiler.analysis import regions
from jit.forks import rules_for
from jit.native.cache import MAGIC, CachedCode, MachineCodeCache
from tests.helpers.asm import push
from tests.helpers.evm import outcome_fingerprint, run

OSAKA = rules_for("osaka")
# A counting loop (machine code) and a region of its own that stores GAS (compared).
LOOP = push(250) + b"\x5b" + push(1) + b"\x90\x03\x80" + push(2) + b"\x57"
LOOP += b"\x5b\x5a" + push(0) + b"\x55\x00"
STARTS = frozenset(region.start for region in regions(LOOP, OSAKA.opcode_table))


def tiered(cache: MachineCodeCache) -> Engine:
    return Engine(
        "native", background=True, native_profile_runs=1, native_cache_dir=cache.directory
    )


def run_twice(engine: Engine, fork: str = "osaka") -> None:
    """The profiled run, then (the build waited for) a run in machine code; both exact."""
    expected = outcome_fingerprint(run(LOOP, fork=fork).outcome)
    assert outcome_fingerprint(run(LOOP, fork=fork, engine=engine.runner).outcome) == expected
    engine.wait_idle(timeout=60)
    assert outcome_fingerprint(run(LOOP, fork=fork, engine=engine.runner).outcome) == expected


def built_and_loaded(cache: MachineCodeCache, fork: str = "osaka") -> tuple[int, int]:
    engine = tiered(cache)
    try:
        run_twice(engine, fork)
        stats = engine.stats()
        assert stats.failed == 0 and stats.native_regions >= 1
        return stats.native_regions, stats.native_loaded
    finally:
        engine.close()


def test_what_one_engine_builds_another_loads(tmp_path: Path) -> None:
    cache = MachineCodeCache(tmp_path / "native")
    assert built_and_loaded(cache)[1] == 0
    (entry,) = (tmp_path / "native").glob("*.o")
    assert entry.read_bytes().startswith(MAGIC)
    # A second engine (as in another process: a cache of its own on the directory).
    assert built_and_loaded(cache)[1] == 1
    assert len(list((tmp_path / "native").glob("*.o"))) == 1


def test_each_fork_has_its_own_entry(tmp_path: Path) -> None:
    cache = MachineCodeCache(tmp_path)
    built_and_loaded(cache, "osaka")
    assert built_and_loaded(cache, "amsterdam")[1] == 0
    assert len(list(tmp_path.glob("*.o"))) == 2
    assert cache.path(LOOP, OSAKA) != cache.path(LOOP, rules_for("amsterdam"))


def _damage_object(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1])


def _header(data: bytes) -> tuple[dict[str, object], bytes]:
    start = len(MAGIC) + 4
    length = int.from_bytes(data[len(MAGIC) : start], "big")
    return json.loads(data[start : start + length]), data[start + length :]


def _with_header(data: bytes, **changes: object) -> bytes:
    header, object_code = _header(data)
    header.update(changes)
    text = json.dumps(header).encode()
    return MAGIC + len(text).to_bytes(4, "big") + text + object_code


DAMAGE = {
    "empty": lambda data: b"",
    "truncated": lambda data: data[: len(data) // 2],
    "one bit of the object": _damage_object,
    "another magic": lambda data: b"X" + data[1:],
    "a header length past the end": lambda data: MAGIC + (2**31).to_bytes(4, "big") + data[13:],
    "a header that is not JSON": lambda data: MAGIC + (3).to_bytes(4, "big") + b"{{{",
    "a header that is a list": lambda data: MAGIC + (2).to_bytes(4, "big") + b"[]",
    "another format": lambda data: _with_header(data, format=99),
    "another fingerprint": lambda data: _with_header(data, fingerprint="00" * 32),
    "another code": lambda data: _with_header(data, code="11" * 32),
    "a start that is no region": lambda data: _with_header(data, starts=[1]),
    "a negative start": lambda data: _with_header(data, starts=[-5]),
    "a start past the code": lambda data: _with_header(data, starts=[10**30]),
    "boolean starts": lambda data: _with_header(data, starts=[True]),
    "no starts": lambda data: _with_header(data, starts=[]),
    "starts that are not a list": lambda data: _with_header(data, starts="0"),
    "a resume point past the code": lambda data: _with_header(data, resumes=[10**6]),
    "a negative instruction count": lambda data: _with_header(data, instructions=-1),
    "an instruction count that is text": lambda data: _with_header(data, instructions="9"),
}


@pytest.mark.parametrize("name", sorted(DAMAGE))
def test_a_damaged_or_foreign_entry_is_a_miss_and_is_rebuilt(tmp_path: Path, name: str) -> None:
    cache = MachineCodeCache(tmp_path)
    built_and_loaded(cache)
    (entry,) = tmp_path.glob("*.o")
    good = entry.read_bytes()
    entry.write_bytes(DAMAGE[name](good))
    assert cache.load(LOOP, OSAKA, STARTS) is None
    assert built_and_loaded(cache)[1] == 0  # built again, exactly
    assert cache.load(LOOP, OSAKA, STARTS) is not None  # and stored whole again


def test_an_unwritable_directory_costs_the_cache_not_the_build(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_bytes(b"a file where the directory should be")
    cache = MachineCodeCache(blocker / "native")
    assert built_and_loaded(cache)[1] == 0
    assert built_and_loaded(cache)[1] == 0  # nothing stored, nothing loaded


def test_the_directory_stays_within_its_bound(tmp_path: Path) -> None:
    cache = MachineCodeCache(tmp_path, max_bytes=10_000)
    entry = CachedCode(b"\x00" * 3_000, frozenset({0}), frozenset(), 1)
    for index in range(10):
        cache.store(push(index) + b"\x00", OSAKA, entry)
        assert sum(path.stat().st_size for path in tmp_path.glob("*.o")) <= 10_000
    assert len(list(tmp_path.glob("*.o"))) >= 2
    assert not list(tmp_path.glob(".tmp-*"))  # no temporary left behind


def test_bounds_are_checked() -> None:
    with pytest.raises(ValueError, match="at least one byte"):
        MachineCodeCache("unused", max_bytes=0)
