"""Wrong and hostile inputs: clear errors, and nothing written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import rocksdict

from statedb import (
    Account,
    CorruptDatabase,
    InvalidStateInput,
    StateDB,
    StateDBError,
    StateDiff,
)
from statedb.keys import CF_BLOCKS, CF_STORAGE, check_address, log_index_key
from statedb.types import keccak256
from tests.unit.statedb.support import close_without_checkpoint

A = b"\x11" * 20

BAD_DIFFS: list[tuple[str, StateDiff]] = [
    ("short address", StateDiff(accounts={b"\x11" * 19: Account()})),
    ("long address", StateDiff(storage={b"\x11" * 21: {1: 1}})),
    ("str address", StateDiff(accounts={"0x" + "11" * 20: Account()})),  # type: ignore[dict-item]
    ("cleared address", StateDiff(storage_cleared={b"\x01"})),
    ("negative slot", StateDiff(storage={A: {-1: 1}})),
    ("huge slot", StateDiff(storage={A: {2**256: 1}})),
    ("negative value", StateDiff(storage={A: {1: -1}})),
    ("huge value", StateDiff(storage={A: {1: 2**256}})),
    ("float value", StateDiff(storage={A: {1: 1.0}})),  # type: ignore[dict-item]
    ("huge nonce", StateDiff(accounts={A: Account(nonce=2**64)})),
    ("negative balance", StateDiff(accounts={A: Account(balance=-1)})),
    ("huge balance", StateDiff(accounts={A: Account(balance=2**256)})),
    ("short code hash", StateDiff(accounts={A: Account(code_hash=b"\x00")})),
    ("not an account", StateDiff(accounts={A: (1, 2, 3)})),  # type: ignore[dict-item]
    ("wrong code hash", StateDiff(codes={b"\x00" * 32: b"\x60\x00"})),
    ("code not bytes", StateDiff(codes={keccak256(b"x"): "x"})),  # type: ignore[dict-item]
]


@pytest.fixture(params=["rocks", "memory"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    d = StateDB.open(tmp_path / "db") if request.param == "rocks" else StateDB.ephemeral()
    d.commit(0, StateDiff(accounts={A: Account(1, 2)}, storage={A: {1: 1}}))
    yield d
    d.close()


@pytest.mark.parametrize(("name", "diff"), BAD_DIFFS, ids=[n for n, _ in BAD_DIFFS])
def test_bad_diff_is_rejected_and_nothing_changes(db: StateDB, name: str, diff: StateDiff) -> None:
    root = db.state_root
    with pytest.raises(InvalidStateInput):
        db.commit(1, diff)
    assert db.head_number == 0 and db.state_root == root
    db.commit(1, StateDiff(accounts={A: Account(5, 5)}))  # the database is still usable


@pytest.mark.parametrize(
    "records",
    [
        {"nope": {b"k": b"v"}},
        {CF_BLOCKS: {"k": b"v"}},
        {CF_BLOCKS: {b"": b"v"}},
        {CF_BLOCKS: {b"k": "v"}},
        {CF_BLOCKS: {b"k" * 70000: b"v"}},
    ],
)
def test_bad_chain_records(db: StateDB, records: Any) -> None:
    with pytest.raises(InvalidStateInput):
        db.commit(1, StateDiff(accounts={A: Account(9, 9)}), records)
    assert db.head_number == 0 and db.head.get_account(A) == Account(1, 2)


def test_bad_arguments(db: StateDB) -> None:
    with pytest.raises(InvalidStateInput):
        db.commit(1, {"accounts": {}})  # type: ignore[arg-type]
    with pytest.raises(InvalidStateInput):
        StateDB.ephemeral(history_window=-1)
    with pytest.raises(InvalidStateInput):
        db.get_record("accounts", A)  # state CFs are not chain records
    with pytest.raises(InvalidStateInput):
        check_address(b"\x00" * 32)
    with pytest.raises(InvalidStateInput):
        log_index_key(b"\x00" * 5, 1, 0)


def test_closed_database(tmp_path: Path) -> None:
    d = StateDB.open(tmp_path / "db")
    d.close()
    d.close()  # idempotent
    with pytest.raises(StateDBError, match="closed"):
        d.commit(0, StateDiff())


def test_path_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(CorruptDatabase, match="not a directory"):
        StateDB.open(tmp_path / "f")


def test_foreign_directory(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "notes.txt").write_text("hello")
    with pytest.raises(CorruptDatabase, match="not a RocksDB"):
        StateDB.open(tmp_path / "d")


def test_foreign_rocksdb(tmp_path: Path) -> None:
    opts = rocksdict.Options(raw_mode=True)
    foreign = rocksdict.Rdict(str(tmp_path / "r"), opts)
    foreign[b"some"] = b"thing"
    foreign.close()
    del foreign
    with pytest.raises(CorruptDatabase, match="no statedb schema"):
        StateDB.open(tmp_path / "r")


def test_corrupt_rocksdb_files(tmp_path: Path) -> None:
    d = StateDB.open(tmp_path / "db")
    d.commit(0, StateDiff(accounts={A: Account(1, 1)}))
    d.close()
    (tmp_path / "db" / "CURRENT").write_bytes(b"MANIFEST-999999\n")
    with pytest.raises(CorruptDatabase, match=r"cannot (open|read)"):
        StateDB.open(tmp_path / "db")


def test_tampered_state_is_detected(tmp_path: Path) -> None:
    d = StateDB.open(tmp_path / "db")
    d.commit(0, StateDiff(accounts={A: Account(1, 1)}, storage={A: {7: 7}}))
    close_without_checkpoint(d)  # no commitment checkpoint, so open recomputes
    opts = rocksdict.Options(raw_mode=True)
    raw = rocksdict.Rdict(str(tmp_path / "db"), opts)
    cf = raw.get_column_family(CF_STORAGE)
    cf[A + (7).to_bytes(32, "big")] = (8).to_bytes(32, "big")
    cf.close()
    raw.close()
    del cf, raw
    with pytest.raises(CorruptDatabase, match="state root"):
        StateDB.open(tmp_path / "db")


def test_second_open_is_refused(tmp_path: Path) -> None:
    d = StateDB.open(tmp_path / "db")
    try:
        with pytest.raises(StateDBError, match="already open"):
            StateDB.open(tmp_path / "db")
    finally:
        d.close()
    StateDB.open(tmp_path / "db").close()  # and the lock is released by close()
