"""Block-level access lists (EIP-7928): the value types, the builder and the RLP codec.

Owns ``BlockAccessList`` and its parts (canonical by construction: every instance is
sorted and duplicate-free as EIP-7928 "Ordering, Uniqueness and Determinism" demands),
``build_block_access_list`` (one ``AccessStep`` per block access index: 0 for the
pre-block system calls, i + 1 for transaction i, n + 1 for the post-block system calls
and withdrawals), ``encode`` / ``decode`` (the EIP's RLP layout, decoded strictly) and
``bal_hash`` (the header's ``block_access_list_hash``). JSON lives at the wire, in
``rpc.namespaces.access_list``.

RLP layout (EIP-7928 "RLP Data Structures"; ethereum/execution-specs, Amsterdam):
``[[address, [[slot, [[index, value], ...]], ...], [slot, ...], [[index, balance], ...],
[[index, nonce], ...], [[index, code], ...]], ...]`` where slots, values and balances are
uint256, nonces uint64 and indices uint32, all as canonical RLP integers.

The builder works from what the executors report per index: the state before it, its
``StateDiff`` and its read set. Semantics (EIP-7928 "Recording Semantics" and "Edge
Cases"): every address read or changed is present, with empty lists if nothing changed;
a storage write is a change only when the value after the index differs from the value
before it, otherwise the slot is a read ("no-op writes"); a slot with a change at any
index is never in ``storage_reads``; balance, nonce and code entries are recorded only
when the value after the index differs from the value before it; an account deleted by
the index gets no nonce or code entry, a balance entry of 0 if it had a balance, and
the slots it touched as reads ("SELFDESTRUCT (in-transaction)"); a wipe of an account
that survives the index zeroes its non-zero slots ("Zeroing a slot"). Inclusion
follows the read set as reported: the executors decide what counts as an access
(EIP-7928 "Scope and Inclusion"), and what they report is what execution-specs'
state tracker records, which the devnet fixtures judge: every account and slot
loaded, by reverted frames too; nothing for an EIP-2930 entry, nor for
``SYSTEM_ADDRESS`` unless code reads it; no CALL*/EXTCODECOPY/SELFDESTRUCT target
whose static gas the frame could not pay (``jit.evm.instructions`` checks it before
the read). ``sequencer.builder.access_list_of`` adds the coinbase to every
transaction's index (a read when its fee is zero).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from jit import rlp
from statedb.types import (
    EMPTY_ACCOUNT,
    EMPTY_CODE_HASH,
    Address,
    Hash32,
    StateDiff,
    StateReader,
    keccak256,
)

MAX_INDEX: Final = 2**32 - 1  # BlockAccessIndex is uint32 (EIP-7928)
MAX_NONCE: Final = 2**64 - 1
MAX_UINT256: Final = 2**256 - 1

EMPTY_BAL_HASH: Final = keccak256(b"\xc0")  # keccak256(rlp.encode([])) (EIP-7928)


class InvalidBlockAccessList(ValueError):
    """A block access list that is malformed or not canonical (EIP-7928)."""


# ------------------------------------------------------------------------- values


def _check_index(index: int, what: str) -> None:
    if not 0 <= index <= MAX_INDEX:
        raise InvalidBlockAccessList(f"{what}: block access index {index} is not a uint32")


def _check_uint(value: int, limit: int, what: str) -> None:
    if not 0 <= value <= limit:
        raise InvalidBlockAccessList(f"{what}: {value} out of range")


@dataclass(frozen=True, slots=True)
class StorageChange:
    """A slot's value after block access index ``index``."""

    index: int
    value: int

    def __post_init__(self) -> None:
        _check_index(self.index, "storage change")
        _check_uint(self.value, MAX_UINT256, "storage value")


@dataclass(frozen=True, slots=True)
class BalanceChange:
    """An account's balance after block access index ``index``."""

    index: int
    balance: int

    def __post_init__(self) -> None:
        _check_index(self.index, "balance change")
        _check_uint(self.balance, MAX_UINT256, "balance")


