"""Atomic creation of a database directory: built in a hidden sibling, renamed into place
complete, stale siblings of dead processes removed (issue 14)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from statedb import StateDB
from statedb.backend import create_atomically, remove_stale_temporaries, temporary_sibling
from statedb.keys import CF_CHAIN_META


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid  # reaped: no process has it now (pids are not reused at once)


def test_a_failed_build_leaves_nothing(tmp_path: Path) -> None:
    path = tmp_path / "chain"

    def build(temp: Path) -> None:
        temp.mkdir()
        (temp / "half").write_bytes(b"x")
        raise RuntimeError("killed halfway")

    with pytest.raises(RuntimeError):
        create_atomically(path, build)
    assert list(tmp_path.iterdir()) == []


def test_stale_temporaries_of_dead_processes_are_removed(tmp_path: Path) -> None:
    path = tmp_path / "chain"
    stale = temporary_sibling(path, dead_pid())
    live = temporary_sibling(path, os.getppid())  # a running process: maybe mid-creation
    unrelated = tmp_path / ".other.tmp-1"
    for directory in (stale, live, unrelated):
        directory.mkdir()
    assert remove_stale_temporaries(path) == [stale]
    assert not stale.exists() and live.exists() and unrelated.exists()


def test_an_empty_directory_is_replaced_and_a_used_one_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "chain"
    path.mkdir()
    assert create_atomically(path, lambda temp: (temp.mkdir(), (temp / "db").write_bytes(b"1")))
    assert (path / "db").read_bytes() == b"1"
    called: list[Path] = []
    assert not create_atomically(path, called.append)
    assert called == [] and (path / "db").read_bytes() == b"1"


def test_another_process_creating_it_first_wins(tmp_path: Path) -> None:
    path = tmp_path / "chain"

    def build(temp: Path) -> None:
        temp.mkdir()
        (temp / "mine").write_bytes(b"")
        path.mkdir()  # the other process renamed its complete directory meanwhile
        (path / "theirs").write_bytes(b"")

    assert not create_atomically(path, build)
    assert [p.name for p in path.iterdir()] == ["theirs"]
    assert [p.name for p in tmp_path.iterdir()] == ["chain"]


def test_statedb_open_initializes_once_and_only_complete(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "chain"
    calls: list[int] = []

    def initialize(db: StateDB) -> None:
        assert not path.exists()  # written in the temporary sibling
        calls.append(db.head_number)
        db.put_records({CF_CHAIN_META: {b"first": b"1"}})

    with StateDB.open(path, initialize=initialize) as db:
        assert db.get_record(CF_CHAIN_META, b"first") == b"1"
    with StateDB.open(path, initialize=initialize) as db:
        assert db.get_record(CF_CHAIN_META, b"first") == b"1"
    assert calls == [-1]
    assert [p.name for p in path.parent.iterdir()] == ["chain"]
