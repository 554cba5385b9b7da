"""rpc.server hardening: Host / Origin / content-type refusals, exact ids, WebSocket
connection and subscription caps, and closed connections freed without the GC."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient, TestServer

import rpc.namespaces  # noqa: F401  (registers eth_subscribe & co.)
from rpc.dispatch import Registry, RequestContext, default_registry
from rpc.exposure import ExposurePolicy
from rpc.server import RPC_KEY, WsConnection, create_app
from sequencer.config import NodeConfig
from sequencer.node import Node

reg = Registry()
CALLS: list[object] = []
JSON = {"Content-Type": "application/json"}
EVIL = "http://evil.test"


@reg.method("t_record")
async def record(ctx: RequestContext, value: object = None) -> object:
    CALLS.append(value)
    return value


@reg.method("t_sub")
async def sub(ctx: RequestContext) -> str:
    """A subscription the way eth_subscribe keeps one: room checked, cancel kept."""
    conn = ctx.connection
    assert conn is not None
    conn.check_subscription_room()
    sub_id = conn.new_subscription_id(ctx)
    conn.add_subscription(sub_id, lambda: CALLS.append(("cancel", sub_id)))
    return sub_id


@reg.method("t_unsub")
async def unsub(ctx: RequestContext, sub_id: str) -> bool:
    assert ctx.connection is not None
    return ctx.connection.remove_subscription(sub_id)


def make_app(**kwargs: Any) -> web.Application:
    return create_app(object(), reg, info=lambda: {"name": "t"}, **kwargs)


Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    CALLS.clear()
    async with TestClient(TestServer(make_app())) as c:
        yield c


def body(value: object = "x", id: object = 1) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "id": id, "method": "t_record", "params": [value]})


async def refused(resp: aiohttp.ClientResponse, status: int, words: str) -> None:
    assert resp.status == status
    assert resp.content_type == "application/json"
    answer = orjson.loads(await resp.read())
    assert answer["jsonrpc"] == "2.0" and answer["id"] is None
    assert answer["error"]["code"] == -32600
    assert words in answer["error"]["message"]


# ---------------------------------------------------------------- content type


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=b",
        "application/octet-stream",
        "",
    ],
)
async def test_post_that_is_not_json_is_415_and_not_run(client: Client, content_type: str) -> None:
    resp = await client.post("/", data=body(), headers={"Content-Type": content_type})
    await refused(resp, 415, "invalid content type, only application/json is supported")
    assert CALLS == []


async def test_post_without_content_type_is_415(client: Client) -> None:
    # aiohttp adds application/octet-stream to bytes; skip_auto_headers leaves it out
    resp = await client.post("/", data=body(), skip_auto_headers=["Content-Type"])
    assert "Content-Type" not in resp.request_info.headers
    await refused(resp, 415, "only application/json")
    assert CALLS == []


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON",
        "application/json-rpc",
    ],
)
async def test_json_content_types_are_served(client: Client, content_type: str) -> None:
    resp = await client.post("/", data=body(), headers={"Content-Type": content_type})
    assert resp.status == 200
    assert orjson.loads(await resp.read())["result"] == "x"


# ---------------------------------------------------------------- Host


@pytest.mark.parametrize(
    "host",
    ["localhost", "LOCALHOST:8545", "127.0.0.1:8545", "[::1]:8545", "app.localhost", "10.1.2.3"],
)
async def test_local_hosts_are_served(client: Client, host: str) -> None:
    resp = await client.post("/", data=body(), headers={"Host": host, **JSON})
    assert resp.status == 200


@pytest.mark.parametrize(
    "host", ["evil.test", "EVIL.test:8545", "localhost.evil.test", "::1", "a b", "x" * 500]
)
async def test_foreign_host_is_403_and_not_run(client: Client, host: str) -> None:
    resp = await client.post("/", data=body(), headers={"Host": host, **JSON})
    await refused(resp, 403, "invalid host specified")
    assert CALLS == []
    for method in ("GET", "OPTIONS"):
        assert (await client.request(method, "/", headers={"Host": host})).status == 403


async def test_refused_host_message_is_cut_short(client: Client) -> None:
    resp = await client.post("/", data=body(), headers={"Host": "h" * 5000, **JSON})
    answer = orjson.loads(await resp.read())
    assert len(answer["error"]["message"]) < 400
    assert "(5000 characters)" in answer["error"]["message"]


async def test_allow_host_flag_values() -> None:
    app = make_app(exposure=ExposurePolicy.build(allow_hosts=["devbox.lan"]))
    async with TestClient(TestServer(app)) as c:
        ok = await c.post("/", data=body(), headers={"Host": "devbox.lan:8545", **JSON})
        assert ok.status == 200
        bad = await c.post("/", data=body(), headers={"Host": "evil.test", **JSON})
        assert bad.status == 403


async def raw_http(client: Client, request: bytes) -> bytes:
    """Send bytes as they are (aiohttp's client always adds a Host header)."""
    server = client.server
    assert server.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(request)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return answer


async def test_missing_host_header_is_served(client: Client) -> None:
    payload = body("nohost")
    answer = await raw_http(
        client,
        b"POST / HTTP/1.0\r\nContent-Type: application/json\r\n"
        + b"Content-Length: %d\r\n\r\n" % len(payload)
        + payload,
    )
    assert answer.startswith(b"HTTP/1.0 200") or answer.startswith(b"HTTP/1.1 200"), answer
    assert b'"result":"nohost"' in answer


# ---------------------------------------------------------------- Origin


@pytest.mark.parametrize(
    "origin",
    [
        EVIL,
        "null",
        "http://evil.test:8545",
        "https://localhost.evil.test",
        "http://192.168.1.9:3000",
        "file://",
        "garbage",
    ],
)
async def test_foreign_origin_is_403_and_not_run(client: Client, origin: str) -> None:
    # text/plain is what a page can send without a preflight: refused before anything
    for content_type in ("text/plain", "application/json"):
        headers = {"Origin": origin, "Content-Type": content_type}
        resp = await client.post("/", data=body(), headers=headers)
        await refused(resp, 403, "is not allowed; start the node with --cors")
        assert "Access-Control-Allow-Origin" not in resp.headers
    pre = await client.options(
        "/", headers={"Origin": origin, "Access-Control-Request-Method": "POST"}
    )
    assert pre.status == 403 and "Access-Control-Allow-Origin" not in pre.headers
    assert (await client.get("/", headers={"Origin": origin})).status == 403
    assert CALLS == []


@pytest.mark.parametrize(
    "origin",
    [
        "http://localhost:3000",
        "HTTP://LOCALHOST:3000",
        "http://127.0.0.1:5173",
        "http://[::1]:8080",
        "chrome-extension://nkbihfbeogaeaoehlefnkodbefgpgknn",
        "moz-extension://6f1c4f53-8c4e-4bbf-9a53-52d8e0b0f7a1",
    ],
)
async def test_local_and_extension_origins_are_served(client: Client, origin: str) -> None:
    resp = await client.post("/", data=body(), headers={"Origin": origin, **JSON})
    assert resp.status == 200
    assert resp.headers["Access-Control-Allow-Origin"] == origin
    pre = await client.options(
        "/",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert pre.status == 204
    assert pre.headers["Access-Control-Allow-Origin"] == origin
    assert pre.headers["Access-Control-Allow-Private-Network"] == "true"


async def test_null_origin_only_when_listed() -> None:
    app = make_app(exposure=ExposurePolicy.build(cors=["null"]))
    async with TestClient(TestServer(app)) as c:
        resp = await c.post("/", data=body(), headers={"Origin": "null", **JSON})
        assert resp.status == 200
        assert resp.headers["Access-Control-Allow-Origin"] == "null"


async def test_star_allows_every_origin_but_still_wants_json() -> None:
    app = make_app(exposure=ExposurePolicy.build(cors=["*"]))
    async with TestClient(TestServer(app)) as c:
        headers = {"Origin": EVIL, "Content-Type": "text/plain"}
        await refused(await c.post("/", data=body(), headers=headers), 415, "only application")
        resp = await c.post("/", data=body(), headers={"Origin": EVIL, **JSON})
        assert resp.status == 200 and resp.headers["Access-Control-Allow-Origin"] == "*"


# ---------------------------------------------------------------- WebSocket upgrades


async def ws_refused(client: Client, headers: dict[str, str]) -> int:
    with pytest.raises(aiohttp.WSServerHandshakeError) as error:
        await client.ws_connect("/", headers=headers)
    return error.value.status


@pytest.mark.parametrize("origin", [EVIL, "null", "http://evil.test:8545"])
async def test_ws_foreign_origin_is_refused_before_the_upgrade(client: Client, origin: str) -> None:
    assert await ws_refused(client, {"Origin": origin}) == 403
    assert not client.app[RPC_KEY].connections


async def test_ws_foreign_host_is_refused(client: Client) -> None:
    assert await ws_refused(client, {"Host": "evil.test:8545"}) == 403


async def test_ws_local_origin_and_no_origin_connect(client: Client) -> None:
    for headers in ({"Origin": "http://localhost:3000"}, {}):
        async with client.ws_connect("/", headers=headers) as ws:
            await ws.send_bytes(body("ws"))
            msg = await ws.receive(timeout=2)
            assert orjson.loads(msg.data)["result"] == "ws"


async def wait_for(condition: Any, timeout: float = 3.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


async def test_ws_connection_cap_is_503() -> None:
    async with TestClient(TestServer(make_app(max_connections=2))) as c:
        rpc = c.app[RPC_KEY]
        first = await c.ws_connect("/")
        second = await c.ws_connect("/")
        with pytest.raises(aiohttp.WSServerHandshakeError) as error:
            await c.ws_connect("/")
        assert error.value.status == 503
        resp = await c.get("/", headers={"Upgrade": "websocket", "Connection": "Upgrade"})
        await refused(resp, 503, "too many WebSocket connections (limit 2)")
        await first.close()
        await wait_for(lambda: len(rpc.connections) == 1)
        third = await c.ws_connect("/")  # room again once one has closed
        await third.close()
        await second.close()
        assert (await c.post("/", data=body(), headers=JSON)).status == 200  # HTTP unaffected


# ---------------------------------------------------------------- exact ids


@pytest.mark.parametrize(
    "id_text",
    [
        b"18446744073709551615",  # 2**64 - 1: orjson's own range
        b"18446744073709551616",  # 2**64
        str(2**256).encode(),
        b"-9223372036854775809",  # -(2**63) - 1
        b"-" + str(2**256).encode(),
        b"1.5",
        b"1.50",
        b"1e2",
        b"2.5E-3",
        b"-0.0",
        b"123456789012345678901234567890.5",
    ],
)
async def test_ids_of_any_size_are_echoed_exactly(client: Client, id_text: bytes) -> None:
    request = b'{"jsonrpc":"2.0","id":' + id_text + b',"method":"t_record","params":[1.25]}'
    resp = await client.post("/", data=request, headers=JSON)
    raw = await resp.read()
    assert raw == b'{"jsonrpc":"2.0","id":' + id_text + b',"result":1.25}'
    batch = b"[" + request + b"," + request.replace(b'"id":' + id_text, b'"id":7') + b"]"
    raw = await (await client.post("/", data=batch, headers=JSON)).read()
    assert raw.startswith(b'[{"jsonrpc":"2.0","id":' + id_text + b',"result":1.25}')
    assert raw.endswith(b'{"jsonrpc":"2.0","id":7,"result":1.25}]')
    async with client.ws_connect("/") as ws:
        await ws.send_bytes(request)
        msg = await ws.receive(timeout=2)
        assert msg.data.encode() == b'{"jsonrpc":"2.0","id":' + id_text + b',"result":1.25}'


async def test_params_stay_plain_numbers_when_an_id_is_exact(client: Client) -> None:
    request = (
        b'{"jsonrpc":"2.0","id":18446744073709551616,"method":"t_record",'
        b'"params":[{"a":[1.5,{"b":2e0}],"n":18446744073709551617}]}'
    )
    answer = await (await client.post("/", data=request, headers=JSON)).read()
    assert answer.startswith(b'{"jsonrpc":"2.0","id":18446744073709551616,')
    assert CALLS == [{"a": [1.5, {"b": 2.0}], "n": 2**64 + 1}]
    assert type(CALLS[0]["a"][0]) is float  # type: ignore[index]


# ---------------------------------------------------------------- subscriptions cap


async def test_subscription_cap_per_connection() -> None:
    CALLS.clear()
    async with TestClient(TestServer(make_app(max_subscriptions=3))) as c:
        async with c.ws_connect("/") as ws, c.ws_connect("/") as other:

            async def call(sock: aiohttp.ClientWebSocketResponse, method: str, *p: object) -> Any:
                await sock.send_str(
                    orjson.dumps(
                        {"jsonrpc": "2.0", "id": 1, "method": method, "params": p}
                    ).decode()
                )
                return orjson.loads((await sock.receive(timeout=2)).data)

            ids = [(await call(ws, "t_sub"))["result"] for _ in range(3)]
            over = await call(ws, "t_sub")
            assert over["error"] == {
                "code": -32000,
                "message": "too many subscriptions on this connection (limit 3); "
                "eth_unsubscribe some first",
            }
            assert "result" in await call(other, "t_sub")  # the cap is per connection
            assert (await call(ws, "t_unsub", ids[0]))["result"] is True
            assert (await call(ws, "t_unsub", ids[0]))["result"] is False
            assert "result" in await call(ws, "t_sub")
        await wait_for(lambda: not c.app[RPC_KEY].connections)
    cancelled = [item for item in CALLS if isinstance(item, tuple)]
    assert len(cancelled) == 5  # one unsubscribed, three left on ws, one on other


def test_add_subscription_after_close_cancels_at_once() -> None:
    conn = WsConnection(object())  # type: ignore[arg-type]
    conn._finish()
    seen: list[int] = []
    conn.add_subscription("0x1", lambda: seen.append(1))
    assert seen == [1] and conn.subscription_count == 0


# ---------------------------------------------------------------- real node


@pytest.fixture
async def node_client() -> AsyncIterator[tuple[Node, Client]]:
    node = Node(NodeConfig(data_dir=None, accounts=2, sender_recovery="inline"))
    await node.start()
    app = create_app(node, default_registry, info=node.info, max_subscriptions=4)
    try:
        async with TestClient(TestServer(app)) as c:
            yield node, c
    finally:
        await node.stop()


@pytest.fixture
def gc_off() -> Iterator[None]:
    """The node freezes the GC and collects rarely: closed connections must go by
    reference counting alone, so these tests run with the collector off."""
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


async def ws_rpc(ws: aiohttp.ClientWebSocketResponse, method: str, *params: object) -> Any:
    await ws.send_str(
        orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).decode()
    )
    while True:
        msg = await ws.receive(timeout=5)
        assert msg.type is WSMsgType.TEXT, msg
        answer = orjson.loads(msg.data)
        if "id" in answer:
            return answer


async def test_eth_subscribe_is_capped_per_connection(
    node_client: tuple[Node, Client],
) -> None:
    _, c = node_client
    async with c.ws_connect("/") as ws:
        kinds: list[list[object]] = [["newHeads"], ["logs", {}], ["newPendingTransactions"]]
        kinds.append(["newPendingTransactions", True])
        for params in kinds:
            assert "result" in await ws_rpc(ws, "eth_subscribe", *params)
        over = await ws_rpc(ws, "eth_subscribe", "newHeads")
        assert over["error"]["code"] == -32000
        assert "too many subscriptions on this connection (limit 4)" in over["error"]["message"]


async def test_closed_connections_are_freed_without_the_gc(
    node_client: tuple[Node, Client], gc_off: None
) -> None:
    node, c = node_client
    rpc = c.app[RPC_KEY]
    listeners_before = _listener_counts(node)
    refs: list[weakref.ref[object]] = []
    for _ in range(20):
        async with c.ws_connect("/") as ws:
            for params in (["newHeads"], ["logs", {"address": "0x" + "11" * 20}]):
                assert "result" in await ws_rpc(ws, "eth_subscribe", *params)
            assert "result" in await ws_rpc(ws, "eth_subscribe", "newPendingTransactions")
            assert (await ws_rpc(ws, "eth_chainId"))["result"] == "0x7a69"
            (conn,) = rpc.connections
            refs.append(weakref.ref(conn))
            refs.append(weakref.ref(conn._ws))
            del conn
        await wait_for(lambda: not rpc.connections)
    await wait_for(lambda: not rpc.tasks)
    for _ in range(5):
        await asyncio.sleep(0)
    assert not gc.isenabled()
    alive = [ref() for ref in refs if ref() is not None]
    assert alive == [], f"{len(alive)} closed-connection objects still alive: {alive[:2]}"
    assert _listener_counts(node) == listeners_before  # every subscription cancelled


def _listener_counts(node: Node) -> tuple[int, int]:
    return (len(node.publisher._listeners), len(node._pending_listeners))