@dataclass(frozen=True, slots=True)
class NonceChange:
    """An account's nonce after block access index ``index``."""

    index: int
    nonce: int

    def __post_init__(self) -> None:
        _check_index(self.index, "nonce change")
        _check_uint(self.nonce, MAX_NONCE, "nonce")


@dataclass(frozen=True, slots=True)
class CodeChange:
    """An account's code after block access index ``index`` (an EIP-7702 delegation
    indicator counts as code; b"" is a cleared delegation)."""

    index: int
    code: bytes

    def __post_init__(self) -> None:
        _check_index(self.index, "code change")


def _strictly_increasing(values: Iterable[int], what: str, account: Address = b"") -> None:
    """``values`` strictly increasing, or ``InvalidBlockAccessList`` naming ``what`` (of
    ``account``; the message is built only then: the seal checks every entry it makes)."""
    previous = -1
    for value in values:
        if value <= previous:
            where = f"account 0x{account.hex()} {what}" if account else what
            raise InvalidBlockAccessList(
                f"{where}: {value} after {previous} (must be strictly increasing)"
            )
        previous = value


@dataclass(frozen=True, slots=True)
class SlotChanges:
    """Every change to one storage slot, by ascending block access index."""

    slot: int
    changes: tuple[StorageChange, ...]

    def __post_init__(self) -> None:
        _check_uint(self.slot, MAX_UINT256, "storage slot")
        changes = self.changes
        if not changes:
            # EIP-7928: "Each SlotChanges entry MUST contain at least one StorageChange."
            raise InvalidBlockAccessList(f"slot {self.slot:#x}: no changes")
        if len(changes) > 1:
            _strictly_increasing((c.index for c in changes), f"slot {self.slot:#x} changes")


@dataclass(frozen=True, slots=True)
class AccountChanges:
    """Everything one address did in the block; all lists may be empty (a read only)."""

    address: Address
    storage_changes: tuple[SlotChanges, ...] = ()
    storage_reads: tuple[int, ...] = ()
    balance_changes: tuple[BalanceChange, ...] = ()
    nonce_changes: tuple[NonceChange, ...] = ()
    code_changes: tuple[CodeChange, ...] = ()

    def __post_init__(self) -> None:
        address = self.address
        if not isinstance(address, bytes) or len(address) != 20:
            raise InvalidBlockAccessList(f"address {address!r} is not 20 bytes")
        changed, reads = self.storage_changes, self.storage_reads
        # Lists of one entry are ordered: most of an ERC-20 block's accounts have only
        # those, and the seal checks every entry it makes.
        if len(changed) > 1:
            _strictly_increasing((s.slot for s in changed), "storage changes", address)
        for slot in reads:
            if not 0 <= slot <= MAX_UINT256:
                _check_uint(slot, MAX_UINT256, f"account 0x{address.hex()} storage read")
        if len(reads) > 1:
            _strictly_increasing(reads, "storage reads", address)
        for what, entries in (
            ("balance changes", self.balance_changes),
            ("nonce changes", self.nonce_changes),
            ("code changes", self.code_changes),
        ):
            if len(entries) > 1:
                _strictly_increasing((c.index for c in entries), what, address)
        if not changed or not reads:
            return
        # EIP-7928: a slot is in storage_changes or in storage_reads, never both. Both
        # lists are sorted, so one merge walk finds a common slot.
        i = 0
        for slot in reads:
            while i < len(changed) and changed[i].slot < slot:
                i += 1
            if i < len(changed) and changed[i].slot == slot:
                raise InvalidBlockAccessList(
                    f"account 0x{address.hex()}: slot {slot:#x} is both a storage change "
                    "and a storage read"
                )

    def max_index(self) -> int:
        """The highest block access index any change of this account names (-1: none)."""
        highest = -1
        for slot in self.storage_changes:
            highest = max(highest, slot.changes[-1].index)
        for changes in (self.balance_changes, self.nonce_changes, self.code_changes):
            if changes:
                highest = max(highest, changes[-1].index)
        return highest


