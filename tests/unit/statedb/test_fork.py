"""Fork mode's state (``statedb.fork``): a database started at a fork block over an
upstream's state must read, at the head and at every block since, exactly as a
database that held the whole upstream state would, through random blocks that write,
zero, delete and wipe upstream keys, reverts and a reopen; and it must ask the upstream
only for keys no local block wrote."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from statedb import StateDB, StateDiff
from statedb.fork import Touched, account_touch_key, slot_touch_key, wipe_touch_key
from statedb.keys import CF_FORK_TOUCHED
from statedb.types import Account, DictState, Hash32, StateReader, keccak256
from tests.unit.statedb.support import ADDRESSES, CODES, SLOTS, VALUES, Model, random_block

Opener = Callable[..., StateDB]


class DictUpstream:
    """An upstream over a ``DictState``, counting what it is asked."""

    def __init__(self, state: DictState) -> None:
        self.state = state
        self.asked: list[tuple[str, Any]] = []

    def account(self, address: bytes) -> Account | None:
        self.asked.append(("account", address))
        return self.state.get_account(address)

    def code(self, code_hash: Hash32) -> bytes | None:
        return self.state.codes.get(code_hash)

    def storage(self, address: bytes, slot: int) -> int:
        self.asked.append(("storage", (address, slot)))
        return self.state.get_storage(address, slot)

    def has_storage(self, address: bytes) -> bool:
        return self.state.account_has_storage(address)


def _upstream_state(rng: random.Random) -> DictState:
    state = DictState()
    for address in ADDRESSES[: len(ADDRESSES) - 2]:  # two addresses the upstream lacks
        code = rng.choice(CODES)
        state.set_account(
            address, nonce=rng.randrange(3), balance=rng.randrange(1, 10**20), code=code
        )
        slots = {slot: rng.choice(VALUES[2:]) for slot in rng.sample(SLOTS, 4)}
        state.storage[address] = slots
    return state


@pytest.fixture(params=["rocks", "memory"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    opened: list[StateDB] = []

    def open_db(**kwargs: Any) -> StateDB:
        db = (
            StateDB.open(tmp_path / "db", **kwargs)
            if request.param == "rocks"
            else StateDB.ephemeral(**kwargs)
        )
        opened.append(db)
        return db

    yield open_db
    for db in opened:
        db.close()


def _assert_reads(view: StateReader, expected: DictState, where: object) -> None:
    for address in ADDRESSES:
        assert view.get_account(address) == expected.get_account(address), (where, address.hex())
        for slot in SLOTS:
            assert view.get_storage(address, slot) == expected.get_storage(address, slot), (
                where,
                address.hex(),
                slot,
            )
        account = expected.get_account(address)
        if account is not None:
            assert view.get_code(account.code_hash) == expected.get_code(account.code_hash)


def _local_genesis() -> StateDiff:
    """The fork's own state at the fork block: a dev account funded over the upstream's."""
    diff = StateDiff()
    diff.accounts[ADDRESSES[0]] = Account(0, 10**22)
    return diff


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_forked_database_reads_as_one_holding_the_whole_upstream(
    opener: Opener, seed: int
) -> None:
    rng = random.Random(seed)
    upstream_state = _upstream_state(rng)
    upstream = DictUpstream(upstream_state)
    db = opener(history_window=0)
    db.attach_upstream(upstream)
    assert db.forked
    model = Model()
    full = StateDiff(
        accounts=dict(upstream_state.accounts),
        storage={a: dict(s) for a, s in upstream_state.storage.items()},
        codes={h: c for h, c in upstream_state.codes.items() if c},
    )
    full.merge(_local_genesis())
    model.apply(full, {})
    db.bootstrap(0, _local_genesis())
    _assert_reads(db.head, model.state, "bootstrap")
    for number in range(1, 30):
        diff, records = random_block(rng, number)
        db.commit(number, diff, records)
        model.apply(diff, records)
        _assert_reads(db.head, model.state, number)
        if number % 7 == 0:
            for past in range(number + 1):
                _assert_reads(db.at(past), model.at(past), ("at", past, number))
        if number % 10 == 5:
            back = rng.randrange(max(0, number - 4), number)
            db.revert_to(back)
            model.truncate(back)
            _assert_reads(db.head, model.state, ("reverted to", back))
            for number_again in range(back + 1, number + 1):
                diff, records = random_block(rng, number_again)
                db.commit(number_again, diff, records)
                model.apply(diff, records)
    _assert_reads(db.head, model.state, "end")
    for past in range(db.head_number + 1):
        _assert_reads(db.at(past), model.at(past), ("at", past))
    # The touched keys are chain records: the same as the in-memory copy.
    stored = Touched(db.records(CF_FORK_TOUCHED))
    assert stored.blocks == db._fork[0].blocks  # type: ignore[index]


def test_first_touches_survive_a_reopen_and_only_untouched_keys_are_fetched(
    tmp_path: Path,
) -> None:
    rng = random.Random(9)
    upstream_state = _upstream_state(rng)
    holder, contract = ADDRESSES[1], ADDRESSES[2]
    slot = next(iter(upstream_state.storage[contract]))
    db = StateDB.open(tmp_path / "db", history_window=0)
    db.attach_upstream(DictUpstream(upstream_state))
    db.bootstrap(0, _local_genesis())
    upstream_account = upstream_state.get_account(holder)
    assert upstream_account is not None
    # Block 1 zeroes an upstream slot and deletes an upstream account; block 2 raises
    # the holder's balance.
    db.commit(1, StateDiff(accounts={contract: None}))
    db.commit(
        2,
        StateDiff(
            accounts={holder: Account(upstream_account.nonce, 1, upstream_account.code_hash)}
        ),
    )
    db.close()
    upstream = DictUpstream(upstream_state)
    db = StateDB.open(tmp_path / "db", history_window=0)
    db.attach_upstream(upstream)
    try:
        assert db.head.get_account(contract) is None
        assert db.head.get_storage(contract, slot) == 0
        assert not db.head.account_has_storage(contract)
        assert db.head.get_account(holder) is not None
        assert db.head.get_account(holder).balance == 1  # type: ignore[union-attr]
        assert upstream.asked == []  # every one of those is local
        # At the fork block, before any local write, the upstream's values show.
        assert db.at(0).get_account(contract) == upstream_state.get_account(contract)
        assert db.at(0).get_storage(contract, slot) == upstream_state.get_storage(contract, slot)
        assert db.at(1).get_account(holder) == upstream_account
        assert db.at(1).get_storage(contract, slot) == 0
        assert ("storage", (contract, slot)) in upstream.asked
        assert db.head.account_has_storage(ADDRESSES[3])  # untouched: the upstream's answer
        code = upstream_state.codes[upstream_state.accounts[ADDRESSES[3]].code_hash]
        assert (
            db.head.get_code(
                keccak256(code) if code else upstream_state.accounts[ADDRESSES[3]].code_hash
            )
            == code
        )
        with pytest.raises(KeyError):
            db.head.get_code(b"\x99" * 32)  # neither side has it
        # A revert past block 1 gives the upstream's account back.
        db.revert_to(0)
        assert db.head.get_account(contract) == upstream_state.get_account(contract)
        assert db.head.get_storage(contract, slot) == upstream_state.get_storage(contract, slot)
        assert list(db.records(CF_FORK_TOUCHED)) == [
            (account_touch_key(ADDRESSES[0]), (0).to_bytes(8, "big"))
        ]
    finally:
        db.close()


def test_touched_keys() -> None:
    touched = Touched()
    address = b"\x01" * 20
    diff = StateDiff(accounts={address: None}, storage={b"\x02" * 20: {5: 0}})
    diff.storage_cleared.add(b"\x03" * 20)
    keys = list(touched.new_keys(diff))
    assert keys == [
        account_touch_key(address),
        wipe_touch_key(address),
        wipe_touch_key(b"\x03" * 20),
        slot_touch_key(b"\x02" * 20, 5),
    ]
    touched.add(keys, 4)
    touched.add([account_touch_key(address)], 9)  # the first touch stays
    assert touched.since(account_touch_key(address)) == 4
    assert list(touched.new_keys(diff)) == []
    touched.forget_after(3)
    assert touched.blocks == {}
    assert Touched([(b"a" + address, b"short")]).blocks == {}  # a bad record is skipped
