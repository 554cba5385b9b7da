"""The JSON-RPC 2.0 transport: one aiohttp app serving HTTP POST, WebSocket and node info.

Owns ``create_app`` / ``serve`` and ``WsConnection``. On any path: POST carries a
single request or a batch (orjson in and out, batch order kept, a run of consecutive
transaction submissions admitted in order and sealed together, notifications
answered with nothing, geth's ``empty batch`` / ``batch too large`` errors); GET with
``Upgrade: websocket`` opens a WebSocket speaking the same protocol; a plain GET
returns ``info()`` as JSON; OPTIONS answers CORS preflights. Bodies over
``max_body_bytes`` get HTTP 413 with a JSON-RPC error. Handler exceptions become
error objects through ``rpc.errors.error_object`` (never an HTTP 500).

Before anything is read, ``rpc.exposure.ExposurePolicy`` decides who may talk: a
``Host`` that does not name the node or an ``Origin`` that is not allowed gets HTTP 403
(WebSocket upgrades included), a POST that is not ``application/json`` HTTP 415, an
upgrade beyond ``max_connections`` open WebSockets HTTP 503; each with a JSON-RPC error
body. Ids are echoed exactly: integers of any size and numbers as written (orjson reads
integers past 64 bits as floats, so such bodies are read again by ``json``).

Memory: a closed connection is freed by reference counting alone (the node freezes
the GC and collects rarely): ``WsConnection.close`` cancels its subscriptions, drops
its callbacks and forgets its writer task, whose cancellation traceback would
otherwise hold the connection in a cycle.

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
import json
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from rpc import dashboard
from rpc.dispatch import Registry, RequestContext
from rpc.errors import (
    INVALID_REQUEST,
    SERVER_ERROR,
    InvalidRequest,
    ParseError,
    RpcError,
    error_object,
)
from rpc.exposure import CONTENT_TYPE_ERROR, ExposurePolicy, is_json_content_type
from rpc.metrics import NodeMetrics

logger = logging.getLogger("hummingbird.rpc")

DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
DEFAULT_MAX_BATCH = 1000
DEFAULT_MAX_CONNECTIONS = 1000  # open WebSocket connections
DEFAULT_MAX_SUBSCRIPTIONS = 1000  # per WebSocket connection
WS_MAX_INFLIGHT = 64  # concurrently running messages per WebSocket connection
WS_MAX_PENDING = 10_000  # queued outgoing messages before a slow reader is dropped
WS_WRITER_GRACE = 0.1  # seconds a closing connection's writer gets to finish a send
CORS_MAX_AGE = "86400"
LOG_METHODS = 5  # method names listed in a batch's log line
LOG_PARAMS_CHARS = 4096
SHOWN_HEADER_CHARS = 100  # of a refused Host / Origin, in the error message
WARNED_MAX = 256  # distinct refused hosts / origins logged at WARNING, then DEBUG

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
    (immediately if it already has). Subscriptions are kept here
    (``add_subscription``), at most ``max_subscriptions`` at a time, and cancelled on
    close: every reference a subscription's callbacks hold to the connection goes
    with them.
    """

    __slots__ = (
        "__weakref__",
        "_callbacks",
        "_closed",
        "_held",
        "_keys",
        "_queue",
        "_subscriptions",
        "_wake",
        "_writer",
        "_ws",
        "limit_code",
        "max_subscriptions",
        "request",
    )

    def __init__(
        self,
        ws: web.WebSocketResponse,
        request: web.Request | None = None,
        *,
        max_subscriptions: int = DEFAULT_MAX_SUBSCRIPTIONS,
        limit_code: int = SERVER_ERROR,
    ) -> None:
        self._ws = ws
        self.request = request
        self.max_subscriptions = max_subscriptions
        self.limit_code = limit_code  # the error code beyond the limit (MegaETH: -32005)
        self._queue: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self._closed = False
        self._callbacks: list[Callable[[], object]] = []
        self._held: dict[str, list[bytes]] = {}
        self._subscriptions: dict[str, Callable[[], object]] = {}
        self._keys: dict[str, str] = {}  # subscription id -> what it subscribed to
        self._writer: asyncio.Task[None] | None = None

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def queued(self) -> int:
        """Messages waiting for the writer (a stream's back-pressure reads it)."""
        return len(self._queue)

    def start(self) -> None:
        self._writer = asyncio.create_task(self._write_loop())

    def on_close(self, callback: Callable[[], object]) -> None:
        if self._closed:
            _run_callback(callback)
        else:
            self._callbacks.append(callback)

    # ------------------------------------------------------------ subscriptions

    @property
    def subscription_count(self) -> int:
        return len(self._subscriptions)

    def check_subscription_room(self) -> None:
        """Raise the error a new subscription gets when the connection has its fill."""
        if len(self._subscriptions) >= self.max_subscriptions:
            raise RpcError(
                f"too many subscriptions on this connection (limit {self.max_subscriptions}); "
                "eth_unsubscribe some first",
                code=self.limit_code,
            )

    def has_subscription_key(self, key: str) -> bool:
        """Whether a live subscription was added with ``key`` (its kind and parameters)."""
        return key in self._keys.values()

    def add_subscription(
        self, sub_id: str, cancel: Callable[[], object], key: str | None = None
    ) -> None:
        """Keep ``cancel`` until ``remove_subscription`` or close (run at once if the
        connection has already closed); refused beyond ``max_subscriptions``."""
        if self._closed:
            _run_callback(cancel)
            return
        self.check_subscription_room()
        self._subscriptions[sub_id] = cancel
        if key is not None:
            self._keys[sub_id] = key

    def remove_subscription(self, sub_id: str) -> bool:
        """Cancel one subscription; False if this connection has no such id."""
        cancel = self._subscriptions.pop(sub_id, None)
        self._keys.pop(sub_id, None)
        if cancel is None:
            return False
        _run_callback(cancel)
        return True

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
        self._queue.clear()
        self._wake.set()
        subscriptions, self._subscriptions = self._subscriptions, {}
        self._keys.clear()
        for cancel in subscriptions.values():
            _run_callback(cancel)
        callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            _run_callback(callback)

    async def close(self) -> None:
        """Stop the connection: cancel its subscriptions, run the close callbacks, drop
        queued output, and let go of everything that could point back at it."""
        self._finish()
        writer, self._writer = self._writer, None
        if writer is not None and writer is not asyncio.current_task() and not writer.done():
            # Woken by _finish, an idle writer returns on its next step; one stuck in a
            # send to a client that does not read is cancelled.
            await asyncio.wait([writer], timeout=WS_WRITER_GRACE)
            if not writer.done():
                writer.cancel()
                await asyncio.wait([writer])  # never raises the writer's exception
        if not self._ws.closed:
            await self._ws.close()
        self.request = None

    async def _write_loop(self) -> None:
        # Returns (rather than being cancelled) once the connection is closed and idle:
        # a cancelled task keeps its CancelledError, whose traceback holds this frame
        # and so the connection, in a cycle only the GC could free.
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
    return value is None or (
        isinstance(value, str | int | float | orjson.Fragment) and not isinstance(value, bool)
    )


