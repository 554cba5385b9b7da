"""eth_simulateV1's engine (``sequencer.simulate_v1``) through ``Node.simulate_v1``, and the
request parsing of its handler (``rpc.namespaces.simulate``)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from rpc.errors import InvalidParams
from rpc.namespaces.simulate import parse_simulation, simulated_block_json
from sequencer.config import NodeConfig
from sequencer.errors import NodeError, Unsupported
from sequencer.node import Node
from sequencer.simulate_v1 import (
    ETH_TRANSFER_ADDRESS,
    TRANSFER_TOPIC,
    SimulatedBlock,
    SimulatedBlockSpec,
)
from sequencer.types.call import AccountOverride, BlockOverride, CallRequest

# Calldata 0x01: slot 0 += 1 (checked: reverts with empty data on overflow), returns it;
# empty calldata: returns slot 0.
COUNTER_CODE = bytes.fromhex("5f5436156012576001018015601957805f555b5f5260205ff35b5f5ffd")
SENDER = bytes.fromhex("5e11de0000000000000000000000000000000001")
RECIPIENT = bytes.fromhex("5e11de0000000000000000000000000000000002")
COUNTER = bytes.fromhex("5e11de00000000000000000000000000000000c0")
ETHER = 10**18


def run_simulation(node: Node, *args: Any, **kwargs: Any) -> list[SimulatedBlock]:
    """``Node.simulate_v1`` (a coroutine: it runs on the simulation thread) to completion."""
    return asyncio.run(node.simulate_v1(*args, **kwargs))


@pytest.fixture
def node() -> Iterator[Node]:
    node = Node(NodeConfig(data_dir=None, accounts=1))
    try:
        node.mine(2)
        yield node
    finally:
        node.close()


def word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def test_two_blocks_with_overrides(node: Node) -> None:
    head = node.block(node.head_number)
    assert head is not None
    specs = [
        SimulatedBlockSpec(
            block_override=BlockOverride(time=head.header.timestamp + 1_000),
            state_overrides={
                SENDER: AccountOverride(balance=ETHER),
                COUNTER: AccountOverride(code=COUNTER_CODE, state_diff={0: 41}),
            },
            calls=(
                CallRequest(sender=SENDER, to=RECIPIENT, value=1000),
                CallRequest(sender=SENDER, to=COUNTER, data=b"\x01"),
            ),
        ),
        SimulatedBlockSpec(
            calls=(
                CallRequest(to=COUNTER),
                CallRequest(sender=SENDER, to=RECIPIENT, value=2000),
            )
        ),
    ]
    first, second = run_simulation(node, specs, node.head_number)
    assert first.block.number == head.number + 1
    assert second.block.number == head.number + 2
    assert first.block.header.parent_hash == head.hash
    assert second.block.header.parent_hash == first.block.hash
    assert first.block.header.timestamp == head.header.timestamp + 1_000
    assert second.block.header.timestamp == head.header.timestamp + 1_012
    assert first.block.header.base_fee_per_gas == 0  # no validation: geth's zero base fee
    transfer, increment = first.calls
    assert (transfer.status, transfer.gas_used, transfer.logs) == (1, 21_000, ())
    assert (increment.status, increment.return_data) == (1, word(42))
    read, second_transfer = second.calls
    assert read.return_data == word(42)  # the state the first block left
    assert second_transfer.status == 1
    assert second.block.header.gas_used == read.gas_used + second_transfer.gas_used
    # The sender's nonce advanced across blocks (filled, not checked).
    assert [tx.nonce for tx in first.block.transactions] == [0, 1]
    assert second.block.transactions[1].nonce == 2
    # Nothing reached the chain.
    assert node.head_number == head.number
    assert node.account(RECIPIENT, node.head_number) is None
    assert node.code(COUNTER, node.head_number) == b""

    shaped = simulated_block_json(second, full=False)
    assert shaped["number"] == hex(head.number + 2)
    assert shaped["parentHash"] == "0x" + first.block.hash.hex()
    assert shaped["transactions"] == ["0x" + tx.hash.hex() for tx in second.block.transactions]
    assert shaped["calls"][0] == {
        "status": "0x1",
        "returnData": "0x" + word(42).hex(),
        "gasUsed": hex(read.gas_used),
        "logs": [],
    }
    full = simulated_block_json(second, full=True)
    assert full["transactions"][1]["value"] == hex(2000)


def test_a_revert_is_a_failed_call(node: Node) -> None:
    spec = SimulatedBlockSpec(
        state_overrides={COUNTER: AccountOverride(code=COUNTER_CODE, state={0: 2**256 - 1})},
        calls=(CallRequest(to=COUNTER, data=b"\x01"), CallRequest(to=COUNTER)),
    )
    (block,) = run_simulation(node, [spec], node.head_number)
    overflow, read = block.calls
    assert overflow.status == 0
    assert overflow.return_data == b""
    assert overflow.error is not None
    assert (overflow.error.code, overflow.error.message) == (3, "execution reverted")
    assert read.return_data == word(2**256 - 1)  # the reverted write did not stick
    shaped = simulated_block_json(block, full=False)["calls"][0]
    assert shaped["status"] == "0x0"
    assert shaped["error"] == {"code": 3, "message": "execution reverted", "data": "0x"}


def test_trace_transfers_adds_erc7528_logs(node: Node) -> None:
    spec = SimulatedBlockSpec(
        state_overrides={SENDER: AccountOverride(balance=ETHER)},
        calls=(CallRequest(sender=SENDER, to=RECIPIENT, value=1000), CallRequest(to=RECIPIENT)),
    )
    (block,) = run_simulation(node, [spec], node.head_number, trace_transfers=True)
    (log,) = block.calls[0].logs
    assert log.address == ETH_TRANSFER_ADDRESS
    assert log.topics == (TRANSFER_TOPIC, SENDER.rjust(32, b"\0"), RECIPIENT.rjust(32, b"\0"))
    assert log.data == word(1000)
    assert block.calls[1].logs == ()  # no value, no transfer log
    (plain,) = run_simulation(node, [spec], node.head_number)[:1]
    assert plain.calls[0].logs == ()
    shaped = simulated_block_json(block, full=False)["calls"][0]["logs"][0]
    assert shaped["address"] == "0x" + "ee" * 20
    assert shaped["transactionHash"] == "0x" + block.block.transactions[0].hash.hex()
    assert shaped["blockHash"] == "0x" + block.block.hash.hex()


def test_validation_errors_are_request_errors(node: Node) -> None:
    base = node.head_number
    funded = SimulatedBlockSpec(state_overrides={SENDER: AccountOverride(balance=ETHER)})

    def run(request: CallRequest) -> None:
        spec = SimulatedBlockSpec(funded.block_override, funded.state_overrides, (request,))
        run_simulation(node, [spec], base, validation=True)

    fee = {"max_fee_per_gas": 10**10, "max_priority_fee_per_gas": 0}
    with pytest.raises(NodeError) as nonce_high:
        run(CallRequest(sender=SENDER, to=RECIPIENT, nonce=5, **fee))
    assert nonce_high.value.code == -38011
    with pytest.raises(NodeError) as fee_low:
        run(CallRequest(sender=SENDER, to=RECIPIENT, nonce=0, max_fee_per_gas=1))
    assert fee_low.value.code == -38012
    # Valid with fees and the right nonce; the base fee follows EIP-1559 from the head.
    spec = SimulatedBlockSpec(
        funded.block_override,
        funded.state_overrides,
        (CallRequest(sender=SENDER, to=RECIPIENT, nonce=0, **fee),),
    )
    (block,) = run_simulation(node, [spec], base, validation=True)
    assert block.calls[0].status == 1
    assert block.block.header.base_fee_per_gas > 0
    # Without validation the same bad nonce and fee cap are filled or ignored.
    loose = SimulatedBlockSpec(
        funded.block_override,
        funded.state_overrides,
        (CallRequest(sender=SENDER, to=RECIPIENT, nonce=5, max_fee_per_gas=1),),
    )
    assert run_simulation(node, [loose], base)[0].calls[0].status == 1


def test_block_order_and_limits(node: Node) -> None:
    base = node.head_number
    with pytest.raises(NodeError) as too_many:
        run_simulation(node, [SimulatedBlockSpec()] * 257, base)
    assert too_many.value.code == -38026
    assert len(run_simulation(node, [SimulatedBlockSpec()] * 256, base)) == 256
    with pytest.raises(NodeError) as order:
        run_simulation(node, [SimulatedBlockSpec(BlockOverride(number=base))], base)
    assert order.value.code == -38020
    head = node.block(base)
    assert head is not None
    head_time = head.header.timestamp
    with pytest.raises(NodeError) as time_order:
        run_simulation(node, [SimulatedBlockSpec(BlockOverride(time=head_time))], base)
    assert time_order.value.code == -38021
    # A gap in numbers is filled with empty blocks, as geth does.
    blocks = run_simulation(node, [SimulatedBlockSpec(BlockOverride(number=base + 3))], base)
    assert [b.block.number for b in blocks] == [base + 1, base + 2, base + 3]
    assert blocks[1].block.header.parent_hash == blocks[0].block.hash
    with pytest.raises(Unsupported):
        run_simulation(
            node,
            [
                SimulatedBlockSpec(
                    state_overrides={
                        b"\0" * 19 + b"\1": AccountOverride(move_precompile_to=COUNTER)
                    }
                )
            ],
            base,
        )


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"blockStateCalls": [{"calls": []}] * 257}, "too many blocks"),
        ({"blockStateCalls": [{"calls": {"to": "0x00"}}]}, "calls: cannot unmarshal object"),
        ({"blockStateCalls": {}}, "blockStateCalls: cannot unmarshal object into array"),
        ({"blockStateCalls": []}, "empty input"),
        ({}, "blockStateCalls: missing"),
        ([], "cannot unmarshal array into SimOpts"),
        ({"blockStateCalls": [3]}, "cannot unmarshal number into SimBlock"),
        ({"blockStateCalls": [{"calls": [{}]}], "validation": "yes"}, "validation"),
        ({"blockStateCalls": [{"calls": [{"to": "0x12"}]}]}, "to"),
    ],
)
def test_bad_shapes_are_invalid_params(params: Any, message: str) -> None:
    with pytest.raises(InvalidParams, match=message) as error:
        parse_simulation(params)
    assert error.value.code == -32602


def test_parse_accepts_numbers_where_anvil_does() -> None:
    specs, flags = parse_simulation(
        {
            "blockStateCalls": [
                {
                    "blockOverrides": {"time": 1_700_000_000},
                    "stateOverrides": {"0x" + SENDER.hex(): {"balance": ETHER}},
                    "calls": [{"from": "0x" + SENDER.hex(), "value": 5}],
                }
            ],
            "traceTransfers": True,
        }
    )
    (spec,) = specs
    assert spec.block_override is not None and spec.block_override.time == 1_700_000_000
    assert spec.state_overrides is not None
    assert spec.state_overrides[SENDER].balance == ETHER
    assert spec.calls[0].value == 5
    assert flags == {"validation": False, "traceTransfers": True, "returnFullTransactions": False}
