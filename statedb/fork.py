"""Fork mode's state (issue 19): local writes over an upstream chain's state.

Owns

- ``UpstreamState``: what the database asks of the upstream's state at the fork block
  (``sequencer.fork.source.ForkState`` implements it over JSON-RPC);
- ``Touched``: which state keys the local chain has written, and the first block that
  did, kept as chain records (``CF_FORK_TOUCHED``) so they are committed, reverted
  (``evm_revert``) and reopened with the blocks that wrote them;
- ``ForkedView``: a ``StateReader`` at block N (or the head) that reads a key from the
  local database if a block up to N wrote it, else from the upstream.

Why first-touch blocks and not "the local value wins when present": the resident state
drops zero slots and deleted accounts, so a slot zeroed locally would otherwise read
the upstream's value again, and a historical read before the local write must see the
upstream's. A wiped or deleted account (``storage_cleared``, ``None``) touches all of
its storage (the ``wipe`` key), so none of the upstream's slots show through after it.

The state root of a forked chain is the local commitment: over the state written since
the fork (accounts, non-zero slots, code), nothing of the upstream's. It is
deterministic (the same local blocks give the same root, whatever was fetched) but does
not distinguish an untouched upstream slot from one zeroed locally.

Known approximations (the upstream cannot list storage over JSON-RPC):
``account_has_storage`` of an untouched account asks the upstream
(``UpstreamState.has_storage``), ignoring upstream slots zeroed locally;
``storage_slots`` lists the local slots only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Final, Protocol

from statedb.types import Account, Address, Hash32, StateDiff, StateReader

_ACCOUNT: Final = b"a"  # touched-key kinds: b"a" + address, b"w" + address,
_WIPE: Final = b"w"  # b"s" + address + slot (32 bytes)
_SLOT: Final = b"s"


class UpstreamState(Protocol):
    """The upstream's state at the fork block (thread-safe; may block on the network)."""

    def account(self, address: Address) -> Account | None: ...

    def code(self, code_hash: Hash32) -> bytes | None:
        """Code seen with an account fetched earlier (None: not known)."""
        ...

    def storage(self, address: Address, slot: int) -> int: ...

    def has_storage(self, address: Address) -> bool: ...

    def prefetch(
        self, accounts: Iterable[Address] = (), slots: Iterable[tuple[Address, int]] = ()
    ) -> None:
        """Fetch these together (one round trip where it can), ahead of their reads."""
        ...


def account_touch_key(address: Address) -> bytes:
    return _ACCOUNT + address


def wipe_touch_key(address: Address) -> bytes:
    return _WIPE + address


def slot_touch_key(address: Address, slot: int) -> bytes:
    return _SLOT + address + slot.to_bytes(32, "big")


class Touched:
    """Touched key -> the first block that wrote it (the in-memory copy of
    ``CF_FORK_TOUCHED``)."""

    __slots__ = ("blocks",)

    def __init__(self, records: Iterable[tuple[bytes, bytes]] = ()) -> None:
        self.blocks: dict[bytes, int] = {
            key: int.from_bytes(value, "big") for key, value in records if len(value) == 8
        }

    def new_keys(self, diff: StateDiff) -> Iterator[bytes]:
        """The keys ``diff`` writes that no earlier block touched."""
        blocks = self.blocks
        for address, account in diff.accounts.items():
            key = account_touch_key(address)
            if key not in blocks:
                yield key
            if account is None and wipe_touch_key(address) not in blocks:
                yield wipe_touch_key(address)
        for address in diff.storage_cleared:
            if wipe_touch_key(address) not in blocks:
                yield wipe_touch_key(address)
        for address, slots in diff.storage.items():
            for slot in slots:
                key = slot_touch_key(address, slot)
                if key not in blocks:
                    yield key

    def add(self, keys: Iterable[bytes], number: int) -> None:
        for key in keys:
            self.blocks.setdefault(key, number)

    def forget_after(self, number: int) -> None:
        """Blocks after ``number`` were reverted: their first touches are undone."""
        self.blocks = {k: b for k, b in self.blocks.items() if b <= number}

    def since(self, key: bytes) -> int | None:
        return self.blocks.get(key)


class ForkedView:
    """``local`` (the database's head or historical view at ``number``; None: the head)
    where a block up to ``number`` wrote the key, ``upstream`` elsewhere."""

    __slots__ = ("local", "number", "touched", "upstream")

    def __init__(
        self, local: StateReader, touched: Touched, upstream: UpstreamState, number: int | None
    ) -> None:
        self.local = local
        self.touched = touched
        self.upstream = upstream
        self.number = number

    def _local(self, key: bytes) -> bool:
        since = self.touched.since(key)
        return since is not None and (self.number is None or since <= self.number)

    def _slot_local(self, address: Address, slot: int) -> bool:
        return self._local(slot_touch_key(address, slot)) or self._local(wipe_touch_key(address))

    def get_account(self, address: Address) -> Account | None:
        if self._local(account_touch_key(address)):
            return self.local.get_account(address)
        return self.upstream.account(address)

    def get_storage(self, address: Address, slot: int) -> int:
        if self._slot_local(address, slot):
            return self.local.get_storage(address, slot)
        return self.upstream.storage(address, slot)

    def get_code(self, code_hash: Hash32) -> bytes:
        try:
            return self.local.get_code(code_hash)
        except KeyError:
            code = self.upstream.code(code_hash)
            if code is None:
                raise
            return code

    def account_has_storage(self, address: Address) -> bool:
        if self.local.account_has_storage(address):
            return True
        if self._local(wipe_touch_key(address)):
            return False
        return self.upstream.has_storage(address)

    def storage_slots(self, address: Address) -> Iterable[int]:
        return self.local.storage_slots(address)


__all__ = [
    "ForkedView",
    "Touched",
    "UpstreamState",
    "account_touch_key",
    "slot_touch_key",
    "wipe_touch_key",
]
