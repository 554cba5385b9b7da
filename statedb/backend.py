"""Where committed bytes live: RocksDB (rocksdict) or, for ``--ephemeral``, Python dicts.

Owns the two backends behind ``StateDB``: opening and validating a directory,
creating one atomically (``create_atomically``: built in a hidden sibling, renamed
into place when complete), atomic batch writes, point reads, ordered range scans,
and the history seek ("the first change of this key after block N"). ``StateDB`` stages every write of
a block into one ``Batch`` and calls ``write`` once; that call is the commit point.

The batch API is rocksdict's own (``put(key, value, cf)``, ``delete(key, cf)``) so
the RocksDB hot path has no wrapper call per key; the memory backend mimics it.
"""

from __future__ import annotations

import bisect
import errno
import fcntl
import gc
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import rocksdict

from statedb.errors import CorruptDatabase, DatabaseClosed, StateDBError
from statedb.keys import (
    ALL_CFS,
    CF_ACCOUNTS,
    CF_CODE,
    CF_HISTORY,
    CF_META,
    CF_STORAGE,
    META_SCHEMA,
    SCHEMA_VERSION,
    rocks_options,
)


class Batch(Protocol):
    def put(self, key: bytes, value: bytes, column_family: Any) -> None: ...

    def delete(self, key: bytes, column_family: Any) -> None: ...

    def delete_range(self, begin: bytes, end: bytes, column_family: Any) -> None: ...


class Backend(Protocol):
    persistent: bool

    def handle(self, cf: str) -> Any: ...

    def new_batch(self) -> Batch: ...

    def write(self, batch: Batch) -> None: ...

    def get(self, cf: str, key: bytes) -> bytes | None: ...

    def history_after(self, prefix: bytes, after: bytes) -> bytes | None: ...

    def history_keys_after(self, prefix: bytes, after: bytes) -> Iterator[bytes]:
        """The rest of each history key under ``prefix`` that has an entry for a block
        at or after ``after`` (8 bytes), each once: what changed after a block."""
        ...

    def items(
        self, cf: str, start: bytes = b"", end: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]: ...

    def settle(self, timeout: float = 120.0) -> bool: ...

    def close(self) -> None: ...