@dataclass(frozen=True, slots=True)
class BlockAccessList:
    """A block's access list: accounts by ascending address, each address once."""

    accounts: tuple[AccountChanges, ...] = ()

    def __post_init__(self) -> None:
        previous = b""
        for account in self.accounts:
            if account.address <= previous:
                raise InvalidBlockAccessList(
                    f"account 0x{account.address.hex()} after 0x{previous.hex()} "
                    "(addresses must be strictly increasing)"
                )
            previous = account.address

    def max_index(self) -> int:
        """The highest block access index in the list (-1 when nothing changed)."""
        return max((a.max_index() for a in self.accounts), default=-1)


# ------------------------------------------------------------------------ builder


@dataclass(frozen=True, slots=True)
class AccessStep:
    """What one block access index did, as its executor reports it.

    ``pre`` is the state before the index (the block's start state plus the earlier
    indices' diffs), ``diff`` what the index changed (no-op writes allowed),
    ``account_reads`` every address whose account was loaded and ``storage_reads``
    every (address, slot) loaded from ``pre`` (``jit.evm.state.TxState.read_set``).

    A wipe (``storage_cleared``) of an account that survives the index zeroes its
    non-zero slots (EIP-7928 storage "Zeroing a slot"); they are listed with
    ``pre.storage_slots``. Such wipes are rare: from Cancun on (EIP-6780) only an
    account created in the same transaction is destroyed, so the case needs older fork
    rules or a pre-state with storage at a code-less address.
    """

    index: int
    pre: StateReader
    diff: StateDiff
    account_reads: frozenset[Address] = frozenset()
    storage_reads: frozenset[tuple[Address, int]] = frozenset()


class _Collected:
    """One address's entries while the builder runs, appended in index order."""

    __slots__ = ("balances", "codes", "nonces", "reads", "slots")

    def __init__(self) -> None:
        self.slots: dict[int, list[StorageChange]] = {}
        self.reads: set[int] = set()
        self.balances: list[BalanceChange] = []
        self.nonces: list[NonceChange] = []
        self.codes: list[CodeChange] = []

    def storage(self, index: int, slot: int, before: int, after: int) -> None:
        if after != before:
            self.slots.setdefault(slot, []).append(StorageChange(index, after))
        else:
            # EIP-7928: a write that leaves the value as it was is a read.
            self.reads.add(slot)

    def freeze(self, address: Address) -> AccountChanges:
        slots = self.slots
        return AccountChanges(
            address,
            tuple(SlotChanges(slot, tuple(slots[slot])) for slot in sorted(slots)),
            # EIP-7928: a slot changed at any index appears only in storage_changes.
            tuple(sorted(self.reads.difference(slots))),
            tuple(self.balances),
            tuple(self.nonces),
            tuple(self.codes),
        )


def build_block_access_list(steps: Iterable[AccessStep]) -> BlockAccessList:
    """The access list of a block from its steps, given by strictly increasing index.

    Linear in the size of the steps plus sorting the addresses and slots; each change
    is compared with ``step.pre`` with one point read.
    """
    collected: dict[Address, _Collected] = {}
    previous = -1
    for step in steps:
        _check_index(step.index, "access step")
        if step.index <= previous:
            raise ValueError(
                f"access step {step.index} after {previous}: indices must be strictly increasing"
            )
        previous = step.index
        _record(step, collected)
    return BlockAccessList(tuple(collected[a].freeze(a) for a in sorted(collected)))


