"""``StateEdits``: direct state changes made by dev methods, pending the next block.

Owns the policy for ``anvil_setBalance`` / ``addBalance`` / ``setNonce`` /
``setCode`` / ``setStorageAt`` (and their ``hardhat_`` names), as anvil applies them:

- an edit is visible at ``latest`` (and at the head's number) at once: the node's
  head state is the committed head with the pending edits over it;
- the next block carries the edits in its state diff (so history, replicas and
  reverts see them as part of that block); the head's header keeps its state
  root, as anvil's does;
- the edits are persisted as one chain-meta record after every change, so they
  survive a restart; the block that carries them deletes the record in its commit;
- ``evm_snapshot`` copies them and ``evm_revert`` puts the copy back.

Edits are validated here (``EditError``): 20-byte addresses, balances below
2**256, nonces below 2**64, code no larger than ``MAX_EDIT_CODE`` bytes, 32-byte
storage slots and values.
"""

from __future__ import annotations

from typing import Final

from jit import rlp
from statedb.types import (
    EMPTY_CODE_HASH,
    Account,
    Address,
    StateDiff,
    StateReader,
    keccak256,
)
from statedb.views import OverlayView

EDITS_RECORD: Final = b"dev_state_edits"
# anvil accepts any size; a devnet has no reason to hold more than a few contracts'
# worth (EIP-170 allows 24 KiB, EIP-7907 proposes 48 KiB deployed code).
MAX_EDIT_CODE: Final = 1 << 20
UINT256_MAX: Final = 2**256 - 1
UINT64_MAX: Final = 2**64 - 1


class EditError(ValueError):
    """An edit's value is out of range; the message names it."""


BLOCK_EDITS_RECORD: Final = b"edits-of/"


def block_edits_key(number: int) -> bytes:
    """The chain-meta key of the edits block ``number`` carried (kept with the block, so
    a replay of it starts from them; most blocks carry none and have no record)."""
    return BLOCK_EDITS_RECORD + number.to_bytes(8, "big")


