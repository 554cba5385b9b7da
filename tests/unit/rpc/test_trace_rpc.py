"""rpc.namespaces.trace: Parity traces from call trees (exact JSON for calls, creates,
self-destructs, reverts and halts, stateDiff forms) and hostile trace_filter /
trace_replayBlockTransactions parameters against a served node."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from rpc.dispatch import RequestContext, default_registry
from rpc.errors import InvalidParams
from rpc.namespaces.trace import flat_traces, state_diff_json
from sequencer.config import NodeConfig
from sequencer.errors import NodeError
from sequencer.node import Node
from sequencer.tracing.call import CallFrame
from sequencer.tracing.prestate import AccountChange
from sequencer.types.blocks import MiniBlock
from sequencer.types.transactions import Transaction, sign_transaction
from statedb.types import Account
from tests.helpers.asm import Asm, initcode_for

A = b"\xaa" * 20
B = b"\xbb" * 20
C = b"\xcc" * 20


def test_flat_traces() -> None:
    destroy = CallFrame("SELFDESTRUCT", C, A, 7, 0, 0, b"")
    create = CallFrame("CREATE2", B, C, 0, 500, 100, b"\x60", b"\x00", calls=(destroy,))
    halted = CallFrame("STATICCALL", B, A, None, 50, 50, b"\x01", error="out of gas")
    root = CallFrame(
        "CALL",
        A,
        B,
        1,
        1000,
        900,
        b"\x02",
        b"\x08",
        "execution reverted",
        calls=(create, halted),
    )
    traces = flat_traces(root)
    assert [t["traceAddress"] for t in traces] == [[], [0], [0, 0], [1]]
    assert [t["subtraces"] for t in traces] == [2, 1, 0, 0]
    assert [t["type"] for t in traces] == ["call", "create", "suicide", "call"]
    assert traces[0]["error"] == "Reverted"
    assert traces[0]["result"] == {"gasUsed": "0x384", "output": "0x08"}
    assert traces[1]["action"] == {
        "from": "0x" + B.hex(),
        "gas": "0x1f4",
        "init": "0x60",
        "value": "0x0",
        "creationMethod": "create2",
    }
    assert traces[1]["result"] == {"address": "0x" + C.hex(), "code": "0x00", "gasUsed": "0x64"}
    assert traces[2]["action"] == {
        "address": "0x" + C.hex(),
        "balance": "0x7",
        "refundAddress": "0x" + A.hex(),
    }
    assert traces[2]["result"] is None
    assert traces[3]["error"] == "Out of gas" and traces[3]["result"] is None
    assert traces[3]["action"]["callType"] == "staticcall"


def test_state_diff_forms() -> None:
    changes = {
        A: AccountChange(Account(1, 10), Account(2, 5), b"", b"", {3: (0, 9)}, False),
        B: AccountChange(None, Account(1, 0, b"\x11" * 32), b"", b"\x60", {0: (0, 1)}, True),
        C: AccountChange(Account(0, 4), None, b"\x60", b"", {}, False),
        b"\xdd" * 20: AccountChange(None, Account(0, 3), b"", b"", {}, False),
    }
    diff = state_diff_json(changes)
    assert diff["0x" + A.hex()] == {
        "balance": {"*": {"from": "0xa", "to": "0x5"}},
        "code": "=",
        "nonce": {"*": {"from": "0x1", "to": "0x2"}},
        "storage": {
            "0x" + "00" * 31 + "03": {
                "*": {"from": "0x" + "00" * 32, "to": "0x" + "00" * 31 + "09"}
            }
        },
    }
    assert diff["0x" + B.hex()]["balance"] == {"+": "0x0"}
    assert diff["0x" + B.hex()]["code"] == {"+": "0x60"}
    assert diff["0x" + C.hex()]["balance"] == {"-": "0x4"}
    assert diff["0x" + "dd" * 20]["balance"] == {"*": {"from": "0x0", "to": "0x3"}}
    assert diff["0x" + "dd" * 20]["code"] == "="


@pytest.fixture(scope="module")
def node() -> Node:
    return Node(NodeConfig(data_dir=None, accounts=1))


def _call(node: Node, method: str, params: list[Any]) -> Any:
    return asyncio.run(default_registry.call(RequestContext(node), method, params))


def _mined(
    node: Node, nonce: int, to: bytes | None, data: bytes = b"", gas: int = 100_000
) -> tuple[Transaction, MiniBlock]:
    """A transaction from dev account 0, mined alone; (it, its block)."""
    tx = sign_transaction(
        Transaction(2, 31337, nonce, gas, to, 0, data, 10**10, 10**9),
        node.accounts[0].private_key,
    )
    node.pool.add(tx, tx.encode())
    (block,) = node.mine()
    return tx, block


def _deployed(node: Node, nonce: int, runtime: bytes, gas: int = 200_000) -> bytes:
    """The address of a contract with ``runtime`` as its code, deployed and mined."""
    _, block = _mined(node, nonce, None, initcode_for(runtime), gas)
    address = block.receipts[0].contract_address
    assert address is not None
    return address


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (["latest"], "cannot unmarshal string into TraceFilter"),
        ([{"fromBlock": "0x5"}], "after the head"),
        ([{"fromBlock": "0x0", "toBlock": "0x1"}], "after the head"),
        ([{"fromBlock": "banana"}], "invalid argument 0"),
        ([{"fromAddress": "0xaa"}], "fromAddress: expected a list"),
        ([{"fromAddress": ["0x12"]}], "fromAddress: not an address"),
        ([{"toAddress": ["0x" + "zz" * 20]}], "toAddress: not an address"),
        ([{"toAddress": ["0x" + "aa" * 20] * 1001}], "at most 1000"),
        ([{"after": -1}], "after: cannot unmarshal"),
        ([{"count": 2**40}], "count: cannot unmarshal"),
        ([{"count": "10"}], "count: cannot unmarshal"),
    ],
)
def test_bad_trace_filters(node: Node, params: list[Any], message: str) -> None:
    with pytest.raises(InvalidParams) as raised:
        _call(node, "trace_filter", params)
    assert message in str(raised.value)


def test_an_empty_chain_traces_nothing(node: Node) -> None:
    assert _call(node, "trace_filter", [{}]) == []
    assert _call(node, "trace_block", ["latest"]) == []
    assert _call(node, "trace_transaction", ["0x" + "ab" * 32]) == []
    assert _call(node, "trace_replayBlockTransactions", ["latest", ["trace"]]) == []


@pytest.mark.parametrize(
    ("types", "message"),
    [
        ("trace", "must be a list of strings"),
        ([1], "must be a list of strings"),
        (["trace", "x" * 1000], "unknown trace type"),
    ],
)
def test_bad_replay_types(node: Node, types: object, message: str) -> None:
    with pytest.raises(InvalidParams) as raised:
        _call(node, "trace_replayBlockTransactions", ["latest", types])
    assert message in str(raised.value)
    assert len(str(raised.value)) < 200


def test_replay_call_raw_and_get_agree() -> None:
    """One transaction, four ways: trace_replayTransaction equals its entry in
    trace_replayBlockTransactions; trace_get picks entries of trace_transaction;
    trace_rawTransaction of the same signed bytes on the parent block gives the same
    trace; trace_call of the same call too."""

    node = Node(NodeConfig(data_dir=None, accounts=1))
    # SSTORE 42 at slot 0, return 32 bytes.
    contract = _deployed(node, 0, bytes.fromhex("602a60005560206000f3"))
    poke, mined = _mined(node, 1, contract)
    tx_hash = "0x" + poke.hash.hex()
    types = ["trace", "stateDiff"]

    replayed = _call(node, "trace_replayTransaction", [tx_hash, types])
    block_replay = _call(node, "trace_replayBlockTransactions", [hex(mined.number), types])
    assert block_replay == [{**replayed, "transactionHash": tx_hash}]
    assert replayed["trace"][0]["action"]["to"] == "0x" + contract.hex()
    slot = "0x" + "00" * 32
    assert replayed["stateDiff"]["0x" + contract.hex()]["storage"][slot]["*"]["to"] == (
        "0x" + "00" * 31 + "2a"
    )
    assert _call(node, "trace_replayTransaction", [tx_hash, ["trace"]])["stateDiff"] is None
    assert _call(node, "trace_replayTransaction", ["0x" + "ab" * 32, types]) is None

    listed = _call(node, "trace_transaction", [tx_hash])
    assert _call(node, "trace_get", [tx_hash, [0]]) == listed[0]
    assert _call(node, "trace_get", [tx_hash, ["0x0"]]) == listed[0]
    assert _call(node, "trace_get", [tx_hash, [5]]) is None
    for bad in ([], [0, 1], [-1], "0", [True], [None]):
        with pytest.raises(InvalidParams):
            _call(node, "trace_get", [tx_hash, bad])

    parent = hex(mined.number - 1)
    raw = _call(node, "trace_rawTransaction", ["0x" + poke.encode().hex(), types, parent])
    assert raw["trace"] == replayed["trace"]
    assert raw["output"] == replayed["output"]
    called = _call(
        node,
        "trace_call",
        [
            {"from": "0x" + poke.sender.hex(), "to": "0x" + contract.hex(), "gas": "0x186a0"},
            ["trace"],
            parent,
        ],
    )
    assert called["trace"][0]["action"] == {**replayed["trace"][0]["action"]}
    assert called["trace"][0]["result"] == replayed["trace"][0]["result"]
    with pytest.raises(InvalidParams, match="not a signed transaction"):
        _call(node, "trace_rawTransaction", ["0x1234", types])
    with pytest.raises(InvalidParams):
        _call(node, "trace_call", [{"to": 5}, types])


def test_flat_call_tracer_is_the_parity_list() -> None:
    """geth's flatCallTracer: with convertParityErrors and includePrecompiles it is
    trace_transaction's list exactly; by default calls into precompiles are left out."""

    node = Node(NodeConfig(data_dir=None, accounts=1))
    # STATICCALL sha256 (0x02) on 32 bytes, then REVERT: a precompile child, a revert.
    runtime = (
        Asm()
        .push(0)
        .push(0)
        .push(32)
        .push(0)
        .push(2)
        .op("GAS")
        .op("STATICCALL")
        .op("POP")
        .push(0)
        .push(0)
        .op("REVERT")
        .build()
    )
    contract = _deployed(node, 0, runtime)
    poke, _ = _mined(node, 1, contract)
    tx_hash = "0x" + poke.hash.hex()
    parity = _call(node, "trace_transaction", [tx_hash])
    assert len(parity) == 2 and parity[0]["error"] == "Reverted"
    full = _call(
        node,
        "debug_traceTransaction",
        [
            tx_hash,
            {
                "tracer": "flatCallTracer",
                "tracerConfig": {"convertParityErrors": True, "includePrecompiles": True},
            },
        ],
    )
    assert full == parity
    default = _call(node, "debug_traceTransaction", [tx_hash, {"tracer": "flatCallTracer"}])
    assert len(default) == 1 and default[0]["subtraces"] == 0
    assert default[0]["error"] == "execution reverted"
    assert default[0]["transactionHash"] == tx_hash
    block_traces = _call(node, "debug_traceBlockByNumber", ["latest", {"tracer": "flatCallTracer"}])
    assert block_traces == [{"txHash": tx_hash, "result": default}]


