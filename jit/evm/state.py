"""The mutable state one transaction executes against: a journaled overlay
over a read-only ``StateReader``.

Owns: the account/storage/transient-storage caches, EIP-2929 warm sets,
created accounts (EIP-6780), accounts to delete, the refund counter, logs, and
the journal that makes every frame revertible in O(changes). At the end it
produces the transaction's ``StateDiff`` and its read set (``statedb.conflicts.
ReadSet``): every first read that reached the reader, by kind: account, slot and
has-storage (EIP-7610 collision checks). Code reads are not recorded: code is
fetched by the hash in an account that was read, and never changes under a hash.

Semantics follow ethereum/execution-specs (Osaka), including its rule that an
account left empty by a balance, nonce or code change is destroyed at once
(EIP-161 in its current formulation).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from statedb.conflicts import ReadSet
from statedb.types import (
    EMPTY_ACCOUNT,
    EMPTY_CODE_HASH,
    Account,
    Address,
    Hash32,
    StateDiff,
    StateReader,
    keccak256,
)

# Journal entry tags.
_ACCOUNT = 0
_SLOT = 1
_TSLOT = 2
_WARM_ADDRESS = 3
_WARM_SLOT = 4
_REFUND = 5
_CREATED = 6
_TO_DELETE = 7
_CLEAR_STORAGE = 8

_EMPTY: dict[int, int] = {}

if TYPE_CHECKING:
    from jit.evm.frame import Evm, Message
    from jit.evm.tracing import Tracer

# Runs one frame's code to its end (the interpreter, or compiled code).
CodeRunner = Callable[["Evm"], None]


class Log:
    """One LOG record: emitting address, topics, data."""

    __slots__ = ("address", "data", "topics")

    def __init__(self, address: Address, topics: tuple[bytes, ...], data: bytes) -> None:
        self.address = address
        self.topics = topics
        self.data = data

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Log)
            and self.address == other.address
            and self.topics == other.topics
            and self.data == other.data
        )

    def __hash__(self) -> int:
        return hash((self.address, self.topics, self.data))

    def __repr__(self) -> str:
        return f"Log({self.address.hex()}, {[t.hex() for t in self.topics]}, {self.data.hex()})"


class TxState:
    """Journaled execution state for one transaction."""

    __slots__ = (
        "account_reads",
        "accounts",
        "cleared",
        "codes",
        "console_calls",
        "created",
        "has_storage_reads",
        "journal",
        "logs",
        "original_accounts",
        "original_storage",
        "out_of_gas_halts",
        "reader",
        "refund",
        "run_code",
        "state_gas_forfeited",
        "storage",
        "storage_reads",
        "to_delete",
        "touched",
        "tracer",
        "transient",
        "warm_addresses",
        "warm_slots",
    )

    def __init__(
        self,
        reader: StateReader,
        run_code: CodeRunner | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self.reader = reader
        # The engine that runs contract code (jit.compiler.engine); None is the interpreter.
        self.run_code = run_code
        # Observes this transaction's frames (jit.evm.tracing); None: untraced.
        self.tracer = tracer
        self.accounts: dict[Address, Account | None] = {}
        self.original_accounts: dict[Address, Account | None] = {}
        self.storage: dict[Address, dict[int, int]] = {}
        self.original_storage: dict[Address, dict[int, int]] = {}
        self.cleared: set[Address] = set()
        self.transient: dict[tuple[Address, int], int] = {}
        self.codes: dict[Hash32, bytes] = {}
        self.warm_addresses: set[Address] = set()
        self.warm_slots: set[tuple[Address, int]] = set()
        self.created: set[Address] = set()
        self.to_delete: set[Address] = set()
        self.refund = 0
        # Frames that ran out of gas, caught or not: eth_estimateGas treats any as too little gas.
        self.out_of_gas_halts = 0
        # EIP-8037: inline state gas refunds a failed frame took back (``jit.evm.state_gas``):
        # paid by the sender but counted in neither of the block's gas dimensions.
        self.state_gas_forfeited = 0
        self.logs: list[Log] = []
        # Calldata of every call to the console.log address, reverted frames included.
        self.console_calls: list[bytes] = []
        # Every frame's message and every SELFDESTRUCT beneficiary, reverted ones included:
        # the addresses the transaction called, created or paid (TxOutcome.touched).
        self.touched: list[Message | Address] = []
        self.journal: list[tuple[Any, ...]] = []
        # The read set, by kind (statedb.keys): recorded where a read reaches the reader.
        self.account_reads: set[Address] = set()
        self.storage_reads: set[tuple[Address, int]] = set()
        self.has_storage_reads: set[Address] = set()

    # ----------------------------------------------------------------- reads

    def get_account(self, address: Address) -> Account | None:
        try:
            return self.accounts[address]
        except KeyError:
            account = self.reader.get_account(address)
            self.accounts[address] = account
            self.original_accounts[address] = account
            self.account_reads.add(address)
            return account

    def balance(self, address: Address) -> int:
        account = self.get_account(address)
        return 0 if account is None else account.balance

    def nonce(self, address: Address) -> int:
        account = self.get_account(address)
        return 0 if account is None else account.nonce

    def is_alive(self, address: Address) -> bool:
        """Exists and is not empty (EIP-161)."""
        account = self.get_account(address)
        return account is not None and not account.is_empty()

    def exists(self, address: Address) -> bool:
        return self.get_account(address) is not None

    def code_by_hash(self, code_hash: Hash32) -> bytes:
        if code_hash == EMPTY_CODE_HASH:
            return b""
        code = self.codes.get(code_hash)
        if code is None:
            code = self.reader.get_code(code_hash)
            self.codes[code_hash] = code
        return code

    def get_code(self, address: Address) -> bytes:
        account = self.get_account(address)
        if account is None:
            return b""
        return self.code_by_hash(account.code_hash)

    def has_code_or_nonce(self, address: Address) -> bool:
        account = self.get_account(address)
        return account is not None and (account.nonce != 0 or account.code_hash != EMPTY_CODE_HASH)

    def has_storage(self, address: Address) -> bool:
        """EIP-7610: whether the account has a non-zero slot, counting this
        transaction's writes. Slots of the store that this transaction zeroed
        still count unless the storage was wiped: telling that apart would need a
        scan, and only a contract with code (a collision anyway) can zero them."""
        slots = self.storage.get(address)
        if slots and any(slots.values()):
            return True
        if address in self.cleared:
            return False
        return self._has_stored_slots(address)

    def get_storage(self, address: Address, slot: int) -> int:
        slots = self.storage.get(address)
        if slots is not None:
            value = slots.get(slot)
            if value is not None:
                return value
        else:
            slots = self.storage[address] = {}
        if address in self.cleared:
            slots[slot] = 0
            return 0
        value = slots[slot] = self._load_storage(address, slot)
        return value

    def get_original_storage(self, address: Address, slot: int) -> int:
        """The slot's value when the transaction began (EIP-2200); 0 for accounts
        created in this transaction, whose earlier storage is ignored."""
        if address in self.created:
            return 0
        originals = self.original_storage.get(address)
        if originals is not None:
            value = originals.get(slot)
            if value is not None:
                return value
        return self._load_storage(address, slot)

    def _load_storage(self, address: Address, slot: int) -> int:
        """Read a slot from the store, recording the read and its original value."""
        value = self.reader.get_storage(address, slot)
        self.storage_reads.add((address, slot))
        self.original_storage.setdefault(address, {}).setdefault(slot, value)
        return value

    # ---------------------------------------------------------------- writes

    def _put_account(self, address: Address, account: Account | None) -> None:
        self.journal.append((_ACCOUNT, address, self.accounts[address]))
        self.accounts[address] = account

    def _modify(self, address: Address, account: Account) -> None:
        """Store a modified account, destroying it if it is now empty."""
        if account.is_empty():
            self.destroy_account(address)
        else:
            self._put_account(address, account)

    def set_balance(self, address: Address, balance: int) -> None:
        account = self.get_account(address) or EMPTY_ACCOUNT
        self._modify(address, Account(account.nonce, balance, account.code_hash))

    def add_balance(self, address: Address, amount: int) -> None:
        self.set_balance(address, self.balance(address) + amount)

    def transfer(self, sender: Address, recipient: Address, amount: int) -> None:
        sender_balance = self.balance(sender)
        if sender_balance < amount:
            raise AssertionError("transfer exceeds balance")
        self.set_balance(sender, sender_balance - amount)
        self.add_balance(recipient, amount)

    def increment_nonce(self, address: Address) -> None:
        account = self.get_account(address) or EMPTY_ACCOUNT
        self._modify(address, Account(account.nonce + 1, account.balance, account.code_hash))

    def set_code(self, address: Address, code: bytes) -> None:
        code_hash = keccak256(code) if code else EMPTY_CODE_HASH
        if code:
            self.codes[code_hash] = code
        account = self.get_account(address) or EMPTY_ACCOUNT
        self._modify(address, Account(account.nonce, account.balance, code_hash))

    def destroy_account(self, address: Address) -> None:
        """Remove the account and all of its storage."""
        self.get_account(address)
        self._put_account(address, None)
        self.clear_storage(address)

    def clear_storage(self, address: Address) -> None:
        self.journal.append(
            (_CLEAR_STORAGE, address, self.storage.get(address), address in self.cleared)
        )
        self.storage[address] = {}
        self.cleared.add(address)

    def set_storage(self, address: Address, slot: int, value: int) -> None:
        slots = self.storage.get(address)
        if slots is None or slot not in slots:
            self.get_storage(address, slot)
            slots = self.storage[address]
        self.journal.append((_SLOT, address, slot, slots[slot]))
        slots[slot] = value

    def get_transient(self, address: Address, slot: int) -> int:
        return self.transient.get((address, slot), 0)

    def set_transient(self, address: Address, slot: int, value: int) -> None:
        key = (address, slot)
        self.journal.append((_TSLOT, key, self.transient.get(key, 0)))
        self.transient[key] = value

    def warm_address(self, address: Address) -> bool:
        """Mark ``address`` warm; return whether it was cold (EIP-2929)."""
        if address in self.warm_addresses:
            return False
        self.warm_addresses.add(address)
        self.journal.append((_WARM_ADDRESS, address))
        return True

    def warm_slot(self, address: Address, slot: int) -> bool:
        key = (address, slot)
        if key in self.warm_slots:
            return False
        self.warm_slots.add(key)
        self.journal.append((_WARM_SLOT, key))
        return True

    def add_refund(self, amount: int) -> None:
        self.journal.append((_REFUND, self.refund))
        self.refund += amount

    def mark_created(self, address: Address) -> None:
        if address not in self.created:
            self.created.add(address)
            self.journal.append((_CREATED, address))

    def mark_to_delete(self, address: Address) -> None:
        if address not in self.to_delete:
            self.to_delete.add(address)
            self.journal.append((_TO_DELETE, address))

    # -------------------------------------------------------------- journal

    def checkpoint(self) -> tuple[int, int]:
        return len(self.journal), len(self.logs)

    def revert(self, checkpoint: tuple[int, int]) -> None:
        journal_length, log_count = checkpoint
        journal = self.journal
        del self.logs[log_count:]
        while len(journal) > journal_length:
            entry = journal.pop()
            tag = entry[0]
            if tag == _SLOT:
                self.storage[entry[1]][entry[2]] = entry[3]
            elif tag == _ACCOUNT:
                self.accounts[entry[1]] = entry[2]
            elif tag == _WARM_SLOT:
                self.warm_slots.discard(entry[1])
            elif tag == _WARM_ADDRESS:
                self.warm_addresses.discard(entry[1])
            elif tag == _TSLOT:
                self.transient[entry[1]] = entry[2]
            elif tag == _REFUND:
                self.refund = entry[1]
            elif tag == _CREATED:
                self.created.discard(entry[1])
            elif tag == _TO_DELETE:
                self.to_delete.discard(entry[1])
            elif tag == _CLEAR_STORAGE:
                address, old_slots, was_cleared = entry[1], entry[2], entry[3]
                if old_slots is None:
                    self.storage.pop(address, None)
                else:
                    self.storage[address] = old_slots
                if not was_cleared:
                    self.cleared.discard(address)

    # --------------------------------------------------------------- output

    def diff(self) -> StateDiff:
        """The net change against the reader."""
        result = StateDiff()
        for address, account in self.accounts.items():
            if account != self.original_accounts.get(address):
                result.accounts[address] = account
                if account is not None and account.code_hash != EMPTY_CODE_HASH:
                    code = self.codes.get(account.code_hash)
                    if code is not None:
                        result.codes[account.code_hash] = code
        for address in self.cleared:
            # A wipe of an account that did not exist is kept only if the store has
            # storage there: that answer shapes the diff, so it is a has-storage read.
            if self.original_accounts.get(address) is not None or self._has_stored_slots(address):
                result.storage_cleared.add(address)
        for address, slots in self.storage.items():
            if self.accounts.get(address, 0) is None:
                continue  # deleted: storage_cleared covers it
            cleared = address in result.storage_cleared
            originals = self.original_storage.get(address, _EMPTY)
            changed: dict[int, int] = {}
            for slot, value in slots.items():
                if cleared:
                    if value:
                        changed[slot] = value
                elif value != originals.get(slot, 0):
                    changed[slot] = value
            if changed:
                result.storage[address] = changed
        for address in list(result.storage_cleared):
            if self.accounts.get(address, 0) is None:
                result.accounts.setdefault(address, None)
        return result

    def _has_stored_slots(self, address: Address) -> bool:
        """The store's has-storage answer, recorded as a has-storage read."""
        self.has_storage_reads.add(address)
        return self.reader.account_has_storage(address)

    def read_set(self) -> ReadSet:
        """The reads so far (take it after ``diff``, which can read has-storage)."""
        return ReadSet(
            frozenset(self.account_reads),
            frozenset(self.storage_reads),
            frozenset(self.has_storage_reads),
        )
