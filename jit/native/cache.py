"""Machine code kept on disk, so a contract is compiled once for every process and start.

The sequencer, each worker process and each simulation thread's engine would otherwise
run LLVM for the same hot contract, and every restart again (0.1-1.6 s of a core per
contract: docs/benchmarks.md). A build (``program.build``) stores its object code with
the regions it covers; any engine about to build the same code for the same fork loads
it instead (``load``: ~1 ms), whichever process profiled it first.

An entry is one file, named by the keccak of the code and the *toolchain fingerprint*:
the format, llvmlite's and LLVM's versions, the host CPU and its features, the
optimisation level, the sources of the modules that decide the machine code
(``analysis``, ``coverage``, ``irgen``, ``backend``) and the fork's opcode table (names,
handlers and static gas), so code built by another version or for other rules is never
found. A file holds a magic, a JSON header (the fingerprint, the code's hash, the object's
keccak, the covered region starts and resume points) and the object. ``load`` checks all
of it and that the starts are the code's region starts; anything else (truncated,
corrupt, foreign) is a miss and the code is built again. Files are written to a
temporary name and renamed, so readers in other processes see whole files only. The
directory is kept under ``max_bytes`` (oldest used first out).

Trust: loading an entry runs its machine code. The directory is created private
(0700) and belongs to the user; whoever can write there can already run code as that
user, as with any compiler cache.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import llvmlite
import llvmlite.binding as llvm

from jit.forks import Fork, ForkRules
from jit.native.backend import OPT_LEVEL
from statedb.types import keccak256

FORMAT = 1
MAGIC = b"HBNATIVE\n"
DEFAULT_MAX_BYTES = 256 * 1024 * 1024
MAX_HEADER_BYTES = 1 << 20
_SUFFIX = ".o"
# The modules whose code decides the machine code built for a contract.
_SOURCES = (
    "jit.compiler.analysis",
    "jit.native.coverage",
    "jit.native.irgen",
    "jit.native.backend",
)

logger = logging.getLogger("hummingbird.jit")


@dataclass(frozen=True, slots=True)
class CachedCode:
    """One contract's machine code for one fork, as ``program.build`` made it."""

    object_code: bytes  # relocatable object code (llvmlite's emit_object)
    region_starts: frozenset[int]
    resume_points: frozenset[int]
    instructions: int


