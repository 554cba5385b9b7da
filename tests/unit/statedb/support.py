"""Random block histories for statedb tests, and the model they are checked against.

``random_block(rng, n)`` draws one block's ``StateDiff`` and chain records from a
small pool of addresses, slots and values (so keys collide, get deleted, wiped and
re-created). ``Model`` applies the same blocks to a ``DictState`` and a dict of
chain records, keeping a copy per block: the oracle for state, roots, history and
revert. Deterministic for a given seed, so a crashed child's history can be
replayed by the parent.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Mapping

from statedb.commitment import compute_root
from statedb.keys import CF_BLOCKS, CF_CHAIN_META, CF_TX_INDEX, CHAIN_CFS
from statedb.types import EMPTY_CODE_HASH, Account, DictState, StateDiff, keccak256

ADDRESSES = [bytes([i]) * 19 + bytes([i * 7 % 256]) for i in range(1, 9)] + [
    b"\x00" * 19 + b"\x01",  # same bucket as other low addresses
    b"\xff" * 20,
]
SLOTS = [0, 1, 2, 3, 0xFFF, 0x1000, 2**255, 2**256 - 1, 12345678901234567890]
VALUES = [0, 0, 1, 2, 255, 2**64, 2**256 - 1]
CODES = [b"", b"\x60\x00", b"\x60\x01\x60\x02\x01", bytes(range(40))]

Records = dict[str, dict[bytes, bytes | None]]


def random_block(rng: random.Random, number: int) -> tuple[StateDiff, Records]:
    diff = StateDiff()
    for _ in range(rng.randrange(0, 4)):
        address = rng.choice(ADDRESSES)
        if rng.random() < 0.15:
            diff.accounts[address] = None
        else:
            code = rng.choice(CODES)
            code_hash = keccak256(code) if code else EMPTY_CODE_HASH
            if code:
                diff.codes[code_hash] = code
            diff.accounts[address] = Account(
                rng.choice([0, 1, 2, 2**64 - 1]), rng.choice(VALUES), code_hash
            )
    if rng.random() < 0.1:
        diff.storage_cleared.add(rng.choice(ADDRESSES))
    for _ in range(rng.randrange(0, 6)):
        address = rng.choice(ADDRESSES)
        if diff.accounts.get(address, 1) is None:
            continue  # a deleted account has no writes (StateDiff's contract)
        diff.storage.setdefault(address, {})[rng.choice(SLOTS)] = rng.choice(VALUES)
    n8 = number.to_bytes(8, "big")
    records: Records = {
        CF_BLOCKS: {n8: b"block-%d-" % number + rng.randbytes(rng.randrange(0, 40))},
        CF_CHAIN_META: {b"head": n8},
    }
    if rng.random() < 0.5:
        records[CF_TX_INDEX] = {rng.randbytes(2) * 16: n8 + b"\x00\x00\x00\x00"}
    if number > 0 and rng.random() < 0.2:
        # Delete an older record: revert must bring it back.
        records[CF_BLOCKS][rng.randrange(0, number).to_bytes(8, "big")] = None
    return diff, records


class Model:
    """The oracle: a DictState plus chain records, with a copy after every block."""

    def __init__(self, *, keep_history: bool = True) -> None:
        self.keep_history = keep_history
        self.blocks = 0
        self.state = DictState()
        self.records: dict[str, dict[bytes, bytes]] = {cf: {} for cf in CHAIN_CFS}
        self.history: list[tuple[DictState, dict[str, dict[bytes, bytes]]]] = []

    def apply(self, diff: StateDiff, records: Mapping[str, Mapping[bytes, bytes | None]]) -> None:
        self.blocks += 1
        self.state.apply(diff)
        for cf, entries in records.items():
            for key, value in entries.items():
                if value is None:
                    self.records[cf].pop(key, None)
                else:
                    self.records[cf][key] = value
        if self.keep_history:
            self.history.append((copy.deepcopy(self.state), copy.deepcopy(self.records)))

    def at(self, number: int) -> DictState:
        return self.history[number][0]

    def records_at(self, number: int) -> dict[str, dict[bytes, bytes]]:
        return self.history[number][1]

    def root_at(self, number: int) -> bytes:
        state = self.at(number)
        return compute_root(state.accounts, state.storage)

    def truncate(self, number: int) -> None:
        """Forget blocks after ``number`` (the model side of a revert)."""
        del self.history[number + 1 :]
        if number >= 0:
            state, records = self.history[number]
            self.state = copy.deepcopy(state)
            self.records = copy.deepcopy(records)
        else:
            self.state = DictState()
            self.records = {cf: {} for cf in CHAIN_CFS}


def crash_block(seed: int, number: int) -> tuple[StateDiff, Records]:
    """Block ``number`` of the crash test's chain, drawn independently of the others."""
    rng = random.Random(f"{seed}-{number}")
    diff, records = random_block(rng, number)
    if number % 5 == 0:
        # Now and then a big block, so kills also land inside large writes.
        address = rng.choice(ADDRESSES)
        if diff.accounts.get(address, 1) is not None:
            slots = diff.storage.setdefault(address, {})
            for _ in range(300):
                slots[rng.randrange(4000)] = rng.getrandbits(rng.choice([8, 256]))
    return diff, records


def state_of(db_state: DictState) -> tuple[dict[bytes, Account], dict[bytes, dict[int, int]]]:
    return dict(db_state.accounts), {a: dict(s) for a, s in db_state.storage.items() if s}


def close_without_checkpoint(db: object) -> None:
    """Close like a crash would leave it: no commitment checkpoint written at close."""
    db._h.clear()  # type: ignore[attr-defined]
    db._backend.close()  # type: ignore[attr-defined]
