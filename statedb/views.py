"""Read-only views over the state: the live head and an overlay of an uncommitted diff.

Owns ``HeadView`` (the resident head state, which moves as blocks commit) and
``OverlayView`` (any ``StateReader`` plus a ``StateDiff`` on top: pending state,
``eth_call`` against pending, a block being built). The historical view lives in
``statedb.history``. All three implement ``statedb.types.StateReader``, including
``storage_slots``, so an overlay answers has-storage exactly over any base.
"""

from __future__ import annotations

from collections.abc import Iterable

from statedb.types import Account, Address, DictState, Hash32, StateDiff, StateReader


class HeadView:
    """The committed head, served from the resident dicts (no I/O)."""

    __slots__ = ("_state",)

    def __init__(self, state: DictState) -> None:
        self._state = state

    def get_account(self, address: Address) -> Account | None:
        return self._state.accounts.get(address)

    def get_storage(self, address: Address, slot: int) -> int:
        slots = self._state.storage.get(address)
        return slots.get(slot, 0) if slots else 0

    def get_code(self, code_hash: Hash32) -> bytes:
        return self._state.codes[code_hash]

    def account_has_storage(self, address: Address) -> bool:
        return bool(self._state.storage.get(address))

    def storage_slots(self, address: Address) -> Iterable[int]:
        return tuple(self._state.storage.get(address, ()))


class OverlayView:
    """``base`` with ``diff`` applied on top, read-only; the diff is not copied.

    Follows ``StateDiff``'s meaning exactly as ``DictState.apply`` does: a cleared
    or deleted account's base storage reads as 0, and the diff's own writes win.
    """

    __slots__ = ("base", "diff")

    def __init__(self, base: StateReader, diff: StateDiff) -> None:
        self.base = base
        self.diff = diff

    def _wiped(self, address: Address) -> bool:
        diff = self.diff
        return address in diff.storage_cleared or (
            address in diff.accounts and diff.accounts[address] is None
        )

    def get_account(self, address: Address) -> Account | None:
        accounts = self.diff.accounts
        if address in accounts:
            return accounts[address]
        return self.base.get_account(address)

    def get_storage(self, address: Address, slot: int) -> int:
        slots = self.diff.storage.get(address)
        if slots is not None and slot in slots:
            return slots[slot]
        if self._wiped(address):
            return 0
        return self.base.get_storage(address, slot)

    def get_code(self, code_hash: Hash32) -> bytes:
        code = self.diff.codes.get(code_hash)
        if code is not None:
            return code
        return self.base.get_code(code_hash)

    def account_has_storage(self, address: Address) -> bool:
        slots = self.diff.storage.get(address)
        if slots and any(slots.values()):
            return True
        if self._wiped(address):
            return False
        if not self.base.account_has_storage(address):
            return False
        if not slots:
            return True
        # The base has storage and the diff zeroes some slots: storage survives if a
        # base slot is left untouched (a listing; a prefix scan over a historical base).
        return any(slot not in slots for slot in self.base.storage_slots(address))

    def storage_slots(self, address: Address) -> Iterable[int]:
        slots = self.diff.storage.get(address, {})
        base: Iterable[int] = () if self._wiped(address) else self.base.storage_slots(address)
        merged = {slot: 1 for slot in base}
        for slot, value in slots.items():
            if value:
                merged[slot] = 1
            else:
                merged.pop(slot, None)
        return tuple(merged)
