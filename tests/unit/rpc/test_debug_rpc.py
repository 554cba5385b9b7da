"""rpc.namespaces.debug: geth's trace config parsed strictly (wrong types, unknown
tracers, hostile limits and durations refused with -32602 and a message saying what),
and the JSON of each tracer's result."""

from __future__ import annotations

from typing import Any

import pytest

from rpc.errors import InvalidParams
from rpc.namespaces.debug import (
    MAX_LIMIT,
    call_frame_json,
    parse_trace_options,
    struct_trace_json,
    trace_json,
)
from sequencer.tracing.call import CallFrame, CallLog
from sequencer.tracing.simple import SelectorCounts
from sequencer.tracing.spec import TraceOptions
from sequencer.tracing.struct import StructConfig, StructLog, StructTrace

A = b"\xaa" * 20
B = b"\xbb" * 20


def test_defaults_and_every_field() -> None:
    assert parse_trace_options(None, 1) == TraceOptions()
    assert parse_trace_options({}, 1) == TraceOptions()
    assert parse_trace_options({"tracer": ""}, 1) == TraceOptions()
    options = parse_trace_options(
        {
            "tracer": "callTracer",
            "tracerConfig": {"onlyTopCall": True, "withLog": True},
            "timeout": "10s",
            "unknownKey": [1, 2],  # ignored, as geth's decoder ignores it
        },
        1,
    )
    assert options == TraceOptions("callTracer", StructConfig(), True, True)
    struct = parse_trace_options(
        {
            "disableStack": True,
            "disableStorage": True,
            "enableMemory": True,
            "enableReturnData": True,
            "limit": 5,
            "timeout": "1m30.5s",
        },
        1,
    )
    assert struct.struct == StructConfig(True, True, True, True, 5)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("callTracer", "cannot unmarshal string into TraceConfig"),
        ([], "cannot unmarshal array into TraceConfig"),
        ({"tracer": 5}, "tracer: cannot unmarshal number into string"),
        ({"tracer": "jsTracer"}, "is not served"),
        ({"tracer": "{ step: function() {} }"}, "is not served"),
        ({"tracer": "x" * 100_000}, "is not served"),
        ({"tracerConfig": "withLog"}, "tracerConfig: cannot unmarshal string"),
        ({"tracer": "callTracer", "tracerConfig": {"withLog": "yes"}}, "withLog"),
        ({"disableStack": 1}, "disableStack: cannot unmarshal number into bool"),
        ({"enableMemory": "true"}, "enableMemory"),
        ({"limit": -1}, f"limit must be an integer in 0..{MAX_LIMIT}"),
        ({"limit": MAX_LIMIT + 1}, "limit must be an integer"),
        ({"limit": 2**256}, "limit must be an integer"),
        ({"limit": 1.5}, "limit must be an integer"),
        ({"limit": True}, "limit must be an integer"),
        ({"limit": "10"}, "limit must be an integer"),
        ({"timeout": "10"}, "timeout: not a duration"),
        ({"timeout": 10}, "timeout: not a duration"),
        ({"timeout": "1y"}, "timeout: not a duration"),
        ({"timeout": "9" * 10_000}, "timeout: not a duration"),
        ({"tracer": "muxTracer", "tracerConfig": {"muxTracer": {}}}, "cannot hold a muxTracer"),
        ({"tracer": "muxTracer", "tracerConfig": {"jsTracer": {}}}, "is not served"),
        ({"tracer": "muxTracer", "tracerConfig": {"callTracer": 5}}, "tracerConfig: cannot"),
        ({"tracer": "muxTracer", "tracerConfig": {str(i): {} for i in range(50)}}, "too many"),
    ],
)
def test_bad_configs_are_refused_clearly(value: Any, message: str) -> None:
    with pytest.raises(InvalidParams, match="invalid argument 1") as raised:
        parse_trace_options(value, 1)
    assert message in str(raised.value)
    assert len(str(raised.value)) < 300  # hostile input is not echoed whole


def test_mux_config() -> None:
    options = parse_trace_options(
        {
            "tracer": "muxTracer",
            "tracerConfig": {"callTracer": {"onlyTopCall": True}, "prestateTracer": {}},
        },
        1,
    )
    assert options.mux == (
        ("callTracer", TraceOptions("callTracer", only_top_call=True)),
        ("prestateTracer", TraceOptions("prestateTracer")),
    )


