"""The state root that goes in block headers (not an MPT root; after MegaETH's SALT).

Owns the construction, its incremental update and its from-scratch recomputation.

Construction (documented in docs/architecture.md, "State commitment"):

* Every state entry is a (key, value) pair keyed by its encoded state key
  (``statedb.keys``): an account
  ``0x01 | address(20) -> nonce(8) | balance(32) | code_hash(32)`` or a non-zero
  storage slot ``0x02 | address(20) | slot(32) -> value(32)``. Its leaf is
  ``keccak256(key | value)`` read as a 256-bit integer. Code is bound through the
  account's code hash (the code table is content-addressed and checked on insert).
* ``BUCKETS`` = 4096 fixed buckets. An entry's bucket depends on its key only: the
  top 12 bits of the address for an account; for a slot that, xor the slot's low
  12 bits (so a contract's slots spread over buckets).
* A bucket's digest is the sum of its entries' leaves mod 2**256. The sum is
  homomorphic: changing an entry costs ``digest - leaf(old) + leaf(new)``, two
  keccaks, whatever the bucket's size, and it does not depend on insertion order.
* A fixed 16-ary Merkle tree over the 4096 digests (32-byte big-endian) held in
  memory: 256 level-1 nodes, 16 level-2 nodes, each ``keccak256`` of its 16
  children concatenated; the root is ``keccak256(DOMAIN | 16 level-2 nodes)``.

So the root is a function of the set of entries alone, changes with any account
field or slot, and a block costs two keccaks per changed entry plus at most one
512-byte keccak per dirty tree node (<= 273 per block).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import sha3

from statedb.keys import SLOT_PREFIX, account_key, encode_account
from statedb.types import Account, Address

DOMAIN: Final = b"hummingbird/state-root/v1"
BUCKET_BITS: Final = 12
BUCKETS: Final = 1 << BUCKET_BITS
BUCKET_MASK: Final = BUCKETS - 1
FANOUT_BITS: Final = 4
FANOUT: Final = 1 << FANOUT_BITS
NODE_BYTES: Final = 32 * FANOUT
WORD_MASK: Final = 2**256 - 1
# Level sizes in nodes, bottom (bucket digests) to the last level below the root.
LEVEL_SIZES: Final = (BUCKETS, BUCKETS >> FANOUT_BITS, BUCKETS >> 2 * FANOUT_BITS)

_keccak = sha3.keccak_256


def account_bucket(address: Address) -> int:
    return (address[0] << 4) | (address[1] >> 4)


def slot_bucket(address_bucket: int, slot: int) -> int:
    return address_bucket ^ (slot & BUCKET_MASK)


def account_leaf(address: Address, account: Account) -> int:
    return int.from_bytes(_keccak(account_key(address) + encode_account(account)).digest(), "big")


def storage_leaf(storage_key: bytes, value: int) -> int:
    """``storage_key`` is address(20) | slot(32) (statedb.keys.storage_key)."""
    return int.from_bytes(
        _keccak(SLOT_PREFIX + storage_key + value.to_bytes(32, "big")).digest(), "big"
    )


@dataclass(frozen=True, slots=True)
class CommitmentUpdate:
    """A prepared change: the new root and what to install if the block commits."""

    root: bytes
    sums: dict[int, int]
    # The tree's levels after the change (0 = bucket digests), or () if nothing changed.
    levels: tuple[bytearray, ...]


class Commitment:
    """The bucket sums and the in-memory tree over them. Mutated only by ``apply``."""

    __slots__ = ("_levels", "_root", "_sums")

    def __init__(self, sums: list[int] | None = None) -> None:
        if sums is None:
            sums = [0] * BUCKETS
        if len(sums) != BUCKETS:
            raise ValueError(f"expected {BUCKETS} bucket sums, got {len(sums)}")
        self._sums = sums
        level0 = bytearray(b"".join(s.to_bytes(32, "big") for s in sums))
        self._levels = [level0]
        for size in LEVEL_SIZES[1:]:
            below = self._levels[-1]
            self._levels.append(
                bytearray(
                    b"".join(
                        _keccak(below[i * NODE_BYTES : (i + 1) * NODE_BYTES]).digest()
                        for i in range(size)
                    )
                )
            )
        self._root = _keccak(DOMAIN + bytes(self._levels[-1])).digest()

    @classmethod
    def from_state(
        cls, accounts: Mapping[Address, Account], storage: Mapping[Address, Mapping[int, int]]
    ) -> Commitment:
        """Recompute from scratch (reopen after a crash; the tests' oracle)."""
        sums = [0] * BUCKETS
        for address, account in accounts.items():
            b = account_bucket(address)
            sums[b] += account_leaf(address, account)
        for address, slots in storage.items():
            ab = account_bucket(address)
            for slot, value in slots.items():
                if value:
                    sums[ab ^ (slot & BUCKET_MASK)] += storage_leaf(
                        address + slot.to_bytes(32, "big"), value
                    )
        return cls([s & WORD_MASK for s in sums])

    @classmethod
    def from_bytes(cls, data: bytes) -> Commitment:
        if len(data) != 32 * BUCKETS:
            raise ValueError("bad commitment checkpoint length")
        return cls([int.from_bytes(data[i : i + 32], "big") for i in range(0, len(data), 32)])

    def to_bytes(self) -> bytes:
        return bytes(self._levels[0])

    @property
    def root(self) -> bytes:
        return self._root

    def prepare(self, deltas: Mapping[int, int]) -> CommitmentUpdate:
        """The root after adding ``deltas`` (bucket -> signed change), without mutating.

        Each level is copied whole (128 KiB, 8 KiB, 512 bytes: a few microseconds of
        memcpy) and patched in place, so a dirty node's children are one slice of the
        level below and its digest one keccak, with no per-child bookkeeping."""
        old_sums = self._sums
        sums: dict[int, int] = {}
        for b, d in deltas.items():
            s = (old_sums[b] + d) & WORD_MASK
            if s != old_sums[b]:
                sums[b] = s
        if not sums:
            return CommitmentUpdate(self._root, sums, ())
        keccak = _keccak
        below = bytearray(self._levels[0])
        for b, s in sums.items():
            below[b * 32 : b * 32 + 32] = s.to_bytes(32, "big")
        levels = [below]
        dirty = {b >> FANOUT_BITS for b in sums}
        for old in self._levels[1:]:
            above = bytearray(old)
            for parent in dirty:
                start = parent * NODE_BYTES
                above[parent * 32 : parent * 32 + 32] = keccak(
                    below[start : start + NODE_BYTES]
                ).digest()
            levels.append(above)
            below = above
            dirty = {parent >> FANOUT_BITS for parent in dirty}
        return CommitmentUpdate(keccak(DOMAIN + bytes(below)).digest(), sums, tuple(levels))

    def apply(self, update: CommitmentUpdate) -> None:
        sums = self._sums
        for b, s in update.sums.items():
            sums[b] = s
        if update.levels:
            self._levels = list(update.levels)
        self._root = update.root


def compute_root(
    accounts: Mapping[Address, Account], storage: Mapping[Address, Mapping[int, int]]
) -> bytes:
    """The state root of a whole state, from scratch."""
    return Commitment.from_state(accounts, storage).root
