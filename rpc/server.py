"""The JSON-RPC 2.0 transport: one aiohttp app serving HTTP POST, WebSocket and node info.

Owns ``create_app`` / ``serve`` and ``WsConnection``. On any path: POST carries a
single request or a batch (orjson in and out, batch order kept, a run of consecutive
transaction submissions admitted in order and sealed together, notifications
answered with nothing, geth's ``empty batch`` / ``batch too large`` errors); GET with
``Upgrade: websocket`` opens a WebSocket speaking the same protocol; a plain GET
returns ``info()`` as JSON; OPTIONS answers CORS preflights. Bodies over
``max_body_bytes`` get HTTP 413 with a JSON-RPC error. Handler exceptions become
error objects through ``rpc.errors.error_object`` (never an HTTP 500).

WebSocket model: each message (single or batch) runs as its own task, so requests on
one connection are processed concurrently (started in arrival order, at most
``WS_MAX_INFLIGHT`` at a time; the reader waits beyond that) and a slow handler
never blocks other connections. All output goes through one FIFO queue per
connection drained by a single writer task. A response is queued synchronously (no
await) when its handler returns, so a notification triggered afterwards is always
sent after it; ids from ``WsConnection.new_subscription_id(ctx)`` additionally hold
their notifications until the response of the request that created them is queued
(batches, or handlers that await after subscribing).

Logging (logger ``hummingbird.rpc``): INFO one line per HTTP request / WebSocket
message with the method name(s), latency and outcome; DEBUG each call's params.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from rpc.dispatch import Registry, RequestContext
from rpc.errors import INVALID_REQUEST, InvalidRequest, ParseError, RpcError, error_object

logger = logging.getLogger("hummingbird.rpc")

DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
DEFAULT_MAX_BATCH = 1000
WS_MAX_INFLIGHT = 64  # concurrently running messages per WebSocket connection
WS_MAX_PENDING = 10_000  # queued outgoing messages before a slow reader is dropped
CORS_MAX_AGE = "86400"
LOG_METHODS = 5  # method names listed in a batch's log line
LOG_PARAMS_CHARS = 4096

_JSON = "application/json"
# Batch items that answer once their transaction's block is sealed (see process_batch).
_SUBMISSION_METHODS = frozenset(
    {
        "eth_sendRawTransaction",
        "eth_sendTransaction",
        "eth_sendRawTransactionSync",
        "eth_sendTransactionSync",
    }
)


# ---------------------------------------------------------------- WebSocket connection


class WsConnection:
    """One WebSocket client: an outgoing FIFO drained by a single writer task.

    ``notify`` / ``send`` queue synchronously; ``send_notification`` is the async
    spelling of ``notify``. ``on_close`` callbacks run once when the connection ends
    (immediately if it already has).
    """

    __slots__ = (
        "_callbacks",
        "_closed",
        "_held",
        "_queue",
        "_wake",
        "_writer",
        "_ws",
        "request",
    )

    def __init__(self, ws: web.WebSocketResponse, request: web.Request | None = None) -> None:
        self._ws = ws
        self.request = request
        self._queue: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self._closed = False
        self._callbacks: list[Callable[[], object]] = []
        self._held: dict[str, list[bytes]] = {}
        self._writer: asyncio.Task[None] | None = None

    @property
    def closed(self) -> bool:
        return self._closed

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_loop())

    def on_close(self, callback: Callable[[], object]) -> None:
        if self._closed:
            _run_callback(callback)
        else:
            self._callbacks.append(callback)

    def send(self, payload: bytes) -> bool:
        """Queue one encoded JSON text message; False if the connection is closed."""
        if self._closed:
            return False
        if len(self._queue) >= WS_MAX_PENDING:
            logger.warning(
                "ws: client is not reading (%d messages pending); closing", WS_MAX_PENDING
            )
            self._queue.clear()
            self._finish()
            asyncio.get_running_loop().create_task(
                self._ws.close(code=1008, message=b"too many pending messages")
            )
            return False
        self._queue.append(payload)
        self._wake.set()
        return True

    def notify(self, subscription_id: str, result: object) -> bool:
        """Queue an ``eth_subscription`` notification now; False if closed or unencodable."""
        if self._closed:
            return False
        message = {
            "jsonrpc": "2.0",
            "method": "eth_subscription",
            "params": {"subscription": subscription_id, "result": result},
        }
        try:
            payload = orjson.dumps(message)
        except TypeError:
            logger.exception("ws: notification for %s is not JSON-encodable", subscription_id)
            return False
        held = self._held.get(subscription_id)
        if held is not None:
            held.append(payload)
            return True
        return self.send(payload)

    async def send_notification(self, subscription_id: str, result: object) -> bool:
        return self.notify(subscription_id, result)

    def new_subscription_id(self, ctx: RequestContext | None = None) -> str:
        """A fresh id (``0x`` + 32 hex digits, like geth's). With ``ctx``, notifications
        to it are held until the response of ``ctx``'s request has been queued."""
        sub_id = "0x" + secrets.token_hex(16)
        if ctx is not None:
            self._held[sub_id] = []
            ctx.after_response(lambda: self._release(sub_id))
        return sub_id

    def _release(self, sub_id: str) -> None:
        for payload in self._held.pop(sub_id, ()):
            self.send(payload)

    def _finish(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._held.clear()
        self._wake.set()
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            _run_callback(callback)

    async def close(self) -> None:
        """Stop the connection: run the close callbacks, drop queued output."""
        self._finish()
        if self._writer is not None and self._writer is not asyncio.current_task():
            self._writer.cancel()
            await asyncio.wait([self._writer])  # never raises the writer's exception
        if not self._ws.closed:
            await self._ws.close()

    async def _write_loop(self) -> None:
        try:
            while True:
                while self._queue and not self._closed:
                    await _send_text(self._ws, self._queue.popleft())
                if self._closed:
                    return
                self._wake.clear()
                await self._wake.wait()
        except (ConnectionError, RuntimeError) as exc:
            logger.debug("ws: write failed: %s", exc)
            self._finish()


async def _send_text(ws: web.WebSocketResponse, payload: bytes) -> None:
    send_frame = getattr(ws, "send_frame", None)
    if send_frame is not None:  # aiohttp >= 3.11: no bytes -> str round trip
        await send_frame(payload, WSMsgType.TEXT)
    else:
        await ws.send_str(payload.decode())


def _run_callback(callback: Callable[[], object]) -> None:
    try:
        callback()
    except Exception:
        logger.exception("ws: on_close callback failed")


# ---------------------------------------------------------------- request processing


def _error_response(request_id: object, exc: BaseException) -> dict[str, object]:
    return {"jsonrpc": "2.0", "id": request_id, "error": error_object(exc)}


def _valid_id(value: object) -> bool:
    return value is None or (isinstance(value, str | int | float) and not isinstance(value, bool))


def _encode(response: dict[str, object]) -> bytes:
    try:
        return orjson.dumps(response)
    except TypeError as exc:  # orjson.JSONEncodeError: e.g. an int over 64 bits in a result
        logger.error("result is not JSON-encodable: %s", exc, exc_info=exc)
        fallback = RpcError(f"internal error: result not JSON-encodable: {exc}")
        return orjson.dumps(_error_response(response.get("id"), fallback))


class _Outcome:
    """What one message did, for its log line."""

    __slots__ = ("codes", "methods", "notifications")

    def __init__(self) -> None:
        self.methods: list[str] = []
        self.codes: list[int | None] = []  # None: ok
        self.notifications = 0

    def add(self, method: str, code: int | None) -> None:
        self.methods.append(method)
        self.codes.append(code)

    def line(self, transport: str, batch: bool, ms: float) -> str:
        names = ",".join(self.methods[:LOG_METHODS])
        if len(self.methods) > LOG_METHODS:
            names += ",..."
        what = f"batch({len(self.methods)}): {names}" if batch else names or "-"
        errors = sorted({c for c in self.codes if c is not None})
        if not errors:
            outcome = "ok"
        elif not batch:
            outcome = f"error {errors[0]}"
        else:
            ok = sum(1 for c in self.codes if c is None)
            outcome = f"ok {ok}/{len(self.codes)}, errors " + ",".join(map(str, errors))
        return f"{transport} {what} {ms:.2f}ms {outcome}"


class _Rpc:
    """The app's state: node, registry, limits, CORS and the open WebSocket connections."""

    def __init__(
        self,
        node: object,
        registry: Registry,
        info: Callable[[], dict[str, Any]],
        max_body_bytes: int,
        max_batch: int,
        cors_origins: str,
    ) -> None:
        self.node = node
        self.registry = registry
        self.info = info
        self.max_body_bytes = max_body_bytes
        self.max_batch = max_batch
        origins = [o.strip() for o in cors_origins.split(",") if o.strip()]
        self.cors_any = "*" in origins
        self.cors_origins = frozenset(origins)
        self.connections: set[WsConnection] = set()
        self.tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------ HTTP

    async def handle(self, request: web.Request) -> web.StreamResponse:
        method = request.method
        if method == "POST":
            return await self.handle_post(request)
        if method in ("GET", "HEAD"):
            if request.headers.get("Upgrade", "").lower() == "websocket":
                return await self.handle_websocket(request)
            return self.handle_info()
        if method == "OPTIONS":
            return self.preflight(request)
        return web.Response(status=405, headers={"Allow": "POST, GET, OPTIONS"})

    def handle_info(self) -> web.Response:
        try:
            body = orjson.dumps(self.info())
        except Exception as exc:
            body = orjson.dumps({"error": error_object(exc)})
            return web.Response(status=500, body=body, content_type=_JSON)
        return web.Response(body=body, content_type=_JSON)

    def preflight(self, request: web.Request) -> web.Response:
        requested = request.headers.get("Access-Control-Request-Headers")
        return web.Response(
            status=204,
            headers={
                "Access-Control-Allow-Methods": "POST, GET, OPTIONS",
                "Access-Control-Allow-Headers": requested or "*",
                "Access-Control-Max-Age": CORS_MAX_AGE,
            },
        )

    async def add_cors(self, request: web.Request, response: web.StreamResponse) -> None:
        if self.cors_any:
            response.headers["Access-Control-Allow-Origin"] = "*"
            return
        origin = request.headers.get("Origin")
        if origin is not None and origin in self.cors_origins:
            response.headers["Access-Control-Allow-Origin"] = origin
        if self.cors_origins:
            response.headers.add("Vary", "Origin")

    def too_large(self) -> web.Response:
        exc = InvalidRequest(f"request body too large: limit is {self.max_body_bytes} bytes")
        return web.Response(
            status=413, body=orjson.dumps(_error_response(None, exc)), content_type=_JSON
        )

    async def read_body(self, request: web.Request) -> bytes | None:
        """The body, or None when it exceeds ``max_body_bytes`` (checked while streaming,
        so a liar or a chunked upload is cut off at the limit)."""
        limit = self.max_body_bytes
        if request.content_length is not None and request.content_length > limit:
            return None
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.content.iter_chunked(1 << 16):
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def handle_post(self, request: web.Request) -> web.Response:
        started = time.perf_counter()
        body = await self.read_body(request)
        if body is None:
            logger.info("http body over %d bytes: 413", self.max_body_bytes)
            return self.too_large()
        ctx = RequestContext(self.node, None, request)
        try:
            out = await self.process(body, ctx, "http", started)
        except Exception as exc:  # process() answers handler errors itself; this is a bug
            out = _encode(_error_response(None, exc))
        ctx.run_after_response()
        return web.Response(body=out or b"", content_type=_JSON)

    # ------------------------------------------------------------ JSON-RPC

    async def process(
        self, raw: bytes | str, ctx: RequestContext, transport: str, started: float
    ) -> bytes | None:
        """Answer one HTTP body / WebSocket message; None when nothing is to be sent."""
        outcome = _Outcome()
        batch = False
        out: bytes | None
        try:
            payload = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            outcome.add("-", ParseError.code)
            out = _encode(_error_response(None, ParseError(f"parse error: {exc}")))
        else:
            if isinstance(payload, list):
                batch = True
                out = await self.process_batch(payload, ctx, outcome)
            else:
                response = await self.process_one(payload, ctx, outcome)
                out = None if response is None else _encode(response)
        if logger.isEnabledFor(logging.INFO):
            ms = (time.perf_counter() - started) * 1000
            logger.info("%s", outcome.line(transport, batch, ms))
        return out

    async def process_batch(
        self, items: list[Any], ctx: RequestContext, outcome: _Outcome
    ) -> bytes | None:
        if not items:
            outcome.add("-", INVALID_REQUEST)
            return _encode(_error_response(None, InvalidRequest("empty batch")))
        if len(items) > self.max_batch:
            # geth: one error in an array, carrying the id of the first call
            first_id = next(
                (
                    item["id"]
                    for item in items
                    if isinstance(item, dict) and "id" in item and _valid_id(item["id"])
                ),
                None,
            )
            outcome.add(f"{len(items)} items", INVALID_REQUEST)
            return (
                b"[" + _encode(_error_response(first_id, InvalidRequest("batch too large"))) + b"]"
            )
        responses: list[dict[str, object] | None] = []
        # A run of consecutive transaction submissions is admitted in order and then
        # awaited together, so the run lands in one block instead of one block per item
        # (each submission answers only once its block is sealed). Any other item waits
        # for the run before it, so it still sees every earlier submission sealed.
        run: list[asyncio.Task[dict[str, object] | None]] = []
        for item in items:
            if isinstance(item, dict) and item.get("method") in _SUBMISSION_METHODS:
                # Tasks take their first step in creation order: admission order is kept.
                run.append(asyncio.ensure_future(self.process_one(item, ctx, outcome)))
                continue
            if run:
                responses.extend(await asyncio.gather(*run))
                run = []
            responses.append(await self.process_one(item, ctx, outcome))
        if run:
            responses.extend(await asyncio.gather(*run))
        parts = [_encode(response) for response in responses if response is not None]
        if not parts:
            return None
        return b"[" + b",".join(parts) + b"]"

    async def process_one(
        self, item: object, ctx: RequestContext, outcome: _Outcome
    ) -> dict[str, object] | None:
        if not isinstance(item, dict):
            outcome.add("-", INVALID_REQUEST)
            return _error_response(None, InvalidRequest())
        has_id = "id" in item
        request_id = item.get("id")
        method = item.get("method")
        if not _valid_id(request_id):
            outcome.add("-", INVALID_REQUEST)
            return _error_response(None, InvalidRequest())
        if item.get("jsonrpc") != "2.0" or not isinstance(method, str) or not method:
            outcome.add(method if isinstance(method, str) and method else "-", INVALID_REQUEST)
            return _error_response(request_id, InvalidRequest())
        params = item.get("params")
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s params: %s", method, _params_for_log(params))
        try:
            result = await self.registry.call(ctx, method, params)
        except Exception as exc:
            response = _error_response(request_id, exc)
            error = response["error"]
            assert isinstance(error, dict)
            outcome.add(method, error["code"])
            return response if has_id else None
        outcome.add(method, None)
        if not has_id:
            outcome.notifications += 1
            return None
        return {"jsonrpc": "2.0", "id": request_id, "result": result}

    # ------------------------------------------------------------ WebSocket

    async def handle_websocket(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(max_msg_size=self.max_body_bytes)
        await ws.prepare(request)
        conn = WsConnection(ws, request)
        conn.start()
        self.connections.add(conn)
        inflight = asyncio.Semaphore(WS_MAX_INFLIGHT)
        logger.debug("ws: connection opened from %s", request.remote)
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT or msg.type is WSMsgType.BINARY:
                    await inflight.acquire()
                    task = asyncio.create_task(self.handle_ws_message(conn, request, msg.data))
                    self.tasks.add(task)
                    task.add_done_callback(self.tasks.discard)
                    task.add_done_callback(lambda _t: inflight.release())
                elif msg.type is WSMsgType.ERROR:
                    logger.debug("ws: connection error: %s", ws.exception())
                    break
        finally:
            self.connections.discard(conn)
            await conn.close()
            logger.debug("ws: connection closed from %s", request.remote)
        return ws

    async def handle_ws_message(
        self, conn: WsConnection, request: web.Request, raw: bytes | str
    ) -> None:
        started = time.perf_counter()
        ctx = RequestContext(self.node, conn, request)
        try:
            out = await self.process(raw, ctx, "ws", started)
        except Exception as exc:  # process() answers handler errors itself; this is a bug
            out = _encode(_error_response(None, exc))
        # No await from here on: the response is queued before anything a later
        # step of the event loop can send, and held notifications follow it.
        if out is not None:
            conn.send(out)
        ctx.run_after_response()

    async def shutdown(self, _app: web.Application) -> None:
        for conn in list(self.connections):
            await conn.close()
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)


def _params_for_log(params: object) -> str:
    try:
        text = orjson.dumps(params).decode()
    except TypeError:
        text = repr(params)
    if len(text) > LOG_PARAMS_CHARS:
        return text[:LOG_PARAMS_CHARS] + f"... ({len(text)} chars)"
    return text


# ---------------------------------------------------------------- app and serving

RPC_KEY = web.AppKey("hummingbird.rpc", _Rpc)


def create_app(
    node: object,
    registry: Registry,
    *,
    info: Callable[[], dict[str, Any]],
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_batch: int = DEFAULT_MAX_BATCH,
    cors_origins: str = "*",
) -> web.Application:
    """The aiohttp app serving ``registry`` for ``node`` (see the module docstring).

    ``cors_origins`` is ``*``, a comma-separated list of allowed origins, or empty
    (no CORS headers). Resolves every handler's annotations now, so a bad one fails
    at start-up.
    """
    registry.resolve_all()
    rpc = _Rpc(node, registry, info, max_body_bytes, max_batch, cors_origins)
    app = web.Application(client_max_size=max_body_bytes)
    app[RPC_KEY] = rpc
    app.router.add_route("*", "/{tail:.*}", rpc.handle)
    if cors_origins.strip():
        app.on_response_prepare.append(rpc.add_cors)
    app.on_shutdown.append(rpc.shutdown)
    return app


class RunningServer:
    """A started server: ``host``, ``port`` (the bound one), ``url``; ``await stop()``."""

    __slots__ = ("host", "port", "runner")

    def __init__(self, runner: web.AppRunner, host: str, port: int) -> None:
        self.runner = runner
        self.host = host
        self.port = port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def stop(self) -> None:
        await self.runner.cleanup()


async def serve(app: web.Application, host: str = "127.0.0.1", port: int = 8545) -> RunningServer:
    """Start ``app`` on ``host:port`` (``port=0`` picks a free one) in the running loop."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = port
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            bound = int(address[1])
            break
    return RunningServer(runner, host, bound)
