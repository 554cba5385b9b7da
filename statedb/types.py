"""Value types shared by every layer: addresses, accounts, the read-only state
interface and the state diff that execution produces.

Owns: ``Address``/``Hash32`` aliases, ``Account``, ``StateReader`` (the narrow,
read-only database interface execution runs against, after revm's ``Database``
trait) and ``StateDiff`` (what one transaction or block changed).

Storage slots and values are plain ``int`` (0 <= x < 2**256) and an absent slot
reads as 0; addresses are 20-byte ``bytes`` and hashes 32-byte ``bytes``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

import sha3

Address = bytes
Hash32 = bytes


def keccak256(data: bytes) -> Hash32:
    """Keccak-256 (the pre-standard SHA-3 Ethereum uses), via safe-pysha3."""
    return sha3.keccak_256(data).digest()


EMPTY_CODE_HASH: Hash32 = keccak256(b"")


@dataclass(frozen=True, slots=True)
class Account:
    """An account's header fields. Storage lives apart, keyed by (address, slot)."""

    nonce: int = 0
    balance: int = 0
    code_hash: Hash32 = EMPTY_CODE_HASH

    def is_empty(self) -> bool:
        """EIP-161 emptiness: no nonce, no balance, no code."""
        return self.nonce == 0 and self.balance == 0 and self.code_hash == EMPTY_CODE_HASH


EMPTY_ACCOUNT = Account()


class StateReader(Protocol):
    """Read-only view of a state. Execution never writes through it.

    Closed: every reader answers all five questions (no optional capabilities probed
    with ``getattr``). ``storage_slots`` is the one execution never asks; the views use
    it to answer has-storage exactly over a diff that zeroes slots, the write sets to
    expand a wipe, and the RPC to list an account's storage.
    """

    def get_account(self, address: Address) -> Account | None:
        """The account at ``address``, or None if it does not exist."""
        ...

    def get_storage(self, address: Address, slot: int) -> int:
        """The value of storage ``slot`` of ``address`` (0 when unset)."""
        ...

    def get_code(self, code_hash: Hash32) -> bytes:
        """The code whose keccak256 is ``code_hash`` (b"" for EMPTY_CODE_HASH)."""
        ...

    def account_has_storage(self, address: Address) -> bool:
        """Whether ``address`` has any non-zero storage slot (EIP-7610 collisions)."""
        ...

    def storage_slots(self, address: Address) -> Iterable[int]:
        """The slots of ``address`` whose value is non-zero (any order; may be costly)."""
        ...


@dataclass(slots=True)
class StateDiff:
    """What a transaction (or a block, once merged) changed.

    ``accounts`` maps an address to its new header, or None when the account was
    deleted. ``storage_cleared`` lists addresses whose whole storage is wiped
    *before* the writes in ``storage`` apply (deleted accounts; an account that
    is deleted has no writes). ``storage`` holds the new value of each written
    slot (0 means deleted). ``codes`` holds new code by hash.
    """

    accounts: dict[Address, Account | None] = field(default_factory=dict)
    storage: dict[Address, dict[int, int]] = field(default_factory=dict)
    codes: dict[Hash32, bytes] = field(default_factory=dict)
    storage_cleared: set[Address] = field(default_factory=set)

    def merge(self, later: StateDiff) -> None:
        """Fold ``later`` (applied after self) into self."""
        for address in later.storage_cleared:
            self.storage.pop(address, None)
            self.storage_cleared.add(address)
        self.accounts.update(later.accounts)
        for address, slots in later.storage.items():
            self.storage.setdefault(address, {}).update(slots)
        self.codes.update(later.codes)

    def is_empty(self) -> bool:
        return not (self.accounts or self.storage or self.codes or self.storage_cleared)


class DictState:
    """A plain in-memory ``StateReader`` that can apply diffs.

    Used by tests, the conformance harness and genesis building; the resident
    RocksDB-backed state in ``statedb.db`` is the production implementation.
    """

    __slots__ = ("accounts", "codes", "storage")

    def __init__(self) -> None:
        self.accounts: dict[Address, Account] = {}
        self.storage: dict[Address, dict[int, int]] = {}
        self.codes: dict[Hash32, bytes] = {EMPTY_CODE_HASH: b""}

    def get_account(self, address: Address) -> Account | None:
        return self.accounts.get(address)

    def get_storage(self, address: Address, slot: int) -> int:
        slots = self.storage.get(address)
        return slots.get(slot, 0) if slots else 0

    def get_code(self, code_hash: Hash32) -> bytes:
        return self.codes[code_hash]

    def account_has_storage(self, address: Address) -> bool:
        return bool(self.storage.get(address))

    def storage_slots(self, address: Address) -> Iterable[int]:
        slots = self.storage.get(address)
        return tuple(slot for slot, value in slots.items() if value) if slots else ()

    def set_account(
        self, address: Address, *, nonce: int = 0, balance: int = 0, code: bytes = b""
    ) -> None:
        code_hash = keccak256(code) if code else EMPTY_CODE_HASH
        self.codes[code_hash] = code
        self.accounts[address] = Account(nonce, balance, code_hash)

    def apply(self, diff: StateDiff) -> None:
        for address in diff.storage_cleared:
            self.storage.pop(address, None)
        for address, account in diff.accounts.items():
            if account is None:
                self.accounts.pop(address, None)
                self.storage.pop(address, None)
            else:
                self.accounts[address] = account
        for address, slots in diff.storage.items():
            current = self.storage.setdefault(address, {})
            for slot, value in slots.items():
                if value:
                    current[slot] = value
                else:
                    current.pop(slot, None)
            if not current:
                del self.storage[address]
        self.codes.update(diff.codes)
