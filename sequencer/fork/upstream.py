"""The upstream chain of a forked node (issue 19): a JSON-RPC client over HTTP.

Owns talking to ``--fork-url``: one request or a JSON-RPC batch per round trip, over
persistent keep-alive connections (one per calling thread: the EVM asks for state
synchronously, on whichever thread runs it), with

- ``--fork-headers`` sent on every request;
- ``--fork-timeout`` per round trip and ``--fork-retries`` retries with exponential
  back-off (0.1 s doubling, at most 5 s; a 429's ``Retry-After`` is honoured up to
  that cap) for what may pass: connection failures, timeouts, HTTP 429 and 5xx, and
  JSON-RPC rate-limit errors (-32005, or a message saying "rate limit"/"too many");
- ``--compute-units-per-second``: a token bucket charging each call the average cost
  anvil assumes (17 units), so a public endpoint's quota is not exceeded.

Answers are checked here (``quantity``/``data``): malformed data is an
``UpstreamMalformed`` error, never a value, so nothing wrong reaches the cache.
Errors are typed (``UpstreamError`` and its subclasses) and say which method and URL
failed. Nothing here knows about state: ``sequencer.fork.source`` asks the questions.
"""

from __future__ import annotations

import http.client
import itertools
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from sequencer.errors import NodeError

DEFAULT_TIMEOUT: Final = 45.0  # seconds per round trip (anvil's default)
DEFAULT_RETRIES: Final = 5
DEFAULT_COMPUTE_UNITS_PER_SECOND: Final = 330  # anvil's default, Alchemy's free tier
COMPUTE_UNITS_PER_CALL: Final = 17  # the average cost per request anvil assumes
BACKOFF_START: Final = 0.1
BACKOFF_CAP: Final = 5.0
MAX_RESPONSE_BYTES: Final = 64 * 1024 * 1024  # a larger answer is refused, not buffered
_RATE_LIMITED = re.compile(r"rate.?limit|too many|exceeded .*(capacity|quota)", re.IGNORECASE)


class UpstreamError(NodeError):
    """The upstream did not give a usable answer (a ``NodeError``: a read that needed
    the upstream is answered with this message)."""


class UpstreamUnreachable(UpstreamError):
    """No answer: connection refused or reset, DNS, timeout, HTTP error (after retries)."""


class UpstreamRateLimited(UpstreamError):
    """Still rate-limited after every retry."""


class UpstreamMalformed(UpstreamError):
    """An answer that is not what the method returns."""


class UpstreamRejected(UpstreamError):
    """A JSON-RPC error answer (e.g. pruned state: "missing trie node")."""

    def __init__(self, method: str, code: int, message: str) -> None:
        super().__init__(f"the upstream answered {method} with error {code}: {message}")
        self.method = method
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    """How to reach the upstream (the ``--fork-*`` flags)."""

    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    compute_units_per_second: int | None = DEFAULT_COMPUTE_UNITS_PER_SECOND  # None: no limit

    def __post_init__(self) -> None:
        parsed = urllib.parse.urlsplit(self.url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"--fork-url must be an http:// or https:// URL, got {self.url!r}")
        if not 0 < self.timeout <= 3600:
            raise ValueError(f"--fork-timeout must be in (0, 3600] seconds, got {self.timeout}")
        if not 0 <= self.retries <= 100:
            raise ValueError(f"--fork-retries must be in 0..100, got {self.retries}")
        cups = self.compute_units_per_second
        if cups is not None and not 1 <= cups <= 10**9:
            raise ValueError(f"--compute-units-per-second must be in 1..10^9, got {cups}")
        for name, value in self.headers.items():
            if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name) or any(
                c in value for c in "\r\n\0"
            ):
                raise ValueError(f"bad --fork-headers entry {name!r}")

    @property
    def redacted_url(self) -> str:
        """The URL without its path and query (API keys often live there), for messages."""
        parsed = urllib.parse.urlsplit(self.url)
        port = f":{parsed.port}" if parsed.port else ""
        return f"{parsed.scheme}://{parsed.hostname}{port}"


def parse_header(text: str) -> tuple[str, str]:
    """One ``--fork-headers`` value, ``"Name: value"``; ``ValueError`` otherwise."""
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise ValueError(f"--fork-headers takes 'Name: value', got {text!r}")
    return name.strip(), value.strip()


