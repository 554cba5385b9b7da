"""The producer with a real (ephemeral) node: what does not fit waits for the next block."""

from __future__ import annotations

from sequencer.config import ChainConfig, NodeConfig
from sequencer.genesis import HISTORY_STORAGE_ADDRESS
from sequencer.node import Node
from sequencer.producer import PendingBlock
from sequencer.types.transactions import Transaction, sign_transaction


def test_transaction_that_does_not_fit_goes_to_the_next_block_once() -> None:
    # a long block time: only the gas limit, never a slow machine, may close the block
    node = Node(
        NodeConfig(chain=ChainConfig(gas_limit=50_000), data_dir=None, accounts=3, block_time=5.0)
    )
    try:
        txs = [
            sign_transaction(
                Transaction(
                    2,
                    31337,
                    0,
                    21_000,
                    b"\x42" * 20,
                    1,
                    b"",
                    max_fee_per_gas=10**10,
                    max_priority_fee_per_gas=1,
                ),
                account.private_key,
            )
            for account in node.accounts
        ]
        for tx in txs:
            node.pool.add(tx, tx.encode())
        first = node.producer.produce()
        assert first is not None and [t.hash for t in first.transactions] == [
            t.hash for t in txs[:2]
        ]
        assert node.pool._ready_count == 1  # pushed back exactly once
        second = node.producer.produce()
        assert second is not None and [t.hash for t in second.transactions] == [txs[2].hash]
        assert node.producer.produce() is None
        assert len(node.pool) == 0 and not node.pool.has_ready
    finally:
        node.close()


def test_pending_block_is_the_block_mine_seals_next() -> None:
    """The preview runs the same code as a seal: with the timestamp pinned, the empty
    block ``mine`` commits is the pending block, header and hash, and the pending state
    is its state (the history contract holds the parent hash)."""
    node = Node(NodeConfig(data_dir=None, accounts=1))
    try:
        head = node.chain.head
        assert head is not None
        node.clock.set_next(head.header.timestamp + 7, head.header.timestamp)
        pending = node.producer.pending()
        assert isinstance(pending, PendingBlock)
        assert node.producer.pending() is pending  # memoised while head and env hold
        assert node.head_number == head.number  # nothing committed
        assert pending.block.number == head.number + 1
        assert pending.block.header.parent_hash == head.hash
        assert pending.block.transactions == ()
        slot = head.number % 8191
        pending_state = node.state_at(node.resolve(None, None, "pending"))
        assert pending_state.get_storage(HISTORY_STORAGE_ADDRESS, slot) == int.from_bytes(
            head.hash, "big"
        )
        assert node.db.head.get_storage(HISTORY_STORAGE_ADDRESS, slot) == 0
        (mined,) = node.mine()
        assert mined.header == pending.block.header and mined.hash == pending.block.hash
        assert node.db.head.get_storage(HISTORY_STORAGE_ADDRESS, slot) == int.from_bytes(
            head.hash, "big"
        )
        after = node.producer.pending()  # the head moved: a new preview
        assert after is not pending and after.block.number == mined.number + 1
    finally:
        node.close()