# ---------------------------------------------------------------- exact ids

_INT_RANGE = range(-(2**63), 2**64)  # the integers orjson writes


class _NumberText(float):
    """A JSON number with a fraction or exponent, remembering how it was written."""

    __slots__ = ("text",)
    text: str


def _number_text(text: str) -> _NumberText:
    number = _NumberText(text)
    number.text = text
    return number


def _loads(raw: bytes | str) -> Any:
    """orjson's reading, except that ids come back exactly as written.

    orjson reads an integer past 64 bits as a float (2**64 becomes 1.8446744073709552e19),
    and a float's text is lost. Only when some id is a float (rare: clients use small
    integers or strings) is the body read again by ``json``, which keeps integers exact
    and hands us each float's text; such ids become ``orjson.Fragment``s of that text.
    """
    payload = orjson.loads(raw)
    if not _has_float_id(payload):
        return payload
    try:
        exact = json.loads(raw, parse_float=_number_text)
    except (ValueError, RecursionError):  # deeper or longer than json reads: keep orjson's
        return payload
    for item in exact if isinstance(exact, list) else [exact]:
        if isinstance(item, dict) and "id" in item:
            item["id"] = _exact_id(item["id"])
    _plain_floats(exact)
    return exact


def _has_float_id(payload: object) -> bool:
    if isinstance(payload, dict):
        return type(payload.get("id")) is float
    if isinstance(payload, list):
        return any(isinstance(item, dict) and type(item.get("id")) is float for item in payload)
    return False


def _exact_id(value: object) -> object:
    if isinstance(value, _NumberText):
        return orjson.Fragment(value.text)
    if isinstance(value, int) and not isinstance(value, bool) and value not in _INT_RANGE:
        return orjson.Fragment(str(value))
    return value