class _Bucket:
    """A token bucket of compute units (thread-safe); one second's worth of burst."""

    def __init__(self, per_second: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_second = per_second
        self.clock = clock
        self.tokens = float(per_second)
        self.stamp = clock()
        self.lock = threading.Lock()

    def take(self, units: int) -> float:
        """Take ``units``; the seconds to wait before sending (0: now)."""
        with self.lock:
            now = self.clock()
            self.tokens = min(
                float(self.per_second), self.tokens + (now - self.stamp) * self.per_second
            )
            self.stamp = now
            self.tokens -= units
            return 0.0 if self.tokens >= 0 else -self.tokens / self.per_second


class Upstream:
    """A JSON-RPC client for one upstream URL (thread-safe)."""

    def __init__(
        self,
        config: UpstreamConfig,
        *,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        parsed = urllib.parse.urlsplit(config.url)
        self._https = parsed.scheme == "https"
        self._host = parsed.hostname or ""
        self._port = parsed.port
        self._path = (parsed.path or "/") + (f"?{parsed.query}" if parsed.query else "")
        self._headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "hummingbird-fork",
            **config.headers,
        }
        if parsed.username or parsed.password:
            import base64

            token = f"{parsed.username or ''}:{parsed.password or ''}".encode()
            self._headers.setdefault("Authorization", "Basic " + base64.b64encode(token).decode())
        self._local = threading.local()
        self._ids = itertools.count(1)
        self._ids_lock = threading.Lock()
        cups = config.compute_units_per_second
        self._bucket = _Bucket(cups) if cups is not None else None
        self._sleep = sleep
        self.requests = 0  # HTTP round trips made (the benchmark counts them)
        self.calls = 0  # JSON-RPC calls answered (a batch of n counts n)

    # -- the verbs -------------------------------------------------------------------

    def call(self, method: str, params: Sequence[Any]) -> Any:
        """One call's result; an ``UpstreamError`` for anything but a result."""
        return self.batch([(method, params)])[0]

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Every call's result, in order, sent as one JSON-RPC batch (one call: a plain
        request); the first call that failed raises (after retries)."""
        if not calls:
            return []
        with self._ids_lock:
            ids = [next(self._ids) for _ in calls]
        payload: Any = [
            {"jsonrpc": "2.0", "id": i, "method": m, "params": list(p)}
            for i, (m, p) in zip(ids, calls, strict=True)
        ]
        single = len(calls) == 1
        body = orjson.dumps(payload[0] if single else payload)
        delay = BACKOFF_START
        attempt = 0
        while True:
            try:
                answers = self._round_trip(body, len(calls), calls[0][0])
                return self._results(calls, ids, answers, single)
            except _Retry as retry:
                attempt += 1
                if attempt > self.config.retries:
                    raise retry.final from None
                wait = min(BACKOFF_CAP, max(delay, retry.after))
                self._sleep(wait)
                delay = min(BACKOFF_CAP, delay * 2)

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    # -- one round trip --------------------------------------------------------------

    def _connection(self) -> http.client.HTTPConnection:
        connection: http.client.HTTPConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            connection = kind(self._host, self._port, timeout=self.config.timeout)
            self._local.connection = connection
        return connection

    def _round_trip(self, body: bytes, count: int, method: str) -> Any:
        if self._bucket is not None:
            wait = self._bucket.take(COMPUTE_UNITS_PER_CALL * count)
            if wait > 0:
                self._sleep(wait)
        where = f"{method} at {self.config.redacted_url}"
        connection = self._connection()
        try:
            connection.request("POST", self._path, body=body, headers=self._headers)
            response = connection.getresponse()
            status = response.status
            retry_after = response.getheader("Retry-After")
            raw = response.read(MAX_RESPONSE_BYTES + 1)
        except (OSError, http.client.HTTPException) as error:
            self.close()  # a half-used connection is not reused
            raise _Retry(UpstreamUnreachable(f"{where}: {error or type(error).__name__}")) from None
        self.requests += 1
        if status == 429:
            raise _Retry(
                UpstreamRateLimited(f"{where}: HTTP 429 (rate limited)"), _seconds(retry_after)
            )
        if status >= 500:
            raise _Retry(UpstreamUnreachable(f"{where}: HTTP {status}"))
        if len(raw) > MAX_RESPONSE_BYTES:
            self.close()
            raise UpstreamMalformed(f"{where}: an answer over {MAX_RESPONSE_BYTES} bytes")
        try:
            answers = orjson.loads(raw)
        except orjson.JSONDecodeError:
            if status != 200:
                raise UpstreamUnreachable(f"{where}: HTTP {status}") from None
            raise UpstreamMalformed(f"{where}: the answer is not JSON") from None
        return answers

    def _results(
        self,
        calls: Sequence[tuple[str, Sequence[Any]]],
        ids: list[int],
        answers: Any,
        single: bool,
    ) -> list[Any]:
        where = self.config.redacted_url
        if single and isinstance(answers, dict):
            answers = [answers]
        if not isinstance(answers, list) or not all(isinstance(a, dict) for a in answers):
            raise UpstreamMalformed(f"{calls[0][0]} at {where}: not a JSON-RPC answer")
        by_id = {a.get("id"): a for a in answers}
        if single and len(answers) == 1 and None in by_id and "error" in answers[0]:
            by_id[ids[0]] = answers[0]  # an error about the request as a whole (id null)
        results = []
        for (method, _), request_id in zip(calls, ids, strict=True):
            answer = by_id.get(request_id)
            if answer is None:
                raise UpstreamMalformed(f"{method} at {where}: no answer with id {request_id}")
            error = answer.get("error")
            if error is not None:
                code, message = _error_fields(error)
                if code in (-32005, 429) or _RATE_LIMITED.search(message):
                    raise _Retry(UpstreamRateLimited(f"{method} at {where}: {message}"))
                raise UpstreamRejected(method, code, message)
            if "result" not in answer:
                raise UpstreamMalformed(f"{method} at {where}: an answer with no result")
            results.append(answer["result"])
        self.calls += len(results)
        return results


class _Retry(Exception):
    """A failure that may pass: ``final`` is raised once the retries are spent."""

    def __init__(self, final: UpstreamError, after: float = 0.0) -> None:
        super().__init__(str(final))
        self.final = final
        self.after = after


def _seconds(header: str | None) -> float:
    try:
        return max(0.0, min(BACKOFF_CAP, float(header))) if header else 0.0
    except ValueError:
        return 0.0


def _error_fields(error: object) -> tuple[int, str]:
    if not isinstance(error, dict):
        return -32603, str(error)[:200]
    code = error.get("code")
    message = error.get("message")
    return (
        code if isinstance(code, int) and not isinstance(code, bool) else -32603,
        message[:500] if isinstance(message, str) else "no message",
    )


# -- checking answers -------------------------------------------------------------------

_DATA = re.compile(r"0x([0-9a-fA-F]{2})*")


def quantity(value: object, what: str, bits: int = 256) -> int:
    """A JSON-RPC quantity of at most ``bits`` bits; ``UpstreamMalformed`` otherwise.
    (Leading zeros are tolerated: some servers send ``0x0001``.)"""
    if not isinstance(value, str) or not re.fullmatch(r"0x[0-9a-fA-F]{1,64}", value):
        raise UpstreamMalformed(f"{what}: expected a hex quantity, got {_show(value)}")
    number = int(value, 16)
    if number >> bits:
        raise UpstreamMalformed(f"{what}: {value} does not fit in {bits} bits")
    return number


def data(value: object, what: str, size: int | None = None, limit: int = 1 << 26) -> bytes:
    """JSON-RPC data (``size`` bytes exactly if given); ``UpstreamMalformed`` otherwise."""
    if not isinstance(value, str) or len(value) > 2 + 2 * limit or not _DATA.fullmatch(value):
        raise UpstreamMalformed(f"{what}: expected hex data, got {_show(value)}")
    raw = bytes.fromhex(value[2:])
    if size is not None and len(raw) != size:
        raise UpstreamMalformed(f"{what}: expected {size} bytes, got {len(raw)}")
    return raw


def word(value: object, what: str) -> int:
    """A storage word as ``eth_getStorageAt`` returns it: 32 bytes of data (some servers
    send it as a quantity, without leading zeros)."""
    if isinstance(value, str) and len(value) != 66:
        return quantity(value, what)
    return int.from_bytes(data(value, what, 32), "big")


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


__all__ = [
    "DEFAULT_COMPUTE_UNITS_PER_SECOND",
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "Upstream",
    "UpstreamConfig",
    "UpstreamError",
    "UpstreamMalformed",
    "UpstreamRateLimited",
    "UpstreamRejected",
    "UpstreamUnreachable",
    "data",
    "parse_header",
    "quantity",
    "word",
]
