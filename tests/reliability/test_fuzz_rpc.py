"""JSON-RPC fuzzer (issue 14): every registered method with hostile parameters, and hostile
envelopes, against a real Node behind the real aiohttp app.

What must hold for every request: an HTTP answer that is a well-formed JSON-RPC response
(never a 500, never a dropped connection), the id echoed exactly, an error code from the
JSON-RPC set, and never ``internal error`` (the code a handler's unexpected exception
becomes: a bug, logged with its traceback). After the run the node still seals blocks and
answers.

``HUMMINGBIRD_FUZZ_EXAMPLES`` sets the number of examples per test (``make test``: the
default; ``make reliability``: many more).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import rpc.namespaces  # noqa: F401  (registers every method)
from rpc.dispatch import default_registry
from rpc.server import create_app
from sequencer.config import NodeConfig
from sequencer.node import Node

EXAMPLES = int(os.environ.get("HUMMINGBIRD_FUZZ_EXAMPLES", "150"))
ERROR_CODES = {-32700, -32600, -32601, -32602, -32603, -32000, -32001, -32002, -32003, 3, 4001}
# Valid but long-running for large valid arguments (up to 100,000 blocks each, or a
# receipt wait of up to a minute): their bounds are tested in tests/integration.
SLOW = {
    "anvil_mine",
    "hardhat_mine",
    "evm_mine",
    "anvil_mine_detailed",
    "evm_mine_detailed",
    "eth_sendRawTransactionSync",
    "eth_sendTransactionSync",
    "realtime_sendRawTransaction",
}
METHODS = sorted(set(default_registry.names()) - SLOW)

ADDRESS = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"  # dev account 0

hex_data = st.binary(max_size=80).map(lambda b: "0x" + b.hex())
hex_quantity = st.integers(min_value=0, max_value=2**300).map(hex)
hostile_text = st.sampled_from(
    [
        "",
        "0x",
        "0x0",
        "0x00",
        "latest",
        "pending",
        "earliest",
        "safe",
        "finalized",
        "0x" + "f" * 64,
        "0x" + "f" * 65,
        "0x-1",
        "0X10",
        "1e400",
        "NaN",
        "\x00",
        "\ud7ff" * 3,
        "x" * 5000,
        ADDRESS,
        ADDRESS.upper(),
        "0x" + "00" * 20,
    ]
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=False, allow_infinity=False),
    hex_data,
    hex_quantity,
    hostile_text,
    st.text(max_size=20),
)
KEYS = [
    "from",
    "to",
    "data",
    "input",
    "value",
    "gas",
    "gasPrice",
    "maxFeePerGas",
    "maxPriorityFeePerGas",
    "nonce",
    "accessList",
    "blockHash",
    "fromBlock",
    "toBlock",
    "address",
    "topics",
    "code",
    "balance",
    "state",
    "stateDiff",
    "blockStateCalls",
    "calls",
    "blockOverrides",
    "stateOverrides",
    "validation",
    "type",
    "chainId",
]
json_values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.one_of(st.sampled_from(KEYS), st.text(max_size=8)), children, max_size=4
        ),
    ),
    max_leaves=12,
)
params = st.one_of(st.lists(json_values, max_size=5), json_values)
ids = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(max_size=10),
    st.none(),
)


@pytest.fixture
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    node = Node(NodeConfig(data_dir=None, accounts=3, rpc_timeout=2.0, sender_recovery="inline"))
    await node.start()
    app = create_app(node, default_registry, info=node.info)
    try:
        async with TestClient(TestServer(app)) as c:
            yield c
    finally:
        await node.stop()


Client = TestClient[web.Request, web.Application]


def check_response(answer: Any, request_id: object) -> None:
    assert isinstance(answer, dict), answer
    assert answer.get("jsonrpc") == "2.0", answer
    assert ("result" in answer) != ("error" in answer), answer
    if request_id is not None or "id" in answer:
        assert answer.get("id") == request_id, (answer, request_id)
    if "error" in answer:
        error = answer["error"]
        assert error["code"] in ERROR_CODES, answer
        assert isinstance(error["message"], str) and error["message"], answer
        assert error["message"] != "internal error", answer  # an unexpected exception


async def post(client: Client, body: bytes) -> Any:
    response = await client.post("/", data=body, headers={"Content-Type": "application/json"})
    assert response.status == 200, (response.status, body[:200])
    return json.loads(await response.read())


FUZZ = settings(
    max_examples=EXAMPLES,
    # report a failure as found: shrinking a slow request can take longer than finding it
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target],
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)


@FUZZ
@given(method=st.sampled_from(METHODS), values=params, request_id=ids)
async def test_every_method_answers_hostile_params_cleanly(
    client: Client, method: str, values: Any, request_id: object
) -> None:
    body = encode({"jsonrpc": "2.0", "id": request_id, "method": method, "params": values})
    check_response(await post(client, body), request_id)


def encode(value: object) -> bytes:
    # the json module, not orjson: request ids and params may be integers of any size
    return json.dumps(value).encode()


@FUZZ
@given(
    envelope=st.one_of(
        json_values,
        st.lists(json_values, max_size=5),
        st.dictionaries(
            st.sampled_from(["jsonrpc", "id", "method", "params", "extra"]), json_values
        ),
    )
)
async def test_hostile_envelopes_get_json_rpc_errors(client: Client, envelope: Any) -> None:
    answer = await post(client, encode(envelope))
    items = answer if isinstance(answer, list) else [answer]
    for item in items:
        assert isinstance(item, dict) and item.get("jsonrpc") == "2.0", item
        if "error" in item:
            assert item["error"]["code"] in ERROR_CODES, item
            assert item["error"]["message"] != "internal error", item


@FUZZ
@given(body=st.binary(max_size=300))
async def test_garbage_bodies_are_parse_errors(client: Client, body: bytes) -> None:
    response = await client.post("/", data=body, headers={"Content-Type": "application/json"})
    assert response.status in (200, 204), response.status
    if response.status == 200 and await response.read():
        check_response_or_batch(json.loads(await response.read()))


def check_response_or_batch(answer: Any) -> None:
    for item in answer if isinstance(answer, list) else [answer]:
        assert item.get("jsonrpc") == "2.0", item
        if "error" in item:
            assert item["error"]["message"] != "internal error", item


async def test_the_node_is_whole_after_fuzzing(client: Client) -> None:
    answer = await post(
        client,
        orjson.dumps(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "eth_sendTransaction",
                "params": [{"from": ADDRESS, "to": ADDRESS, "value": "0x1"}],
            }
        ),
    )
    assert "result" in answer, answer
    receipt = await post(
        client,
        orjson.dumps(
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "eth_getTransactionReceipt",
                "params": [answer["result"]],
            }
        ),
    )
    assert receipt["result"]["status"] == "0x1"
