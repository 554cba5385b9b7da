"""The transaction pool: admission, per-sender nonce queues, replacement, ready order.

Owns which transactions wait and in what order the producer gets them:

- a transaction whose nonce is the sender's next executable nonce is *ready*
  and joins one FIFO ready queue (arrival order across senders, nonce order
  within a sender); a later nonce waits *queued* until the gap closes;
- a transaction with the same sender and nonce as a waiting one replaces it
  only with both fee fields raised by at least 10% (geth's price bump);
- admission runs execution's own stateless check (``validate_stateless``: type,
  intrinsic gas, caps, blob hashes, authorization list, and the next block's gas
  limit, base fee and blob base fee), so what the pool takes passes those checks
  at execution too unless the block's values moved in between;
- admission errors use geth's wording (DESIGN §8): ``already known``, ``nonce
  too low``, ``replacement transaction underpriced``, ``insufficient funds for
  gas * price + value``, ``max fee per gas less than block base fee``,
  ``intrinsic gas too low``, ``exceeds block gas limit``, ``txpool is full``;
- every waiting transaction leaves through ``_forget`` (mined, dropped, replaced,
  evicted, cleared), which also deletes its on-disk record when it has one
  (``sequencer.pool.persist``); ``persist`` writes one.

Single-threaded: called only from the event loop that also runs the producer. It
holds no futures and no asyncio objects: waiting senders live in
``sequencer.publication.Waiters``, told through ``on_settled`` and the published
blocks; the miner is woken through ``on_ready``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from jit.evm.exceptions import InvalidTransaction
from jit.evm.transaction import validate_stateless
from jit.forks import ForkRules
from sequencer.config import PoolLimits
from sequencer.errors import TransactionRejected
from sequencer.pool.persist import PoolStore
from sequencer.types.transactions import Transaction
from statedb.types import Account, Address, Hash32

PRICE_BUMP_PERCENT = 10


def fee_cap(tx: Transaction) -> int:
    return tx.max_fee_per_gas if tx.tx_type >= 2 else tx.gas_price


def tip_cap(tx: Transaction) -> int:
    return tx.max_priority_fee_per_gas if tx.tx_type >= 2 else tx.gas_price


def max_cost(tx: Transaction) -> int:
    blob = 131072 * len(tx.blob_versioned_hashes) * tx.max_fee_per_blob_gas
    return tx.gas_limit * fee_cap(tx) + tx.value + blob


class PoolTx:
    """A waiting transaction (slotted, mutable)."""

    __slots__ = ("raw", "ready", "removed", "stored", "tx")

    def __init__(self, tx: Transaction, raw: bytes) -> None:
        self.tx = tx
        self.raw = raw  # the canonical encoding as received: blocks store it as is
        self.ready = False
        self.removed = False
        self.stored = False  # has an on-disk record (``TxPool.persist``)


@dataclass(frozen=True, slots=True)
class Admission:
    entry: PoolTx
    ready: bool  # False: queued behind a nonce gap


class _Sender:
    __slots__ = ("next_nonce", "txs")

    def __init__(self, next_nonce: int) -> None:
        self.txs: dict[int, PoolTx] = {}
        self.next_nonce = next_nonce  # the first nonce not yet made ready


class TxPool:
    def __init__(
        self,
        limits: PoolLimits,
        account: Callable[[Address], Account | None],
        base_fee: Callable[[], int],
        gas_limit: Callable[[], int],
        rules: Callable[[], ForkRules],
        chain_id: int,
        *,
        blob_base_fee: Callable[[], int] = lambda: 1,
        store: PoolStore | None = None,
        on_settled: Callable[[Hash32, Exception | None], None] = lambda tx_hash, result: None,
        on_ready: Callable[[bool], None] = lambda ready: None,
    ) -> None:
        """``base_fee``, ``gas_limit`` and ``blob_base_fee`` give the next block's values
        (the default blob base fee is EIP-4844's minimum; the node passes the real one).
        ``store`` keeps the acknowledged transactions on disk (None: memory only).
        ``on_settled(tx_hash, result)`` is told when a transaction stops waiting for a
        block without being mined: ``result`` is the error that removed it, or None when
        it waits queued now. ``on_ready(ready)`` is told when the ready queue becomes
        non-empty or empty (the miner's wake-up)."""
        self.limits = limits
        self._account = account
        self._base_fee = base_fee
        self._gas_limit = gas_limit
        self._blob_base_fee = blob_base_fee
        self._rules = rules
        self._chain_id = chain_id
        self.store = store
        self._senders: dict[Address, _Sender] = {}
        self._by_hash: dict[Hash32, PoolTx] = {}
        self._ready: deque[PoolTx] = deque()
        self._ready_count = 0
        self._on_settled = on_settled
        self._on_ready = on_ready
        self.has_ready = False  # whether the ready queue holds anything

    def _set_ready(self, ready: bool) -> None:
        if ready != self.has_ready:
            self.has_ready = ready
            self._on_ready(ready)

    # ------------------------------------------------------------ admission

    def add(self, tx: Transaction, raw: bytes) -> Admission:
        """Admit ``tx`` or raise ``TransactionRejected`` (nothing changes then)."""
        if tx.hash in self._by_hash:
            raise TransactionRejected("already known")
        size = len(raw)
        if size > self.limits.max_tx_bytes:
            raise TransactionRejected(
                f"oversized data: transaction size {size}, limit {self.limits.max_tx_bytes}"
            )
        if tx.chain_id is not None and tx.chain_id != self._chain_id:
            raise TransactionRejected(
                f"invalid chain id for signer: have {tx.chain_id} want {self._chain_id}"
            )
        try:
            validate_stateless(
                tx,
                self._rules(),
                gas_limit=self._gas_limit(),
                base_fee=self._base_fee(),
                blob_base_fee=self._blob_base_fee(),
            )
        except InvalidTransaction as error:
            raise TransactionRejected(str(error)) from None
        account = self._account(tx.sender)
        state_nonce = account.nonce if account else 0
        if tx.nonce < state_nonce:
            raise TransactionRejected(
                f"nonce too low: next nonce {state_nonce}, tx nonce {tx.nonce}"
            )
        balance = account.balance if account else 0
        if balance < max_cost(tx):
            raise TransactionRejected(
                f"insufficient funds for gas * price + value: address 0x{tx.sender.hex()} "
                f"have {balance} want {max_cost(tx)}"
            )
        sender = self._senders.get(tx.sender)
        existing = sender.txs.get(tx.nonce) if sender else None
        if existing is not None:
            old = existing.tx
            bump = 100 + PRICE_BUMP_PERCENT
            if fee_cap(tx) * 100 < fee_cap(old) * bump or tip_cap(tx) * 100 < tip_cap(old) * bump:
                raise TransactionRejected("replacement transaction underpriced")
        else:
            if len(self._by_hash) >= self.limits.total:
                raise TransactionRejected("txpool is full")
            if sender is not None and len(sender.txs) >= self.limits.per_account:
                raise TransactionRejected("account limit exceeded")
        entry = PoolTx(tx, raw)
        if sender is None:
            sender = self._senders[tx.sender] = _Sender(state_nonce)
        elif sender.next_nonce < state_nonce:
            sender.next_nonce = state_nonce
        if existing is not None:
            # The replacement takes the old one's place (and readiness); its sender waits
            # no longer.
            existing.removed = True
            del self._by_hash[existing.tx.hash]
            if existing.stored:
                existing.stored = False
                if self.store is not None:
                    self.store.delete(existing.tx.hash)
            if existing.ready:
                existing.ready = False
                entry.ready = True
                self._ready.append(entry)
            self._on_settled(
                existing.tx.hash, TransactionRejected("replaced by a transaction with a higher fee")
            )
        sender.txs[tx.nonce] = entry
        self._by_hash[tx.hash] = entry
        if existing is None and tx.nonce == sender.next_nonce:
            self._promote(sender)
        if self._ready_count:
            self._set_ready(True)
        return Admission(entry, entry.ready)

    def _promote(self, sender: _Sender) -> None:
        while (entry := sender.txs.get(sender.next_nonce)) is not None and not entry.ready:
            entry.ready = True
            self._ready.append(entry)
            self._ready_count += 1
            sender.next_nonce += 1

    # ------------------------------------------------------------ producer side

    def next_ready(self) -> PoolTx | None:
        """Take the oldest ready transaction out of the ready queue (it stays known
        until ``mark_included`` or ``drop``)."""
        ready = self._ready
        while ready:
            entry = ready.popleft()
            if entry.removed or not entry.ready:
                continue
            self._ready_count -= 1
            entry.ready = False
            if not self._ready_count:
                self._set_ready(False)
            return entry
        self._ready_count = 0
        self._set_ready(False)
        return None

    def push_back(self, entry: PoolTx) -> None:
        """Return an entry taken by ``next_ready`` to the front (it did not fit the block)."""
        entry.ready = True
        self._ready.appendleft(entry)
        self._ready_count += 1
        self._set_ready(True)

    def mark_included(self, entry: PoolTx) -> None:
        """``entry`` is in a sealed block: forgotten (its sender's answer is the block)."""
        self._forget(entry)

    def drop(self, entry: PoolTx, error: Exception) -> None:
        """Execution refused ``entry``: drop it (its sender gets ``error``) and demote the
        sender's later nonces to queued."""
        sender = self._senders.get(entry.tx.sender)
        self._remove(entry, error)
        if sender is None:
            return
        self._demote_from(sender, entry.tx.nonce)
        if not sender.txs:
            self._senders.pop(entry.tx.sender, None)  # _forget may have removed it already

    def requeue(self, entry: PoolTx) -> None:
        """Execution found a nonce gap before ``entry`` (taken by ``next_ready``): it stays
        in the pool, queued, with the sender's later nonces; its sender is answered as a
        queued transaction's is."""
        sender = self._senders.get(entry.tx.sender)
        if entry.removed or sender is None or sender.txs.get(entry.tx.nonce) is not entry:
            return
        entry.ready = False
        self._demote_from(sender, entry.tx.nonce)
        self._on_settled(entry.tx.hash, None)

    def _demote_from(self, sender: _Sender, nonce: int) -> None:
        """Nonce ``nonce`` of ``sender`` is not executable now: everything after it waits
        queued. A sender waiting on a demoted ready transaction is answered now (as a
        queued one is), not kept waiting for a block that may never come; one taken for
        the block being built gets its answer from that block."""
        for later in sorted(n for n in sender.txs if n > nonce):
            waiting = sender.txs[later]
            if waiting.ready:
                waiting.ready = False
                self._ready_count -= 1
                self._on_settled(waiting.tx.hash, None)
        sender.next_nonce = min(sender.next_nonce, nonce)
        if not self._ready_count:
            self._set_ready(False)

    def on_block(self) -> None:
        """After a block or a state edit: re-derive readiness from state nonces (cheap:
        only senders with waiting transactions), drop what became stale."""
        for address, sender in list(self._senders.items()):
            account = self._account(address)
            nonce = account.nonce if account else 0
            for stale in [n for n in sender.txs if n < nonce]:
                entry = sender.txs[stale]
                self._remove(
                    entry,
                    TransactionRejected(f"nonce too low: next nonce {nonce}, tx nonce {stale}"),
                )
            if not sender.txs:
                self._senders.pop(address, None)  # _forget may have removed it already
                continue
            if sender.next_nonce < nonce:
                sender.next_nonce = nonce
            else:
                # Every nonce from the state's to ``next_nonce`` was made ready and waits;
                # a hole (a dev edit lowered the nonce) sends what follows back to queued,
                # or execution would refuse it with "nonce too high" block after block.
                for gap in range(nonce, sender.next_nonce):
                    if gap not in sender.txs:
                        self._demote_from(sender, gap)
                        break
            self._promote(sender)
        if self._ready_count:
            self._set_ready(True)

    def persist(self, entry: PoolTx, *, unsigned: bool = False) -> None:
        """Stage ``entry``'s on-disk record (the caller awaits ``store.written()`` before
        acknowledging it). ``unsigned``: an impersonated transaction, reloaded with its
        claimed sender. No-op without a store, or once stored or removed."""
        if self.store is None or entry.stored or entry.removed:
            return
        entry.stored = True
        self.store.put(entry.tx, entry.raw, unsigned=unsigned)

    def _forget(self, entry: PoolTx) -> None:
        entry.removed = True
        if entry.stored:
            entry.stored = False
            if self.store is not None:
                self.store.delete(entry.tx.hash)
        self._by_hash.pop(entry.tx.hash, None)
        sender = self._senders.get(entry.tx.sender)
        if sender is not None and sender.txs.get(entry.tx.nonce) is entry:
            del sender.txs[entry.tx.nonce]
            if not sender.txs and sender.next_nonce <= entry.tx.nonce + 1:
                del self._senders[entry.tx.sender]

    def _remove(self, entry: PoolTx, error: Exception) -> None:
        if entry.ready:
            entry.ready = False
            self._ready_count -= 1
        self._forget(entry)
        self._on_settled(entry.tx.hash, error)

    # ------------------------------------------------------------ dev removal

    def remove(self, tx_hash: Hash32, error: Exception) -> bool:
        """anvil_dropTransaction: drop one waiting transaction (its sender's later nonces
        wait queued again); False if it is not in the pool."""
        entry = self._by_hash.get(tx_hash)
        if entry is None:
            return False
        self.drop(entry, error)
        return True

    def remove_sender(self, sender: Address, error: Exception) -> int:
        """anvil_removePoolTransactions: drop every waiting transaction of ``sender``."""
        waiting = self._senders.get(sender)
        if waiting is None:
            return 0
        entries = list(waiting.txs.values())
        for entry in entries:
            self._remove(entry, error)
        self._senders.pop(sender, None)
        return len(entries)

    def clear(self, error: Exception) -> int:
        """anvil_dropAllTransactions: empty the pool."""
        entries = list(self._by_hash.values())
        for entry in entries:
            self._remove(entry, error)
        self._senders.clear()
        self._ready.clear()
        self._ready_count = 0
        self._set_ready(False)
        return len(entries)

    def set_chain_id(self, chain_id: int) -> None:
        self._chain_id = chain_id

    # ------------------------------------------------------------ queries

    def pending_nonce(self, address: Address, state_nonce: int) -> int:
        sender = self._senders.get(address)
        if sender is None:
            return state_nonce
        nonce = max(state_nonce, sender.next_nonce)
        while nonce in sender.txs:
            nonce += 1
        return nonce

    def get(self, tx_hash: Hash32) -> Transaction | None:
        entry = self._by_hash.get(tx_hash)
        return entry.tx if entry else None

    def __len__(self) -> int:
        return len(self._by_hash)

    def content(self) -> tuple[dict[Address, list[Transaction]], dict[Address, list[Transaction]]]:
        """(pending, queued) per sender, each in nonce order, as txpool_content shows them."""
        pending: dict[Address, list[Transaction]] = {}
        queued: dict[Address, list[Transaction]] = {}
        for address, sender in self._senders.items():
            account = self._account(address)
            nonce = account.nonce if account else 0
            for n in sorted(sender.txs):
                entry = sender.txs[n]
                target = pending if n == nonce else queued
                if n == nonce:
                    nonce += 1
                target.setdefault(address, []).append(entry.tx)
        return pending, queued

    def __iter__(self) -> Iterator[Transaction]:
        return (entry.tx for entry in self._by_hash.values())
