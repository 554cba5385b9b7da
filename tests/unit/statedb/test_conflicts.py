"""The conflict rule, kind by kind, and write sets against the state they were made on.

The soundness property with real execution is in tests/unit/jit/evm/test_conflict_soundness.py.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from statedb import StateDB
from statedb.conflicts import EMPTY_WRITES, ReadSet, WriteSet, conflicts, write_set
from statedb.history import decode_changeset
from statedb.keys import (
    CF_CHANGESETS,
    KIND_CODE,
    KIND_HAS_STORAGE,
    account_key,
    has_storage_key,
    slot_key,
)
from statedb.types import Account, DictState, StateDiff, StateReader

X = b"\x0a" * 20
Y = b"\x0b" * 20


def state() -> DictState:
    """X exists with slots 1 and 2 set; Y exists without storage."""
    s = DictState()
    s.set_account(X, nonce=1, balance=5)
    s.set_account(Y, balance=7)
    s.storage[X] = {1: 10, 2: 20}
    return s


def writes(diff: StateDiff, reader: StateReader | None = None) -> WriteSet:
    return write_set(diff, reader if reader is not None else state())


def reads(
    accounts: tuple[bytes, ...] = (),
    slots: tuple[tuple[bytes, int], ...] = (),
    has_storage: tuple[bytes, ...] = (),
) -> ReadSet:
    return ReadSet(frozenset(accounts), frozenset(slots), frozenset(has_storage))


# ------------------------------------------------------------------ account reads


def test_account_read_conflicts_with_any_change_of_the_account() -> None:
    for new in (Account(1, 6), Account(2, 5), Account(1, 5, b"\x11" * 32), None):
        assert conflicts(reads(accounts=(X,)), writes(StateDiff(accounts={X: new})))
    created = StateDiff(accounts={b"\x0c" * 20: Account(0, 1)})
    assert conflicts(reads(accounts=(b"\x0c" * 20,)), writes(created))


def test_account_read_ignores_storage_and_other_accounts() -> None:
    r = reads(accounts=(X,))
    assert not conflicts(r, writes(StateDiff(storage={X: {1: 11, 3: 1, 2: 0}})))
    assert not conflicts(r, writes(StateDiff(storage_cleared={X})))
    assert not conflicts(r, writes(StateDiff(accounts={Y: Account(0, 8)})))


# ------------------------------------------------------------------ slot reads


def test_slot_read_conflicts_with_a_write_of_that_slot_only() -> None:
    r = reads(slots=((X, 1),))
    assert conflicts(r, writes(StateDiff(storage={X: {1: 11}})))
    assert conflicts(r, writes(StateDiff(storage={X: {1: 0}})))
    assert not conflicts(r, writes(StateDiff(storage={X: {2: 21, 3: 1}})))
    assert not conflicts(r, writes(StateDiff(storage={Y: {1: 1}})))
    assert not conflicts(r, writes(StateDiff(accounts={X: Account(9, 9)})))


def test_slot_read_conflicts_with_a_wipe_even_of_a_slot_the_wiper_did_not_see() -> None:
    # Slot 7 is zero where the wipe was computed, so the expansion does not list it, but
    # a reader may have seen a value written there in between: the wipe removes it too.
    r = reads(slots=((X, 7),))
    wipe = writes(StateDiff(storage_cleared={X}))
    assert (X, 7) not in wipe.slots
    assert conflicts(r, wipe)
    assert conflicts(r, writes(StateDiff(accounts={X: None})))
    assert not conflicts(reads(slots=((Y, 7),)), wipe)


# ------------------------------------------------------------------ has-storage reads


def test_has_storage_read_conflicts_with_writes_that_can_flip_it() -> None:
    r = reads(has_storage=(X,))
    assert conflicts(r, writes(StateDiff(storage={X: {1: 0}})))  # to zero
    assert conflicts(r, writes(StateDiff(storage={X: {3: 1}})))  # from zero
    assert conflicts(r, writes(StateDiff(storage_cleared={X})))
    assert conflicts(r, writes(StateDiff(accounts={X: None})))
    empty = reads(has_storage=(Y,))
    assert conflicts(empty, writes(StateDiff(storage={Y: {1: 1}})))


def test_has_storage_read_ignores_writes_that_cannot_flip_it() -> None:
    r = reads(has_storage=(X,))
    assert not conflicts(r, writes(StateDiff(storage={X: {1: 11, 2: 21}})))  # non-zero to non-zero
    assert not conflicts(r, writes(StateDiff(accounts={X: Account(2, 6)})))
    assert not conflicts(r, writes(StateDiff(storage={Y: {1: 1}})))


# ------------------------------------------------------------------ write sets


def test_wipe_expands_against_the_state_it_ran_on() -> None:
    wipe = writes(StateDiff(storage_cleared={X}, storage={X: {5: 1}}))
    assert wipe.slots == {(X, 1), (X, 2), (X, 5)}
    assert wipe.has_storage == {X} and wipe.wiped == {X}
    assert wipe.accounts == frozenset()
    deleted = writes(StateDiff(accounts={X: None}))
    assert deleted.slots == {(X, 1), (X, 2)} and deleted.wiped == {X}
    assert deleted.accounts == {X}
    assert set(deleted.keys()) == {
        account_key(X),
        slot_key(X, 1),
        slot_key(X, 2),
        has_storage_key(X),
    }


def test_codes_are_not_conflict_keys() -> None:
    diff = StateDiff(accounts={Y: Account(0, 7, b"\x22" * 32)}, codes={b"\x22" * 32: b"\x00"})
    w = writes(diff)
    assert set(w.keys()) == {account_key(Y)}


def test_union_and_empty() -> None:
    a = writes(StateDiff(storage={X: {1: 11}}))
    b = writes(StateDiff(storage_cleared={Y}))
    both = a | b
    assert both.slots == a.slots | b.slots and both.wiped == {Y}
    assert a | EMPTY_WRITES == a
    assert not conflicts(reads(accounts=(X,), slots=((X, 1),), has_storage=(X,)), EMPTY_WRITES)
    assert list(ReadSet().keys()) == []


def test_history_records_the_same_keys_the_write_set_names() -> None:
    """One vocabulary: a committed block's changeset names exactly the account and slot
    keys its write set does, and has-storage where it actually flipped."""
    db = StateDB.ephemeral()
    base = StateDiff(
        accounts={X: Account(1, 5), Y: Account(0, 7)},
        storage={X: {1: 10, 2: 20}},
    )
    db.commit(0, base)
    diff = StateDiff(
        accounts={Y: Account(1, 7), b"\x0c" * 20: Account(0, 1)},
        storage={X: {1: 0, 2: 0}, Y: {4: 4}},
    )
    w = write_set(diff, db.head)
    db.commit(1, diff)
    raw = db._backend.get(CF_CHANGESETS, (1).to_bytes(8, "big"))
    assert raw is not None
    entries, _ = decode_changeset(raw)
    recorded = {bytes((kind,)) + key for kind, key in entries if kind != KIND_CODE}
    flips = {bytes((kind,)) + key for kind, key in entries if kind == KIND_HAS_STORAGE}
    assert flips == {has_storage_key(X), has_storage_key(Y)}
    assert recorded == set(w.keys())


# ------------------------------------------------------------------ algebra

ADDRS = (X, Y)
slot_st = st.tuples(st.sampled_from(ADDRS), st.integers(0, 3))
read_st = st.builds(
    ReadSet,
    st.frozensets(st.sampled_from(ADDRS)),
    st.frozensets(slot_st),
    st.frozensets(st.sampled_from(ADDRS)),
)
diff_st = st.builds(
    StateDiff,
    st.dictionaries(st.sampled_from(ADDRS), st.none() | st.builds(Account, st.integers(0, 2))),
    st.dictionaries(st.sampled_from(ADDRS), st.dictionaries(st.integers(0, 3), st.integers(0, 2))),
    st.just({}),
    st.sets(st.sampled_from(ADDRS)),
)


@given(read_st, diff_st, diff_st)
def test_conflict_with_a_union_is_conflict_with_either(
    r: ReadSet, a: StateDiff, b: StateDiff
) -> None:
    wa, wb = writes(a), writes(b)
    assert conflicts(r, wa | wb) == (conflicts(r, wa) or conflicts(r, wb))


@given(read_st, diff_st)
def test_rule_is_the_definition(r: ReadSet, d: StateDiff) -> None:
    """``conflicts`` equals the rule written out key by key."""
    w = writes(d)
    expected = (
        bool(r.accounts & w.accounts)
        or bool(r.slots & w.slots)
        or any(address in w.wiped for address, _ in r.slots)
        or bool(r.has_storage & w.has_storage)
    )
    assert conflicts(r, w) == expected