def _plain_floats(value: object) -> None:
    """Turn every ``_NumberText`` left in params back into a float (iteratively: params
    nest as deep as orjson allows, past Python's recursion limit)."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, item in node.items():
                if isinstance(item, _NumberText):
                    node[key] = float(item)
                elif isinstance(item, dict | list):
                    stack.append(item)
        elif isinstance(node, list):
            for index, item in enumerate(node):
                if isinstance(item, _NumberText):
                    node[index] = float(item)
                elif isinstance(item, dict | list):
                    stack.append(item)


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

    def fields(self, transport: str, batch: bool, ms: float) -> dict[str, object]:
        """The line's values for ``--log-format json``."""
        return {
            "event": "rpc",
            "transport": transport,
            "batch": batch,
            "calls": len(self.methods),
            "methods": self.methods[:LOG_METHODS],
            "errors": sorted({c for c in self.codes if c is not None}),
            "ms": round(ms, 3),
        }

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


def _refusal(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    """An HTTP error whose body is a JSON-RPC error (id null), for requests refused
    before they are read."""
    body = orjson.dumps(_error_response(None, InvalidRequest(message)))
    return web.Response(status=status, body=body, content_type=_JSON, headers=headers)


def _shown_header(value: str) -> str:
    if len(value) <= SHOWN_HEADER_CHARS:
        return repr(value)
    return repr(value[:SHOWN_HEADER_CHARS]) + f"... ({len(value)} characters)"


class _Rpc:
    """The app's state: node, registry, limits, exposure policy and open connections."""

    def __init__(
        self,
        node: object,
        registry: Registry,
        info: Callable[[], dict[str, Any]],
        *,
        max_body_bytes: int,
        max_batch: int,
        exposure: ExposurePolicy,
        max_connections: int,
        max_subscriptions: int,
        subscription_limit_code: int,
        health: Callable[[], tuple[bool, dict[str, Any]]] | None = None,
        metrics: NodeMetrics | None = None,
    ) -> None:
        self.node = node
        self.registry = registry
        self.info = info
        self.health = health
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.max_batch = max_batch
        self.exposure = exposure
        self.max_connections = max_connections
        self.max_subscriptions = max_subscriptions
        self.subscription_limit_code = subscription_limit_code
        self.connections: set[WsConnection] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.opening = 0
        self._warned: set[str] = set()

    # ------------------------------------------------------------ exposure

    def refuse(self, request: web.Request) -> web.Response | None:
        """403 when the Host does not name this node or the Origin is not allowed."""
        host = request.headers.get("Host")
        if host and not self.exposure.host_allowed(host):
            shown = _shown_header(host)
            self._warn(f"host {shown}", "refused a request for host %s (--allow-host)", shown)
            return _refusal(
                403,
                f"invalid host specified: {shown} does not name this node; "
                "start it with --allow-host NAME to accept that name",
            )
        origin = request.headers.get("Origin")
        if not self.exposure.origin_allowed(origin):
            assert origin is not None
            shown = _shown_header(origin)
            self._warn(f"origin {shown}", "refused a request from origin %s (--cors)", shown)
            return _refusal(
                403,
                f"origin {shown} is not allowed; start the node with --cors ORIGIN "
                "to accept it (--cors '*' accepts every origin)",
            )
        return None

    def _warn(self, key: str, message: str, shown: str) -> None:
        # WARNING once per host / origin (a page can retry in a loop), DEBUG afterwards.
        if key in self._warned or len(self._warned) >= WARNED_MAX:
            logger.debug(message, shown)
            return
        self._warned.add(key)
        logger.warning(message, shown)

    # ------------------------------------------------------------ HTTP

    async def handle(self, request: web.Request) -> web.StreamResponse:
        refused = self.refuse(request)
        if refused is not None:
            return refused
        method = request.method
        if method == "POST":
            return await self.handle_post(request)
        if method in ("GET", "HEAD"):
            if request.headers.get("Upgrade", "").lower() == "websocket":
                return await self.handle_websocket(request)
            if request.path == "/health":
                return self.handle_health()
            if request.path == "/metrics" and self.metrics is not None:
                body, content_type = self.metrics.exposition()
                return web.Response(body=body, headers={"Content-Type": content_type})
            if request.path.startswith("/dashboard/"):
                return self.handle_asset(request.path.removeprefix("/dashboard/"))
            if request.path == "/" and dashboard.wants_page(request.headers.get("Accept")):
                return self.handle_asset("index.html")
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

    def handle_asset(self, name: str) -> web.Response:
        """A dashboard file (``rpc.dashboard``), or 404 for any other name."""
        found = dashboard.asset(name)
        if found is None:
            return web.Response(status=404, text="not found")
        body, content_type = found
        headers = {
            "Content-Type": content_type,
            "Content-Security-Policy": dashboard.CONTENT_SECURITY_POLICY,
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-cache",
        }
        return web.Response(body=body, headers=headers)

    def handle_health(self) -> web.Response:
        """``GET /health``: 200 when the node serves current data, else 503 (a replica
        whose sequencer is silent or unreachable); a sequencer is always healthy."""
        healthy, body = (True, {"ok": True}) if self.health is None else self.health()
        return web.Response(
            status=200 if healthy else 503, body=orjson.dumps(body), content_type=_JSON
        )

    def preflight(self, request: web.Request) -> web.Response:
        # Only allowed origins get here (refuse() ran first).
        requested = request.headers.get("Access-Control-Request-Headers")
        headers = {
            "Access-Control-Allow-Methods": "POST, GET, OPTIONS",
            "Access-Control-Allow-Headers": requested or "*",
            "Access-Control-Max-Age": CORS_MAX_AGE,
        }
        if request.headers.get("Access-Control-Request-Private-Network") == "true":
            # Chrome's Private Network Access: an allowed public origin reaching a
            # node on this machine or the LAN.
            headers["Access-Control-Allow-Private-Network"] = "true"
        return web.Response(status=204, headers=headers)

    async def add_cors(self, request: web.Request, response: web.StreamResponse) -> None:
        allowed = self.exposure.allow_origin_header(request.headers.get("Origin"))
        if allowed is not None:
            response.headers["Access-Control-Allow-Origin"] = allowed
        if not self.exposure.any_origin:
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
        if not is_json_content_type(request.headers.get("Content-Type")):
            logger.info("http content type %r: 415", request.headers.get("Content-Type"))
            return _refusal(415, CONTENT_TYPE_ERROR, {"Accept": _JSON})
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
            payload = _loads(raw)
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
        seconds = time.perf_counter() - started
        if self.metrics is not None:
            self.metrics.observe_message(outcome.methods, outcome.codes, batch, seconds)
        if logger.isEnabledFor(logging.INFO):
            ms = seconds * 1000
            line = outcome.line(transport, batch, ms)
            logger.info("%s", line, extra={"fields": outcome.fields(transport, batch, ms)})
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
            # (a method that is not a string, e.g. a dict, is unhashable: checked first)
            method = item.get("method") if isinstance(item, dict) else None
            if isinstance(method, str) and method in _SUBMISSION_METHODS:
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
        if len(self.connections) + self.opening >= self.max_connections:
            logger.warning("ws: refused a connection: %d open (limit)", len(self.connections))
            return _refusal(
                503,
                f"too many WebSocket connections (limit {self.max_connections}); close some "
                "or start the node with a higher --max-connections",
                {"Retry-After": "1"},
            )
        ws = web.WebSocketResponse(max_msg_size=self.max_body_bytes)
        self.opening += 1  # upgrades under way count against the limit too
        try:
            await ws.prepare(request)
        finally:
            self.opening -= 1
        conn = WsConnection(
            ws,
            request,
            max_subscriptions=self.max_subscriptions,
            limit_code=self.subscription_limit_code,
        )
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
        await asyncio.gather(*(conn.close() for conn in list(self.connections)))
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
    exposure: ExposurePolicy | None = None,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    max_subscriptions: int = DEFAULT_MAX_SUBSCRIPTIONS,
    subscription_limit_code: int = SERVER_ERROR,
    health: Callable[[], tuple[bool, dict[str, Any]]] | None = None,
    metrics: NodeMetrics | None = None,
) -> web.Application:
    """The aiohttp app serving ``registry`` for ``node`` (see the module docstring).

    ``exposure`` says which Host names and Origins are answered (default: a node bound
    to 127.0.0.1 with no ``--allow-host`` / ``--cors``). Handlers' annotations are
    resolved at each method's first call (resolving all ~200 took ~55 ms of start-up);
    tests/unit/rpc/test_dispatch.py resolves the whole default registry.
    """
    rpc = _Rpc(
        node,
        registry,
        info,
        max_body_bytes=max_body_bytes,
        max_batch=max_batch,
        exposure=ExposurePolicy.build() if exposure is None else exposure,
        max_connections=max_connections,
        max_subscriptions=max_subscriptions,
        subscription_limit_code=subscription_limit_code,
        health=health,
        metrics=metrics,
    )
    app = web.Application(client_max_size=max_body_bytes)
    app[RPC_KEY] = rpc
    app.router.add_route("*", "/{tail:.*}", rpc.handle)
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