# --- RocksDB ---------------------------------------------------------------------------
class RocksBackend:
    """A RocksDB directory with the column families of ``statedb.keys``."""

    persistent = True

    def __init__(self, path: str | os.PathLike[str], *, sync: bool = False) -> None:
        self.path = Path(path)
        _check_directory(self.path)
        db_opts, cf_opts = rocks_options()
        try:
            self._db: rocksdict.Rdict | None = rocksdict.Rdict(
                str(self.path), db_opts, column_families=cf_opts
            )
        except Exception as exc:  # rocksdict raises bare Exception with RocksDB's status text
            text = str(exc)
            if "lock" in text.lower():
                raise StateDBError(
                    f"{self.path} is already open (another process or instance holds its lock)"
                ) from exc
            raise CorruptDatabase(f"cannot open state database at {self.path}: {text}") from exc
        self._handles = {cf: self._db.get_column_family_handle(cf) for cf in ALL_CFS}
        self._cfs = {cf: self._db.get_column_family(cf) for cf in ALL_CFS}
        self._read = rocksdict.ReadOptions()
        self._write_opts = rocksdict.WriteOptions()
        # sync=False survives a killed process (the WAL is in the OS page cache when
        # write() returns); sync=True also survives power loss at ~1 fsync per block.
        self._write_opts.sync = sync
        self._check_schema()

    def _check_schema(self) -> None:
        meta = self._cfs[CF_META]
        schema = meta.get(META_SCHEMA)
        if schema is None:
            for cf in (None, *ALL_CFS):
                it = (self._live() if cf is None else self._cfs[cf]).iter(self._read)
                it.seek_to_first()
                if it.valid():
                    self.close()
                    raise CorruptDatabase(
                        f"{self.path} holds RocksDB data but no statedb schema marker"
                    )
                del it
            meta.put(META_SCHEMA, SCHEMA_VERSION, self._write_opts)
        elif schema != SCHEMA_VERSION:
            self.close()
            raise CorruptDatabase(
                f"{self.path} has schema {schema!r}; this build reads {SCHEMA_VERSION!r}"
            )

    def _live(self) -> rocksdict.Rdict:
        if self._db is None:
            raise DatabaseClosed("state database is closed")
        return self._db

    def handle(self, cf: str) -> Any:
        return self._handles[cf]

    def new_batch(self) -> Batch:
        batch: Batch = rocksdict.WriteBatch(raw_mode=True)
        return batch

    def write(self, batch: Batch) -> None:
        self._live().write(batch, self._write_opts)  # type: ignore[arg-type]

    def get(self, cf: str, key: bytes) -> bytes | None:
        self._live()
        value: bytes | None = self._cfs[cf].get(key)
        return value

    def history_after(self, prefix: bytes, after: bytes) -> bytes | None:
        self._live()
        it = self._cfs[CF_HISTORY].iter(self._read)
        it.seek(prefix + after)
        if it.valid():
            key: bytes = it.key()
            if key[:-8] == prefix:
                value: bytes = it.value()
                return value
        return None

    def history_keys_after(self, prefix: bytes, after: bytes) -> Iterator[bytes]:
        self._live()
        it = self._cfs[CF_HISTORY].iter(self._read)
        it.seek(prefix)
        cut = len(prefix)
        last = None
        while it.valid():
            key: bytes = it.key()
            if not key.startswith(prefix):
                return
            rest = key[cut:-8]
            if rest != last and key[-8:] >= after:
                last = rest
                yield rest
            it.next()

    def items(
        self, cf: str, start: bytes = b"", end: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        self._live()
        it = self._cfs[cf].iter(self._read)
        if reverse:
            if end is None:
                it.seek_to_last()
            else:
                it.seek_for_prev(end)
                if it.valid() and it.key() >= end:
                    it.prev()
            while it.valid():
                key = it.key()
                if key < start:
                    return
                yield key, it.value()
                it.prev()
        else:
            it.seek(start)
            while it.valid():
                key = it.key()
                if end is not None and key >= end:
                    return
                yield key, it.value()
                it.next()

    def settle(self, timeout: float = 120.0) -> bool:
        """Flush memtables and wait for background compactions; False on timeout.

        For benchmarks and maintenance (e.g. after a bulk import), not the hot path.
        """
        db = self._live()
        for cf in self._cfs.values():
            cf.flush(True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            busy = db.property_int_value("rocksdb.num-running-compactions") or 0
            busy += db.property_int_value("rocksdb.num-running-flushes") or 0
            for cf in self._cfs.values():
                busy += cf.property_int_value("rocksdb.compaction-pending") or 0
            if not busy:
                return True
            time.sleep(0.05)
        return False

    def close(self) -> None:
        if self._db is None:
            return
        db, self._db = self._db, None
        # RocksDB stays open (and keeps its LOCK) while any handle or CF object lives.
        for cf in self._cfs.values():
            cf.close()
        self._cfs.clear()
        self._handles.clear()
        db.close()
        del db
        gc.collect()


def _check_directory(path: Path) -> None:
    if path.exists() and not path.is_dir():
        raise CorruptDatabase(f"{path} exists and is not a directory")
    if path.is_dir() and any(path.iterdir()):
        if not (path / "CURRENT").exists():
            raise CorruptDatabase(f"{path} is not empty and is not a RocksDB database")
        # Refuse a foreign RocksDB before opening it read-write (which would add our
        # column families to it).
        try:
            families = set(rocksdict.Rdict.list_cf(str(path), rocksdict.Options(raw_mode=True)))
        except Exception as exc:
            raise CorruptDatabase(f"cannot read {path} as a RocksDB database: {exc}") from exc
        if CF_META not in families or not families <= {"default", *ALL_CFS}:
            raise CorruptDatabase(
                f"{path} is a RocksDB database but not a statedb one "
                f"(column families {sorted(families)}; no statedb schema marker)"
            )


def remove_database(path: str | os.PathLike[str]) -> bool:
    """Delete the statedb directory ``path`` (``hummingbird --reset``); False if there was
    none. Refuses what is not a statedb directory (``CorruptDatabase``: never a folder
    a mistyped ``--data-dir`` names) and one that a running node holds
    (``StateDBError``: RocksDB's lock on its LOCK file is taken here first, and kept
    while the directory goes)."""
    path = Path(path)
    if not path.exists():
        return False
    _check_directory(path)
    lock_path = path / "LOCK"
    if not lock_path.exists():
        shutil.rmtree(path)
        return True
    with open(lock_path, "r+b") as lock:
        try:
            fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            if error.errno in (errno.EACCES, errno.EAGAIN):
                raise StateDBError(
                    f"{path} is in use (another process holds its lock): stop that node first"
                ) from None
            raise
        shutil.rmtree(path)
    return True


# --- atomic creation ---------------------------------------------------------------------
def temporary_sibling(path: Path, pid: int | None = None) -> Path:
    """Where a new database for ``path`` is built: ``.<name>.tmp-<pid>`` next to it."""
    return path.parent / f".{path.name}.tmp-{os.getpid() if pid is None else pid}"


def remove_stale_temporaries(path: Path) -> list[Path]:
    """Delete the temporary siblings of ``path`` left by processes that no longer run
    (killed during a first start); returns what was removed."""
    pattern = re.compile(rf"^\.{re.escape(path.name)}\.tmp-(\d+)$")
    removed: list[Path] = []
    try:
        siblings = list(path.parent.iterdir())
    except OSError:
        return removed
    for sibling in siblings:
        match = pattern.match(sibling.name)
        if match is None or _process_alive(int(match.group(1))):
            continue
        shutil.rmtree(sibling, ignore_errors=True)
        removed.append(sibling)
    return removed


def create_atomically(path: Path, build: Callable[[Path], None]) -> bool:
    """Create the database directory ``path`` so that no process ever sees it half made.

    When ``path`` is missing (or an empty directory), ``build`` writes the whole
    database into a temporary sibling, which is synced and renamed to ``path`` (one
    atomic step): a process killed at any moment leaves either no ``path`` or a
    complete one, plus at most a temporary sibling that the next start removes.
    Returns False, building nothing, when ``path`` already has contents (or another
    process created it first)."""
    remove_stale_temporaries(path)
    if path.exists() and not (path.is_dir() and not any(path.iterdir())):
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = temporary_sibling(path)
    shutil.rmtree(temp, ignore_errors=True)
    try:
        build(temp)
        _fsync_tree(temp)
        try:
            os.rename(temp, path)  # replaces an empty directory, never a non-empty one
        except OSError as error:
            if error.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            shutil.rmtree(temp, ignore_errors=True)  # another process created it first
            return False
        _fsync_directory(path.parent)  # the rename itself survives power loss too
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return True


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _fsync_tree(root: Path) -> None:
    for directory, _, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(directory, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_directory(Path(directory))


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- memory (--ephemeral) ---------------------------------------------------------------
class _MemoryBatch:
    """Records operations; ``MemoryBackend.write`` applies them all at once."""

    __slots__ = ("ops",)

    def __init__(self) -> None:
        self.ops: list[tuple[int, Any, bytes, bytes | None]] = []

    def put(self, key: bytes, value: bytes, column_family: Any) -> None:
        if column_family is not None:
            self.ops.append((0, column_family, key, value))

    def delete(self, key: bytes, column_family: Any) -> None:
        if column_family is not None:
            self.ops.append((1, column_family, key, None))

    def delete_range(self, begin: bytes, end: bytes, column_family: Any) -> None:
        if column_family is not None:
            self.ops.append((2, column_family, begin, end))


class MemoryBackend:
    """Dicts instead of RocksDB. The head state itself is already resident in
    ``StateDB``, so state column families are not duplicated here (handle None)."""

    persistent = False

    def __init__(self) -> None:
        self._tables: dict[str, dict[bytes, bytes]] = {
            cf: {} for cf in ALL_CFS if cf not in (CF_ACCOUNTS, CF_STORAGE, CF_CODE, CF_HISTORY)
        }
        # History: key prefix -> ascending (block number, pre-image) pairs, for bisect.
        # One list of pairs, so each write is one list operation and a reader on another
        # thread (the simulation worker) never sees a block without its pre-image.
        self._history: dict[bytes, list[tuple[int, bytes]]] = {}
        self._closed = False

    def handle(self, cf: str) -> Any:
        if cf in (CF_ACCOUNTS, CF_STORAGE, CF_CODE):
            return None
        return cf

    def new_batch(self) -> Batch:
        return _MemoryBatch()

    def write(self, batch: Batch) -> None:
        if self._closed:
            raise DatabaseClosed("state database is closed")
        assert isinstance(batch, _MemoryBatch)
        tables = self._tables
        history = self._history
        for op, cf, key, value in batch.ops:
            if cf == CF_HISTORY:
                prefix, block = key[:-8], int.from_bytes(key[-8:], "big")
                entries = history.get(prefix)
                if op == 0:
                    assert value is not None
                    if entries is None:
                        history[prefix] = [(block, value)]
                        continue
                    if entries[-1][0] < block:  # the usual case: a new block
                        entries.append((block, value))
                        continue
                    i = bisect.bisect_left(entries, (block,))
                    if i < len(entries) and entries[i][0] == block:
                        entries[i] = (block, value)
                    else:
                        entries.insert(i, (block, value))
                elif entries is not None:
                    i = bisect.bisect_left(entries, (block,))
                    if i < len(entries) and entries[i][0] == block:
                        del entries[i]
                        if not entries:
                            del history[prefix]
            elif op == 0:
                assert value is not None
                tables[cf][key] = value
            elif op == 1:
                tables[cf].pop(key, None)
            else:
                assert value is not None
                table = tables[cf]
                for k in [k for k in table if key <= k < value]:
                    del table[k]

    def get(self, cf: str, key: bytes) -> bytes | None:
        return self._tables[cf].get(key)

    def history_after(self, prefix: bytes, after: bytes) -> bytes | None:
        entries = self._history.get(prefix)
        if entries is None:
            return None
        # (n,) sorts before every (n, pre): the first entry of a block >= after.
        i = bisect.bisect_left(entries, (int.from_bytes(after, "big"),))
        return entries[i][1] if i < len(entries) else None

    def history_keys_after(self, prefix: bytes, after: bytes) -> Iterator[bytes]:
        # A scan of every history key: fine for a devnet's in-memory chain, and only
        # eth_getAccount at a past block asks (documented).
        block = int.from_bytes(after, "big")
        cut = len(prefix)
        for key, entries in list(self._history.items()):
            if key.startswith(prefix) and entries and entries[-1][0] >= block:
                yield key[cut:]

    def items(
        self, cf: str, start: bytes = b"", end: bytes | None = None, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        # O(n log n) per scan; fine for a devnet's in-memory chain (documented).
        table = self._tables[cf]
        keys = sorted(k for k in table if k >= start and (end is None or k < end))
        if reverse:
            keys.reverse()
        for k in keys:
            value = table.get(k)
            if value is not None:
                yield k, value

    def settle(self, timeout: float = 120.0) -> bool:
        return True

    def close(self) -> None:
        self._closed = True
