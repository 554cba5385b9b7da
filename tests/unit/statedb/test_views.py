"""Overlay view == applying the diff; head view follows commits."""

from __future__ import annotations

import copy
import random

import pytest

from statedb import Account, OverlayView, StateDB, StateDiff
from statedb.types import DictState
from tests.unit.statedb.support import ADDRESSES, SLOTS, random_block


@pytest.mark.parametrize("seed", range(40))
def test_overlay_matches_applied_diff(seed: int) -> None:
    rng = random.Random(seed)
    db = StateDB.ephemeral()
    model = DictState()
    for number in range(8):
        diff, _ = random_block(rng, number)
        db.commit(number, diff)
        model.apply(diff)
    pending = StateDiff()
    for number in range(3):  # a few merged transactions' worth
        pending.merge(random_block(rng, 100 + number)[0])
    expected = copy.deepcopy(model)
    expected.apply(pending)
    for view in (db.overlay(pending), OverlayView(OverlayView(db.head, StateDiff()), pending)):
        for address in ADDRESSES:
            assert view.get_account(address) == expected.get_account(address)
            assert view.account_has_storage(address) == expected.account_has_storage(address)
            assert set(view.storage_slots(address)) == set(expected.storage.get(address, {}))
            for slot in SLOTS:
                assert view.get_storage(address, slot) == expected.get_storage(address, slot)
        for code_hash, code in expected.codes.items():
            assert view.get_code(code_hash) == code


def test_overlay_has_storage_when_diff_zeroes_some_slots() -> None:
    db = StateDB.ephemeral()
    a = ADDRESSES[0]
    db.commit(0, StateDiff(accounts={a: Account()}, storage={a: {1: 1, 2: 2}}))
    assert db.overlay(StateDiff(storage={a: {1: 0}})).account_has_storage(a)
    assert not db.overlay(StateDiff(storage={a: {1: 0, 2: 0}})).account_has_storage(a)
    # Historical views list their slots too, so over them the answer is exact as well.
    db.commit(1, StateDiff(storage={a: {2: 0, 3: 3}}))
    past = db.at(0)
    assert set(past.storage_slots(a)) == {1, 2}
    assert not OverlayView(past, StateDiff(storage={a: {1: 0, 2: 0}})).account_has_storage(a)
    assert OverlayView(past, StateDiff(storage={a: {1: 0}})).account_has_storage(a)


def test_head_view_is_live() -> None:
    db = StateDB.ephemeral()
    head = db.head
    a = ADDRESSES[0]
    assert head.get_account(a) is None
    db.commit(0, StateDiff(accounts={a: Account(1, 1)}))
    assert head.get_account(a) == Account(1, 1)
