"""Two-tier blocks in-process (sequencer.two_tier, the producer's two-tier path): a full
EVM block seals early, the preconfirmed receipts equal the sealed ones, the state diff of
the sealed block equals one-tier production of the same transactions, a journal that
does not fit is dropped with a log line, and every journal record decoder refuses
hostile bytes with ``JournalError``."""

from __future__ import annotations

import contextlib
import logging
from unittest.mock import patch

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jit import rlp
from sequencer.config import ChainConfig, NodeConfig
from sequencer.node import Node
from sequencer.publication import BlockSealed, ChainEvent, MiniBlockPreconfirmed
from sequencer.two_tier import (
    JOURNAL_ENV,
    PRECONFIRMED_BLOCK_HASH,
    JournalEntry,
    JournalError,
    MiniBlockSpan,
    decode_env,
    journal_mini_key,
)
from sequencer.types.blocks import MiniBlock
from sequencer.types.transactions import Transaction, sign_transaction
from statedb.keys import CF_CHAIN_META

SINK = b"\x42" * 20


def _node(**overrides: object) -> Node:
    config = {"data_dir": None, "accounts": 3, "block_time": 5.0, "evm_block_time": 3600.0}
    config.update(overrides)
    return Node(NodeConfig(**config))  # type: ignore[arg-type]


def _transfers(node: Node, per_account: int = 1, value: int = 1) -> list[Transaction]:
    return [
        sign_transaction(
            Transaction(
                2,
                node.config.chain.chain_id,
                nonce,
                21_000,
                SINK,
                value,
                b"",
                max_fee_per_gas=10**10,
                max_priority_fee_per_gas=1,
            ),
            account.private_key,
        )
        for nonce in range(per_account)
        for account in node.accounts
    ]


def _record(node: Node) -> list[ChainEvent]:
    events: list[ChainEvent] = []
    node.subscribe(events.append)
    return events


def test_mini_blocks_then_one_sealed_block() -> None:
    node = _node()
    try:
        events = _record(node)
        txs = _transfers(node, per_account=2)
        for tx in txs[:3]:
            node.pool.add(tx, tx.encode())
        assert node.producer.produce() is None  # a mini-block, no EVM block
        for tx in txs[3:]:
            node.pool.add(tx, tx.encode())
        node.producer.produce()
        assert node.head_number == 0
        minis = [e for e in events if isinstance(e, MiniBlockPreconfirmed)]
        assert [(m.info.index, m.info.first_tx, m.info.tx_count) for m in minis] == [
            (0, 0, 3),
            (1, 3, 3),
        ]
        preview = minis[-1].block
        assert preview.hash == PRECONFIRMED_BLOCK_HASH and len(preview.transactions) == 6
        sealed = node.producer.seal_open()
        assert isinstance(events[-1], BlockSealed) and events[-1].block == sealed
        assert events[-1].span == MiniBlockSpan(1, 2)  # genesis was mini-block 0
        # The preconfirmed receipts are the sealed block's.
        assert preview.receipts == sealed.receipts
        assert preview.size == sealed.size  # the running body size, kept per mini-block
        assert [t.hash for t in sealed.transactions] == [t.hash for t in txs]
        assert node.locate_transaction(txs[0].hash) == (sealed, 0)
        # The next EVM block's mini-blocks continue the numbering.
        extra = _transfers(node, per_account=3)[6:]
        node.pool.add(extra[0], extra[0].encode())
        node.producer.produce()
        last = [e for e in events if isinstance(e, MiniBlockPreconfirmed)][-1]
        assert (last.info.number, last.info.index, last.info.block_number) == (3, 0, 2)
    finally:
        node.close()


def _sealed(evm_block_time: float | None, split: bool) -> MiniBlock:
    """Six transfers sealed into one EVM block: in two mini-blocks (``split``) or one.
    The genesis and block timestamps are pinned (they reach the state and the hash)."""
    with patch("sequencer.node.time.time", return_value=1_999_999_000.0):
        node = _node(evm_block_time=evm_block_time)
    try:
        node.clock.set_next(2_000_000_000, 1_999_999_000)
        txs = _transfers(node, per_account=2)
        node.pool.add(txs[0], txs[0].encode())
        if split:
            node.producer.produce()
        for tx in txs[1:]:
            node.pool.add(tx, tx.encode())
        block = node.producer.produce(allow_empty=True)
        assert block is not None and len(block.transactions) == 6
        return block
    finally:
        node.close()


