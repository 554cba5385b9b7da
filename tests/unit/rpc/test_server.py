"""rpc.server: JSON-RPC 2.0 over HTTP and WebSocket, with hostile input, CORS and ordering."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient, TestServer

import rpc.server as server_module
from rpc.codecs import quantity
from rpc.dispatch import Quantity, Registry, RequestContext
from rpc.exposure import ExposurePolicy
from rpc.server import WsConnection, create_app, serve
from sequencer.errors import ExecutionReverted, NodeError

NODE = object()
reg = Registry()
CLOSED: list[str] = []


@reg.method("t_echo")
async def echo(ctx: RequestContext, value: object = None) -> object:
    return value


@reg.method("t_add")
async def add(ctx: RequestContext, a: Quantity, b: Quantity) -> str:
    return quantity(a + b)


@reg.method("t_node")
async def node_is(ctx: RequestContext) -> bool:
    return ctx.node is NODE


@reg.method("t_ctx")
async def context(ctx: RequestContext) -> dict[str, object]:
    assert ctx.request is not None
    return {"ws": ctx.connection is not None, "path": ctx.request.path}


@reg.method("t_nonce")
async def nonce(ctx: RequestContext) -> None:
    raise NodeError("nonce too low")


@reg.method("t_revert")
async def revert(ctx: RequestContext) -> None:
    raise ExecutionReverted(b"\xde\xad", None)


@reg.method("t_crash")
async def crash(ctx: RequestContext) -> None:
    raise RuntimeError("handler bug")


@reg.method("t_bigint")
async def bigint(ctx: RequestContext) -> int:
    return 2**70  # not encodable by orjson


@reg.method("t_sleep")
async def sleep(ctx: RequestContext, ms: int) -> int:
    await asyncio.sleep(ms / 1000)
    return ms


@reg.method("t_subscribe")
async def subscribe(ctx: RequestContext) -> str:
    """Notifies before it returns and after an await: both must follow the response."""
    conn = ctx.connection
    assert conn is not None
    sub_id = conn.new_subscription_id(ctx)
    conn.notify(sub_id, 1)
    await asyncio.sleep(0)
    await conn.send_notification(sub_id, 2)
    return sub_id


@reg.method("t_subscribe_soon")
async def subscribe_soon(ctx: RequestContext) -> str:
    """A plain id whose first notification fires as soon as the loop runs again."""
    conn = ctx.connection
    assert conn is not None
    sub_id = "0xabc"
    asyncio.get_running_loop().call_soon(conn.notify, sub_id, "soon")
    return sub_id


@reg.method("t_on_close")
async def on_close(ctx: RequestContext, tag: str) -> bool:
    conn = ctx.connection
    assert conn is not None
    conn.on_close(lambda: CLOSED.append(tag))
    return conn.closed


EVENTS: list[str] = []


@reg.method("eth_sendRawTransaction")
async def fake_submit(ctx: RequestContext, tag: str) -> str:
    """Admits (synchronously), then waits for its 'block' like the node's submission."""
    EVENTS.append(f"admit {tag}")
    if tag == "bad":
        raise NodeError("nonce too low")
    await asyncio.sleep(0.001)
    EVENTS.append(f"sealed {tag}")
    return tag


@reg.method("t_log")
async def log_event(ctx: RequestContext, tag: str) -> str:
    EVENTS.append(f"log {tag}")
    return tag


def info() -> dict[str, Any]:
    return {"name": "hummingbird", "chainId": 31337}


def make_app(**kwargs: Any) -> web.Application:
    options: dict[str, Any] = {"info": info, "max_body_bytes": 4096, "max_batch": 10}
    options.update(kwargs)
    return create_app(NODE, reg, **options)


@pytest.fixture
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with TestClient(TestServer(make_app())) as c:
        yield c


Client = TestClient[web.Request, web.Application]


def req(method: str, params: object = None, id: object = 1) -> dict[str, object]:
    out: dict[str, object] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        out["params"] = params
    out["id"] = id
    return out


