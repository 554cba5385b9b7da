"""A node on Amsterdam's rules builds blocks with EIP-8037/7778 gas accounting: the header
holds the larger of the block's regular and state gas, receipts the gas users paid, and
``eth_estimateGas`` finds limits above the EIP-7825 cap when state gas needs them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from jit.evm.state_gas import cost_per_state_byte
from jit.forks import Fork
from sequencer.config import ChainConfig, NodeConfig
from sequencer.node import Node
from sequencer.types.call import CallRequest
from sequencer.types.transactions import Transaction, sign_transaction
from tests.helpers.asm import Asm, initcode_for

GAS_LIMIT = 300_000_000  # 3,222 gas per state byte
CAP = 1 << 24


@pytest.fixture
def node() -> Iterator[Node]:
    config = NodeConfig(
        chain=ChainConfig(fork=Fork.AMSTERDAM, gas_limit=GAS_LIMIT),
        data_dir=None,
        accounts=3,
        block_time=5.0,
    )
    node = Node(config)
    try:
        yield node
    finally:
        node.close()


def _send(node: Node, key: bytes, nonce: int, to: bytes | None, data: bytes, gas: int) -> bytes:
    tx = sign_transaction(
        Transaction(
            2, 31337, nonce, gas, to, 0, data, max_fee_per_gas=10**10, max_priority_fee_per_gas=1
        ),
        key,
    )
    node.pool.add(tx, tx.encode())
    return tx.hash


def test_block_header_holds_the_larger_dimension_and_receipts_what_was_paid(node: Node) -> None:
    # A contract that sets a new slot per caller (state gas dominates its calls).
    runtime = Asm().push(1).op("CALLER").op("SSTORE").build()
    deployer = node.accounts[0]
    _send(node, deployer.private_key, 0, None, initcode_for(runtime), 1_000_000)
    deployed = node.producer.produce()
    assert deployed is not None
    receipt = deployed.receipts[0]
    assert receipt.status == 1 and receipt.contract_address is not None
    contract = receipt.contract_address
    for account in node.accounts:
        nonce = 1 if account is deployer else 0
        _send(node, account.private_key, nonce, contract, b"", 200_000)
    block = node.producer.produce()
    assert block is not None and len(block.transactions) == 3
    slot_state_gas = 32 * cost_per_state_byte(GAS_LIMIT)
    regular = 21_000 + 3 + 2 + 2_100 + 2_900  # per call: PUSH1, CALLER, SSTORE cold + set
    assert block.header.gas_used == max(3 * regular, 3 * slot_state_gas) == 3 * slot_state_gas
    paid = [r.gas_used for r in block.receipts]
    assert paid == [regular + slot_state_gas] * 3
    assert block.receipts[-1].cumulative_gas_used == sum(paid) != block.header.gas_used


def test_estimate_gas_goes_above_the_cap_for_state_gas(node: Node) -> None:
    # Deploying 8 KiB of code needs 8,192 x 3,222 (26.4M) state gas: above the cap.
    initcode = Asm().push(8192).push(0).op("RETURN").build()
    sender = node.accounts[0].address
    request = CallRequest(sender=sender, data=initcode)
    gas = asyncio.run(node.estimate_gas(request, node.head_number, None, None))
    assert gas > CAP
    tx_hash = _send(node, node.accounts[0].private_key, 0, None, initcode, gas)
    block = node.producer.produce()
    assert block is not None and [t.hash for t in block.transactions] == [tx_hash]
    assert block.receipts[0].status == 1
    # One gas less is not enough (the estimate is the smallest that works).
    short = node.simulator.simulate(request, node.head_number, None, None, gas - 1).outcome
    assert not short.success
