"""The state of a forked node's upstream at the fork block, read lazily (issue 19).

Owns the questions a forked node asks its upstream and the answers it keeps:

- ``resolve_fork_point``: the block the node forks from (``--fork-block-number``, or the
  upstream's head), its hash, state root and the fields the next local block's header
  inherits, checked against ``--fork-chain-id``;
- ``ForkState``: accounts (balance, nonce, code), storage slots and block hashes at that
  block, each fetched once (an account's three fields in one JSON-RPC batch, many slots
  in one batch, several batches at once on a few threads: ``prefetch``) and kept in
  memory and, with a data directory, in ``ForkCache`` so a restart does not fetch again.

Every answer is checked (``sequencer.fork.upstream``) before it is kept: a malformed
one is an error, never a cached value. Cache records are keyed by the fork block's hash
(another fork point never reads them) and carry a kind byte and a fixed layout; one
that does not decode is dropped and fetched again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final, Protocol

from sequencer.fork.upstream import (
    Upstream,
    UpstreamMalformed,
    UpstreamRejected,
    data,
    quantity,
    word,
)
from sequencer.trie import EMPTY_TRIE_ROOT
from sequencer.types.blocks import EMPTY_OMMERS_HASH, EMPTY_REQUESTS_HASH, ZERO_HASH, Header
from statedb.types import EMPTY_CODE_HASH, Account, Address, Hash32, keccak256

BATCH_SIZE: Final = 100  # calls per JSON-RPC batch (public endpoints cap batches)
FETCH_THREADS: Final = 4  # batches in flight at once
_ACCOUNT: Final = b"a"  # cache kinds
_STORAGE: Final = b"s"
_CODE: Final = b"c"
_BLOCK_HASH: Final = b"h"
_HAS_STORAGE: Final = b"p"
_ABSENT: Final = b"\x00"  # an account record for "no account at the fork block"


@dataclass(frozen=True, slots=True)
class ForkPoint:
    """The upstream block the node forks from: its number, hash and header (every field
    the upstream sent; one it did not send, e.g. ``requestsHash`` before Prague, takes
    our default, and then ``header.hash()`` is not ``hash``: ``exact_header``)."""

    chain_id: int
    number: int
    hash: Hash32
    header: Header

    @property
    def exact_header(self) -> bool:
        return self.header.hash() == self.hash


def resolve_fork_point(
    upstream: Upstream, block_number: int | None, expected_chain_id: int | None
) -> ForkPoint:
    """The fork block: ``block_number`` (None: the upstream's head) on the upstream,
    whose chain id must be ``expected_chain_id`` when given; ``ValueError`` with the
    reason for a block the upstream does not have or a chain id that does not match."""
    chain_id_raw, block = upstream.batch(
        [
            ("eth_chainId", []),
            (
                "eth_getBlockByNumber",
                ["latest" if block_number is None else hex(block_number), False],
            ),
        ]
    )
    chain_id = quantity(chain_id_raw, "eth_chainId", 64)
    if expected_chain_id is not None and chain_id != expected_chain_id:
        raise ValueError(
            f"the upstream's chain id is {chain_id}, --fork-chain-id says {expected_chain_id}"
        )
    if block is None:
        raise ValueError(f"the upstream has no block {block_number}")
    if not isinstance(block, dict):
        raise UpstreamMalformed("eth_getBlockByNumber: not a block object")
    number = quantity(block.get("number"), "block number", 64)
    if block_number is not None and number != block_number:
        raise UpstreamMalformed(f"asked for block {block_number}, the upstream sent {number}")
    return ForkPoint(chain_id, number, data(block.get("hash"), "block hash", 32), header_of(block))


def header_of(block: dict[str, Any]) -> Header:
    """A ``Header`` of the upstream's block object (checked field by field)."""

    def word32(name: str, default: bytes = ZERO_HASH) -> bytes:
        value = block.get(name)
        return default if value is None else data(value, name, 32)

    def number(name: str, default: int = 0, bits: int = 64) -> int:
        value = block.get(name)
        return default if value is None else quantity(value, name, bits)

    bloom = block.get("logsBloom")
    nonce = block.get("nonce")
    # Amsterdam's two fields (EIP-7928, EIP-7843) go together: a block with both keeps them.
    amsterdam = block.get("blockAccessListHash") is not None and block.get("slotNumber") is not None
    return Header(
        parent_hash=word32("parentHash"),
        coinbase=data(block.get("miner"), "miner", 20),
        state_root=word32("stateRoot"),
        transactions_root=word32("transactionsRoot"),
        receipts_root=word32("receiptsRoot"),
        logs_bloom=b"\x00" * 256 if bloom is None else data(bloom, "logsBloom", 256),
        number=number("number"),
        gas_limit=number("gasLimit"),
        gas_used=number("gasUsed"),
        timestamp=number("timestamp"),
        base_fee_per_gas=number("baseFeePerGas", 0, 256),
        withdrawals_root=word32("withdrawalsRoot", EMPTY_TRIE_ROOT),
        blob_gas_used=number("blobGasUsed"),
        excess_blob_gas=number("excessBlobGas"),
        parent_beacon_block_root=word32("parentBeaconBlockRoot"),
        requests_hash=word32("requestsHash", EMPTY_REQUESTS_HASH),
        extra_data=data(block.get("extraData", "0x"), "extraData", limit=1024),
        prev_randao=word32("mixHash"),
        ommers_hash=word32("sha3Uncles", EMPTY_OMMERS_HASH),
        difficulty=number("difficulty", 0, 256),
        nonce=b"\x00" * 8 if nonce is None else data(nonce, "nonce", 8),
        block_access_list_hash=word32("blockAccessListHash") if amsterdam else None,
        slot_number=number("slotNumber") if amsterdam else None,
    )


class CacheStore(Protocol):
    """Where fetched values are kept (``StateDB``'s ``CF_FORK_CACHE``)."""

    def fork_cache_get(self, key: bytes) -> bytes | None: ...

    def fork_cache_write(self, entries: Mapping[bytes, bytes | None]) -> None: ...


class ForkCache:
    """Fetched upstream values in ``store`` (None: memory only), keyed by the fork
    block's hash, so another fork point never reads them."""

    def __init__(self, store: CacheStore | None, fork_hash: Hash32) -> None:
        self._prefix = fork_hash
        self.store = store

    def get(self, kind: bytes, key: bytes) -> bytes | None:
        if self.store is None:
            return None
        return self.store.fork_cache_get(self._prefix + kind + key)

    def put_many(self, entries: Iterable[tuple[bytes, bytes, bytes]]) -> None:
        """(kind, key, value) entries, in one write."""
        if self.store is not None:
            self.store.fork_cache_write({self._prefix + k + key: v for k, key, v in entries})

    def put(self, kind: bytes, key: bytes, value: bytes) -> None:
        self.put_many(((kind, key, value),))

    def drop(self, kind: bytes, key: bytes) -> None:
        if self.store is not None:
            self.store.fork_cache_write({self._prefix + kind + key: None})


class ForkState:
    """The upstream's state after block ``number`` (hash ``block_hash``), fetched on
    first use and kept (thread-safe)."""

    def __init__(
        self, upstream: Upstream, number: int, block_hash: Hash32, cache: ForkCache
    ) -> None:
        self.upstream = upstream
        self.number = number
        self.cache = cache
        self._block = hex(number)
        self._accounts: dict[Address, Account | None] = {}
        self._storage: dict[tuple[Address, int], int] = {}
        self._codes: dict[Hash32, bytes] = {EMPTY_CODE_HASH: b""}
        self._hashes: dict[int, Hash32] = {number: block_hash}
        self._has_storage: dict[Address, bool] = {}
        self._lock = threading.Lock()

    # -- reads -----------------------------------------------------------------------

    def account(self, address: Address) -> Account | None:
        """The account at the fork block (None: none there: no balance, nonce or code)."""
        if address in self._accounts:
            return self._accounts[address]
        self.prefetch(accounts=(address,))
        return self._accounts[address]

    def code(self, code_hash: Hash32) -> bytes | None:
        """Code already fetched with its account (None: not seen)."""
        found = self._codes.get(code_hash)
        if found is None:
            cached = self.cache.get(_CODE, code_hash)
            if cached is not None and keccak256(cached) == code_hash:
                self._codes[code_hash] = cached
                return cached
        return found

    def storage(self, address: Address, slot: int) -> int:
        key = (address, slot)
        if key in self._storage:
            return self._storage[key]
        self.prefetch(slots=((address, slot),))
        return self._storage[key]

    def has_storage(self, address: Address) -> bool:
        """Whether the account has any storage at the fork block: its ``eth_getProof``
        storage hash is not the empty trie's (an upstream without ``eth_getProof``: the
        account is taken to have storage if it has code, which is what CREATE's
        collision check, the one caller, needs in practice)."""
        if address in self._has_storage:
            return self._has_storage[address]
        cached = self.cache.get(_HAS_STORAGE, address)
        if cached in (b"\x00", b"\x01"):
            found = cached == b"\x01"
        else:
            try:
                proof = self.upstream.call("eth_getProof", ["0x" + address.hex(), [], self._block])
            except UpstreamRejected:
                account = self.account(address)
                found = account is not None and account.code_hash != EMPTY_CODE_HASH
            else:
                if not isinstance(proof, dict):
                    raise UpstreamMalformed("eth_getProof: not a proof object")
                found = data(proof.get("storageHash"), "storageHash", 32) != EMPTY_TRIE_ROOT
            self.cache.put(_HAS_STORAGE, address, b"\x01" if found else b"\x00")
        self._has_storage[address] = found
        return found

    def block_hash(self, number: int) -> Hash32 | None:
        """The hash of upstream block ``number`` (at most the fork block; None above)."""
        if number > self.number or number < 0:
            return None
        found = self._hashes.get(number)
        if found is not None:
            return found
        key = number.to_bytes(8, "big")
        cached = self.cache.get(_BLOCK_HASH, key)
        if cached is not None and len(cached) == 32:
            self._hashes[number] = cached
            return cached
        block = self.upstream.call("eth_getBlockByNumber", [hex(number), False])
        if not isinstance(block, dict):
            raise UpstreamMalformed(f"the upstream has no block {number} below the fork block")
        if quantity(block.get("number"), "block number", 64) != number:
            raise UpstreamMalformed(f"asked for block {number}, the upstream sent another")
        found = data(block.get("hash"), "block hash", 32)
        self._hashes[number] = found
        self.cache.put(_BLOCK_HASH, key, found)
        return found

    # -- fetching --------------------------------------------------------------------

    def prefetch(
        self,
        accounts: Iterable[Address] = (),
        slots: Iterable[tuple[Address, int]] = (),
    ) -> None:
        """Fetch what is not known yet: from the cache, else from the upstream in batches
        of ``BATCH_SIZE`` calls, up to ``FETCH_THREADS`` batches at once."""
        wanted_accounts = [a for a in dict.fromkeys(accounts) if a not in self._accounts]
        wanted_slots = [k for k in dict.fromkeys(slots) if k not in self._storage]
        wanted_accounts = [a for a in wanted_accounts if not self._from_cache_account(a)]
        wanted_slots = [k for k in wanted_slots if not self._from_cache_slot(k)]
        calls: list[tuple[str, list[Any]]] = []
        for address in wanted_accounts:
            where = "0x" + address.hex()
            calls += [
                ("eth_getBalance", [where, self._block]),
                ("eth_getTransactionCount", [where, self._block]),
                ("eth_getCode", [where, self._block]),
            ]
        for address, slot in wanted_slots:
            calls.append(("eth_getStorageAt", ["0x" + address.hex(), hex(slot), self._block]))
        if not calls:
            return
        chunks = [calls[i : i + BATCH_SIZE] for i in range(0, len(calls), BATCH_SIZE)]
        if len(chunks) == 1:
            results = self.upstream.batch(chunks[0])
        else:
            with ThreadPoolExecutor(min(FETCH_THREADS, len(chunks))) as pool:
                results = [r for part in pool.map(self.upstream.batch, chunks) for r in part]
        self._keep(wanted_accounts, wanted_slots, results)

    def _keep(
        self, accounts: Sequence[Address], slots: Sequence[tuple[Address, int]], results: list[Any]
    ) -> None:
        """Check every answer first, then keep them all (nothing half-kept on an error)."""
        fetched: list[tuple[Address, Account | None, bytes]] = []
        for i, address in enumerate(accounts):
            balance_raw, nonce_raw, code_raw = results[3 * i : 3 * i + 3]
            balance = quantity(balance_raw, f"eth_getBalance of 0x{address.hex()}")
            nonce = quantity(nonce_raw, f"eth_getTransactionCount of 0x{address.hex()}", 64)
            code = data(code_raw, f"eth_getCode of 0x{address.hex()}", limit=1 << 20)
            code_hash = keccak256(code) if code else EMPTY_CODE_HASH
            account = None if not (balance or nonce or code) else Account(nonce, balance, code_hash)
            fetched.append((address, account, code))
        base = 3 * len(accounts)
        words = [
            word(results[base + j], f"eth_getStorageAt of 0x{a.hex()} slot {s}")
            for j, (a, s) in enumerate(slots)
        ]
        kept: list[tuple[bytes, bytes, bytes]] = []
        with self._lock:
            for address, account, code in fetched:
                self._accounts[address] = account
                if account is None:
                    kept.append((_ACCOUNT, address, _ABSENT))
                    continue
                self._codes[account.code_hash] = code
                if code:
                    kept.append((_CODE, account.code_hash, code))
                kept.append((_ACCOUNT, address, _encode_account(account)))
            for (address, slot), value in zip(slots, words, strict=True):
                self._storage[(address, slot)] = value
                kept.append(
                    (_STORAGE, address + slot.to_bytes(32, "big"), value.to_bytes(32, "big"))
                )
        self.cache.put_many(kept)

    def _from_cache_account(self, address: Address) -> bool:
        raw = self.cache.get(_ACCOUNT, address)
        if raw is None:
            return False
        if raw == _ABSENT:
            self._accounts[address] = None
            return True
        account = _decode_account(raw)
        if account is None or (
            account.code_hash != EMPTY_CODE_HASH and self.code(account.code_hash) is None
        ):
            self.cache.drop(_ACCOUNT, address)  # unreadable, or its code is missing
            return False
        self._accounts[address] = account
        return True

    def _from_cache_slot(self, key: tuple[Address, int]) -> bool:
        raw = self.cache.get(_STORAGE, key[0] + key[1].to_bytes(32, "big"))
        if raw is None:
            return False
        if len(raw) != 32:
            self.cache.drop(_STORAGE, key[0] + key[1].to_bytes(32, "big"))
            return False
        self._storage[key] = int.from_bytes(raw, "big")
        return True


def _encode_account(account: Account) -> bytes:
    """nonce (8) | balance (32) | code hash (32)."""
    return (
        account.nonce.to_bytes(8, "big") + account.balance.to_bytes(32, "big") + account.code_hash
    )


def _decode_account(raw: bytes) -> Account | None:
    if len(raw) != 72:
        return None
    return Account(int.from_bytes(raw[:8], "big"), int.from_bytes(raw[8:40], "big"), raw[40:])


class UpstreamView:
    """A ``StateReader`` over a ``ForkState`` alone (a fork's state before the fork
    block, read from the upstream). Its storage cannot be listed."""

    __slots__ = ("state",)

    def __init__(self, state: ForkState) -> None:
        self.state = state

    def get_account(self, address: Address) -> Account | None:
        return self.state.account(address)

    def get_storage(self, address: Address, slot: int) -> int:
        return self.state.storage(address, slot)

    def get_code(self, code_hash: Hash32) -> bytes:
        code = self.state.code(code_hash)
        if code is None:
            raise KeyError(code_hash)
        return code

    def account_has_storage(self, address: Address) -> bool:
        return self.state.has_storage(address)

    def storage_slots(self, address: Address) -> Iterable[int]:
        return ()


__all__ = [
    "BATCH_SIZE",
    "ForkCache",
    "ForkPoint",
    "ForkState",
    "UpstreamView",
    "header_of",
    "resolve_fork_point",
]