def notification(method: str, params: object = None) -> dict[str, object]:
    out = req(method, params)
    del out["id"]
    return out


JSON_HEADERS = {"Content-Type": "application/json"}


async def post(client: Client, payload: object, path: str = "/") -> Any:
    resp = await client.post(path, data=orjson.dumps(payload), headers=JSON_HEADERS)
    assert resp.status == 200
    assert resp.content_type == "application/json"
    return orjson.loads(await resp.read())


async def post_raw(client: Client, body: bytes) -> tuple[int, bytes]:
    resp = await client.post("/", data=body, headers=JSON_HEADERS)
    return resp.status, await resp.read()


# ---------------------------------------------------------------- HTTP: single requests


async def test_single_request(client: Client) -> None:
    assert await post(client, req("t_add", ["0x1", "0x2"])) == {
        "jsonrpc": "2.0",
        "id": 1,
        "result": "0x3",
    }
    assert (await post(client, req("t_node")))["result"] is True


@pytest.mark.parametrize("request_id", ["abc", "", 0, -5, 2**53, 1.5, None])
async def test_ids_are_echoed_verbatim(client: Client, request_id: object) -> None:
    out = await post(client, req("t_echo", ["x"], id=request_id))
    assert out == {"jsonrpc": "2.0", "id": request_id, "result": "x"}


async def test_null_result_has_result_member_and_no_error(client: Client) -> None:
    out = await post(client, req("t_echo"))
    assert out == {"jsonrpc": "2.0", "id": 1, "result": None}


async def test_any_path_is_served(client: Client) -> None:
    assert (await post(client, req("t_ctx"), path="/rpc/v1"))["result"] == {
        "ws": False,
        "path": "/rpc/v1",
    }


async def test_unknown_method(client: Client) -> None:
    assert (await post(client, req("eth_nope")))["error"] == {
        "code": -32601,
        "message": "the method eth_nope does not exist/is not available",
    }


async def test_bad_params(client: Client) -> None:
    out = await post(client, req("t_add", ["0x1", "0x01"]))
    assert out["error"] == {
        "code": -32602,
        "message": "invalid argument 1: hex number with leading zero digits",
    }
    out = await post(client, req("t_add", {"a": "0x1", "b": "0x2"}))
    assert out["error"] == {"code": -32602, "message": "non-array args"}


async def test_handler_errors_are_mapped(client: Client) -> None:
    assert (await post(client, req("t_nonce")))["error"] == {
        "code": -32000,
        "message": "nonce too low",
    }
    assert (await post(client, req("t_revert")))["error"] == {
        "code": 3,
        "message": "execution reverted",
        "data": "0xdead",
    }


async def test_unexpected_exception_is_minus_32603_not_http_500(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="hummingbird.rpc"):
        out = await post(client, req("t_crash", id=9))
    assert out["id"] == 9
    assert out["error"]["code"] == -32603
    assert out["error"]["message"] == "internal error"
    assert "result" not in out
    assert any(r.exc_info for r in caplog.records)
    assert "handler bug" in caplog.text


async def test_unencodable_result_is_internal_error(client: Client) -> None:
    out = await post(client, req("t_bigint", id="b"))
    assert out["id"] == "b"
    assert out["error"]["code"] == -32603
    # in a batch only that item fails
    out = await post(client, [req("t_bigint", id=1), req("t_echo", [1], id=2)])
    assert out[0]["error"]["code"] == -32603
    assert out[1] == {"jsonrpc": "2.0", "id": 2, "result": 1}


# ---------------------------------------------------------------- HTTP: invalid requests


