"""The pool survives a restart: acknowledged transactions are on disk (one batch per
event-loop step, before the answer), reloaded through admission, and deleted when
they leave the pool (issue 14)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from sequencer.config import NodeConfig
from sequencer.node import Node
from sequencer.pool import PoolStore
from sequencer.pool.persist import POOL_RECORD_PREFIX, decode_record
from sequencer.types.call import CallRequest
from statedb import StateDB
from statedb.keys import CF_CHAIN_META
from tests.unit.sequencer.test_pool_validity import transfer


def manual(path: Path, **kwargs: object) -> NodeConfig:
    return NodeConfig(data_dir=str(path), accounts=3, no_mining=True, **kwargs)  # type: ignore[arg-type]


def records(node: Node) -> dict[bytes, bytes]:
    end = POOL_RECORD_PREFIX[:-1] + bytes([POOL_RECORD_PREFIX[-1] + 1])
    return dict(node.db.records(CF_CHAIN_META, POOL_RECORD_PREFIX, end))


def pool_hashes(node: Node) -> set[bytes]:
    return {tx.hash for tx in node.pool}


async def test_acknowledged_transactions_are_written_before_the_answer(tmp_path: Path) -> None:
    node = Node(NodeConfig(data_dir=str(tmp_path / "chain"), accounts=2))
    await node.start()
    try:
        key = node.accounts[0].private_key
        queued = [transfer(key, nonce) for nonce in range(1, 6)]  # nonce 0 missing
        store = node.pool_store
        assert store is not None
        writes = store.writes
        answers = await asyncio.gather(*(node.submit(tx, tx.encode()) for tx in queued))
        assert answers == [tx.hash for tx in queued]
        # on disk when answered, in one batch for the five answered in one step
        assert {POOL_RECORD_PREFIX + tx.hash for tx in queued} == set(records(node))
        assert store.writes == writes + 1
        # A ready transaction waiting for its block is answered by the block: not written.
        first = transfer(key, 0)
        assert await node.submit(first, first.encode()) == first.hash
        for _ in range(200):
            if len(node.pool) == 0:
                break
            await asyncio.sleep(0.01)
        assert len(node.pool) == 0
        await asyncio.sleep(0)  # the deletions' batch
        assert records(node) == {}
    finally:
        await node.stop()


def test_pool_reloads_after_a_clean_restart_and_records_go_when_mined(tmp_path: Path) -> None:
    path = tmp_path / "chain"
    node = Node(manual(path))
    try:
        key, other = node.accounts[0].private_key, node.accounts[1].private_key
        txs = [transfer(key, 0), transfer(key, 2), transfer(other, 0), transfer(key, 3)]
        for tx in txs:
            assert asyncio.run(node.submit(tx, tx.encode())) == tx.hash
        pending, queued = node.pool.content()
    finally:
        node.close()
    node = Node(manual(path))
    try:
        assert pool_hashes(node) == {tx.hash for tx in txs}
        assert node.pool.content() == (pending, queued)
        gap = transfer(key, 1)
        node.pool.add(gap, gap.encode())
        (block,) = node.mine()
        assert len(block.transactions) == 5 and len(node.pool) == 0
        node.pool_store.flush()  # type: ignore[union-attr]
        assert records(node) == {}
    finally:
        node.close()
    node = Node(manual(path))
    try:
        assert len(node.pool) == 0
    finally:
        node.close()


def test_replaced_and_dropped_transactions_leave_the_disk(tmp_path: Path) -> None:
    path = tmp_path / "chain"
    node = Node(manual(path))
    try:
        key = node.accounts[0].private_key
        old, kept, dropped = transfer(key, 1), transfer(key, 2), transfer(key, 3)
        for tx in (old, kept, dropped):
            asyncio.run(node.submit(tx, tx.encode()))
        bumped = transfer(key, 1, max_fee_per_gas=2 * 10**10, max_priority_fee_per_gas=2 * 10**9)
        asyncio.run(node.submit(bumped, bumped.encode()))
        assert node.drop_transaction(dropped.hash)
        node.pool_store.flush()  # type: ignore[union-attr]
        assert set(records(node)) == {POOL_RECORD_PREFIX + t.hash for t in (bumped, kept)}
    finally:
        node.close()
    node = Node(manual(path))
    try:
        assert pool_hashes(node) == {bumped.hash, kept.hash}
        assert node.drop_all_transactions() == 2
        node.pool_store.flush()  # type: ignore[union-attr]
        assert records(node) == {}
    finally:
        node.close()


def test_reload_drops_what_no_longer_passes_admission(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "chain"
    node = Node(manual(path))
    key = node.accounts[0].private_key
    mined, fine = transfer(key, 0), transfer(key, 5)
    try:
        for tx in (mined, fine):
            asyncio.run(node.submit(tx, tx.encode()))
    finally:
        node.close()
    # A crash between a block's commit and the deletion of its records leaves a record
    # of a mined transaction; here written by hand, with an unreadable record.
    with StateDB.open(path) as db:
        store = PoolStore(db)
        assert len(list(store.load())) == 2  # and the sequence continues after them
        stale = transfer(key, 0, value=7)  # nonce 0 again, acknowledged last
        db.put_records({CF_CHAIN_META: {POOL_RECORD_PREFIX + b"\x00" * 32: b"\x09junk"}})
        store.put(stale, stale.encode(), unsigned=False)
        store.flush()
    caplog.set_level(logging.INFO, logger="hummingbird.node")
    node = Node(manual(path))
    try:
        assert pool_hashes(node) == {mined.hash, fine.hash}
        # ``stale`` came after ``mined`` (same nonce, same fees): refused at reload as an
        # underpriced replacement and deleted.
        node.mine()
        node.pool_store.flush()  # type: ignore[union-attr]
        assert set(records(node)) == {POOL_RECORD_PREFIX + fine.hash}
    finally:
        node.close()
    assert "dropping an unreadable pool record" in caplog.text
    assert f"dropping stored pool transaction 0x{stale.hash.hex()}" in caplog.text
    node = Node(manual(path))
    try:
        assert pool_hashes(node) == {fine.hash}
    finally:
        node.close()


def test_impersonated_transactions_survive_with_their_sender(tmp_path: Path) -> None:
    """eth_sendTransaction for an impersonated account (placeholder signature) can sit in
    the pool: it is stored with its claimed sender and its EIP-3607 exemption."""
    path = tmp_path / "chain"
    whale = b"\x77" * 20
    node = Node(manual(path))
    try:
        node.edit_state(whale, balance=10**21, code=b"\x00")  # a contract: EIP-3607 applies
        node.mine()
        node.impersonate(whale)
        request = CallRequest(sender=whale, to=b"\x42" * 20, value=5, gas=21_000)
        tx_hash = asyncio.run(node.send_transaction(request))
        (stored,) = [decode_record(k, v) for k, v in records(node).items()]
        assert stored.unsigned and stored.sender == whale
    finally:
        node.close()
    node = Node(manual(path))
    try:
        tx = node.pool_transaction(tx_hash)
        assert tx is not None and tx.sender == whale
        (block,) = node.mine()
        assert [t.hash for t in block.transactions] == [tx_hash]
        assert block.receipts[0].status == 1
    finally:
        node.close()


async def test_store_batches_a_step_and_a_delete_cancels_an_unwritten_put() -> None:
    db = StateDB.ephemeral()
    store = PoolStore(db)
    key = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
    txs = [transfer(key, nonce) for nonce in range(4)]
    for tx in txs:
        store.put(tx, tx.encode(), unsigned=False)
    store.delete(txs[0].hash)  # never written: nothing to delete on disk either
    await asyncio.gather(store.written(), store.written())
    assert store.writes == 1
    stored = [r for r in store.load() if not isinstance(r, bytes)]
    assert [r.tx_hash for r in stored] == [tx.hash for tx in txs[1:]]  # in sequence order
    assert all(r.raw == tx.encode() for r, tx in zip(stored, txs[1:], strict=True))
    store.delete(txs[1].hash)
    await store.written()
    assert store.writes == 2 and len(list(store.load())) == 2
    await store.written()  # nothing staged: returns at once, writes nothing
    assert store.writes == 2
