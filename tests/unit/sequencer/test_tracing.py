"""Tracing (issue 16): a traced execution computes exactly what the untraced one does
(the tracer only observes), traces of mined transactions replay their block's prefix,
and hostile traces are bounded: a struct log past ``max_trace_bytes`` stops with a
clear error, ``limit`` caps the records, and a trace that runs past ``--rpc-timeout``
is stopped."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

import pytest

from jit.evm.tracing import Tracer
from sequencer.config import NodeConfig
from sequencer.errors import ResourceNotFound
from sequencer.node import Node
from sequencer.offload import CallTimeout
from sequencer.tracing.call import CallFrame
from sequencer.tracing.simple import SelectorCounts
from sequencer.tracing.spec import MuxResult, TraceOptions
from sequencer.tracing.struct import StructConfig, StructTrace, TraceTooLarge
from sequencer.types.call import CallRequest
from sequencer.types.transactions import Transaction, sign_transaction
from statedb.types import keccak256
from tests.helpers.asm import Asm, initcode_for

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts" / "build"
TOKEN = json.loads((CONTRACTS / "Token.json").read_text())
REVERTER = json.loads((CONTRACTS / "Reverter.json").read_text())
SPIN = Asm().label("top").push_label("top").op("JUMP").build()


def _selector(signature: str) -> bytes:
    return keccak256(signature.encode())[:4]


class Chain:
    def __init__(self, **config: object) -> None:
        self.node = Node(NodeConfig(data_dir=None, accounts=2, **config))  # type: ignore[arg-type]
        self.key = self.node.accounts[0].private_key
        self.nonce = 0
        self.token = self.reverter = b""
        self.txs: list[Transaction] = []

    def send(self, to: bytes | None, data: bytes, gas: int = 3_000_000) -> Transaction:
        tx = sign_transaction(
            Transaction(2, 31337, self.nonce, gas, to, 0, data, 10**11, 10**9), self.key
        )
        self.nonce += 1
        self.node.pool.add(tx, tx.encode())
        return tx

    def mine(self) -> list[bytes | None]:
        (block,) = self.node.mine()
        return [r.contract_address for r in block.receipts]


@pytest.fixture(scope="module")
def chain() -> Chain:
    c = Chain()
    c.send(None, bytes.fromhex(TOKEN["bytecode"][2:]) + (10**24).to_bytes(32, "big"))
    c.send(None, bytes.fromhex(REVERTER["bytecode"][2:]))
    token, reverter = c.mine()
    assert token is not None and reverter is not None
    c.token, c.reverter = token, reverter
    transfer = (
        _selector("transfer(address,uint256)")
        + b"\x11".rjust(32, b"\x00")
        + (5).to_bytes(32, "big")
    )
    # Several transactions in one block: a trace of the third must see the first two.
    c.txs = [
        c.send(token, transfer),
        c.send(reverter, _selector("revertWithReason()")),
        c.send(token, transfer),
        c.send(reverter, _selector("burn(uint256)") + (4).to_bytes(32, "big")),
    ]
    c.mine()
    return c


def test_a_traced_execution_computes_what_the_untraced_one_does(chain: Chain) -> None:
    node = chain.node
    for tx in chain.txs:
        # Re-executing a mined transaction on the head is invalid (nonce): use a fresh
        # copy from a call, which exercises the same code.
        request = CallRequest(sender=tx.sender, to=tx.to, data=tx.data, gas=tx.gas_limit)
        sim = node.simulator
        plain = sim.simulate(request, node.chain.head_number)
        traced = sim.simulate(request, node.chain.head_number, tracer=Tracer())
        assert traced.outcome == plain.outcome


def test_every_tracer_on_a_block_prefix(chain: Chain) -> None:
    node = chain.node
    third = chain.txs[2]
    frame = asyncio.run(node.trace_transaction(third.hash, TraceOptions("callTracer")))
    assert isinstance(frame, CallFrame)
    receipt_gas = node.locate_transaction(third.hash)
    assert receipt_gas is not None
    block, index = receipt_gas
    assert frame.gas_used == block.receipts[index].gas_used and frame.error is None
    reverted = asyncio.run(node.trace_transaction(chain.txs[1].hash, TraceOptions("callTracer")))
    assert isinstance(reverted, CallFrame)
    assert reverted.error == "execution reverted"
    assert reverted.revert_reason == "reverted with reason"
    struct = asyncio.run(node.trace_transaction(third.hash, TraceOptions()))
    assert isinstance(struct, StructTrace) and not struct.failed and struct.logs
    assert struct.logs[0].depth == 1 and struct.logs[0].pc == 0
    fours = asyncio.run(node.trace_transaction(third.hash, TraceOptions("4byteTracer")))
    assert fours == SelectorCounts({"0xa9059cbb-64": 1})
    noop = asyncio.run(node.trace_transaction(third.hash, TraceOptions("noopTracer")))
    assert noop == SelectorCounts({})
    block_traces = asyncio.run(node.trace_block(block.number, TraceOptions("callTracer")))
    assert [h for h, _ in block_traces] == [tx.hash for tx in block.transactions]
    assert block_traces[2][1] == frame


def test_a_mux_tracer_gives_each_tracers_own_result(chain: Chain) -> None:
    """anvil 1.7.1 answers {} to muxTracer, so it is pinned here: the same results as
    each tracer run alone."""
    node = chain.node
    tx = chain.txs[2]
    parts = (
        ("callTracer", TraceOptions("callTracer", with_log=True)),
        ("4byteTracer", TraceOptions("4byteTracer")),
        ("prestateTracer", TraceOptions("prestateTracer", diff_mode=True)),
        ("noopTracer", TraceOptions("noopTracer")),
    )
    mux = asyncio.run(node.trace_transaction(tx.hash, TraceOptions("muxTracer", mux=parts)))
    assert isinstance(mux, MuxResult)
    for name, options in parts:
        assert mux.results[name] == asyncio.run(node.trace_transaction(tx.hash, options))
    with pytest.raises(ValueError, match="cannot hold a muxTracer"):
        TraceOptions("muxTracer", mux=(("muxTracer", TraceOptions("muxTracer")),))


def test_limit_caps_the_records(chain: Chain) -> None:
    node = chain.node
    tx = chain.txs[3]
    full = asyncio.run(node.trace_transaction(tx.hash, TraceOptions()))
    capped = asyncio.run(
        node.trace_transaction(tx.hash, TraceOptions(struct=StructConfig(limit=10)))
    )
    assert isinstance(full, StructTrace) and isinstance(capped, StructTrace)
    assert len(capped.logs) == 10 and capped.logs == full.logs[:10]
    assert capped.gas == full.gas


def test_a_trace_past_the_byte_cap_stops_with_a_clear_error() -> None:
    c = Chain(max_trace_bytes=64 * 1024)
    c.send(None, initcode_for(SPIN))
    (spin,) = c.mine()
    assert spin is not None
    looping = c.send(spin, b"", gas=1_000_000)
    c.mine()
    with pytest.raises(TraceTooLarge, match="65536-byte limit"):
        asyncio.run(c.node.trace_transaction(looping.hash, TraceOptions()))
    # The call tracer keeps no per-step records: it completes.
    frame = asyncio.run(c.node.trace_transaction(looping.hash, TraceOptions("callTracer")))
    assert isinstance(frame, CallFrame) and frame.error == "out of gas"


def test_a_trace_past_the_rpc_timeout_is_stopped() -> None:
    c = Chain(rpc_timeout=0.3)
    c.send(None, initcode_for(SPIN))
    (spin,) = c.mine()
    assert spin is not None
    with pytest.raises(CallTimeout):
        asyncio.run(
            c.node.trace_call(
                CallRequest(to=spin),
                c.node.chain.head_number,
                None,
                None,
                TraceOptions("callTracer"),
            )
        )


def test_unknown_and_untraceable_transactions(chain: Chain) -> None:
    with pytest.raises(ResourceNotFound):
        asyncio.run(chain.node.trace_transaction(b"\xab" * 32, TraceOptions("callTracer")))
    assert asyncio.run(chain.node.trace_block(0, TraceOptions())) == []


def test_trace_options_refuse_unknown_tracers() -> None:
    with pytest.raises(ValueError, match="unknown tracer"):
        TraceOptions("jsTracer")
    with pytest.raises(ValueError, match="unknown tracer"):
        replace(TraceOptions(), tracer="")
    assert replace(TraceOptions(), tracer="callTracer").tracer == "callTracer"