@pytest.mark.parametrize(
    ("payload", "request_id"),
    [
        ({"jsonrpc": "2.0", "id": 1}, 1),  # no method
        ({"jsonrpc": "2.0", "id": 1, "method": ""}, 1),
        ({"jsonrpc": "2.0", "id": 1, "method": 5}, 1),
        ({"jsonrpc": "1.0", "id": 2, "method": "t_echo"}, 2),
        ({"id": 3, "method": "t_echo"}, 3),  # no version
        ({"jsonrpc": 2.0, "id": 4, "method": "t_echo"}, 4),
        ({"jsonrpc": "2.0", "id": {"a": 1}, "method": "t_echo"}, None),
        ({"jsonrpc": "2.0", "id": [1], "method": "t_echo"}, None),
        ({"jsonrpc": "2.0", "id": True, "method": "t_echo"}, None),
        ({"jsonrpc": "1.0", "method": "t_echo"}, None),  # an invalid notification is answered
        ({}, None),
        (1, None),
        ("t_echo", None),
        (None, None),
        (True, None),
    ],
)
async def test_invalid_request_objects(client: Client, payload: object, request_id: object) -> None:
    assert await post(client, payload) == {
        "jsonrpc": "2.0",
        "id": request_id,
        "error": {"code": -32600, "message": "invalid request"},
    }


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"not json",
        b'{"jsonrpc": "2.0", "method": "t_echo", "id": 1,}',
        b"\xff\xfe\xfd",
        b'"\xff"',
        b"[" * 1500 + b"]" * 1500,  # deeper than orjson's limit of 1024
        b"[NaN]",
        b'{"a": 1e999}',
        b'{"jsonrpc":"2.0","method":"t_echo","id":1} trailing',
    ],
)
async def test_malformed_json_is_parse_error_with_null_id(client: Client, body: bytes) -> None:
    status, raw = await post_raw(client, body)
    assert status == 200
    out = orjson.loads(raw)
    assert out["id"] is None
    assert out["error"]["code"] == -32700
    assert out["error"]["message"].startswith("parse error")


async def test_deep_but_legal_nesting_is_passed_through(client: Client) -> None:
    deep: object = 1
    for _ in range(100):
        deep = [deep]
    assert (await post(client, req("t_echo", [deep])))["result"] == deep


# ---------------------------------------------------------------- HTTP: batches


async def test_batch_keeps_order_with_per_item_errors(client: Client) -> None:
    batch = [
        req("t_add", ["0x1", "0x1"], id="a"),
        7,
        {"jsonrpc": "1.0", "method": "t_echo", "id": "b"},
        notification("t_echo", [1]),
        req("eth_nope", id="c"),
        req("t_add", ["0x1"], id="d"),
    ]
    out = await post(client, batch)
    assert out == [
        {"jsonrpc": "2.0", "id": "a", "result": "0x2"},
        {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "invalid request"}},
        {"jsonrpc": "2.0", "id": "b", "error": {"code": -32600, "message": "invalid request"}},
        {
            "jsonrpc": "2.0",
            "id": "c",
            "error": {
                "code": -32601,
                "message": "the method eth_nope does not exist/is not available",
            },
        },
        {
            "jsonrpc": "2.0",
            "id": "d",
            "error": {"code": -32602, "message": "missing value for required argument 1"},
        },
    ]


async def test_batch_items_with_unhashable_methods_are_invalid_requests(client: Client) -> None:
    # found by tests/reliability/test_fuzz_rpc.py: a dict as "method" raised TypeError
    # (unhashable) while the batch looked for transaction submissions
    batch = [
        {"jsonrpc": "2.0", "id": 1, "method": {"a": 1}},
        {"jsonrpc": "2.0", "id": 2, "method": ["eth_sendRawTransaction"]},
        req("t_add", ["0x1", "0x1"], id=3),
    ]
    out = await post(client, batch)
    invalid = {"code": -32600, "message": "invalid request"}
    assert out == [
        {"jsonrpc": "2.0", "id": 1, "error": invalid},
        {"jsonrpc": "2.0", "id": 2, "error": invalid},
        {"jsonrpc": "2.0", "id": 3, "result": "0x2"},
    ]


async def test_batch_items_run_in_order(client: Client) -> None:
    out = await post(client, [req("t_sleep", [20], id=1), req("t_sleep", [0], id=2)])
    assert [item["id"] for item in out] == [1, 2]