def test_call_many_chains_state_and_trace_block_by_rlp() -> None:

    node = Node(NodeConfig(data_dir=None, accounts=1))
    # Adds one to slot 0 and returns the new value.
    runtime = (
        Asm()
        .push(0)
        .op("SLOAD")
        .push(1)
        .op("ADD")
        .op("DUP1")
        .push(0)
        .op("SSTORE")
        .push(0)
        .op("MSTORE")
        .push(32)
        .push(0)
        .op("RETURN")
        .build()
    )
    contract = _deployed(node, 0, runtime)
    block = node.chain.head
    assert block is not None
    call = {"to": "0x" + contract.hex()}
    results = _call(node, "trace_callMany", [[[call, ["trace"]], [call, ["trace", "stateDiff"]]]])
    assert [r["output"] for r in results] == ["0x" + "00" * 31 + "01", "0x" + "00" * 31 + "02"]
    assert results[0]["stateDiff"] is None and results[1]["stateDiff"] is not None
    for bad in ([{}], [[call]], [[call, ["vmTraces"]]], [[[call, ["trace"]]] * 300], ["x"]):
        with pytest.raises((InvalidParams, NodeError)):
            _call(node, "trace_callMany", bad)

    raw = _call(node, "debug_getRawBlock", ["latest"])
    by_rlp = _call(node, "debug_traceBlock", [raw, {"tracer": "callTracer"}])
    by_hash = _call(
        node, "debug_traceBlockByHash", ["0x" + block.hash.hex(), {"tracer": "callTracer"}]
    )
    assert by_rlp == by_hash and len(by_rlp) == 1
    foreign = bytearray(bytes.fromhex(raw[2:]))
    foreign[10] ^= 0xFF  # another parent hash: not this chain's block
    with pytest.raises(NodeError, match="not in this chain"):
        _call(node, "debug_traceBlock", ["0x" + foreign.hex()])
    for junk in ("0x", "0x1234", "0xc0", "0x" + "ff" * 40):
        with pytest.raises(InvalidParams):
            _call(node, "debug_traceBlock", [junk])


