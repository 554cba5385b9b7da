"""The producer with a real (ephemeral) node: what does not fit waits for the next block."""

from __future__ import annotations

from sequencer.config import ChainConfig, NodeConfig
from sequencer.node import Node
from sequencer.types.transactions import Transaction, sign_transaction


def test_transaction_that_does_not_fit_goes_to_the_next_block_once() -> None:
    node = Node(NodeConfig(chain=ChainConfig(gas_limit=50_000), data_dir=None, accounts=3))
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
        assert len(node.pool) == 0 and not node.pool.has_ready.is_set()
    finally:
        node.close()