async def test_batch_admits_a_run_of_submissions_together_in_order(client: Client) -> None:
    """A run of consecutive submissions is admitted in order before any is awaited (so
    the node seals it as one block); the next other item runs after the whole run."""
    EVENTS.clear()
    batch = [
        req("t_log", ["first"], id=0),
        req("eth_sendRawTransaction", ["a"], id=1),
        req("eth_sendRawTransaction", ["bad"], id=2),
        req("eth_sendRawTransaction", ["b"], id=3),
        req("t_log", ["middle"], id=4),
        req("eth_sendRawTransaction", ["c"], id=5),
    ]
    out = await post(client, batch)
    assert [item["id"] for item in out] == [0, 1, 2, 3, 4, 5]
    assert [item.get("result") for item in out] == ["first", "a", None, "b", "middle", "c"]
    assert out[2]["error"]["message"] == "nonce too low"
    assert EVENTS[:4] == ["log first", "admit a", "admit bad", "admit b"]
    assert sorted(EVENTS[4:6]) == ["sealed a", "sealed b"]
    assert EVENTS[6:] == ["log middle", "admit c", "sealed c"]


async def test_empty_batch_is_one_error(client: Client) -> None:
    assert await post(client, []) == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32600, "message": "empty batch"},
    }


async def test_batch_too_large_is_one_error_with_the_first_call_id(client: Client) -> None:
    batch: list[object] = [notification("t_echo"), 5, *[req("t_echo", id=i) for i in range(10, 19)]]
    assert await post(client, batch) == [
        {"jsonrpc": "2.0", "id": 10, "error": {"code": -32600, "message": "batch too large"}}
    ]
    assert len(await post(client, [req("t_echo", id=i) for i in range(10)])) == 10


async def test_notifications_get_no_response(client: Client) -> None:
    status, body = await post_raw(client, orjson.dumps(notification("t_echo", [1])))
    assert (status, body) == (200, b"")
    status, body = await post_raw(
        client,
        orjson.dumps([notification("t_echo"), notification("eth_nope"), notification("t_crash")]),
    )
    assert (status, body) == (200, b"")
    out = await post(client, [notification("t_echo"), req("t_echo", ["x"], id=1)])
    assert out == [{"jsonrpc": "2.0", "id": 1, "result": "x"}]


# ---------------------------------------------------------------- HTTP: limits


async def test_body_over_limit_is_413_with_a_json_rpc_error(client: Client) -> None:
    body = orjson.dumps(req("t_echo", ["x" * 5000]))
    status, raw = await post_raw(client, body)
    assert status == 413
    assert orjson.loads(raw) == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32600, "message": "request body too large: limit is 4096 bytes"},
    }


async def test_chunked_body_over_limit_is_cut_off(client: Client) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(100):
            yield b" " * 1000

    resp = await client.post("/", data=chunks(), headers=JSON_HEADERS)
    assert resp.status == 413


async def test_body_at_limit_is_served(client: Client) -> None:
    payload = req("t_echo", [""])
    pad = 4096 - len(orjson.dumps(payload))
    body = orjson.dumps(req("t_echo", ["y" * pad]))
    assert len(body) == 4096
    status, raw = await post_raw(client, body)
    assert status == 200
    assert orjson.loads(raw)["result"] == "y" * pad


async def test_ten_megabyte_hex_fails_fast_under_the_default_limit() -> None:
    async with TestClient(TestServer(create_app(NODE, reg, info=info))) as c:
        huge = "0x1" + "0" * 10_000_000
        loop = asyncio.get_running_loop()
        start = loop.time()
        body = io.BytesIO(orjson.dumps(req("t_add", [huge, "0x1"])))
        resp = await c.post("/", data=body, headers=JSON_HEADERS)
        out = orjson.loads(await resp.read())
        assert out["error"] == {
            "code": -32602,
            "message": "invalid argument 0: hex number > 256 bits",
        }
        assert loop.time() - start < 2.0


