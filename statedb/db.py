"""The state database: resident head state, one atomic WriteBatch per block.

Owns ``StateDB`` (open/close, prepare/commit, views, history window, snapshots and
revert, chain records) and ``PreparedBlock``.

The head state lives in Python dicts (a ``DictState``) so execution reads never
touch RocksDB. ``commit`` stages a block's state writes, its history entries and
changeset, the caller's chain records and the new head pointer into ONE batch;
the block is committed when ``Backend.write`` returns, and only then is the
resident state updated. RocksDB applies a batch atomically (WAL record), so a
reopen after ``kill -9`` finds exactly the last block whose write returned.

Typical use by the sequencer::

    prepared = db.prepare(block_diff)          # no mutation; gives the state root
    header = build_header(..., state_root=prepared.state_root)
    db.commit(number, prepared, {CF_BLOCKS: {block_number_key(number): encoded}, ...})
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Final

import sha3

from statedb.backend import Backend, Batch, MemoryBackend, RocksBackend, create_atomically
from statedb.commitment import Commitment, CommitmentUpdate
from statedb.errors import (
    BlockOrderError,
    CorruptDatabase,
    HistoryUnavailable,
    InvalidStateInput,
    StateDBError,
)
from statedb.fork import (
    ForkedView,
    Touched,
    UpstreamState,
    account_touch_key,
    slot_touch_key,
    wipe_touch_key,
)
from statedb.history import HistoricalView, check_window, decode_changeset, encode_chain_entry
from statedb.keys import (
    ACCOUNT_PREFIX,
    ALL_CFS,
    CF_ACCOUNTS,
    CF_CHANGESETS,
    CF_CODE,
    CF_FORK_CACHE,
    CF_FORK_TOUCHED,
    CF_HISTORY,
    CF_META,
    CF_STORAGE,
    CHAIN_CF_ID,
    CHAIN_CFS,
    CODE_PREFIX,
    HAS_STORAGE_PREFIX,
    KEY_LENGTH,
    KIND_ACCOUNT,
    KIND_CHAIN,
    KIND_CODE,
    KIND_SLOT,
    META_COMMITMENT,
    META_HEAD,
    META_HISTORY_FIRST,
    META_SCHEMA,
    SCHEMA_VERSION,
    SLOT_PREFIX,
    UINT256_MAX,
    check_account,
    check_address,
    check_hash,
    decode_account,
    encode_account,
)
from statedb.types import (
    EMPTY_CODE_HASH,
    Account,
    Address,
    DictState,
    Hash32,
    StateDiff,
    StateReader,
)
from statedb.views import HeadView, OverlayView

DEFAULT_HISTORY_WINDOW: Final = 10_000
# Pruning runs inside commit; cap it so a shrunken window catches up over a few
# blocks instead of stalling one commit.
PRUNE_PER_COMMIT: Final = 64

_keccak = sha3.keccak_256
_EMPTY: Final[dict[int, int]] = {}

AccountOps = dict[Address, Account | None]
StorageOps = dict[Address, dict[int, int]]
ChainRecords = Mapping[str, Mapping[bytes, bytes | None]]


class PreparedBlock:
    """The staged writes of the next block; ``state_root`` is its header's stateRoot.

    Valid until the database commits or reverts anything else.
    """

    __slots__ = (
        "_db",
        "acc_ops",
        "batch",
        "changeset",
        "codes",
        "fork_touched",
        "generation",
        "number",
        "sto_ops",
        "update",
        "used",
    )

    def __init__(
        self,
        db: StateDB,
        number: int,
        batch: Batch,
        changeset: list[bytes],
        acc_ops: AccountOps,
        sto_ops: StorageOps,
        codes: dict[Hash32, bytes],
        update: CommitmentUpdate,
    ) -> None:
        self._db = db
        self.number = number
        self.generation = db._generation
        self.batch = batch
        self.changeset = changeset
        self.acc_ops = acc_ops
        self.sto_ops = sto_ops
        self.codes = codes
        self.update = update
        self.used = False
        self.fork_touched: tuple[bytes, ...] = ()  # fork mode: keys first written here

    @property
    def state_root(self) -> bytes:
        return self.update.root


class StateDB:
    """Flat Ethereum state with history. Single writer; reads may come from anywhere."""

    def __init__(self, backend: Backend, *, history_window: int = DEFAULT_HISTORY_WINDOW) -> None:
        if type(history_window) is not int or history_window < 0:
            raise InvalidStateInput(f"history_window must be an int >= 0, got {history_window!r}")
        self._backend = backend
        self._window = history_window
        self._h = {
            cf: backend.handle(cf)
            for cf in (CF_ACCOUNTS, CF_STORAGE, CF_CODE, CF_HISTORY, CF_CHANGESETS, CF_META)
        }
        self._state = DictState()
        self._head = -1
        self._history_first = 0
        self._generation = 0
        self._reverts: list[int] = []
        self._snapshots: dict[int, int] = {}
        self._next_snapshot = 1
        self._closed = False
        self._commitment = Commitment()
        if backend.persistent:
            self._load()
        self.head: StateReader = HeadView(self._state)
        # Fork mode (attach_upstream): the first touches and the upstream's state.
        self._fork: tuple[Touched, UpstreamState] | None = None

    # --- opening and closing -------------------------------------------------------
    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        *,
        history_window: int = DEFAULT_HISTORY_WINDOW,
        sync: bool = False,
        initialize: Callable[[StateDB], None] | None = None,
    ) -> StateDB:
        """Open (or create) the database in directory ``path``.

        ``sync=True`` fsyncs the WAL on every commit (survives power loss, not only a
        killed process).

        ``initialize`` makes creation atomic: when ``path`` is missing or empty, the
        database is built in a temporary sibling, ``initialize`` writes its first
        records (the genesis block) there, and it is renamed to ``path`` only then
        (``backend.create_atomically``). A process killed during a first start leaves
        no ``path`` or a complete one, never a database without its first block.
        """
        if initialize is not None:

            def build(temp: Path) -> None:
                # sync: the first records are fsynced before the rename publishes them.
                with cls.open(temp, history_window=history_window, sync=True) as db:
                    initialize(db)

            create_atomically(Path(path), build)
        backend = RocksBackend(path, sync=sync)
        try:
            return cls(backend, history_window=history_window)
        except BaseException:
            backend.close()
            raise

    @classmethod
    def ephemeral(cls, *, history_window: int = DEFAULT_HISTORY_WINDOW) -> StateDB:
        """Everything in memory, same API (``--ephemeral``)."""
        return cls(MemoryBackend(), history_window=history_window)

    def _load(self) -> None:
        backend = self._backend
        head = backend.get(CF_META, META_HEAD)
        first = backend.get(CF_META, META_HISTORY_FIRST)
        self._history_first = int.from_bytes(first, "big") if first else 0
        try:
            accounts = self._state.accounts
            for key, value in backend.items(CF_ACCOUNTS):
                if len(key) != 20:
                    raise ValueError(f"account key of {len(key)} bytes")
                accounts[key] = decode_account(value)
            storage = self._state.storage
            current_address = b""
            slots: dict[int, int] = {}
            # Keys arrive sorted, so an account's slots are contiguous: one dict
            # lookup per account, not per slot.
            for key, value in backend.items(CF_STORAGE):
                address = key[:20]
                if address != current_address:
                    if len(key) != 52:
                        raise ValueError(f"storage key of {len(key)} bytes")
                    current_address = address
                    slots = storage.setdefault(address, {})
                slots[int.from_bytes(key[20:], "big")] = int.from_bytes(value, "big")
            self._state.codes.update(backend.items(CF_CODE))
        except ValueError as exc:
            raise CorruptDatabase(f"undecodable state in the database: {exc}") from exc
        if head is None:
            if self._state.accounts or self._state.storage:
                raise CorruptDatabase("state present but no head block recorded")
            return
        if len(head) != 40:
            raise CorruptDatabase("bad head record")
        self._head = int.from_bytes(head[:8], "big")
        stored_root = head[8:]
        checkpoint = backend.get(CF_META, META_COMMITMENT)
        commitment = None
        if checkpoint is not None and checkpoint[:8] == head[:8]:
            try:
                commitment = Commitment.from_bytes(checkpoint[8:])
            except ValueError:
                commitment = None
            if commitment is not None and commitment.root != stored_root:
                commitment = None
        if commitment is None:
            # No clean-shutdown checkpoint (a crash): recompute, which also verifies.
            commitment = Commitment.from_state(self._state.accounts, self._state.storage)
            if commitment.root != stored_root:
                raise CorruptDatabase(
                    f"state root of the stored state {commitment.root.hex()} differs from "
                    f"the root recorded for block {self._head}: {stored_root.hex()}"
                )
        self._commitment = commitment
        if checkpoint is not None:
            # A checkpoint is only trusted once: after any later commit or revert it
            # could describe a different state at the same block number.
            batch = backend.new_batch()
            batch.delete(META_COMMITMENT, self._h[CF_META])
            backend.write(batch)

    def close(self) -> None:
        if self._closed:
            return
        if self._backend.persistent and self._head >= 0:
            # Checkpoint the bucket sums so a clean reopen skips the full recompute.
            batch = self._backend.new_batch()
            batch.put(
                META_COMMITMENT,
                self._head.to_bytes(8, "big") + self._commitment.to_bytes(),
                self._h[CF_META],
            )
            self._backend.write(batch)
        self._closed = True
        # Column family handles keep RocksDB (and its LOCK) alive: drop ours first.
        self._h.clear()
        self._backend.close()

    def settle(self, timeout: float = 120.0) -> bool:
        """Flush to disk and wait for RocksDB's background compactions (after bulk loads)."""
        self._check_open()
        return self._backend.settle(timeout)

    def __enter__(self) -> StateDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- properties ----------------------------------------------------------------
    @property
    def head_number(self) -> int:
        """The last committed block (-1 before the first commit)."""
        return self._head

    @property
    def state_root(self) -> bytes:
        return self._commitment.root

    @property
    def history_window(self) -> int:
        return self._window

    @property
    def oldest_available(self) -> int:
        """The oldest block whose state ``at`` can still serve."""
        return max(0, self._history_first - 1)

    @property
    def oldest_changeset(self) -> int:
        """The oldest block whose change ``block_diff`` can still rebuild."""
        return self._history_first

    @property
    def resident(self) -> DictState:
        """The resident head state. Read-only for callers (e.g. to seed worker processes)."""
        return self._state

    # --- views ---------------------------------------------------------------------
    def at(self, number: int) -> StateReader:
        """A ``StateReader`` pinned to the state after block ``number``."""
        if self._fork is not None:
            touched, upstream = self._fork
            return ForkedView(HistoricalView(self, number), touched, upstream, number)
        return HistoricalView(self, number)

    def clear(self) -> None:
        """Delete everything: an empty database again, to be bootstrapped or given a
        genesis anew (fork mode's reset to another fork point). Views, snapshots and
        prepared blocks from before are invalid; fork mode ends (``attach_upstream``
        again)."""
        self._check_open()
        backend = self._backend
        if backend.persistent:
            batch = backend.new_batch()
            for cf in ALL_CFS:
                batch.delete_range(b"", b"\xff" * 128, backend.handle(cf))
            batch.put(META_SCHEMA, SCHEMA_VERSION, self._h[CF_META])
            backend.write(batch)
        else:
            backend.close()
            self._backend = backend = MemoryBackend()
            self._h = {cf: backend.handle(cf) for cf in self._h}
        self._state = DictState()
        self._head = -1
        self._history_first = 0
        self._commitment = Commitment()
        self._generation += 1
        self._reverts.append(-1)  # every view pinned before reads as reverted away
        self._snapshots.clear()
        self._fork = None
        self.head = HeadView(self._state)

    # --- fork mode -----------------------------------------------------------------
    def attach_upstream(self, upstream: UpstreamState) -> None:
        """Fork mode (``statedb.fork``): from now on a key no local block wrote reads
        from ``upstream`` (the state at the fork block, which the database starts at:
        ``bootstrap``), at the head and at every block."""
        self._check_open()
        touched = Touched(self._backend.items(CF_FORK_TOUCHED, b"", None, False))
        self._fork = (touched, upstream)
        self.head = ForkedView(HeadView(self._state), touched, upstream, None)

    @property
    def forked(self) -> bool:
        return self._fork is not None

    def prefetch(
        self, accounts: Iterable[Address] = (), slots: Iterable[tuple[Address, int]] = ()
    ) -> None:
        """Fork mode: fetch, in one go, the upstream values of whichever of these no
        local block wrote (the block producer, before a batch: its senders, recipients
        and coinbase). Nothing without a fork; errors are the upstream's."""
        if self._fork is None:
            return
        touched, upstream = self._fork
        blocks = touched.blocks
        wanted = [a for a in accounts if account_touch_key(a) not in blocks]
        wanted_slots = [
            (a, s)
            for a, s in slots
            if slot_touch_key(a, s) not in blocks and wipe_touch_key(a) not in blocks
        ]
        if wanted or wanted_slots:
            upstream.prefetch(wanted, wanted_slots)

    def fork_cache_get(self, key: bytes) -> bytes | None:
        """A value fetched from the upstream earlier (``CF_FORK_CACHE``; any thread)."""
        self._check_open()
        return self._backend.get(CF_FORK_CACHE, key)

    def fork_cache_write(self, entries: Mapping[bytes, bytes | None]) -> None:
        """Keep (or, None, drop) fetched upstream values in one batch. Not versioned:
        the cache holds the upstream's values at the fork block, which no local block
        changes."""
        self._check_open()
        self._write_unversioned((CF_FORK_CACHE, key, value) for key, value in entries.items())

    def _first_touches(self, diff: StateDiff) -> tuple[bytes, ...]:
        return () if self._fork is None else tuple(dict.fromkeys(self._fork[0].new_keys(diff)))

    def _touch_records(
        self, keys: tuple[bytes, ...], number: int, records: ChainRecords | None
    ) -> ChainRecords | None:
        """``records`` plus the fork's first-touch records of ``keys`` (a new dict)."""
        if not keys:
            return records
        number8 = number.to_bytes(8, "big")
        out = dict(records or {})
        out[CF_FORK_TOUCHED] = {**out.get(CF_FORK_TOUCHED, {}), **dict.fromkeys(keys, number8)}
        return out

    def block_diff(self, number: int) -> StateDiff:
        """Block ``number``'s normalised state change (what the sequencer published at its
        seal), rebuilt from its changeset and the state after it: for a replica catching
        up on blocks sealed before it followed. Only for blocks in the history window
        (``HistoryUnavailable`` otherwise)."""
        view = self.at(number)
        data = self._backend.get(CF_CHANGESETS, number.to_bytes(8, "big"))
        if data is None:
            raise HistoryUnavailable(f"the changeset of block {number} is not kept")
        entries, _ = decode_changeset(data)
        diff = StateDiff()
        for kind, key in entries:
            if kind == KIND_ACCOUNT:
                diff.accounts[key] = view.get_account(key)
            elif kind == KIND_SLOT:
                address = key[:20]
                diff.storage.setdefault(address, {})[int.from_bytes(key[20:], "big")] = (
                    view.get_storage(address, int.from_bytes(key[20:], "big"))
                )
            elif kind == KIND_CODE:
                diff.codes[key] = view.get_code(key)
        return diff

    def block_record_keys(self, number: int, cf: str) -> tuple[bytes, ...]:
        """The keys block ``number`` wrote in chain column family ``cf``, in the order
        written, from its changeset (a follower catching up gets the sequencer's own
        index keys). Only for blocks in the history window (``HistoryUnavailable``)."""
        _check_chain_cf(cf)
        cf_id = CHAIN_CF_ID[cf]
        self._check_readable(number, self._revert_epoch())
        data = self._backend.get(CF_CHANGESETS, number.to_bytes(8, "big"))
        if data is None:
            raise HistoryUnavailable(f"the changeset of block {number} is not kept")
        _, chain = decode_changeset(data)
        return tuple(entry.key for entry in chain if entry.cf_id == cf_id)

    def overlay(self, diff: StateDiff) -> OverlayView:
        """Head + an uncommitted diff (pending state, eth_call)."""
        return OverlayView(self.head, diff)

    def _revert_epoch(self) -> int:
        return len(self._reverts)

    def _check_readable(self, number: int, epoch: int) -> None:
        if self._closed:
            raise StateDBError("state database is closed")
        check_window(number, self.oldest_available, self._head)
        reverts = self._reverts
        if epoch != len(reverts) and min(reverts[epoch:]) < number:
            raise HistoryUnavailable(f"block {number} was reverted")

    # --- commit ----------------------------------------------------------------------
    def prepare(self, diff: StateDiff, *, normalised: bool = False) -> PreparedBlock:
        """Stage ``diff`` as block head+1 and compute its state root, mutating nothing.

        ``normalised``: ``diff`` is a sealed block's published change against this very
        head (a replica applying its sequencer's block; ``sequencer.types.wire`` decoded
        it, so every field has its width): its entries are taken as the operations,
        unchecked, and a write that changes nothing costs only a history entry. Whether
        it was right shows in the state root, which the caller compares."""
        self._check_open()
        number = self._head + 1
        if normalised:
            acc_ops, sto_ops, codes = self._published_ops(diff)
        else:
            acc_ops, sto_ops, codes = self._normalize(diff)
        batch = self._backend.new_batch()
        changeset: list[bytes] = []
        deltas = self._stage(
            batch, acc_ops, sto_ops, codes, (), changeset, number.to_bytes(8, "big")
        )
        update = self._commitment.prepare(deltas)
        prepared = PreparedBlock(self, number, batch, changeset, acc_ops, sto_ops, codes, update)
        if self._fork is not None:
            prepared.fork_touched = self._first_touches(diff)
        return prepared

    def commit(
        self,
        block_number: int,
        block: StateDiff | PreparedBlock,
        chain_records: ChainRecords | None = None,
        *,
        fresh: frozenset[str] = frozenset(),
    ) -> bytes:
        """Commit block ``block_number`` (must be head + 1) atomically; return its state root.

        ``chain_records`` maps a chain column family (``statedb.keys.CHAIN_CFS``) to
        ``{key: value}``; a value of None deletes the record. Reverting the block
        restores every record's previous value, read here before it is overwritten,
        except in the ``fresh`` families, whose keys the caller guarantees are absent
        (a new block's number, hash and transaction hashes): their previous value is
        "absent" without a read. Those point reads of keys that are not there got
        slower as the LSM tree grew (a quarter of the node's CPU after 20 minutes at
        1,000 transactions a second), and they are never needed.
        """
        self._check_open()
        if isinstance(block, StateDiff):
            prepared = self.prepare(block)
        elif isinstance(block, PreparedBlock):
            prepared = block
        else:
            raise InvalidStateInput(f"expected a StateDiff or PreparedBlock, got {block!r}")
        if prepared._db is not self or prepared.used or prepared.generation != self._generation:
            raise BlockOrderError("prepared block is stale: the head moved since prepare()")
        if type(block_number) is not int or block_number != prepared.number:
            raise BlockOrderError(
                f"cannot commit block {block_number!r}: the next block is {prepared.number}"
            )
        if prepared.fork_touched:
            chain_records = self._touch_records(prepared.fork_touched, block_number, chain_records)
            fresh = fresh | {CF_FORK_TOUCHED}  # first touches: absent by construction
        try:
            self._stage_records(prepared, chain_records, fresh)
        except InvalidStateInput:
            prepared.used = True  # its batch holds part of the records: prepare again
            raise
        backend = self._backend
        batch = prepared.batch
        changeset = prepared.changeset
        number8 = block_number.to_bytes(8, "big")
        root = prepared.update.root
        h_meta = self._h[CF_META]
        batch.put(number8, b"".join(changeset), self._h[CF_CHANGESETS])
        batch.put(META_HEAD, number8 + root, h_meta)
        first = self._stage_prune(batch, block_number)
        if first != self._history_first:
            batch.put(META_HISTORY_FIRST, first.to_bytes(8, "big"), h_meta)
        prepared.used = True
        backend.write(batch)  # <- the commit point
        self._apply(prepared.acc_ops, prepared.sto_ops, prepared.codes, ())
        self._commitment.apply(prepared.update)
        if self._fork is not None:
            self._fork[0].add(prepared.fork_touched, block_number)
        self._head = block_number
        self._history_first = first
        self._generation += 1
        return root

    def _stage_records(
        self, prepared: PreparedBlock, records: ChainRecords | None, fresh: frozenset[str]
    ) -> None:
        """Put the chain records into the block's batch, each with its pre-image in the
        changeset (``InvalidStateInput`` for a bad family, key or value). Per family:
        one handle, and a fresh family's entries written without reading anything."""
        if not records:
            return
        backend = self._backend
        batch = prepared.batch
        put, delete = batch.put, batch.delete
        add = prepared.changeset.append
        for cf, entries in records.items():
            _check_chain_cf(cf)
            handle = backend.handle(cf)
            is_fresh = cf in fresh
            head = bytes((KIND_CHAIN, CHAIN_CF_ID[cf]))
            for key, value in entries.items():
                if type(key) is not bytes or not 0 < len(key) < 1 << 16:
                    raise InvalidStateInput(f"chain record key must be 1..65535 bytes, got {key!r}")
                if is_fresh:  # encode_chain_entry(cf_id, key, None), inlined
                    add(head + len(key).to_bytes(2, "big") + key + b"\x00")
                else:
                    add(encode_chain_entry(CHAIN_CF_ID[cf], key, backend.get(cf, key)))
                if value is None:
                    delete(key, handle)
                elif type(value) is bytes:
                    put(key, value, handle)
                else:
                    raise InvalidStateInput(
                        f"chain record value must be bytes or None, got {type(value).__name__}"
                    )

    def bootstrap(
        self, block_number: int, state: StateDiff, chain_records: ChainRecords | None = None
    ) -> bytes:
        """Start an empty database at block ``block_number`` with the whole state
        ``state`` (a replica bootstrapped from a snapshot of its sequencer): no history
        below it (``at`` serves ``block_number`` on, nothing reverts past it). Returns
        the state root."""
        self._check_open()
        if self._head != -1:
            raise BlockOrderError("only an empty database can be bootstrapped")
        if type(block_number) is not int or not 0 <= block_number < 1 << 63:
            raise BlockOrderError(f"cannot bootstrap at block {block_number!r}")
        acc_ops, sto_ops, codes = self._normalize(state)
        backend = self._backend
        batch = backend.new_batch()
        number8 = block_number.to_bytes(8, "big")
        deltas = self._stage(batch, acc_ops, sto_ops, codes, (), [], number8)
        update = self._commitment.prepare(deltas)
        touches = self._first_touches(state)
        chain_records = self._touch_records(touches, block_number, chain_records)
        for cf, key, value in _check_chain_records(chain_records):
            if value is not None:
                batch.put(key, value, backend.handle(cf))
        h_meta = self._h[CF_META]
        batch.put(META_HEAD, number8 + update.root, h_meta)
        # No changeset is kept for it: the oldest block with one is the next.
        batch.put(META_HISTORY_FIRST, (block_number + 1).to_bytes(8, "big"), h_meta)
        backend.write(batch)
        self._apply(acc_ops, sto_ops, codes, ())
        self._commitment.apply(update)
        if self._fork is not None:
            self._fork[0].add(touches, block_number)
        self._head = block_number
        self._history_first = block_number + 1
        self._generation += 1
        return update.root

    def _check_open(self) -> None:
        if self._closed:
            raise StateDBError("state database is closed")

    def _normalize(self, diff: StateDiff) -> tuple[AccountOps, StorageOps, dict[Hash32, bytes]]:
        """The real changes of ``diff`` against the head, as flat per-key operations.

        Wipes (``storage_cleared``, deleted accounts) become explicit zero writes of
        the slots that exist, so history records each slot's pre-image and the
        commitment subtracts each slot's leaf. No-op writes are dropped. Follows
        ``DictState.apply`` exactly (the tests check it).
        """
        if not isinstance(diff, StateDiff):
            raise InvalidStateInput(f"expected a StateDiff, got {diff!r}")
        accounts = self._state.accounts
        storage = self._state.storage
        acc_ops: AccountOps = {}
        wiped: list[Address] = []
        for address, account in diff.accounts.items():
            check_address(address)
            if account is None:
                wiped.append(address)
            else:
                check_account(account)
            if account != accounts.get(address):
                acc_ops[address] = account
        for address in diff.storage_cleared:
            wiped.append(check_address(address))
        sto_ops: StorageOps = {}
        for address in wiped:
            cur = storage.get(address)
            if cur:
                sto_ops[address] = dict.fromkeys(cur, 0)
        for address, slots in diff.storage.items():
            check_address(address)
            cur = storage.get(address) or _EMPTY
            ops = sto_ops.get(address)
            was_wiped = ops is not None
            if ops is None:
                ops = {}
            for slot, value in slots.items():
                if (
                    type(slot) is not int
                    or type(value) is not int
                    or not 0 <= slot <= UINT256_MAX
                    or not 0 <= value <= UINT256_MAX
                ):
                    raise InvalidStateInput(
                        f"storage slot and value must be ints in [0, 2**256), got "
                        f"{slot!r} -> {value!r} at 0x{address.hex()}"
                    )
                if cur.get(slot, 0) != value:
                    ops[slot] = value
                elif was_wiped:
                    ops.pop(slot, None)
            if ops:
                sto_ops[address] = ops
        codes: dict[Hash32, bytes] = {}
        known = self._state.codes
        for code_hash, code in diff.codes.items():
            check_hash(code_hash, "code hash")
            if type(code) is not bytes:
                raise InvalidStateInput(f"code must be bytes, got {type(code).__name__}")
            if code_hash in known:
                continue
            if _keccak(code).digest() != code_hash:
                raise InvalidStateInput(f"code does not hash to 0x{code_hash.hex()}")
            codes[code_hash] = code
        return acc_ops, sto_ops, codes

    def _published_ops(self, diff: StateDiff) -> tuple[AccountOps, StorageOps, dict[Hash32, bytes]]:
        """``_normalize`` for a published diff (``prepare(normalised=True)``): the diff's
        own maps, with a deleted account's remaining slots zeroed (a published diff
        already zeroes them; this keeps the resident state right if it did not)."""
        if not isinstance(diff, StateDiff) or diff.storage_cleared:
            raise InvalidStateInput("a published diff is a StateDiff without wipes")
        sto_ops: StorageOps = diff.storage
        storage = self._state.storage
        for address, account in diff.accounts.items():
            if account is None and storage.get(address):
                sto_ops = {**sto_ops} if sto_ops is diff.storage else sto_ops
                sto_ops[address] = {
                    **dict.fromkeys(storage[address], 0),
                    **diff.storage.get(address, {}),
                }
        known = self._state.codes
        codes = {h: code for h, code in diff.codes.items() if h not in known}
        return diff.accounts, sto_ops, codes

    def _stage(
        self,
        batch: Batch,
        acc_ops: AccountOps,
        sto_ops: StorageOps,
        codes: Mapping[Hash32, bytes],
        removed_codes: tuple[Hash32, ...] | set[Hash32],
        changeset: list[bytes],
        block8: bytes | None,
    ) -> dict[int, int]:
        """Put the state writes (and, if ``block8``, history entries) into ``batch``.

        Returns the commitment's per-bucket deltas. This is the per-key hot path:
        a few dict lookups, two keccaks and two or three batch puts per changed key.
        Every key is the encoded state key of ``statedb.keys`` (kind prefix | key):
        the commitment's entry key and, with the block suffix, the history key.
        """
        put = batch.put
        delete = batch.delete
        suffix = block8 or b""
        h_acc = self._h[CF_ACCOUNTS]
        h_sto = self._h[CF_STORAGE]
        h_hist = self._h[CF_HISTORY]
        accounts = self._state.accounts
        storage = self._state.storage
        record = block8 is not None
        add = changeset.append
        keccak = _keccak
        from_bytes = int.from_bytes
        # The kind prefixes, bound locally (statedb.keys.account_key etc., inlined).
        account_prefix, slot_prefix = ACCOUNT_PREFIX, SLOT_PREFIX
        deltas: dict[int, int] = {}
        for address, new in acc_ops.items():
            old = accounts.get(address)
            b = (address[0] << 4) | (address[1] >> 4)  # commitment.account_bucket, inlined
            d = deltas.get(b, 0)
            key = account_prefix + address
            if old is not None:
                old_enc = encode_account(old)
                d -= from_bytes(keccak(key + old_enc).digest(), "big")
            else:
                old_enc = b""
            if new is not None:
                new_enc = encode_account(new)
                d += from_bytes(keccak(key + new_enc).digest(), "big")
                put(address, new_enc, h_acc)
            else:
                delete(address, h_acc)
            deltas[b] = d
            if record:
                add(key)
                put(key + suffix, old_enc, h_hist)
        for address, ops in sto_ops.items():
            cur = storage.get(address) or _EMPTY
            ab = (address[0] << 4) | (address[1] >> 4)
            count = len(cur)
            for slot, value in ops.items():
                prev = cur.get(slot, 0)
                skey = address + slot.to_bytes(32, "big")
                lkey = slot_prefix + skey
                b = ab ^ (slot & 0xFFF)  # commitment.slot_bucket, inlined
                d = deltas.get(b, 0)
                if prev:
                    old32 = prev.to_bytes(32, "big")
                    d -= from_bytes(keccak(lkey + old32).digest(), "big")
                    if not value:
                        count -= 1
                else:
                    old32 = b""
                    if value:
                        count += 1
                if value:
                    new32 = value.to_bytes(32, "big")
                    d += from_bytes(keccak(lkey + new32).digest(), "big")
                    put(skey, new32, h_sto)
                else:
                    delete(skey, h_sto)
                deltas[b] = d
                if record:
                    add(lkey)
                    put(lkey + suffix, old32, h_hist)
            if record and (count > 0) != bool(cur):
                # Has-storage flipped: record it so historical views answer EIP-7610's
                # "account has storage" without scanning slots.
                key = HAS_STORAGE_PREFIX + address
                add(key)
                put(key + suffix, b"\x01" if cur else b"\x00", h_hist)
        h_code = self._h[CF_CODE]
        for code_hash, code in codes.items():
            put(code_hash, code, h_code)
            if record:
                add(CODE_PREFIX + code_hash)
        for code_hash in removed_codes:
            delete(code_hash, h_code)
        return deltas

    def _apply(
        self,
        acc_ops: AccountOps,
        sto_ops: StorageOps,
        codes: Mapping[Hash32, bytes],
        removed_codes: tuple[Hash32, ...] | set[Hash32],
    ) -> None:
        accounts = self._state.accounts
        storage = self._state.storage
        for address, account in acc_ops.items():
            if account is None:
                accounts.pop(address, None)
            else:
                accounts[address] = account
        for address, ops in sto_ops.items():
            cur = storage.get(address)
            if cur is None:
                cur = storage[address] = {}
            for slot, value in ops.items():
                if value:
                    cur[slot] = value
                else:
                    cur.pop(slot, None)
            if not cur:
                del storage[address]
        self._state.codes.update(codes)
        for code_hash in removed_codes:
            if code_hash != EMPTY_CODE_HASH:
                self._state.codes.pop(code_hash, None)

    def _stage_prune(self, batch: Batch, number: int) -> int:
        """Delete changesets that left the window; return the new oldest kept block."""
        first = self._history_first
        if self._window == 0:
            return first
        limit = number - self._window  # changesets <= limit are no longer needed
        if self._snapshots:
            # A snapshot must stay revertible: keep every changeset after it.
            limit = min(limit, min(self._snapshots.values()))
        stop = min(limit + 1, first + PRUNE_PER_COMMIT)
        if stop <= first:
            return first
        h_hist = self._h[CF_HISTORY]
        h_cs = self._h[CF_CHANGESETS]
        delete = batch.delete
        for block in range(first, stop):
            block8 = block.to_bytes(8, "big")
            data = self._backend.get(CF_CHANGESETS, block8)
            if data is None:
                continue
            # A state entry (kind | key) is its history key minus the block suffix, so
            # slice it out directly; state entries precede the chain entries.
            i, n = 0, len(data)
            while i < n:
                kind = data[i]
                if kind == KIND_CHAIN:
                    break
                end = i + 1 + KEY_LENGTH[kind]
                if kind != KIND_CODE:
                    delete(data[i:end] + block8, h_hist)
                i = end
            delete(block8, h_cs)
        return stop

    # --- snapshots and revert ------------------------------------------------------
    def snapshot(self) -> int:
        """Remember the head for ``evm_snapshot``: O(1), pins the history it needs."""
        self._check_open()
        snapshot_id = self._next_snapshot
        self._next_snapshot += 1
        self._snapshots[snapshot_id] = self._head
        return snapshot_id

    def revert(self, snapshot_id: int) -> None:
        """``evm_revert``: back to the snapshot's block; drops it and every later snapshot."""
        number = self._snapshots.get(snapshot_id)
        if number is None:
            raise StateDBError(f"unknown snapshot id {snapshot_id!r}")
        self.revert_to(number)
        for sid in [sid for sid in self._snapshots if sid >= snapshot_id]:
            del self._snapshots[sid]

    def revert_to(self, number: int) -> None:
        """Undo blocks head..number+1 in one atomic batch: state, history, chain records."""
        self._check_open()
        if type(number) is not int or not self._history_first - 1 <= number <= self._head:
            raise HistoryUnavailable(
                f"cannot revert to block {number!r} (revertible: "
                f"{self._history_first - 1}..{self._head})"
            )
        if number == self._head:
            return
        backend = self._backend
        h_hist = self._h[CF_HISTORY]
        h_cs = self._h[CF_CHANGESETS]
        batch = backend.new_batch()
        acc_pre: AccountOps = {}
        sto_pre: StorageOps = {}
        removed_codes: set[Hash32] = set()
        chain_pre: dict[tuple[int, bytes], bytes | None] = {}
        # Newest block first, so the pre-image of the oldest reverted block wins.
        for block in range(self._head, number, -1):
            block8 = block.to_bytes(8, "big")
            data = backend.get(CF_CHANGESETS, block8)
            if data is None:
                raise CorruptDatabase(f"changeset of block {block} is missing")
            entries, chain = decode_changeset(data)
            for kind, key in entries:
                if kind == KIND_CODE:
                    removed_codes.add(key)
                    continue
                prefix = bytes((kind,)) + key
                pre = backend.history_after(prefix, block8)
                if pre is None:
                    raise CorruptDatabase(f"history entry {prefix.hex()} of {block} missing")
                if kind == KIND_ACCOUNT:
                    acc_pre[key] = decode_account(pre) if pre else None
                elif kind == KIND_SLOT:
                    sto_pre.setdefault(key[:20], {})[int.from_bytes(key[20:], "big")] = (
                        int.from_bytes(pre, "big")
                    )
                batch.delete(prefix + block8, h_hist)
            for c in chain:
                chain_pre[(c.cf_id, c.key)] = c.value
            batch.delete(block8, h_cs)
        accounts = self._state.accounts
        acc_ops = {a: v for a, v in acc_pre.items() if accounts.get(a) != v}
        sto_ops: StorageOps = {}
        for address, pres in sto_pre.items():
            cur = self._state.storage.get(address) or _EMPTY
            ops = {slot: v for slot, v in pres.items() if cur.get(slot, 0) != v}
            if ops:
                sto_ops[address] = ops
        deltas = self._stage(batch, acc_ops, sto_ops, {}, removed_codes, [], None)
        update = self._commitment.prepare(deltas)
        for (cf_id, key), value in chain_pre.items():
            handle = backend.handle(CHAIN_CFS[cf_id])
            if value is None:
                batch.delete(key, handle)
            else:
                batch.put(key, value, handle)
        h_meta = self._h[CF_META]
        if number >= 0:
            batch.put(META_HEAD, number.to_bytes(8, "big") + update.root, h_meta)
        else:
            batch.delete(META_HEAD, h_meta)
        backend.write(batch)
        self._apply(acc_ops, sto_ops, {}, removed_codes)
        self._commitment.apply(update)
        if self._fork is not None:
            self._fork[0].forget_after(number)
        self._head = number
        self._generation += 1
        self._reverts.append(number)

    # --- chain records -------------------------------------------------------------
    def get_record(self, cf: str, key: bytes) -> bytes | None:
        self._check_open()
        _check_chain_cf(cf)
        return self._backend.get(cf, key)

    def put_records(self, chain_records: ChainRecords) -> None:
        """Write chain records outside any block, in one atomic batch.

        For node settings that change between blocks (a dev method's pending state
        edits, a changed chain id): such a write is not versioned, so no revert
        restores it; the caller owns keeping it right across reverts.
        """
        self._check_open()
        self._write_unversioned(_check_chain_records(chain_records))

    def _write_unversioned(self, entries: Iterable[tuple[str, bytes, bytes | None]]) -> None:
        """(column family, key, value or None to delete) in one batch, outside any block:
        no changeset, so no revert restores them."""
        backend = self._backend
        batch = backend.new_batch()
        written = False
        for cf, key, value in entries:
            written = True
            if value is None:
                batch.delete(key, backend.handle(cf))
            else:
                batch.put(key, value, backend.handle(cf))
        if written:
            backend.write(batch)

    def records(
        self, cf: str, start: bytes = b"", end: bytes | None = None, *, reverse: bool = False
    ) -> Iterator[tuple[bytes, bytes]]:
        """Records of ``cf`` with ``start <= key < end`` in key order (or reversed)."""
        self._check_open()
        _check_chain_cf(cf)
        return self._backend.items(cf, start, end, reverse)


def _check_chain_cf(cf: object) -> None:
    if cf not in CHAIN_CF_ID:
        raise InvalidStateInput(f"unknown chain record column family {cf!r}; use {CHAIN_CFS}")


def _check_chain_records(records: ChainRecords | None) -> list[tuple[str, bytes, bytes | None]]:
    out: list[tuple[str, bytes, bytes | None]] = []
    if not records:
        return out
    for cf, entries in records.items():
        _check_chain_cf(cf)
        for key, value in entries.items():
            if type(key) is not bytes or not 0 < len(key) < 1 << 16:
                raise InvalidStateInput(f"chain record key must be 1..65535 bytes, got {key!r}")
            if value is not None and type(value) is not bytes:
                raise InvalidStateInput(
                    f"chain record value must be bytes or None, got {type(value).__name__}"
                )
            out.append((cf, key, value))
    return out
