"""Address history for Otterscan (issue 16): every sealed transaction is indexed under
its sender, recipient, created contract and log emitters; searches before / after a
block come back in order and within their limit; a revert removes what it undid; the
index survives a restart. ``contract_creator`` finds a deploy's sender and, through
the history and a trace, the factory behind a CREATE2."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from sequencer.config import NodeConfig
from sequencer.genesis import BEACON_ROOTS_ADDRESS
from sequencer.node import Node
from sequencer.types.transactions import Transaction, sign_transaction
from tests.helpers.asm import create2_factory, initcode_for

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts" / "build"
EMITTER = json.loads((CONTRACTS / "Emitter.json").read_text())
# CREATE2 (salt 7) of the calldata as init code.
FACTORY = create2_factory(7, store_address=True)
SINK = b"\x51" * 20


class Sender:
    def __init__(self, node: Node, index: int = 0) -> None:
        self.node = node
        self.key = node.accounts[index].private_key
        self.address = node.accounts[index].address
        self.nonce = 0

    def send(self, to: bytes | None, data: bytes = b"", value: int = 0) -> Transaction:
        tx = sign_transaction(
            Transaction(2, 31337, self.nonce, 1_000_000, to, value, data, 10**11, 10**9),
            self.key,
        )
        self.nonce += 1
        self.node.pool.add(tx, tx.encode())
        return tx


def test_appearances_creators_reverts_and_restarts(tmp_path: Path) -> None:
    node = Node(NodeConfig(data_dir=str(tmp_path / "chain"), accounts=2))
    alice, bob = Sender(node, 0), Sender(node, 1)
    deploy = alice.send(None, initcode_for(FACTORY))
    (b1,) = node.mine()
    factory = b1.receipts[0].contract_address
    assert factory is not None
    transfer = bob.send(SINK, value=5)  # block 2
    node.mine()
    made = alice.send(factory, initcode_for(b"\x00"))  # block 3: CREATE2 inside
    (b3,) = node.mine()
    created = node.storage(factory, 0, b3.number).to_bytes(32, "big")[12:]
    assert node.code(created, b3.number) == b"\x00"

    head = node.chain.head_number
    assert node.address_appearances(alice.address, head + 1, True, 10) == [(3, 0), (1, 0)]
    assert node.address_appearances(alice.address, 0, False, 10) == [(1, 0), (3, 0)]
    assert node.address_appearances(alice.address, 3, True, 10) == [(1, 0)]
    assert node.address_appearances(alice.address, 1, False, 1) == [(3, 0)]
    assert node.address_appearances(alice.address, head + 1, True, 1) == [(3, 0)]
    assert node.address_appearances(SINK, head + 1, True, 10) == [(2, 0)]
    assert node.address_appearances(factory, head + 1, True, 10) == [(3, 0), (1, 0)]
    assert node.address_appearances(b"\x99" * 20, head + 1, True, 10) == []
    assert node.address_appearances(alice.address, head + 1, True, 0) == []
    # A contract made by an inner CREATE2 is in its creating transaction's history.
    assert node.address_appearances(created, head + 1, True, 10) == [(3, 0)]

    assert asyncio.run(node.contract_creator(factory)) == (deploy.hash, alice.address)
    assert asyncio.run(node.contract_creator(created)) == (made.hash, factory)
    assert asyncio.run(node.contract_creator(alice.address)) is None  # no code
    assert asyncio.run(node.contract_creator(BEACON_ROOTS_ADDRESS)) is None  # at genesis
    del transfer

    # A revert takes its blocks' entries with it.
    snapshot = node.snapshot()
    alice.send(SINK, value=1)
    node.mine()
    assert node.address_appearances(SINK, node.chain.head_number + 1, True, 10)[0][0] == 4
    assert node.revert(snapshot)
    assert node.address_appearances(SINK, node.chain.head_number + 1, True, 10) == [(2, 0)]
    node.close()

    # A restart keeps the index.
    again = Node(NodeConfig(data_dir=str(tmp_path / "chain"), accounts=2))
    try:
        assert again.address_appearances(alice.address, 100, True, 10) == [(3, 0), (1, 0)]
        assert asyncio.run(again.contract_creator(created)) == (made.hash, factory)
        # An EIP-7702 delegation is code on an account, not a contract anyone created.
        again.edit_state(bob.address, code=bytes.fromhex("ef0100") + factory)
        again.mine()
        assert again.code(bob.address, again.chain.head_number).startswith(b"\xef\x01\x00")
        assert asyncio.run(again.contract_creator(bob.address)) is None
    finally:
        again.close()


def test_log_emitters_are_indexed() -> None:
    node = Node(NodeConfig(data_dir=None, accounts=1))
    alice = Sender(node)
    alice.send(None, bytes.fromhex(EMITTER["bytecode"][2:]))
    (block,) = node.mine()
    emitter = block.receipts[0].contract_address
    assert emitter is not None
    found = node.address_appearances(emitter, 10, True, 10)
    assert found == [(1, 0)]