# ---------------------------------------------------------------- HTTP: GET, CORS, methods


async def test_get_returns_node_info(client: Client) -> None:
    resp = await client.get("/")
    assert resp.status == 200
    assert orjson.loads(await resp.read()) == info()
    assert "Access-Control-Allow-Origin" not in resp.headers  # no Origin: not a browser
    resp = await client.get("/", headers={"Origin": "http://localhost:3000"})
    assert resp.headers["Access-Control-Allow-Origin"] == "http://localhost:3000"


async def test_failing_info_is_a_json_500() -> None:
    def bad_info() -> dict[str, Any]:
        raise RuntimeError("no info")

    async with TestClient(TestServer(create_app(NODE, reg, info=bad_info))) as c:
        resp = await c.get("/")
        assert resp.status == 500
        assert orjson.loads(await resp.read())["error"]["code"] == -32603


async def test_other_http_methods_are_405(client: Client) -> None:
    resp = await client.put("/", data=b"{}")
    assert resp.status == 405
    assert "POST" in resp.headers["Allow"]


async def test_cors_headers_and_preflight(client: Client) -> None:
    """By default a localhost origin is allowed: its exact origin is echoed (not *)."""
    local = "http://localhost:5173"
    resp = await client.post(
        "/", data=orjson.dumps(req("t_echo")), headers={"Origin": local, **JSON_HEADERS}
    )
    assert resp.status == 200
    assert resp.headers["Access-Control-Allow-Origin"] == local
    assert "Origin" in resp.headers.getall("Vary")
    resp = await client.options(
        "/",
        headers={
            "Origin": local,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-custom",
        },
    )
    assert resp.status == 204
    assert resp.headers["Access-Control-Allow-Origin"] == local
    assert resp.headers["Access-Control-Allow-Methods"] == "POST, GET, OPTIONS"
    assert resp.headers["Access-Control-Allow-Headers"] == "content-type,x-custom"
    assert int(resp.headers["Access-Control-Max-Age"]) > 0
    resp = await client.options("/", headers={"Origin": local})
    assert resp.headers["Access-Control-Allow-Headers"] == "*"


async def test_cors_any_origin_with_star() -> None:
    app = make_app(exposure=ExposurePolicy.build(cors=["*"]))
    async with TestClient(TestServer(app)) as c:
        resp = await c.post(
            "/", data=orjson.dumps(req("t_echo")), headers={"Origin": "http://a", **JSON_HEADERS}
        )
        assert resp.status == 200
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
        pre = await c.options("/", headers={"Origin": "http://a"})
        assert pre.status == 204 and pre.headers["Access-Control-Allow-Origin"] == "*"


async def test_cors_origin_list() -> None:
    app = make_app(exposure=ExposurePolicy.build(cors=["http://good.example, http://also.example"]))
    async with TestClient(TestServer(app)) as c:
        headers = {"Origin": "http://good.example", **JSON_HEADERS}
        good = await c.post("/", data=b"{}", headers=headers)
        assert good.status == 200
        assert good.headers["Access-Control-Allow-Origin"] == "http://good.example"
        assert "Origin" in good.headers.getall("Vary")
        bad = await c.post("/", data=b"{}", headers={"Origin": "http://evil.example"})
        assert bad.status == 403  # refused, not merely left without CORS headers
        assert "Access-Control-Allow-Origin" not in bad.headers
        pre = await c.options("/", headers={"Origin": "http://also.example"})
        assert pre.headers["Access-Control-Allow-Origin"] == "http://also.example"


# ---------------------------------------------------------------- logging