class StateEdits:
    """The pending edits over the head. Single-threaded (the event loop)."""

    __slots__ = ("diff", "generation")

    def __init__(self, diff: StateDiff | None = None) -> None:
        self.diff = diff if diff is not None else StateDiff()
        self.generation = 0  # bumped on every change (the pending block's memo key)

    def __bool__(self) -> bool:
        return not self.diff.is_empty()

    def over(self, head: StateReader) -> StateReader:
        """``head`` as the node shows it: with the pending edits applied."""
        return OverlayView(head, self.diff) if self else head

    def copy(self) -> StateDiff:
        d = self.diff
        return StateDiff(
            dict(d.accounts),
            {a: dict(s) for a, s in d.storage.items()},
            dict(d.codes),
            set(d.storage_cleared),
        )

    def replace(self, diff: StateDiff) -> None:
        self.diff = diff
        self.generation += 1

    def clear(self) -> None:
        self.replace(StateDiff())

    # ------------------------------------------------------------ edits

    def _account(self, head: StateReader, address: Address) -> Account:
        return self.over(head).get_account(address) or Account()

    def _put(self, head: StateReader, address: Address, account: Account) -> None:
        # EIP-161: an edit that leaves an account empty (and storage-less) removes it.
        if account.is_empty() and not self.over(head).account_has_storage(address):
            self.diff.accounts[address] = None
            self.diff.storage.pop(address, None)
        else:
            self.diff.accounts[address] = account
        self.generation += 1

    def set_balance(self, head: StateReader, address: Address, balance: int) -> None:
        _check_address(address)
        _check_uint(balance, UINT256_MAX, "balance")
        account = self._account(head, address)
        self._put(head, address, Account(account.nonce, balance, account.code_hash))

    def add_balance(self, head: StateReader, address: Address, amount: int) -> int:
        """Add ``amount``; return the new balance (refused past 2**256-1)."""
        _check_address(address)
        _check_uint(amount, UINT256_MAX, "amount")
        account = self._account(head, address)
        balance = account.balance + amount
        if balance > UINT256_MAX:
            raise EditError(f"balance would overflow: {account.balance} + {amount} >= 2**256")
        self._put(head, address, Account(account.nonce, balance, account.code_hash))
        return balance

    def set_nonce(self, head: StateReader, address: Address, nonce: int) -> None:
        _check_address(address)
        _check_uint(nonce, UINT64_MAX, "nonce")
        account = self._account(head, address)
        self._put(head, address, Account(nonce, account.balance, account.code_hash))

    def set_code(self, head: StateReader, address: Address, code: bytes) -> None:
        _check_address(address)
        if len(code) > MAX_EDIT_CODE:
            raise EditError(f"code is {len(code)} bytes; at most {MAX_EDIT_CODE} are accepted")
        code_hash = keccak256(code) if code else EMPTY_CODE_HASH
        if code:
            self.diff.codes[code_hash] = code
        account = self._account(head, address)
        self._put(head, address, Account(account.nonce, account.balance, code_hash))

    def set_storage(self, head: StateReader, address: Address, slot: int, value: int) -> None:
        _check_address(address)
        _check_uint(slot, UINT256_MAX, "storage slot")
        _check_uint(value, UINT256_MAX, "storage value")
        if address in self.diff.accounts and self.diff.accounts[address] is None:
            # Writing a slot of an account the edits removed brings it back (empty).
            self.diff.accounts[address] = Account()
        elif self.over(head).get_account(address) is None:
            self.diff.accounts[address] = Account()  # storage needs an account to live in
        self.diff.storage.setdefault(address, {})[slot] = value
        self.generation += 1

    # ------------------------------------------------------------ persistence

    def encode(self) -> bytes:
        d = self.diff
        accounts: list[rlp.Encodable] = []
        for address, account in d.accounts.items():
            if account is None:
                accounts.append([address])
            else:
                accounts.append([address, account.nonce, account.balance, account.code_hash])
        storage: list[rlp.Encodable] = [
            [address, [[slot, value] for slot, value in slots.items()]]
            for address, slots in d.storage.items()
        ]
        return rlp.encode([accounts, storage, list(d.codes.values()), sorted(d.storage_cleared)])

    @classmethod
    def decode(cls, data: bytes) -> StateEdits:
        """Inverse of ``encode``; raises ``EditError`` on anything else."""
        try:
            item = rlp.decode(data)
            if not isinstance(item, list) or len(item) != 4:
                raise EditError("state edits record: expected 4 lists")
            accounts_raw, storage_raw, codes_raw, cleared_raw = item
            diff = StateDiff()
            for entry in _list(accounts_raw):
                fields = _list(entry)
                address = _address(fields[0])
                if len(fields) == 1:
                    diff.accounts[address] = None
                elif len(fields) == 4:
                    code_hash = fields[3]
                    if not isinstance(code_hash, bytes) or len(code_hash) != 32:
                        raise EditError("state edits record: bad code hash")
                    diff.accounts[address] = Account(
                        rlp.decode_uint(fields[1], max_bits=64),
                        rlp.decode_uint(fields[2]),
                        code_hash,
                    )
                else:
                    raise EditError("state edits record: bad account entry")
            for entry in _list(storage_raw):
                fields = _list(entry)
                if len(fields) != 2:
                    raise EditError("state edits record: bad storage entry")
                slots = diff.storage.setdefault(_address(fields[0]), {})
                for pair in _list(fields[1]):
                    slot, value = _list(pair)
                    slots[rlp.decode_uint(slot)] = rlp.decode_uint(value)
            for code in _list(codes_raw):
                if not isinstance(code, bytes):
                    raise EditError("state edits record: bad code")
                diff.codes[keccak256(code)] = code
            diff.storage_cleared = {_address(a) for a in _list(cleared_raw)}
        except (rlp.RLPDecodingError, ValueError) as error:
            if isinstance(error, EditError):
                raise
            raise EditError(f"state edits record: {error}") from None
        return cls(diff)


def _list(item: object) -> list[rlp.Item]:
    if not isinstance(item, list):
        raise EditError("state edits record: expected a list")
    return item


def _address(item: object) -> Address:
    if not isinstance(item, bytes) or len(item) != 20:
        raise EditError("state edits record: bad address")
    return item


def _check_address(address: Address) -> None:
    if type(address) is not bytes or len(address) != 20:
        raise EditError(f"address must be 20 bytes, got {address!r}")


def _check_uint(value: int, maximum: int, what: str) -> None:
    if type(value) is not int or not 0 <= value <= maximum:
        bound = "2**64-1" if maximum == UINT64_MAX else "2**256-1"
        raise EditError(f"{what} must be an integer in 0..{bound}, got {value!r}")
