"""``PoolStore``: the pool's acknowledged transactions on disk, so they survive a restart.

Owns the records and when they are written:

- one chain-meta record per stored transaction, ``pool/`` + its hash, holding the
  raw canonical encoding, the sender (so a reload needs no signature recovery, and
  an impersonated transaction keeps the sender it claims), an unsigned flag (the
  EIP-3607 exemption of impersonated sends) and an acknowledgement sequence number
  (reloads re-admit in that order);
- writes are staged and go out as one statedb ``put_records`` batch per event-loop
  step (``flush``, scheduled with ``call_soon``); ``written()`` waits for the batch
  holding everything staged so far, so the node acknowledges a transaction only once
  its record is in RocksDB's WAL (which a killed process does not lose);
- a record is deleted when its transaction leaves the pool (mined, dropped,
  replaced, evicted); a delete staged before its put was flushed cancels the put.

The records are not versioned (``put_records``): ``evm_revert`` does not bring back
a mined transaction's record. Start-up re-admits every record through the pool's
normal admission (``Node``); one that no longer passes is deleted with a log line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from sequencer.types.transactions import Transaction
from statedb import StateDB
from statedb.keys import CF_CHAIN_META
from statedb.types import Address, Hash32

POOL_RECORD_PREFIX: Final = b"pool/"
_POOL_RECORD_END: Final = b"pool0"  # the first key after every ``pool/`` key
RECORD_VERSION: Final = 1
FLAG_UNSIGNED: Final = 1
_HEADER: Final = 1 + 1 + 8 + 20  # version | flags | sequence | sender


class PoolRecordError(ValueError):
    """A pool record that this build cannot read."""


@dataclass(frozen=True, slots=True)
class StoredTx:
    """One pool record, decoded."""

    tx_hash: Hash32
    sequence: int
    sender: Address
    unsigned: bool
    raw: bytes


def encode_record(sequence: int, sender: Address, unsigned: bool, raw: bytes) -> bytes:
    flags = FLAG_UNSIGNED if unsigned else 0
    return bytes((RECORD_VERSION, flags)) + sequence.to_bytes(8, "big") + sender + raw


def decode_record(key: bytes, value: bytes) -> StoredTx:
    tx_hash = key[len(POOL_RECORD_PREFIX) :]
    if len(tx_hash) != 32:
        raise PoolRecordError(f"pool record key of {len(key)} bytes")
    if len(value) <= _HEADER or value[0] != RECORD_VERSION:
        raise PoolRecordError("pool record of an unknown version or truncated")
    return StoredTx(
        tx_hash,
        int.from_bytes(value[2:10], "big"),
        value[10:30],
        bool(value[1] & FLAG_UNSIGNED),
        value[_HEADER:],
    )


class PoolStore:
    """Staged pool records over a ``StateDB``. Single-threaded (the event loop)."""

    def __init__(self, db: StateDB) -> None:
        self._db = db
        self._staged: dict[bytes, bytes | None] = {}  # key -> record, or None: delete
        self._unflushed_puts: set[bytes] = set()  # staged puts not yet on disk
        self._flush_scheduled = False
        self._written: asyncio.Future[None] | None = None
        self._sequence = 0
        self.writes = 0  # batches written (tests, the node's info)

    # ------------------------------------------------------------ reading

    def load(self) -> Iterator[StoredTx | bytes]:
        """Every record in acknowledgement order; an unreadable one is yielded as its key
        (the caller deletes it). Continues the sequence after the highest one seen."""
        stored: list[StoredTx] = []
        unreadable: list[bytes] = []
        for key, value in self._db.records(CF_CHAIN_META, POOL_RECORD_PREFIX, _POOL_RECORD_END):
            try:
                stored.append(decode_record(key, value))
            except PoolRecordError:
                unreadable.append(key)
        stored.sort(key=lambda record: record.sequence)
        if stored:
            self._sequence = stored[-1].sequence + 1
        yield from unreadable
        yield from stored

    # ------------------------------------------------------------ staging

    def put(self, tx: Transaction, raw: bytes, *, unsigned: bool) -> None:
        key = POOL_RECORD_PREFIX + tx.hash
        self._staged[key] = encode_record(self._sequence, tx.sender, unsigned, raw)
        self._unflushed_puts.add(key)
        self._sequence += 1
        self._schedule()

    def delete(self, tx_hash: Hash32) -> None:
        key = POOL_RECORD_PREFIX + tx_hash
        if key in self._unflushed_puts:  # never reached the disk: nothing to delete
            self._unflushed_puts.discard(key)
            del self._staged[key]
            return
        self._staged[key] = None
        self._schedule()

    def delete_key(self, key: bytes) -> None:
        """Delete a record by its key (an unreadable one found by ``load``)."""
        self._staged[key] = None
        self._schedule()

    async def written(self) -> None:
        """Return once everything staged so far is on disk (the WAL): at most one
        event-loop step later, shared by every caller of that step."""
        if not self._staged:
            return
        if self._written is None:
            self._written = asyncio.get_running_loop().create_future()
            self._schedule()
        await asyncio.shield(self._written)

    def _schedule(self) -> None:
        if self._flush_scheduled:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (start-up, library use, tests): write now
            self.flush()
            return
        self._flush_scheduled = True
        loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write every staged record in one batch and wake ``written()``'s waiters."""
        self._flush_scheduled = False
        waiter, self._written = self._written, None
        staged, self._staged = self._staged, {}
        self._unflushed_puts.clear()
        try:
            if staged:
                self._db.put_records({CF_CHAIN_META: staged})
                self.writes += 1
        except Exception as error:
            if waiter is not None and not waiter.done():
                waiter.set_exception(error)
                waiter.exception()  # retrieved: every waiter re-raises it through shield
            raise
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