async def test_log_lines(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="hummingbird.rpc"):
        await post(client, req("t_add", ["0x1", "0x2"]))
        await post(client, req("eth_nope"))
        await post(client, [req("t_echo", id=i) for i in range(3)] + [req("t_add", [], id=9)])
    lines = [r.getMessage() for r in caplog.records if r.name == "hummingbird.rpc"]
    assert any(line.startswith("http t_add ") and line.endswith(" ok") for line in lines)
    assert any(
        line.startswith("http eth_nope ") and line.endswith("error -32601") for line in lines
    )
    batch = next(line for line in lines if "batch(4)" in line)
    assert "t_echo,t_echo,t_echo,t_add" in batch
    assert batch.endswith("ok 3/4, errors -32602")
    assert "ms" in batch
    assert not any("params" in line for line in lines)  # params only at DEBUG


async def test_log_truncates_long_batches_and_params_at_debug(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="hummingbird.rpc"):
        await post(client, [req("t_echo", ["p" * 500], id=i) for i in range(5)])
    lines = [r.getMessage() for r in caplog.records if r.name == "hummingbird.rpc"]
    batch = next(line for line in lines if "batch(5)" in line)
    assert batch.count("t_echo") == 5
    params = [line for line in lines if line.startswith("t_echo params: ")]
    assert len(params) == 5
    assert all(len(line) < 5000 for line in params)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="hummingbird.rpc"):
        await post(client, [req("t_echo", id=i) for i in range(8)])
    line = next(r.getMessage() for r in caplog.records if "batch(8)" in r.getMessage())
    assert line.count("t_echo") == 5 and ",..." in line


# ---------------------------------------------------------------- WebSocket


async def ws_call(ws: aiohttp.ClientWebSocketResponse, payload: object) -> Any:
    await ws.send_str(orjson.dumps(payload).decode())
    return await ws_next(ws)


async def ws_next(ws: aiohttp.ClientWebSocketResponse) -> Any:
    msg = await ws.receive(timeout=2)
    assert msg.type is WSMsgType.TEXT, msg
    return orjson.loads(msg.data)


async def test_ws_single_and_batch(client: Client) -> None:
    async with client.ws_connect("/") as ws:
        assert await ws_call(ws, req("t_add", ["0x2", "0x3"])) == {
            "jsonrpc": "2.0",
            "id": 1,
            "result": "0x5",
        }
        out = await ws_call(ws, [req("t_echo", [1], id=1), req("eth_nope", id=2)])
        assert out[0]["result"] == 1 and out[1]["error"]["code"] == -32601
        assert (await ws_call(ws, req("t_ctx")))["result"] == {"ws": True, "path": "/"}
        assert (await ws_call(ws, []))["error"]["message"] == "empty batch"


async def test_ws_on_any_path(client: Client) -> None:
    async with client.ws_connect("/some/path") as ws:
        assert (await ws_call(ws, req("t_ctx")))["result"] == {"ws": True, "path": "/some/path"}


async def test_ws_parse_errors_and_binary_frames(client: Client) -> None:
    async with client.ws_connect("/") as ws:
        await ws.send_str("{oops")
        out = await ws_next(ws)
        assert out["id"] is None and out["error"]["code"] == -32700
        # binary frames carrying JSON are served like text (as geth does)
        await ws.send_bytes(orjson.dumps(req("t_echo", ["bin"])))
        assert (await ws_next(ws))["result"] == "bin"
        await ws.send_bytes(b"\xff\xfe\x00garbage")
        assert (await ws_next(ws))["error"]["code"] == -32700
        # the connection is still usable
        assert (await ws_call(ws, req("t_echo", [2])))["result"] == 2


async def test_ws_notifications_get_no_response(client: Client) -> None:
    async with client.ws_connect("/") as ws:
        await ws.send_str(orjson.dumps(notification("t_echo", [1])).decode())
        await ws.send_str(orjson.dumps([notification("t_echo")]).decode())
        assert (await ws_call(ws, req("t_echo", ["after"], id=7)))["id"] == 7