def _record(step: AccessStep, collected: dict[Address, _Collected]) -> None:
    index, pre, diff = step.index, step.pre, step.diff

    def entry(address: Address) -> _Collected:
        found = collected.get(address)
        if found is None:
            found = collected[address] = _Collected()
        return found

    for address in step.account_reads:
        entry(address)

    deleted: set[Address] = set()
    for address, after in diff.accounts.items():
        account = entry(address)
        before = pre.get_account(address) or EMPTY_ACCOUNT
        if after is None:
            # EIP-7928 "SELFDESTRUCT (in-transaction)": no nonce or code entry; the
            # balance goes to zero, recorded only if it was positive.
            deleted.add(address)
            if before.balance:
                account.balances.append(BalanceChange(index, 0))
            continue
        if after.balance != before.balance:
            account.balances.append(BalanceChange(index, after.balance))
        if after.nonce != before.nonce:
            account.nonces.append(NonceChange(index, after.nonce))
        if after.code_hash != before.code_hash:
            account.codes.append(CodeChange(index, _code(after.code_hash, diff, pre)))

    reads_by_address: dict[Address, list[int]] = {}
    for address, slot in step.storage_reads:
        reads_by_address.setdefault(address, []).append(slot)
    wiped = diff.storage_cleared
    for address in reads_by_address.keys() | diff.storage.keys() | wiped:
        account = entry(address)
        reads = reads_by_address.get(address, ())
        writes = diff.storage.get(address) or {}
        account.reads.update(reads)
        if address in deleted:
            # EIP-7928: the slots of a destroyed account that were written or read
            # are storage reads.
            account.reads.update(writes)
        elif address in wiped:
            touched = set(reads).union(writes)
            for slot in touched:
                account.storage(index, slot, pre.get_storage(address, slot), writes.get(slot, 0))
            for slot in set(pre.storage_slots(address)).difference(touched):
                # A slot the index never touched is in the list only if the wipe
                # zeroed it (a zero slot was neither read nor changed).
                if pre.get_storage(address, slot):
                    account.slots.setdefault(slot, []).append(StorageChange(index, 0))
        else:
            for slot, value in writes.items():
                account.storage(index, slot, pre.get_storage(address, slot), value)


def _code(code_hash: Hash32, diff: StateDiff, pre: StateReader) -> bytes:
    if code_hash == EMPTY_CODE_HASH:
        return b""
    code = diff.codes.get(code_hash)
    if code is not None:
        return code
    try:
        code = pre.get_code(code_hash)
    except KeyError:
        code = None
    if code is None or keccak256(code) != code_hash:
        raise ValueError(f"code 0x{code_hash.hex()} is neither in the diff nor in the state")
    return code


# -------------------------------------------------------------------------- codec


def encode(bal: BlockAccessList) -> bytes:
    """The EIP-7928 RLP encoding (``0xc0`` for an empty list)."""
    return encode_accounts(bal.accounts)


def encode_accounts(accounts: Sequence[AccountChanges]) -> bytes:
    """The RLP list of ``accounts`` in the order given (``encode`` of a canonical list;
    a block's list as it came, to check its hash before its order). Written out field by
    field rather than through nested lists for ``rlp.encode`` to walk: the seal encodes
    an entry for every changed field of every transaction of an Amsterdam block."""
    return _rlp_list(b"".join([_encode_account(a) for a in accounts]))


def _rlp_list(payload: bytes) -> bytes:
    return rlp.list_header(len(payload)) + payload


def _encode_account(a: AccountChanges) -> bytes:
    item = rlp.encode  # an int or a bytes: its first, shortest paths
    storage = b"".join(
        [
            _rlp_list(
                item(s.slot)
                + _rlp_list(b"".join([_rlp_list(item(c.index) + item(c.value)) for c in s.changes]))
            )
            for s in a.storage_changes
        ]
    )
    reads = b"".join([item(slot) for slot in a.storage_reads])
    balances = b"".join([_rlp_list(item(c.index) + item(c.balance)) for c in a.balance_changes])
    nonces = b"".join([_rlp_list(item(c.index) + item(c.nonce)) for c in a.nonce_changes])
    codes = b"".join([_rlp_list(item(c.index) + item(c.code)) for c in a.code_changes])
    return _rlp_list(
        item(a.address)
        + _rlp_list(storage)
        + _rlp_list(reads)
        + _rlp_list(balances)
        + _rlp_list(nonces)
        + _rlp_list(codes)
    )


ACCESS_LIST_RECORD: Final = b"access-list/"


def record_key(number: int) -> bytes:
    """The sequencer's chain-meta key of block ``number``'s encoded access list."""
    return ACCESS_LIST_RECORD + number.to_bytes(8, "big")


def bal_hash(bal: BlockAccessList) -> Hash32:
    """``block_access_list_hash``: keccak256 of the RLP encoding (EIP-7928)."""
    return keccak256(encode(bal))