def test_call_frame_json_is_gethish() -> None:
    child = CallFrame("STATICCALL", A, B, None, 100, 50, b"\x01", b"\x02")
    failed_create = CallFrame("CREATE", A, None, 0, 10, 10, b"\x60", error="out of gas")
    root = CallFrame(
        "CALL",
        A,
        B,
        5,
        1000,
        900,
        b"",
        b"\x08\xc3\x79\xa0",
        "execution reverted",
        "why",
        (child, failed_create),
        (CallLog(B, (b"\x01" * 32,), b"", 1, 0),),
    )
    assert call_frame_json(root) == {
        "from": "0x" + A.hex(),
        "gas": "0x3e8",
        "gasUsed": "0x384",
        "to": "0x" + B.hex(),
        "input": "0x",
        "output": "0x08c379a0",
        "error": "execution reverted",
        "revertReason": "why",
        "calls": [
            {
                "from": "0x" + A.hex(),
                "gas": "0x64",
                "gasUsed": "0x32",
                "to": "0x" + B.hex(),
                "input": "0x01",
                "output": "0x02",
                "type": "STATICCALL",
            },
            {
                "from": "0x" + A.hex(),
                "gas": "0xa",
                "gasUsed": "0xa",
                "input": "0x60",
                "error": "out of gas",
                "value": "0x0",
                "type": "CREATE",
            },
        ],
        "logs": [
            {
                "address": "0x" + B.hex(),
                "topics": ["0x" + "01" * 32],
                "data": "0x",
                "position": "0x1",
                "index": "0x0",
            }
        ],
        "value": "0x5",
        "type": "CALL",
    }
    assert trace_json(root) == call_frame_json(root)


def test_struct_trace_json() -> None:
    log = StructLog(
        3,
        "SSTORE",
        100,
        20000,
        1,
        0,
        stack=(1, 2**255),
        memory=b"\x01" * 33,
        return_data=b"\x02",
        storage={1: 2},
        error="out of gas",
    )
    trace = StructTrace(21000, True, b"\xab", (log,))
    assert struct_trace_json(trace) == {
        "gas": 21000,
        "failed": True,
        "returnValue": "0xab",
        "structLogs": [
            {
                "pc": 3,
                "op": "SSTORE",
                "gas": 100,
                "gasCost": 20000,
                "depth": 1,
                "error": "out of gas",
                "stack": ["0x1", hex(2**255)],
                "returnData": "0x02",
                "memory": ["0x" + "01" * 32, "0x01"],
                "storage": {"0x" + "00" * 31 + "01": "0x" + "00" * 31 + "02"},
                "refund": 0,
            }
        ],
    }
    assert trace_json(SelectorCounts({"0xa9059cbb-64": 1})) == {"0xa9059cbb-64": 1}
    assert trace_json(SelectorCounts({})) == {}


def test_raw_block_header_receipts_and_code() -> None:
    """debug_getRaw*: the header hashes to the block hash, the block's RLP is the size
    eth_getBlock reports and holds the transactions, the receipts rebuild the receipts
    root; debug_codeByHash finds deployed code; hostile selectors are refused."""
    import asyncio

    from jit import rlp
    from rpc.dispatch import RequestContext, default_registry
    from sequencer.config import NodeConfig
    from sequencer.errors import ResourceNotFound
    from sequencer.node import Node
    from sequencer.trie import ordered_trie_root
    from sequencer.types.transactions import Transaction, sign_transaction
    from statedb.types import keccak256

    node = Node(NodeConfig(data_dir=None, accounts=1))
    key = node.accounts[0].private_key
    runtime = bytes.fromhex("602a60005260206000f3")  # returns 42
    initcode = bytes.fromhex("600a600c600039600a6000f3") + runtime
    txs = [
        sign_transaction(Transaction(2, 31337, 0, 100_000, None, 0, initcode, 10**10, 10**9), key),
        sign_transaction(Transaction(0, 31337, 1, 21_000, b"\x01" * 20, 5, b"", 10**10), key),
    ]
    for tx in txs:
        node.pool.add(tx, tx.encode())
    (block,) = node.mine()

    def call(method: str, params: list[Any]) -> Any:
        return asyncio.run(default_registry.call(RequestContext(node), method, params))

    header = bytes.fromhex(call("debug_getRawHeader", ["latest"])[2:])
    assert keccak256(header) == block.hash
    raw = bytes.fromhex(call("debug_getRawBlock", [hex(block.number)])[2:])
    assert len(raw) == block.size
    decoded = rlp.decode(raw)
    assert isinstance(decoded, list) and rlp.encode(decoded[0]) == header
    assert [rlp.encode(t) if isinstance(t, list) else t for t in decoded[1]] == [
        tx.encode() for tx in txs
    ]
    receipts = [bytes.fromhex(r[2:]) for r in call("debug_getRawReceipts", ["latest"])]
    assert ordered_trie_root(receipts) == block.header.receipts_root
    contract = block.receipts[0].contract_address
    assert contract is not None
    assert call("debug_codeByHash", ["0x" + keccak256(runtime).hex()]) == "0x" + runtime.hex()
    assert call("debug_codeByHash", ["0x" + "ab" * 32]) == "0x"
    assert (
        call("debug_getRawTransaction", ["0x" + txs[1].hash.hex()]) == "0x" + txs[1].encode().hex()
    )
    assert call("debug_getRawTransaction", ["0x" + "ab" * 32]) is None
    with pytest.raises(ResourceNotFound):
        call("debug_getRawBlock", ["0x99"])
    with pytest.raises(InvalidParams):
        call("debug_getRawHeader", ["pending"])
    with pytest.raises(InvalidParams):
        call("debug_getRawReceipts", ["0x" + "f" * 100])
    with pytest.raises(InvalidParams):
        call("debug_codeByHash", ["0x1234"])