async def test_ws_response_precedes_notifications(client: Client) -> None:
    async with client.ws_connect("/") as ws:
        response = await ws_call(ws, req("t_subscribe", id=1))
        sub_id = response["result"]
        assert sub_id.startswith("0x") and len(sub_id) == 34
        for expected in (1, 2):
            assert await ws_next(ws) == {
                "jsonrpc": "2.0",
                "method": "eth_subscription",
                "params": {"subscription": sub_id, "result": expected},
            }
        response = await ws_call(ws, req("t_subscribe_soon", id=2))
        assert response["result"] == "0xabc"
        assert (await ws_next(ws))["params"] == {"subscription": "0xabc", "result": "soon"}


async def test_ws_batch_response_precedes_notifications_of_its_subscriptions(
    client: Client,
) -> None:
    async with client.ws_connect("/") as ws:
        out = await ws_call(
            ws, [req("t_subscribe", id=1), req("t_sleep", [10], id=2), req("t_subscribe", id=3)]
        )
        assert [item["id"] for item in out] == [1, 2, 3]
        subs = {out[0]["result"], out[2]["result"]}
        notes = [await ws_next(ws) for _ in range(4)]
        assert {n["params"]["subscription"] for n in notes} == subs
        assert all(n["method"] == "eth_subscription" for n in notes)


async def test_ws_messages_of_one_connection_run_concurrently(client: Client) -> None:
    async with client.ws_connect("/") as ws:
        await ws.send_str(orjson.dumps(req("t_sleep", [80], id="slow")).decode())
        await ws.send_str(orjson.dumps(req("t_echo", ["fast"], id="fast")).decode())
        assert (await ws_next(ws))["id"] == "fast"
        assert (await ws_next(ws))["id"] == "slow"


async def test_ws_slow_handler_does_not_block_other_connections(client: Client) -> None:
    async with client.ws_connect("/") as slow, client.ws_connect("/") as fast:
        await slow.send_str(orjson.dumps(req("t_sleep", [80])).decode())
        loop = asyncio.get_running_loop()
        start = loop.time()
        assert (await ws_call(fast, req("t_echo", [1])))["result"] == 1
        assert loop.time() - start < 0.07
        assert (await ws_next(slow))["result"] == 80
        assert (await post(client, req("t_echo", [2])))["result"] == 2


async def test_ws_on_close_runs_when_client_leaves(client: Client) -> None:
    CLOSED.clear()
    async with client.ws_connect("/") as ws:
        assert (await ws_call(ws, req("t_on_close", ["one"])))["result"] is False
        assert CLOSED == []
    for _ in range(50):
        if CLOSED:
            break
        await asyncio.sleep(0.01)
    assert CLOSED == ["one"]


async def test_ws_message_over_limit_closes_the_connection(client: Client) -> None:
    async with client.ws_connect("/") as ws:
        await ws.send_str(orjson.dumps(req("t_echo", ["z" * 10_000])).decode())
        msg = await ws.receive(timeout=2)
        assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
        assert ws.close_code == 1009


async def test_ws_large_batch_limit_applies(client: Client) -> None:
    async with client.ws_connect("/") as ws:
        out = await ws_call(ws, [req("t_echo", id=i) for i in range(11)])
        assert out == [
            {"jsonrpc": "2.0", "id": 0, "error": {"code": -32600, "message": "batch too large"}}
        ]


# ---------------------------------------------------------------- WsConnection unit