class MachineCodeCache:
    """The directory of built machine code (module docstring). Thread-safe: it keeps no
    state but the fingerprints, computed once per fork and written whole."""

    def __init__(
        self, directory: str | os.PathLike[str], max_bytes: int = DEFAULT_MAX_BYTES
    ) -> None:
        if max_bytes < 1:
            raise ValueError("the machine-code cache needs room for at least one byte")
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self._fingerprints: dict[tuple[Fork, bool], bytes] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ naming

    def fingerprint(self, rules: ForkRules) -> bytes:
        """The toolchain fingerprint for ``rules`` (module docstring)."""
        key = (rules.fork, rules.megaeth)
        found = self._fingerprints.get(key)
        if found is not None:
            return found
        parts: list[bytes] = [
            str(FORMAT).encode(),
            llvmlite.__version__.encode(),
            repr(llvm.llvm_version_info).encode(),
            llvm.get_host_cpu_name().encode(),
            llvm.get_host_cpu_features().flatten().encode(),
            str(OPT_LEVEL).encode(),
            repr((rules.name, rules.megaeth, rules.static_gas)).encode(),
        ]
        for op, info in sorted(rules.opcode_table.items()):
            handler = info.handler
            parts.append(
                f"{op}:{info.name}:{info.static_gas}:{handler.__module__}.{handler.__qualname__}".encode()
            )
        for name in _SOURCES:
            parts.append(Path(importlib.import_module(name).__file__ or "").read_bytes())
        found = keccak256(b"\0".join(parts))
        self._fingerprints[key] = found
        return found

    def path(self, code: bytes, rules: ForkRules) -> Path:
        return self._path(keccak256(code), rules)

    def _path(self, code_hash: bytes, rules: ForkRules) -> Path:
        name = keccak256(self.fingerprint(rules) + code_hash).hex()[:40]
        return self.directory / (name + _SUFFIX)

    # ------------------------------------------------------------------ reading

    def load(
        self, code: bytes, rules: ForkRules, region_starts: frozenset[int]
    ) -> CachedCode | None:
        """The entry for ``code`` under ``rules``, or None (a miss: absent, unreadable,
        or failing any check). ``region_starts``: the code's regions, which an entry's
        starts must be among."""
        code_hash = keccak256(code)
        path = self._path(code_hash, rules)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        entry = self._parse(data, code_hash, len(code), rules, region_starts)
        if entry is None:
            logger.warning("jit: ignoring the unusable machine-code cache entry %s", path)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: trimmed last
        return entry

    def _parse(
        self,
        data: bytes,
        code_hash: bytes,
        code_length: int,
        rules: ForkRules,
        region_starts: frozenset[int],
    ) -> CachedCode | None:
        start = len(MAGIC) + 4
        if not data.startswith(MAGIC) or len(data) < start:
            return None
        length = int.from_bytes(data[len(MAGIC) : start], "big")
        if length > MAX_HEADER_BYTES or start + length > len(data):
            return None
        try:
            header: Any = json.loads(data[start : start + length])
        except ValueError:
            return None
        object_code = data[start + length :]
        if not isinstance(header, dict):
            return None
        starts: Any = header.get("starts")
        resumes: Any = header.get("resumes")
        instructions: Any = header.get("instructions")
        if (
            header.get("format") != FORMAT
            or header.get("fingerprint") != self.fingerprint(rules).hex()
            or header.get("code") != code_hash.hex()
            or header.get("object") != keccak256(object_code).hex()
            or not _int_list(starts, code_length)
            or not starts
            or not _int_list(resumes, code_length + 1)
            or not set(starts) <= region_starts
            or isinstance(instructions, bool)
            or not isinstance(instructions, int)
            or instructions < 0
        ):
            return None
        return CachedCode(object_code, frozenset(starts), frozenset(resumes), instructions)

    # ------------------------------------------------------------------ writing

    def store(self, code: bytes, rules: ForkRules, entry: CachedCode) -> None:
        """Write ``entry`` for ``code`` under ``rules`` (whole, by rename), then keep the
        directory under ``max_bytes``. A failure is logged, never raised: the cache only
        saves work."""
        code_hash = keccak256(code)
        header = json.dumps(
            {
                "format": FORMAT,
                "fingerprint": self.fingerprint(rules).hex(),
                "code": code_hash.hex(),
                "object": keccak256(entry.object_code).hex(),
                "starts": sorted(entry.region_starts),
                "resumes": sorted(entry.resume_points),
                "instructions": entry.instructions,
            }
        ).encode()
        blob = MAGIC + len(header).to_bytes(4, "big") + header + entry.object_code
        path = self._path(code_hash, rules)
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=_SUFFIX)
            try:
                with os.fdopen(handle, "wb") as file:
                    file.write(blob)
                os.replace(temporary, path)
            except BaseException:
                os.unlink(temporary)
                raise
            with self._lock:
                self._trim()
        except OSError as error:
            logger.warning("jit: cannot write the machine-code cache entry %s: %s", path, error)

    def _trim(self) -> None:
        """Remove the least recently used entries while the directory holds more than
        ``max_bytes`` (down to three quarters of it, so trimming is rare)."""
        entries = []
        total = 0
        for path in self.directory.glob("*" + _SUFFIX):
            try:
                status = path.stat()
            except OSError:
                continue
            entries.append((status.st_mtime, status.st_size, path))
            total += status.st_size
        if total <= self.max_bytes:
            return
        entries.sort()
        for _, size, path in entries:
            if total <= self.max_bytes * 3 // 4:
                break
            try:
                path.unlink()
                total -= size
            except OSError:
                continue


def _int_list(value: Any, limit: int) -> bool:
    """A JSON list of offsets in 0..limit-1."""
    return isinstance(value, list) and all(
        isinstance(item, int) and not isinstance(item, bool) and 0 <= item < limit for item in value
    )
