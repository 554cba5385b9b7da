"""StateDB against the model: commits, history, revert, reopen, pruning, both backends."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from statedb import (
    Account,
    BlockOrderError,
    HistoryUnavailable,
    InvalidStateInput,
    StateDB,
    StateDiff,
    compute_root,
)
from statedb.keys import CF_BLOCKS, CF_CHAIN_META, CF_HISTORY, CHAIN_CFS, META_COMMITMENT
from statedb.types import StateReader
from tests.unit.statedb.support import (
    ADDRESSES,
    SLOTS,
    Model,
    close_without_checkpoint,
    random_block,
    state_of,
)

Opener = Callable[..., StateDB]


@pytest.fixture(params=["rocks", "memory"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    opened: list[StateDB] = []

    def open_db(**kwargs: Any) -> StateDB:
        if request.param == "rocks":
            db = StateDB.open(tmp_path / "db", **kwargs)
        else:
            db = StateDB.ephemeral(**kwargs)
        opened.append(db)
        return db

    yield open_db
    for db in opened:
        db.close()


def assert_view_equals(view: StateReader, expected: StateReader, codes: dict[bytes, bytes]) -> None:
    for address in ADDRESSES:
        assert view.get_account(address) == expected.get_account(address), address.hex()
        assert view.account_has_storage(address) == expected.account_has_storage(address)
        for slot in SLOTS:
            assert view.get_storage(address, slot) == expected.get_storage(address, slot)
        listed = set(view.storage_slots(address))
        assert listed == {s for s in SLOTS if expected.get_storage(address, s)}
        assert listed == set(expected.storage_slots(address))
    for code_hash, code in codes.items():
        assert view.get_code(code_hash) == code


def assert_db_matches(db: StateDB, model: Model) -> None:
    assert db.head_number == len(model.history) - 1
    assert state_of(db.resident) == state_of(model.state)
    assert db.resident.codes == model.state.codes
    assert db.state_root == compute_root(model.state.accounts, model.state.storage)
    for cf in CHAIN_CFS:
        assert dict(db.records(cf)) == model.records[cf], cf


def run_blocks(db: StateDB, model: Model, rng: random.Random, count: int) -> None:
    for _ in range(count):
        number = db.head_number + 1
        diff, records = random_block(rng, number)
        prepared = db.prepare(diff)
        root = db.commit(number, prepared, records)
        model.apply(diff, records)
        assert root == prepared.state_root == model.root_at(number)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_history_matches_model(opener: Opener, seed: int) -> None:
    db = opener()
    model = Model()
    run_blocks(db, model, random.Random(seed), 120)
    assert_db_matches(db, model)
    assert_view_equals(db.head, model.state, model.state.codes)
    for number in range(0, 120):
        assert_view_equals(db.at(number), model.at(number), model.at(number).codes)


def test_historical_view_stays_pinned_while_head_moves(opener: Opener) -> None:
    db = opener()
    model = Model()
    rng = random.Random(7)
    run_blocks(db, model, rng, 10)
    view = db.at(5)
    run_blocks(db, model, rng, 30)
    assert_view_equals(view, model.at(5), {})


def test_prepare_does_not_mutate_and_goes_stale(opener: Opener) -> None:
    db = opener()
    a = ADDRESSES[0]
    db.commit(0, StateDiff(accounts={a: Account(1, 1)}))
    root = db.state_root
    prepared = db.prepare(StateDiff(accounts={a: Account(2, 2)}, storage={a: {1: 1}}))
    assert prepared.state_root != root
    assert db.state_root == root and db.head.get_account(a) == Account(1, 1)
    assert db.head.get_storage(a, 1) == 0
    db.commit(1, StateDiff(accounts={a: Account(3, 3)}))
    with pytest.raises(BlockOrderError):
        db.commit(2, prepared)
    with pytest.raises(BlockOrderError):
        db.commit(5, StateDiff())
    with pytest.raises(BlockOrderError):
        db.commit(1, StateDiff())
    prepared = db.prepare(StateDiff(accounts={a: Account(4, 4)}))
    db.commit(2, prepared)
    with pytest.raises(BlockOrderError):
        db.commit(3, prepared)  # used twice
    assert db.head.get_account(a) == Account(4, 4)


def test_empty_block_and_noop_writes_keep_root(opener: Opener) -> None:
    db = opener()
    a = ADDRESSES[0]
    db.commit(0, StateDiff(accounts={a: Account(1, 1)}, storage={a: {5: 9}}))
    root = db.state_root
    db.commit(1, StateDiff())
    db.commit(2, StateDiff(accounts={a: Account(1, 1)}, storage={a: {5: 9, 6: 0}}))
    assert db.state_root == root
    assert db.at(1).get_storage(a, 5) == 9


def test_revert_restores_state_history_and_records(opener: Opener) -> None:
    db = opener()
    model = Model()
    rng = random.Random(11)
    run_blocks(db, model, rng, 30)
    snap = db.snapshot()
    run_blocks(db, model, rng, 25)
    inner = db.snapshot()
    run_blocks(db, model, rng, 5)
    db.revert(snap)
    model.truncate(29)
    assert_db_matches(db, model)
    for number in range(30):
        assert_view_equals(db.at(number), model.at(number), {})
    with pytest.raises(Exception, match="unknown snapshot"):
        db.revert(inner)  # later snapshots die with the one reverted to
    # The chain continues on a new branch with no trace of the reverted blocks.
    run_blocks(db, model, rng, 20)
    assert_db_matches(db, model)
    for number in range(50):
        assert_view_equals(db.at(number), model.at(number), {})


def test_revert_to_before_genesis(opener: Opener) -> None:
    db = opener()
    model = Model()
    rng = random.Random(5)
    snap = db.snapshot()
    run_blocks(db, model, rng, 5)
    db.revert(snap)
    assert db.head_number == -1
    assert db.resident.accounts == {} and db.resident.storage == {}
    assert db.state_root == compute_root({}, {})
    assert all(not list(db.records(cf)) for cf in CHAIN_CFS)


def test_view_of_reverted_block_raises(opener: Opener) -> None:
    db = opener()
    run_blocks(db, Model(), random.Random(3), 10)
    view = db.at(8)
    older = db.at(4)
    db.revert_to(5)
    with pytest.raises(HistoryUnavailable):
        view.get_account(ADDRESSES[0])
    older.get_account(ADDRESSES[0])  # still valid
    with pytest.raises(HistoryUnavailable):
        db.at(6)


def test_window_prunes_history_and_snapshots_pin_it(opener: Opener) -> None:
    db = opener(history_window=5)
    model = Model()
    rng = random.Random(9)
    run_blocks(db, model, rng, 20)
    assert db.oldest_available == 14
    assert_view_equals(db.at(14), model.at(14), {})
    for bad in (13, 20, -1):
        with pytest.raises(HistoryUnavailable):
            db.at(bad)
    snap = db.snapshot()  # at 19
    run_blocks(db, model, rng, 20)
    assert db.oldest_available == 19  # pinned by the snapshot
    db.revert(snap)
    model.truncate(19)
    assert_db_matches(db, model)
    run_blocks(db, model, rng, 10)
    assert db.oldest_available == 24


def test_window_zero_keeps_everything(opener: Opener) -> None:
    db = opener(history_window=0)
    model = Model()
    run_blocks(db, model, random.Random(4), 40)
    assert db.oldest_available == 0
    assert_view_equals(db.at(0), model.at(0), {})


def test_pruned_history_entries_are_deleted(tmp_path: Path) -> None:
    db = StateDB.open(tmp_path / "db", history_window=3)
    run_blocks(db, Model(), random.Random(2), 30)
    blocks = {int.from_bytes(k[-8:], "big") for k, _ in db._backend.items(CF_HISTORY)}
    assert blocks and min(blocks) >= db.head_number - 3 + 1
    db.close()


def test_reopen_after_clean_close_and_after_crash(tmp_path: Path) -> None:
    model = Model()
    rng = random.Random(21)
    db = StateDB.open(tmp_path / "db")
    run_blocks(db, model, rng, 40)
    db.close()
    db = StateDB.open(tmp_path / "db")  # uses the close-time commitment checkpoint
    assert db._backend.get("meta", META_COMMITMENT) is None  # consumed at open
    assert_db_matches(db, model)
    run_blocks(db, model, rng, 10)
    close_without_checkpoint(db)  # no checkpoint: the root is recomputed at open
    db = StateDB.open(tmp_path / "db")
    assert_db_matches(db, model)
    for number in range(50):
        assert_view_equals(db.at(number), model.at(number), {})
    db.close()


def test_records_ranges(opener: Opener) -> None:
    db = opener()
    keys = [n.to_bytes(8, "big") for n in range(10)]
    for n, key in enumerate(keys):
        db.commit(n, StateDiff(), {CF_BLOCKS: {key: b"b%d" % n}, CF_CHAIN_META: {b"head": key}})
    assert [k for k, _ in db.records(CF_BLOCKS, keys[3], keys[6])] == keys[3:6]
    assert [k for k, _ in db.records(CF_BLOCKS, keys[3], keys[6], reverse=True)] == keys[5:2:-1]
    assert [k for k, _ in db.records(CF_BLOCKS, reverse=True)] == keys[::-1]
    assert db.get_record(CF_CHAIN_META, b"head") == keys[9]
    assert db.get_record(CF_BLOCKS, b"missing") is None


def test_fresh_record_families_skip_the_read_and_still_revert(opener: Opener) -> None:
    """``commit(fresh=...)``: no previous value is read for those families (the caller
    guarantees the keys are new), and a revert removes the records; the other families
    still restore the value they replaced."""
    from statedb.keys import CF_CHAIN_META, CF_TX_INDEX

    db = opener()
    db.commit(0, StateDiff(), {CF_CHAIN_META: {b"k": b"old"}})
    snap = db.snapshot()
    reads: list[tuple[str, bytes]] = []
    get = db._backend.get

    def counting_get(cf: str, key: bytes) -> bytes | None:
        reads.append((cf, key))
        return get(cf, key)

    db._backend.get = counting_get  # type: ignore[method-assign]
    db.commit(
        1,
        StateDiff(),
        {CF_TX_INDEX: {b"\x01" * 32: b"v"}, CF_CHAIN_META: {b"k": b"new"}},
        fresh=frozenset({CF_TX_INDEX}),
    )
    db._backend.get = get  # type: ignore[method-assign]
    assert (CF_TX_INDEX, b"\x01" * 32) not in reads
    assert (CF_CHAIN_META, b"k") in reads
    assert db.get_record(CF_TX_INDEX, b"\x01" * 32) == b"v"
    db.revert(snap)
    assert db.get_record(CF_TX_INDEX, b"\x01" * 32) is None
    assert db.get_record(CF_CHAIN_META, b"k") == b"old"


@pytest.mark.parametrize("seed", [4, 5])
def test_block_diff_rebuilds_what_the_commit_changed(opener: Opener, seed: int) -> None:
    """A replica catching up reads each block's change back from history: equal to the
    prepared block's own normalised change (real changes only, wipes as zero writes,
    deleted accounts as None, new code), for every block in the window."""
    db = opener(history_window=0)
    rng = random.Random(seed)
    published: list[StateDiff] = []
    for number in range(25):
        diff, records = random_block(rng, number)
        prepared = db.prepare(diff)
        published.append(
            StateDiff(
                accounts=dict(prepared.acc_ops),
                storage={a: dict(s) for a, s in prepared.sto_ops.items()},
                codes=dict(prepared.codes),
            )
        )
        db.commit(number, prepared, records)
    for number, expected in enumerate(published):
        rebuilt = db.block_diff(number)
        assert rebuilt.accounts == expected.accounts, number
        assert {a: s for a, s in rebuilt.storage.items() if s} == {
            a: s for a, s in expected.storage.items() if s
        }, number
        assert rebuilt.codes == expected.codes, number
        assert not rebuilt.storage_cleared


def test_block_diff_outside_the_window(opener: Opener) -> None:
    db = opener(history_window=2)
    model = Model()
    run_blocks(db, model, random.Random(6), 8)
    with pytest.raises(HistoryUnavailable):
        db.block_diff(1)
    with pytest.raises(HistoryUnavailable):
        db.block_diff(99)
    db.block_diff(db.head_number)


def test_bootstrap_starts_an_empty_database_at_a_block(opener: Opener) -> None:
    """A replica's snapshot bootstrap: state at block 10, no history below it, blocks
    after it commit and revert as usual; a database with blocks refuses it."""
    source = opener(history_window=0)
    rng = random.Random(8)
    model = Model()
    run_blocks(source, model, rng, 11)
    state = StateDiff(
        accounts=dict(source.resident.accounts),
        storage={a: dict(s) for a, s in source.resident.storage.items()},
        codes={h: c for h, c in source.resident.codes.items() if c},
    )
    with pytest.raises(BlockOrderError):
        source.bootstrap(10, state)
    db = StateDB.ephemeral(history_window=0)
    try:
        root = db.bootstrap(10, state, {CF_CHAIN_META: {b"k": b"v"}})
        assert root == source.state_root and db.head_number == 10
        assert db.oldest_available == 10
        assert state_of(db.at(10)._db.resident) == state_of(source.resident)
        with pytest.raises(HistoryUnavailable):
            db.at(9)
        diff, records = random_block(rng, 11)
        db.commit(11, db.prepare(diff), records)
        db.revert_to(10)
        assert db.state_root == root
        with pytest.raises(HistoryUnavailable):
            db.revert_to(9)
        with pytest.raises(HistoryUnavailable):
            db.block_diff(10)  # no changeset below the next block
    finally:
        db.close()


@pytest.mark.parametrize("seed", [9, 10])
def test_a_follower_applying_published_diffs_matches_the_source(opener: Opener, seed: int) -> None:
    """``prepare(normalised=True)``, a replica's path, takes each published diff as
    sent: the follower's state, roots, records and index keys come out as the
    source's, block after block."""
    source = StateDB.ephemeral(history_window=0)
    follower = opener(history_window=0)
    rng = random.Random(seed)
    try:
        for number in range(30):
            diff, records = random_block(rng, number)
            root = source.commit(number, source.prepare(diff), records)
            published = source.block_diff(number)
            prepared = follower.prepare(published, normalised=True)
            assert prepared.state_root == root, number
            written = {cf: dict(r) for cf, r in records.items()}
            assert follower.commit(number, prepared, written) == root
            for cf in records:
                assert follower.block_record_keys(number, cf) == source.block_record_keys(
                    number, cf
                )
                assert follower.block_record_keys(number, cf) == tuple(records[cf])
        assert state_of(follower.resident) == state_of(source.resident)
        assert follower.resident.codes == source.resident.codes
        for cf in CHAIN_CFS:
            assert dict(follower.records(cf)) == dict(source.records(cf)), cf
    finally:
        source.close()


def test_prepare_normalised_refuses_wipes_and_keeps_deleted_accounts_clean(
    opener: Opener,
) -> None:
    db = opener(history_window=0)
    holder = b"\x0a" * 20
    first = StateDiff(accounts={holder: Account(1, 5)}, storage={holder: {1: 2, 3: 4}})
    db.commit(0, db.prepare(first, normalised=True), {})
    wiped = StateDiff()
    wiped.storage_cleared.add(holder)
    with pytest.raises(InvalidStateInput, match="without wipes"):
        db.prepare(wiped, normalised=True)
    # A deletion that does not zero the slots itself: the resident state drops them.
    deleted = StateDiff(accounts={holder: None})
    prepared = db.prepare(deleted, normalised=True)
    assert prepared.state_root == db.prepare(deleted).state_root
    db.commit(1, prepared, {})
    assert db.resident.get_account(holder) is None
    assert not db.resident.account_has_storage(holder)
    assert db.state_root == compute_root({}, {})
    with pytest.raises(HistoryUnavailable):
        db.block_record_keys(7, CF_BLOCKS)
    with pytest.raises(InvalidStateInput):
        db.block_record_keys(1, "accounts")  # not a chain column family