class FakeWs:
    """Stands in for aiohttp's WebSocketResponse; ``send_frame`` can be stalled."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.closed = False
        self.close_code: int | None = None

    async def send_frame(self, payload: bytes, opcode: WSMsgType) -> None:
        assert opcode is WSMsgType.TEXT
        await self.gate.wait()
        self.sent.append(payload)

    async def close(self, *, code: int = 1000, message: bytes = b"") -> bool:
        self.closed = True
        self.close_code = code
        return True


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_ws_connection_queue_is_fifo_and_notifications_are_well_formed() -> None:
    fake = FakeWs()
    conn = WsConnection(fake)  # type: ignore[arg-type]
    conn.start()
    assert conn.send(b'{"id":1}')
    assert conn.notify("0x1", {"n": 1})
    assert await conn.send_notification("0x1", [2])
    await settle()
    assert fake.sent[0] == b'{"id":1}'
    assert [orjson.loads(p) for p in fake.sent[1:]] == [
        {
            "jsonrpc": "2.0",
            "method": "eth_subscription",
            "params": {"subscription": "0x1", "result": {"n": 1}},
        },
        {
            "jsonrpc": "2.0",
            "method": "eth_subscription",
            "params": {"subscription": "0x1", "result": [2]},
        },
    ]
    assert conn.notify("0x1", 2**70) is False  # not encodable: dropped, logged
    await conn.close()
    assert conn.closed
    assert conn.notify("0x1", 1) is False
    assert conn.send(b"x") is False
    late: list[int] = []
    conn.on_close(lambda: late.append(1))  # already closed: runs at once
    assert late == [1]


async def test_ws_connection_held_subscription_is_released_after_response() -> None:
    fake = FakeWs()
    conn = WsConnection(fake)  # type: ignore[arg-type]
    conn.start()
    ctx = RequestContext(NODE, conn)
    sub_id = conn.new_subscription_id(ctx)
    conn.notify(sub_id, "early")
    conn.notify("0xother", "other")
    await settle()
    assert [orjson.loads(p)["params"]["result"] for p in fake.sent] == ["other"]
    conn.send(b'{"result":"sub"}')
    ctx.run_after_response()
    conn.notify(sub_id, "late")
    await settle()
    assert fake.sent[1] == b'{"result":"sub"}'
    assert [orjson.loads(p)["params"]["result"] for p in fake.sent[2:]] == ["early", "late"]
    await conn.close()


async def test_ws_connection_drops_a_client_that_does_not_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(server_module, "WS_MAX_PENDING", 3)
    fake = FakeWs()
    fake.gate.clear()  # the writer stalls on the first message
    conn = WsConnection(fake)  # type: ignore[arg-type]
    conn.start()
    closed: list[bool] = []
    conn.on_close(lambda: closed.append(True))
    await settle()
    results = [conn.send(b"%d" % i) for i in range(6)]
    await settle()
    assert results == [True, True, True, False, False, False]
    assert conn.closed and closed == [True]
    assert fake.closed and fake.close_code == 1008
    await conn.close()


async def test_ws_connection_write_failure_closes() -> None:
    class Broken(FakeWs):
        async def send_frame(self, payload: bytes, opcode: WSMsgType) -> None:
            raise ConnectionResetError("gone")

    conn = WsConnection(Broken())  # type: ignore[arg-type]
    conn.start()
    hooks: list[int] = []
    conn.on_close(lambda: hooks.append(1))
    conn.send(b"1")
    await settle()
    assert conn.closed and hooks == [1]
    await conn.close()
    assert hooks == [1]  # callbacks run once


# ---------------------------------------------------------------- serve()


async def test_serve_binds_and_stops_with_open_websockets() -> None:
    running = await serve(make_app(), "127.0.0.1", 0)
    assert running.port != 0
    assert running.url == f"http://127.0.0.1:{running.port}"
    CLOSED.clear()
    async with aiohttp.ClientSession() as session:
        body = orjson.dumps(req("t_echo", ["s"]))
        async with session.post(running.url, data=body, headers=JSON_HEADERS) as resp:
            assert (await resp.json())["result"] == "s"
        ws = await session.ws_connect(running.url)
        await ws.send_str(orjson.dumps(req("t_on_close", ["srv"])).decode())
        assert (await ws_next(ws))["result"] is False
        await ws.send_str(orjson.dumps(req("t_sleep", [5000])).decode())  # in flight at stop
        await asyncio.sleep(0.02)
        loop = asyncio.get_running_loop()
        start = loop.time()
        await running.stop()
        assert loop.time() - start < 1.5
        msg = await ws.receive(timeout=2)
        assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSED, WSMsgType.CLOSING)
        await ws.close()
    assert CLOSED == ["srv"]
