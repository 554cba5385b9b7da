"""geth's ``prestateTracer``: the accounts a transaction touched, before (and, in
``diffMode``, after) it.

Owns ``AccountState`` (balance, nonce, code, storage of one account), the typed
``Prestate`` / ``PrestateDiff`` results and ``PrestateTracer``, which needs no hook but
``done``: the transaction's ``TxState`` keeps every account and slot it read as they
were before it (``original_accounts`` / ``original_storage``) and as they are after.
The coinbase is included, as geth includes it, with the block's fee credit in its
post balance (the block applies the credit, not the transaction).

Non-diff mode: every account read, with the slots read or written, as before the
transaction (an account that did not exist shows a zero balance). ``diffMode``
(``eth/tracers/native/prestate.go``): ``pre`` holds the accounts that changed, as
before (an account the transaction created is absent; one that merely did not exist
shows a zero balance), ``post`` each changed account's fields that differ from
``pre`` (a deleted account is absent from ``post``); storage in ``pre`` lists the
changed slots' old non-zero values, in ``post`` their new non-zero values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jit.evm.state import TxState
from jit.evm.tracing import Tracer
from jit.evm.transaction import TxOutcome
from statedb.types import EMPTY_CODE_HASH, Account, Address


@dataclass(frozen=True, slots=True)
class AccountState:
    balance: int | None = None  # None: not shown (diff post: unchanged)
    nonce: int | None = None
    code: bytes | None = None
    storage: dict[int, int] = field(default_factory=dict)


Prestate = dict[Address, AccountState]


@dataclass(frozen=True, slots=True)
class PrestateDiff:
    pre: Prestate
    post: Prestate


@dataclass(frozen=True, slots=True)
class AccountChange:
    """One account's change for a Parity ``stateDiff``: ``before`` / ``after`` None when
    it did not exist then (created / deleted); ``storage``: slot -> (before, after)."""

    before: Account | None
    after: Account | None
    code_before: bytes
    code_after: bytes
    storage: dict[int, tuple[int, int]]
    created: bool  # a contract the transaction created


class PrestateTracer(Tracer):
    def __init__(
        self,
        coinbase: Address,
        diff_mode: bool = False,
        disable_code: bool = False,
        disable_storage: bool = False,
    ) -> None:
        self.coinbase = coinbase
        self.diff_mode = diff_mode
        self.disable_code = disable_code
        self.disable_storage = disable_storage
        self._state: TxState | None = None

    def done(self, state: TxState) -> None:
        self._state = state

    def changes(self, outcome: TxOutcome) -> dict[Address, AccountChange]:
        """Every account the transaction (and its fee credit) changed, before and after."""
        state, before, after = self._before_after(outcome)
        out = {}
        for address, old in before.items():
            new = after[address]
            old_slots = state.original_storage.get(address, {})
            slots = {
                slot: (old_slots.get(slot, 0), value)
                for slot, value in state.storage.get(address, {}).items()
                if value != old_slots.get(slot, 0)
            }
            if old == new and not slots:
                continue
            out[address] = AccountChange(
                old,
                new,
                self._code(state, old) or b"" if old is not None else b"",
                self._code(state, new) or b"" if new is not None else b"",
                slots,
                address in state.created,
            )
        return out

    def _before_after(
        self, outcome: TxOutcome
    ) -> tuple[TxState, dict[Address, Account | None], dict[Address, Account | None]]:
        state = self._state
        if state is None:
            raise ValueError("the transaction did not finish")
        before: dict[Address, Account | None] = dict(state.original_accounts)
        after: dict[Address, Account | None] = {
            address: state.accounts.get(address, account) for address, account in before.items()
        }
        coinbase = self.coinbase
        if coinbase not in before:
            before[coinbase] = after[coinbase] = state.reader.get_account(coinbase)
        if outcome.fee_credit:
            credited = after[coinbase] or Account()
            after[coinbase] = Account(
                credited.nonce, credited.balance + outcome.fee_credit, credited.code_hash
            )
        return state, before, after

    def result(self, outcome: TxOutcome) -> Prestate | PrestateDiff:
        state, before, after = self._before_after(outcome)
        if not self.diff_mode:
            return {
                address: self._shown(state, account, _touched_slots(state, address))
                for address, account in before.items()
            }
        pre: Prestate = {}
        post: Prestate = {}
        for address, old in before.items():
            new = after[address]
            old_slots = state.original_storage.get(address, {})
            new_slots = state.storage.get(address, {})
            changed = {
                slot: value for slot, value in new_slots.items() if value != old_slots.get(slot, 0)
            }
            if old == new and not changed:
                continue
            if old is not None or address not in state.created:
                # A slot that was empty is not shown in pre (geth).
                pre[address] = self._shown(
                    state,
                    old,
                    {slot: old_slots[slot] for slot in changed if old_slots.get(slot, 0)},
                )
            if new is None:
                continue
            post[address] = self._changed(state, old, new, changed)
        return PrestateDiff(pre, post)

    def _code(self, state: TxState, account: Account) -> bytes | None:
        if self.disable_code or account.code_hash == EMPTY_CODE_HASH:
            return None
        return state.codes.get(account.code_hash) or state.reader.get_code(account.code_hash)

    def _shown(
        self, state: TxState, account: Account | None, slots: dict[int, int]
    ) -> AccountState:
        if account is None:
            return AccountState(balance=0, storage={} if self.disable_storage else dict(slots))
        return AccountState(
            account.balance,
            account.nonce or None,
            self._code(state, account),
            {} if self.disable_storage else dict(slots),
        )

    def _changed(
        self, state: TxState, old: Account | None, new: Account, slots: dict[int, int]
    ) -> AccountState:
        before = old or Account()
        return AccountState(
            new.balance if new.balance != before.balance else None,
            new.nonce if new.nonce != before.nonce and new.nonce else None,
            self._code(state, new) if new.code_hash != before.code_hash else None,
            {} if self.disable_storage else {slot: value for slot, value in slots.items() if value},
        )


def _touched_slots(state: TxState, address: Address) -> dict[int, int]:
    """Every slot of ``address`` the transaction read or wrote, as it was before."""
    originals = state.original_storage.get(address, {})
    slots = dict(originals)
    for slot in state.storage.get(address, {}):
        slots.setdefault(slot, 0)
    return slots
