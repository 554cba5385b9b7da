"""A node's fork of its upstream (issue 19): the fork point, the state and the first block.

Owns ``Fork``: the upstream client, the fork
point (resolved once: on the first start from ``--fork-block-number`` or the upstream's
head, on a restart the one the data directory recorded, which the upstream must still
have under the same hash), the lazily read ``ForkState`` with its cache in the data
database (``CF_FORK_CACHE``), the local chain's first block (the fork block
itself, its header as the upstream sent it) and the dev accounts' state over the
upstream's (anvil's rule: each keeps its upstream nonce and code, its balance is set).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Final

import orjson

from sequencer.config import ConfigError, ForkConfig
from sequencer.fork.source import (
    CacheStore,
    ForkCache,
    ForkPoint,
    ForkState,
    UpstreamView,
    header_of,
    resolve_fork_point,
)
from sequencer.fork.upstream import Upstream, UpstreamError, UpstreamMalformed, data, quantity
from sequencer.types.blocks import EMPTY_BLOOM, Header, MiniBlock, Receipt, block_size
from sequencer.types.transactions import InvalidTransactionEncoding, decode_transaction
from statedb.types import (
    EMPTY_CODE_HASH,
    Account,
    Address,
    Hash32,
    StateDiff,
    StateReader,
    keccak256,
)

log = logging.getLogger("hummingbird.fork")

POINT_RECORD_SIZE: Final = 8 + 8 + 32  # chain id | number | hash
OLDER_STATES: Final = 16  # upstream states before the fork block kept at once
_HISTORY: Final = b"r"  # cache kind: an upstream chain read's JSON answer


def encode_point(point: ForkPoint) -> bytes:
    return point.chain_id.to_bytes(8, "big") + point.number.to_bytes(8, "big") + point.hash


def decode_point(raw: bytes) -> tuple[int, int, Hash32]:
    """(chain id, number, hash) of a recorded fork point; ``ConfigError`` if unreadable."""
    if len(raw) != POINT_RECORD_SIZE:
        raise ConfigError("the data directory's fork point record is unreadable")
    return int.from_bytes(raw[:8], "big"), int.from_bytes(raw[8:16], "big"), raw[16:]


class Fork:
    """The upstream a forked node reads through. ``resolve`` before anything else."""

    def __init__(self, config: ForkConfig) -> None:
        self.config = config
        self.upstream = Upstream(config.upstream)
        self._point: ForkPoint | None = None
        self._state: ForkState | None = None
        self._older: dict[int, UpstreamView] = {}  # states before the fork block

    @property
    def point(self) -> ForkPoint:
        assert self._point is not None, "Fork.resolve first"
        return self._point

    @property
    def state(self) -> ForkState:
        assert self._state is not None, "Fork.resolve first"
        return self._state

    def resolve(self, recorded: bytes | None, store: CacheStore | None) -> ForkPoint:
        """The fork point: ``recorded`` (the data directory's, which the upstream must
        still have) or, on a first start, the configured block. ``ConfigError`` saying
        what is wrong with the upstream otherwise."""
        if self._point is not None:
            self.state.cache = ForkCache(store, self._point.hash)  # the database reopened
            return self._point
        url = self.config.upstream.redacted_url
        stored = None if recorded is None else decode_point(recorded)
        number = stored[1] if stored is not None else self.config.block_number
        try:
            point = resolve_fork_point(self.upstream, number, self.config.chain_id)
        except (UpstreamError, ValueError) as error:
            hint = (
                ""
                if stored is None
                else f" (the data directory forked block {stored[1]} of chain {stored[0]}: "
                "Use another --data-dir, or --ephemeral, for another fork)"
            )
            raise ConfigError(f"cannot fork {url}: {error}{hint}") from None
        if stored is not None and (point.chain_id, point.hash) != (stored[0], stored[2]):
            raise ConfigError(
                f"the data directory forked block {stored[1]} (0x{stored[2].hex()}) of chain "
                f"{stored[0]}; {url} has 0x{point.hash.hex()} on chain {point.chain_id} there. "
                "Use another --data-dir (or --ephemeral) for another fork"
            )
        if not point.exact_header:
            log.warning(
                "the header of fork block %d does not hash to its hash here (fields this "
                "node does not know): the next block's parentHash is this node's hash of it",
                point.number,
            )
        self._point = point
        self._state = ForkState(
            self.upstream, point.number, point.hash, ForkCache(store, point.hash)
        )
        return point

    def fork_block(self) -> MiniBlock:
        """The local chain's first block: the fork block, without its transactions
        (served from the upstream)."""
        header = self.point.header
        return MiniBlock(header, header.hash(), (), (), block_size(header, ()), ())

    def dev_accounts_diff(
        self,
        addresses: list[Address],
        balance: int,
        warm: Sequence[Address] = (),
        warm_slots: Sequence[tuple[Address, int]] = (),
    ) -> StateDiff:
        """The dev accounts funded over the upstream's state (anvil: the balance is set,
        the nonce and code stay), fetched in one batch with ``warm`` and ``warm_slots``
        (what every block reads: the system contracts and their fixed slots)."""
        state = self.state
        try:
            state.prefetch(accounts=[*addresses, *warm], slots=warm_slots)
        except UpstreamError as error:
            raise ConfigError(f"cannot read the dev accounts from the upstream: {error}") from None
        diff = StateDiff()
        for address in addresses:
            upstream = state.account(address)
            nonce, code_hash = (
                (0, EMPTY_CODE_HASH)
                if upstream is None
                else (
                    upstream.nonce,
                    upstream.code_hash,
                )
            )
            diff.accounts[address] = Account(nonce, balance, code_hash)
        return diff

    def history(self, method: str, params: list[Any]) -> Any:
        """The upstream's answer to a read of its chain at or below the fork block
        (blocks, transactions, receipts, logs): immutable there, so kept in the cache
        after the first ask (blocking: call it off the event loop)."""
        key = keccak256(orjson.dumps([method, params]))
        cached = self.state.cache.get(_HISTORY, key)
        if cached is not None:
            try:
                return orjson.loads(cached)
            except orjson.JSONDecodeError:
                self.state.cache.drop(_HISTORY, key)
        answer = self.upstream.call(method, params)
        self.state.cache.put(_HISTORY, key, orjson.dumps(answer))
        return answer

    def use_url(self, url: str) -> None:
        """``anvil_setRpcUrl``: read through ``url`` from now on; it must serve the same
        chain with the fork block under the same hash (``ConfigError`` otherwise, and
        nothing changes)."""
        try:
            upstream = Upstream(replace(self.config.upstream, url=url))
        except ValueError as error:
            raise ConfigError(str(error)) from None
        point = self.point
        try:
            again = resolve_fork_point(upstream, point.number, point.chain_id)
        except (UpstreamError, ValueError) as error:
            upstream.close()
            raise ConfigError(f"cannot use {upstream.config.redacted_url}: {error}") from None
        if again.hash != point.hash:
            upstream.close()
            raise ConfigError(
                f"{upstream.config.redacted_url} has 0x{again.hash.hex()} at block "
                f"{point.number}, the fork has 0x{point.hash.hex()}"
            )
        old = self.upstream
        self.config = replace(self.config, upstream=upstream.config)
        self.upstream = upstream
        self.state.upstream = upstream
        self._older.clear()
        old.close()

    def _block_object(self, number: int) -> dict[str, Any]:
        """Upstream block ``number`` as ``eth_getBlockByNumber`` answers it (with
        transaction hashes; cached)."""
        block = self.history("eth_getBlockByNumber", [hex(number), False])
        if not isinstance(block, dict):
            raise UpstreamMalformed(f"the upstream has no block {number}")
        return block

    def header_at(self, number: int) -> Header:
        """The header of upstream block ``number`` (below the fork block; cached)."""
        return header_of(self._block_object(number))

    def replay_block(self, number: int) -> MiniBlock:
        """Upstream block ``number`` (at or below the fork block) for a replay
        (``debug_traceTransaction`` of an upstream transaction): its header, its raw
        transactions (``eth_getRawTransactionByHash``, one batch) and receipts that
        carry the upstream's type, status and gas (what a replay checks), not its
        logs. Blocking; ``UpstreamError`` if the upstream cannot say."""
        block = self._block_object(number)
        header = header_of(block)
        hashes = block.get("transactions")
        if not isinstance(hashes, list) or not all(isinstance(h, str) for h in hashes):
            raise UpstreamMalformed(f"block {number}: not a list of transaction hashes")
        raws = [
            data(raw, "eth_getRawTransactionByHash")
            for raw in self.upstream.batch([("eth_getRawTransactionByHash", [h]) for h in hashes])
        ]
        answers = self.history("eth_getBlockReceipts", [hex(number)])
        if not isinstance(answers, list) or len(answers) != len(raws):
            raise UpstreamMalformed(f"block {number}: its receipts do not match its transactions")
        try:
            txs = tuple(decode_transaction(raw) for raw in raws)
        except InvalidTransactionEncoding as error:
            raise UpstreamMalformed(
                f"block {number}: a transaction does not decode: {error}"
            ) from None
        receipts = tuple(
            _replay_receipt(answer, tx.tx_type) for answer, tx in zip(answers, txs, strict=True)
        )
        return MiniBlock(
            header,
            data(block.get("hash"), "block hash", 32),
            txs,
            receipts,
            block_size(header, raws),
            tuple(raws),
        )

    def state_at(self, number: int) -> StateReader:
        """The upstream's state after block ``number``, below the fork block (its reads
        go to the upstream at that block; a few such blocks are kept)."""
        found = self._older.get(number)
        if found is None:
            block_hash = self.block_hash(number)
            if block_hash is None:
                raise UpstreamMalformed(f"the upstream has no block {number}")
            found = UpstreamView(
                ForkState(
                    self.upstream, number, block_hash, ForkCache(self.state.cache.store, block_hash)
                )
            )
            if len(self._older) >= OLDER_STATES:
                self._older.pop(next(iter(self._older)))
            self._older[number] = found
        return found

    def block_hash(self, number: int) -> Hash32 | None:
        """BLOCKHASH of an upstream block (at or below the fork block)."""
        return self.state.block_hash(number)

    def close(self) -> None:
        self.upstream.close()


def _replay_receipt(answer: object, tx_type: int) -> Receipt:
    """The fields of an upstream receipt a replay checks (gas, status), without logs."""
    if not isinstance(answer, dict):
        raise UpstreamMalformed("a receipt is not an object")
    created = answer.get("contractAddress")
    return Receipt(
        tx_type,
        quantity(answer.get("status", "0x1"), "status", 8),
        quantity(answer.get("cumulativeGasUsed"), "cumulativeGasUsed", 64),
        quantity(answer.get("gasUsed"), "gasUsed", 64),
        quantity(answer.get("effectiveGasPrice", "0x0"), "effectiveGasPrice"),
        None if created is None else data(created, "contractAddress", 20),
        quantity(answer.get("blobGasUsed", "0x0"), "blobGasUsed", 64),
        (),
        EMPTY_BLOOM,
    )


__all__ = ["Fork", "decode_point", "encode_point"]
