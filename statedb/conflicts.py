"""Read sets, write sets and the conflict rule of optimistic parallel execution.

Owns ``ReadSet`` and ``WriteSet`` (frozen values, one frozenset per state-key kind of
``statedb.keys``), ``write_set`` (what a diff writes, against the state it was computed
on) and ``conflicts`` (the rule the parallel executor validates with).

Block-STM's validity condition: a transaction executed against a possibly stale state
is valid iff nothing it read was written by an earlier transaction of the block that
its executor did not see. ``conflicts(reads, writes)`` tests that for one transaction's
reads against the writes (one ``WriteSet`` or the union of several, ``a | b``) it did
not see. Kind by kind, the rule is exact:

* an account read of X conflicts with a change of X's nonce, balance or code hash, its
  creation or its deletion: ``WriteSet.accounts``, the diff's changed accounts;
* a slot read of (X, s) conflicts with a write of (X, s) or a wipe of X;
* a has-storage read of X (EIP-7610 collision checks) conflicts with a write that can
  change whether X has any non-zero slot: a slot write from or to zero, a wipe, a
  deletion; a write of a non-zero slot to another non-zero value cannot, so it does not.

A wipe stays address-level in the rule (``WriteSet.wiped``) although ``write_set`` also
expands it into the slots it removes: the expansion is exact only against the state the
wiping transaction ran on, and a slot written between that state and the merge (by a
transaction the wiper did not see but the reader did) is removed by the wipe too.

There is no code key: code is stored under its own hash and never overwritten, so
which code a transaction runs is decided by an account's code hash, an account read,
and a code change is an account write. (``KIND_CODE`` names code in history only.)

Soundness, checked with hypothesis in ``tests/unit/statedb/test_conflicts.py``: for
transactions A and B executed on a state S, if ``conflicts(B.reads, write_set(A.diff,
S))`` is False then B executed on S + A.diff has the same outcome as on S.

The module lives in statedb, beside the key vocabulary, because the rule relates state
keys and ``StateDiff``s only; jit (which records reads) and the sequencer's executors
(which merge writes) both import it, and jit may not import the sequencer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from statedb.keys import account_key, has_storage_key, slot_key
from statedb.types import Address, StateDiff, StateReader

_NONE: frozenset[Address] = frozenset()
_NO_SLOTS: frozenset[tuple[Address, int]] = frozenset()


@dataclass(frozen=True, slots=True)
class ReadSet:
    """What a transaction read from the state under it, by kind (first reads only:
    later reads hit the transaction's own cache and depend on the first)."""

    accounts: frozenset[Address] = _NONE
    slots: frozenset[tuple[Address, int]] = _NO_SLOTS
    has_storage: frozenset[Address] = _NONE

    def keys(self) -> Iterator[bytes]:
        """The reads as encoded state keys (``statedb.keys``: kind | key)."""
        return _encoded(self.accounts, self.slots, self.has_storage)


@dataclass(frozen=True, slots=True)
class WriteSet:
    """What a diff writes, by kind, against the state it was computed on.

    ``accounts``: accounts created, deleted or with a changed nonce, balance or code
    hash. ``slots``: slots written, plus every slot a wipe removes there.
    ``has_storage``: addresses whose "has a non-zero slot" can change. ``wiped``:
    addresses whose whole storage is removed (wiped or deleted accounts).
    """

    accounts: frozenset[Address] = _NONE
    slots: frozenset[tuple[Address, int]] = _NO_SLOTS
    has_storage: frozenset[Address] = _NONE
    wiped: frozenset[Address] = _NONE

    def __or__(self, other: WriteSet) -> WriteSet:
        return WriteSet(
            self.accounts | other.accounts,
            self.slots | other.slots,
            self.has_storage | other.has_storage,
            self.wiped | other.wiped,
        )

    def keys(self) -> Iterator[bytes]:
        """The writes as encoded state keys (a wipe appears as its slots and has-storage)."""
        return _encoded(self.accounts, self.slots, self.has_storage)


EMPTY_WRITES = WriteSet()


def conflicts(reads: ReadSet, writes: WriteSet) -> bool:
    """Whether ``writes`` can change anything ``reads`` read (the rule above)."""
    if not reads.accounts.isdisjoint(writes.accounts):
        return True
    if not reads.slots.isdisjoint(writes.slots):
        return True
    if not reads.has_storage.isdisjoint(writes.has_storage):
        return True
    wiped = writes.wiped
    # Wipes are rare (deletions): scan the slot reads only when there is one.
    return bool(wiped) and any(address in wiped for address, _ in reads.slots)


def write_set(diff: StateDiff, reader: StateReader) -> WriteSet:
    """The writes of ``diff``, computed on ``reader`` (the state the diff was made on).

    Follows ``StateDiff``'s meaning: a wipe (``storage_cleared``, or an account set to
    None) removes every slot ``reader`` lists for the address, then the diff's writes
    apply. A slot write flips has-storage only if it goes from zero to non-zero or back
    on ``reader``; every write under a wipe counts as one that can (the wipe does).
    """
    wiped = set(diff.storage_cleared)
    for address, account in diff.accounts.items():
        if account is None:
            wiped.add(address)
    has_storage = set(wiped)
    slots: set[tuple[Address, int]] = set()
    for address in wiped:
        slots.update((address, slot) for slot in reader.storage_slots(address))
    get_storage = reader.get_storage
    for address, written in diff.storage.items():
        if address in wiped:
            slots.update((address, slot) for slot in written)
            continue
        flips = False
        for slot, value in written.items():
            slots.add((address, slot))
            if not flips and (not value) != (not get_storage(address, slot)):
                flips = True
        if flips:
            has_storage.add(address)
    return WriteSet(
        frozenset(diff.accounts), frozenset(slots), frozenset(has_storage), frozenset(wiped)
    )


def _encoded(
    accounts: frozenset[Address],
    slots: frozenset[tuple[Address, int]],
    has_storage: frozenset[Address],
) -> Iterator[bytes]:
    for address in accounts:
        yield account_key(address)
    for address, slot in slots:
        yield slot_key(address, slot)
    for address in has_storage:
        yield has_storage_key(address)
