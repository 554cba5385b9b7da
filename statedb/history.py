"""State at past block numbers, from per-block changesets (reth's layout).

Owns the changeset encoding and ``HistoricalView``.

For every block B, the commit batch writes, besides the new state:

* ``history[kind | key | B] = value of key before B`` for every state key B changed
  (``kind | key`` is the encoded state key of ``statedb.keys``: account, slot,
  has-storage, code);
* ``changesets[B] = the keys B changed, and chain-record pre-images``: first the
  state entries (``kind | key``, fixed length per kind, exactly the history key
  without its block suffix), then the chain entries; pruning relies on that order.

The value of key K at block N is then the pre-image stored under the first block
after N that changed K, or the head value if no later block changed K: one RocksDB
seek (``kind | K | N+1``), whatever the depth. The changeset of B names the
history entries to delete when B leaves the window (pruning) and the writes to
undo when a dev ``evm_revert`` rolls B back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from statedb.errors import HistoryUnavailable
from statedb.keys import (
    KEY_LENGTH,
    KIND_CHAIN,
    SLOT_PREFIX,
    account_key,
    decode_account,
    has_storage_key,
    slot_key,
)
from statedb.types import Account, Address, Hash32

if TYPE_CHECKING:
    from statedb.db import StateDB


@dataclass(frozen=True, slots=True)
class ChainPreimage:
    """A chain record as it was before a block wrote it (None: absent)."""

    cf_id: int
    key: bytes
    value: bytes | None


def encode_chain_entry(cf_id: int, key: bytes, pre: bytes | None) -> bytes:
    head = bytes((KIND_CHAIN, cf_id)) + len(key).to_bytes(2, "big") + key
    if pre is None:
        return head + b"\x00"
    return head + b"\x01" + len(pre).to_bytes(4, "big") + pre


def decode_changeset(data: bytes) -> tuple[list[tuple[int, bytes]], list[ChainPreimage]]:
    """(state entries as (kind, key), chain pre-images) in the order written."""
    state: list[tuple[int, bytes]] = []
    chain: list[ChainPreimage] = []
    i, n = 0, len(data)
    while i < n:
        kind = data[i]
        if kind == KIND_CHAIN:
            cf_id = data[i + 1]
            klen = int.from_bytes(data[i + 2 : i + 4], "big")
            key = data[i + 4 : i + 4 + klen]
            i += 4 + klen
            if data[i] == 0:
                chain.append(ChainPreimage(cf_id, key, None))
                i += 1
            else:
                vlen = int.from_bytes(data[i + 1 : i + 5], "big")
                chain.append(ChainPreimage(cf_id, key, data[i + 5 : i + 5 + vlen]))
                i += 5 + vlen
        else:
            length = KEY_LENGTH.get(kind)
            if length is None or i + 1 + length > n:
                raise ValueError(f"corrupt changeset: kind {kind} at offset {i}")
            state.append((kind, data[i + 1 : i + 1 + length]))
            i += 1 + length
    return state, chain


class HistoricalView:
    """``StateReader`` for the state after block ``number`` (any block in the window).

    Stays pinned to that block while the head moves on. Raises ``HistoryUnavailable``
    once the block is pruned out of the window or reverted away.
    """

    __slots__ = ("_after", "_db", "_epoch", "number")

    def __init__(self, db: StateDB, number: int) -> None:
        self._db = db
        self.number = number
        self._after = (number + 1).to_bytes(8, "big")
        self._epoch = db._revert_epoch()
        self._check()

    def _check(self) -> None:
        self._db._check_readable(self.number, self._epoch)

    # Each read takes the head value FIRST and the history entry second. A commit
    # writes its history entries (RocksDB) before it updates the resident head, so
    # if the head read saw block B's value, the seek sees B's pre-image too; read in
    # the other order, a commit landing between the two reads would leak B's value.
    def get_account(self, address: Address) -> Account | None:
        self._check()
        head = self._db._state.accounts.get(address)
        pre = self._db._backend.history_after(account_key(address), self._after)
        if pre is None:
            return head
        return decode_account(pre) if pre else None

    def get_storage(self, address: Address, slot: int) -> int:
        self._check()
        slots = self._db._state.storage.get(address)
        head = slots.get(slot, 0) if slots else 0
        pre = self._db._backend.history_after(slot_key(address, slot), self._after)
        if pre is None:
            return head
        return int.from_bytes(pre, "big")

    def get_code(self, code_hash: Hash32) -> bytes:
        # Code is content-addressed and never overwritten: the head table answers
        # for every block (code deployed later is unreachable from older accounts).
        self._check()
        return self._db._state.codes[code_hash]

    def account_has_storage(self, address: Address) -> bool:
        self._check()
        head = bool(self._db._state.storage.get(address))
        pre = self._db._backend.history_after(has_storage_key(address), self._after)
        if pre is None:
            return head
        return pre == b"\x01"

    def storage_slots(self, address: Address) -> tuple[int, ...]:
        """The non-zero slots of ``address`` at this block: the head's, plus every slot
        a later block changed (wipes record each slot they zero), read at this block."""
        self._check()
        candidates = set(self._db._state.storage.get(address, ()))
        for rest in self._db._backend.history_keys_after(SLOT_PREFIX + address, self._after):
            candidates.add(int.from_bytes(rest, "big"))
        return tuple(slot for slot in sorted(candidates) if self.get_storage(address, slot))


def check_window(number: int, floor: int, head: int) -> None:
    if type(number) is not int or not floor <= number <= head:
        raise HistoryUnavailable(
            f"state at block {number!r} is not available (window: {floor}..{head})"
        )