def test_mini_blocks_do_not_change_the_evm_block() -> None:
    """Split into mini-blocks or not, the EVM block is the same block; and its receipts
    and transactions are one-tier production's (whose state lacks only the registry)."""
    split, whole, one_tier = _sealed(3600.0, True), _sealed(3600.0, False), _sealed(None, False)
    assert split == whole and split.hash == whole.hash
    assert split.header.receipts_root == one_tier.header.receipts_root
    assert split.header.transactions_root == one_tier.header.transactions_root
    assert split.header.state_root != one_tier.header.state_root  # the registry


def test_a_full_evm_block_seals_early() -> None:
    node = _node(chain=ChainConfig(gas_limit=50_000))
    try:
        events = _record(node)
        txs = _transfers(node)
        for tx in txs:
            node.pool.add(tx, tx.encode())
        node.producer.produce()  # two fit; the third does not: the block seals
        assert node.head_number == 1
        block = node.block(1)
        assert block is not None and len(block.transactions) == 2
        node.producer.produce()  # the third opens the next EVM block
        assert node.producer.open is not None and len(node.producer.open.included) == 1
        assert sum(isinstance(e, BlockSealed) for e in events) == 1
    finally:
        node.close()


def test_latest_reads_see_the_open_block_numbered_reads_do_not() -> None:
    node = _node()
    try:
        (tx, *_) = _transfers(node, value=5)
        node.pool.add(tx, tx.encode())
        node.producer.produce()
        latest = node.resolve(None, None, "latest", for_state=True)
        assert latest == 1 and node.account(SINK, latest) is not None
        assert node.account(SINK, node.resolve(None, None, "latest")) is None
        assert node.account(SINK, 0) is None
        assert node.pending_nonce(tx.sender) == 1
    finally:
        node.close()


def test_a_journal_that_does_not_fit_the_head_is_dropped(
    tmp_path: object, caplog: pytest.LogCaptureFixture
) -> None:
    node = _node()
    try:
        (tx, *_) = _transfers(node)
        node.pool.add(tx, tx.encode())
        node.producer.produce()
        open_evm = node.producer.open
        assert open_evm is not None
        # Pretend a stop left it while the chain moved on: a journal for block 7.
        env = rlp.encode([b"\x00" * 20, 7, 1, 30_000_000, 1, b"\x00" * 32, 0, 1])
        node.db.put_records({CF_CHAIN_META: {JOURNAL_ENV: env}})
        node.producer.open = None
        with caplog.at_level(logging.ERROR):
            assert node.producer.resume_open() == 0
        assert "it opens block 7, the head is 0" in caplog.text
        assert node.chain.meta(JOURNAL_ENV) is None
        assert node.chain.meta(journal_mini_key(0)) is None
    finally:
        node.close()


@given(st.binary(max_size=300))
def test_decoders_refuse_garbage(raw: bytes) -> None:
    for decode in (MiniBlockSpan.decode, JournalEntry.decode, decode_env):
        with contextlib.suppress(JournalError):  # anything else escaping fails the test
            decode(raw)


@pytest.mark.parametrize(
    "raw",
    [
        rlp.encode([1]),
        rlp.encode([1, 2, 3]),
        rlp.encode([b"\x00\x01", 2]),  # a leading zero
        rlp.encode([[1], 2]),
        rlp.encode([1, [[b"tx", b"\x01" * 19, b"\x00"]]]),  # a 19-byte sender
        rlp.encode([1, [[b"tx", b"\x01" * 20]]]),
        rlp.encode([b"\x01" * 20, 1, 2, 3, 4, b"\x00" * 31, 5, 6]),  # a short prevRandao
        b"",
        b"\xff" * 40,
    ],
)
def test_decoders_refuse_hostile_records(raw: bytes) -> None:
    for decode in (MiniBlockSpan.decode, JournalEntry.decode, decode_env):
        with pytest.raises(JournalError):
            decode(raw)


def test_records_round_trip() -> None:
    entry = JournalEntry(123, ((b"\x02raw", b"\x01" * 20, True), (b"\x02x", b"\x02" * 20, False)))
    assert JournalEntry.decode(entry.encode()) == entry
    assert MiniBlockSpan.decode(MiniBlockSpan(0, 7).encode()) == MiniBlockSpan(0, 7)