def test_vm_trace_records_every_instruction() -> None:
    """OpenEthereum's vmTrace: one op per instruction the struct logger sees, each with
    the gas left after it, what it pushed, the memory it wrote and the slot it stored;
    a CALL's child frame nested under it; a failing instruction without "ex"."""

    node = Node(NodeConfig(data_dir=None, accounts=1))
    child = bytes.fromhex("fe")  # INVALID
    child_address = _deployed(node, 0, child)
    parent = (
        Asm()
        .push(0x2A)
        .push(0)
        .op("MSTORE")
        .push(7)
        .push(1)
        .op("SSTORE")
        .push(0)
        .push(0)
        .push(0)
        .push(0)
        .push(0)
        .push(child_address, 20)
        .push(50_000)
        .op("CALL")
        .op("DUP1")
        .op("STOP")
        .build()
    )
    contract = _deployed(node, 1, parent, gas=300_000)
    poke, _ = _mined(node, 2, contract, gas=200_000)
    tx_hash = "0x" + poke.hash.hex()
    vm = _call(node, "trace_replayTransaction", [tx_hash, ["vmTrace"]])["vmTrace"]
    struct = _call(node, "debug_traceTransaction", [tx_hash, {}])["structLogs"]
    top = [s for s in struct if s["depth"] == 1]
    assert vm["code"] == "0x" + parent.hex()
    assert [op["pc"] for op in vm["ops"]] == [s["pc"] for s in top]
    assert [op["cost"] for op in vm["ops"]] == [s["gasCost"] for s in top]
    for op, step in zip(vm["ops"], top, strict=True):
        if step["op"] != "CALL":
            assert op["ex"]["used"] == step["gas"] - step["gasCost"]
    by_pc = {op["pc"]: op for op in vm["ops"]}
    assert by_pc[0]["ex"]["push"] == ["0x2a"]
    mstore = vm["ops"][2]
    assert mstore["ex"]["mem"] == {"data": "0x" + "00" * 31 + "2a", "off": 0}
    sstore = vm["ops"][5]
    assert sstore["ex"]["store"] == {"key": "0x1", "val": "0x7"}
    call = next(op for op in vm["ops"] if op["sub"] is not None)
    assert call["ex"]["push"] == ["0x0"]  # the child failed
    assert call["sub"]["code"] == "0xfe"
    inner = [s for s in struct if s["depth"] == 2]
    assert call["sub"]["ops"] == [
        {
            "cost": inner[0]["gasCost"],
            "ex": {"mem": None, "push": [], "store": None, "used": 0},
            "pc": 0,
            "sub": None,
            "op": "INVALID",
        }
    ]
    dup = vm["ops"][-2]
    assert dup["ex"]["push"] == ["0x0", "0x0"]  # DUP1 leaves two words
    block = _call(node, "trace_replayBlockTransactions", ["latest", ["vmTrace"]])
    assert block[0]["vmTrace"] == vm and block[0]["trace"] == []