def decode(
    data: bytes | bytearray | memoryview, *, max_index: int | None = None
) -> BlockAccessList:
    """The access list RLP-encoded in ``data``, strictly: non-canonical RLP or integers,
    wrong shapes, unsorted or duplicate entries and out-of-range values raise
    ``InvalidBlockAccessList``. ``max_index`` (the block's transaction count + 1)
    also rejects indices beyond the block (EIP-7928: "MUST never be higher than
    len(transactions) + 1")."""
    try:
        item = rlp.decode(bytes(data))
    except rlp.RLPDecodingError as error:
        raise InvalidBlockAccessList(f"malformed RLP: {error}") from None
    except RecursionError:
        # jit.rlp recurses per nesting level; a BAL nests five deep, hostile input more.
        raise InvalidBlockAccessList("malformed RLP: nested too deeply") from None
    try:
        bal = BlockAccessList(
            tuple(_decode_account(account, n) for n, account in enumerate(_list(item, "the list")))
        )
    except rlp.RLPDecodingError as error:
        raise InvalidBlockAccessList(str(error)) from None
    if max_index is not None and bal.max_index() > max_index:
        raise InvalidBlockAccessList(
            f"block access index {bal.max_index()} is beyond the block (at most {max_index})"
        )
    return bal


def _list(item: rlp.Item, what: str) -> list[rlp.Item]:
    if not isinstance(item, list):
        raise InvalidBlockAccessList(f"{what}: expected a list, got a string")
    return item


def _bytes(item: rlp.Item, what: str) -> bytes:
    if not isinstance(item, bytes):
        raise InvalidBlockAccessList(f"{what}: expected a string, got a list")
    return item


def _fields(item: rlp.Item, count: int, what: str) -> list[rlp.Item]:
    fields = _list(item, what)
    if len(fields) != count:
        raise InvalidBlockAccessList(f"{what}: expected {count} fields, got {len(fields)}")
    return fields


def _pairs(item: rlp.Item, what: str, bits: int) -> list[tuple[int, int]]:
    out = []
    for n, pair in enumerate(_list(item, what)):
        index, value = _fields(pair, 2, f"{what}[{n}]")
        out.append(
            (
                rlp.decode_uint(index, max_bits=32, name=f"{what}[{n}] index"),
                rlp.decode_uint(value, max_bits=bits, name=f"{what}[{n}] value"),
            )
        )
    return out


def _decode_account(item: rlp.Item, n: int) -> AccountChanges:
    what = f"account {n}"
    raw_address, raw_storage, raw_reads, raw_balances, raw_nonces, raw_codes = _fields(
        item, 6, what
    )
    address = _bytes(raw_address, f"{what} address")
    if len(address) != 20:
        raise InvalidBlockAccessList(f"{what} address: {len(address)} bytes, want 20")
    storage = []
    for m, raw_slot in enumerate(_list(raw_storage, f"{what} storage changes")):
        where = f"{what} storage changes[{m}]"
        slot, changes = _fields(raw_slot, 2, where)
        storage.append(
            SlotChanges(
                rlp.decode_uint(slot, name=f"{where} slot"),
                tuple(StorageChange(i, v) for i, v in _pairs(changes, f"{where} changes", 256)),
            )
        )
    reads = tuple(
        rlp.decode_uint(slot, name=f"{what} storage reads[{m}]")
        for m, slot in enumerate(_list(raw_reads, f"{what} storage reads"))
    )
    codes = []
    for m, pair in enumerate(_list(raw_codes, f"{what} code changes")):
        index, code = _fields(pair, 2, f"{what} code changes[{m}]")
        codes.append(
            CodeChange(
                rlp.decode_uint(index, max_bits=32, name=f"{what} code changes[{m}] index"),
                _bytes(code, f"{what} code changes[{m}] code"),
            )
        )
    return AccountChanges(
        address,
        tuple(storage),
        reads,
        tuple(BalanceChange(i, v) for i, v in _pairs(raw_balances, f"{what} balances", 256)),
        tuple(NonceChange(i, v) for i, v in _pairs(raw_nonces, f"{what} nonces", 64)),
        tuple(codes),
    )