def test_storage_range_at() -> None:
    """debug_storageRangeAt: the storage as a transaction of the block found it (the
    block's earlier transactions applied), in keccak(slot) order, paged by nextKey."""
    import asyncio

    from rpc.dispatch import RequestContext, default_registry
    from sequencer.config import NodeConfig
    from sequencer.errors import NodeError
    from sequencer.node import Node
    from sequencer.types.transactions import Transaction, sign_transaction
    from statedb.types import keccak256
    from tests.helpers.asm import Asm, initcode_for

    node = Node(NodeConfig(data_dir=None, accounts=1))
    key = node.accounts[0].private_key
    # Each call stores CALLVALUE+1 at slots 1..3 (0 stays empty).
    runtime = (
        b"".join(
            Asm().op("CALLVALUE").push(1).op("ADD").push(slot).op("SSTORE").build()
            for slot in (1, 2, 3)
        )
        + b"\x00"
    )
    deploy = sign_transaction(
        Transaction(2, 31337, 0, 300_000, None, 0, initcode_for(runtime), 10**10, 10**9), key
    )
    node.pool.add(deploy, deploy.encode())
    (first,) = node.mine()
    contract = first.receipts[0].contract_address
    assert contract is not None
    txs = [
        sign_transaction(Transaction(2, 31337, n, 100_000, contract, n, b"", 10**10, 10**9), key)
        for n in (1, 2)
    ]
    for tx in txs:
        node.pool.add(tx, tx.encode())
    (block,) = node.mine()
    assert len(block.transactions) == 2

    def call(params: list[Any]) -> Any:
        return asyncio.run(
            default_registry.call(RequestContext(node), "debug_storageRangeAt", params)
        )

    where = ["0x" + block.hash.hex()]
    address = "0x" + contract.hex()
    before = call([*where, 0, address, "0x00", 10])
    assert before == {"storage": {}, "nextKey": None}  # nothing stored before the block's txs
    after_first = call([*where, 1, address, "0x00", 10])
    ordered = sorted((keccak256(s.to_bytes(32, "big")), s) for s in (1, 2, 3))
    assert list(after_first["storage"]) == ["0x" + h.hex() for h, _ in ordered]
    assert {e["value"] for e in after_first["storage"].values()} == {"0x" + "00" * 31 + "02"}
    after_both = call([*where, 2, address, "0x00", 10])
    assert {e["value"] for e in after_both["storage"].values()} == {"0x" + "00" * 31 + "03"}
    page = call([*where, 2, address, "0x00", 2])
    assert len(page["storage"]) == 2 and page["nextKey"] == "0x" + ordered[2][0].hex()
    rest = call([*where, 2, address, page["nextKey"], 2])
    assert list(rest["storage"]) == [page["nextKey"]] and rest["nextKey"] is None
    for bad in (
        [*where, -1, address, "0x00", 1],
        [*where, 0, address, "0x00", 10**9],
        [*where, 0, address, "00", 1],
        [*where, 0, address, "0x" + "1" * 70, 1],
        [*where, 0, address, "0xzz", 1],
        [*where, "0", address, "0x00", 1],
    ):
        with pytest.raises(InvalidParams):
            call(bad)
    with pytest.raises(NodeError):
        call([*where, 3, address, "0x00", 1])
    with pytest.raises(NodeError):
        call(["0x" + "ab" * 32, 0, address, "0x00", 1])


def test_db_get_reads_chain_meta_records() -> None:
    import asyncio

    from rpc.dispatch import RequestContext, default_registry
    from sequencer.config import NodeConfig
    from sequencer.errors import NodeError
    from sequencer.node import Node

    node = Node(NodeConfig(data_dir=None, accounts=1))

    def call(params: list[Any]) -> Any:
        return asyncio.run(default_registry.call(RequestContext(node), "debug_dbGet", params))

    key = "0x" + b"dev_state_edits".hex()
    with pytest.raises(NodeError, match="not found"):
        call([key])
    node.edit_state(b"\x42" * 20, balance=7)
    node._persist_edits()
    assert call([key]).startswith("0x") and len(call([key])) > 2
    for bad in (["zz"], [5], ["0x" + "00" * 1025]):
        with pytest.raises(InvalidParams):
            call(bad)
