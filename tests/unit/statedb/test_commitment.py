"""The state root: incremental == from scratch, history independent, sensitive to everything."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from statedb import Account, Commitment, StateDB, StateDiff, compute_root
from statedb.commitment import BUCKETS, account_bucket, slot_bucket
from statedb.types import EMPTY_CODE_HASH, DictState, keccak256
from tests.unit.statedb.support import ADDRESSES, SLOTS, VALUES

addresses = st.sampled_from(ADDRESSES)
words = st.one_of(st.sampled_from(VALUES), st.integers(0, 2**256 - 1))
slots = st.one_of(st.sampled_from(SLOTS), st.integers(0, 2**256 - 1))
accounts = st.one_of(
    st.none(),
    st.builds(
        Account,
        st.integers(0, 2**64 - 1),
        words,
        st.sampled_from([EMPTY_CODE_HASH, keccak256(b"\x00"), b"\x01" * 32]),
    ),
)


@st.composite
def diffs(draw: st.DrawFn) -> StateDiff:
    diff = StateDiff()
    diff.accounts = draw(st.dictionaries(addresses, accounts, max_size=3))
    diff.storage_cleared = draw(st.sets(addresses, max_size=1))
    for address, slot_writes in draw(
        st.dictionaries(addresses, st.dictionaries(slots, words, max_size=4), max_size=3)
    ).items():
        if diff.accounts.get(address, 1) is not None:
            diff.storage[address] = slot_writes
    return diff


@settings(max_examples=150, deadline=None)
@given(st.lists(diffs(), max_size=12))
def test_incremental_root_equals_recomputed(history: list[StateDiff]) -> None:
    db = StateDB.ephemeral()
    model = DictState()
    for number, diff in enumerate(history):
        prepared = db.prepare(diff)
        db.commit(number, prepared)
        model.apply(diff)
        assert db.state_root == prepared.state_root
        assert db.state_root == compute_root(model.accounts, model.storage)
    # And a revert back through the history recomputes to the same roots.
    if len(history) > 1:
        db.revert_to(0)
        first = DictState()
        first.apply(history[0])
        assert db.state_root == compute_root(first.accounts, first.storage)


@settings(max_examples=60, deadline=None)
@given(st.lists(diffs(), min_size=1, max_size=10), st.randoms(use_true_random=False))
def test_root_depends_on_state_only(history: list[StateDiff], rng: random.Random) -> None:
    """Reaching the same state another way (one diff, shuffled order) gives the same root."""
    model = DictState()
    for diff in history:
        model.apply(diff)
    db = StateDB.ephemeral()
    for number, diff in enumerate(history):
        db.commit(number, diff)
    items = list(model.accounts.items())
    rng.shuffle(items)
    direct = StateDB.ephemeral()
    direct.commit(0, StateDiff(accounts=dict(items)))
    writes = [(a, s, v) for a, slots in model.storage.items() for s, v in slots.items()]
    rng.shuffle(writes)
    for number, chunk in enumerate((writes[: len(writes) // 2], writes[len(writes) // 2 :]), 1):
        diff = StateDiff()
        for address, slot, value in chunk:
            diff.storage.setdefault(address, {})[slot] = value
        direct.commit(number, diff)
    assert direct.state_root == db.state_root


def test_every_field_changes_the_root() -> None:
    a, b = ADDRESSES[0], ADDRESSES[1]
    base = {a: Account(1, 2, keccak256(b"\x00")), b: Account()}
    storage = {a: {1: 1, 2**255: 5}}
    root = compute_root(base, storage)
    variants = [
        ({**base, a: Account(2, 2, keccak256(b"\x00"))}, storage),
        ({**base, a: Account(1, 3, keccak256(b"\x00"))}, storage),
        ({**base, a: Account(1, 2, keccak256(b"\x01"))}, storage),
        ({a: base[a]}, storage),  # an empty account's existence counts
        (base, {a: {1: 2, 2**255: 5}}),
        (base, {a: {1: 1, 2**255: 5, 3: 1}}),
        (base, {a: {1: 1}}),
        (base, {b: {1: 1, 2**255: 5}}),  # same slots, other account
    ]
    roots = {compute_root(accs, stor) for accs, stor in variants}
    assert root not in roots and len(roots) == len(variants)


def test_empty_root_and_checkpoint_round_trip() -> None:
    empty = Commitment()
    assert empty.root == compute_root({}, {})
    c = Commitment.from_state({ADDRESSES[0]: Account(1, 1)}, {ADDRESSES[1]: {7: 7}})
    assert Commitment.from_bytes(c.to_bytes()).root == c.root != empty.root


def test_buckets_are_key_determined_and_spread() -> None:
    rng = random.Random(0)
    seen = {account_bucket(rng.randbytes(20)) for _ in range(20000)}
    assert len(seen) > BUCKETS * 0.9
    ab = account_bucket(ADDRESSES[0])
    assert len({slot_bucket(ab, s) for s in range(BUCKETS)}) == BUCKETS
