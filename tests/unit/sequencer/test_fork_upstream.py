"""The forked node's upstream client and its lazily read state (issue 19), against a
scripted local JSON-RPC server: good answers, batches, retries and back-off, 429s with
Retry-After, 5xx, slow and dead upstreams, malformed and hostile answers, pruned
state, the compute-unit budget, and the on-disk cache (kept only when valid)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sequencer.fork.source import ForkCache, ForkState, resolve_fork_point
from sequencer.fork.upstream import (
    Upstream,
    UpstreamConfig,
    UpstreamMalformed,
    UpstreamRateLimited,
    UpstreamRejected,
    UpstreamUnreachable,
    parse_header,
    quantity,
    word,
)
from sequencer.trie import EMPTY_TRIE_ROOT
from statedb import StateDB
from statedb.types import EMPTY_CODE_HASH, Account, keccak256

HOLDER = b"\x11" * 20
CONTRACT = b"\x22" * 20
CODE = bytes.fromhex("6001600055")
FORK_HASH = b"\xab" * 32


class FakeChain:
    """A scripted upstream: answers from these maps at block 0x10 and below; ``script``
    may replace the whole HTTP answer of the next requests (status, headers, body)."""

    def __init__(self) -> None:
        self.chain_id = 31337
        self.balances = {HOLDER: 10**21, CONTRACT: 5}
        self.nonces = {HOLDER: 3, CONTRACT: 1}
        self.codes = {CONTRACT: CODE}
        self.storage = {(CONTRACT, 0): 7, (CONTRACT, 2**256 - 1): 2**255}
        self.script: list[tuple[int, dict[str, str], bytes]] = []
        self.delay = 0.0
        self.requests: list[Any] = []
        self.headers_seen: list[dict[str, str]] = []
        self.override: Callable[[dict[str, Any]], Any] | None = None

    def answer(self, request: dict[str, Any]) -> dict[str, Any]:
        if self.override is not None:
            result = self.override(request)
            if result is not None:
                return {"jsonrpc": "2.0", "id": request["id"], **result}
        method, params = request["method"], request["params"]
        address = bytes.fromhex(params[0][2:]) if params and len(params[0]) == 42 else b""
        if method == "eth_chainId":
            result: Any = hex(self.chain_id)
        elif method == "eth_getBlockByNumber":
            number = 0x10 if params[0] == "latest" else int(params[0], 16)
            if number > 0x10:
                result = None
            else:
                result = {
                    "number": hex(number),
                    "parentHash": "0x" + "01" * 32,
                    "transactionsRoot": "0x" + "02" * 32,
                    "receiptsRoot": "0x" + "03" * 32,
                    "gasUsed": "0x5208",
                    "hash": "0x" + (FORK_HASH if number == 0x10 else bytes([number]) * 32).hex(),
                    "stateRoot": "0x" + "cd" * 32,
                    "timestamp": "0x64",
                    "gasLimit": "0x1c9c380",
                    "baseFeePerGas": "0x3b9aca00",
                    "miner": "0x" + "00" * 20,
                    "mixHash": "0x" + "00" * 32,
                }
        elif method == "eth_getBalance":
            result = hex(self.balances.get(address, 0))
        elif method == "eth_getTransactionCount":
            result = hex(self.nonces.get(address, 0))
        elif method == "eth_getCode":
            result = "0x" + self.codes.get(address, b"").hex()
        elif method == "eth_getProof":
            has = any(a == address for a, _ in self.storage)
            result = {"storageHash": "0x" + ("77" * 32 if has else EMPTY_TRIE_ROOT.hex())}
        elif method == "eth_getStorageAt":
            value = self.storage.get((address, int(params[1], 16)), 0)
            result = "0x" + value.to_bytes(32, "big").hex()
        else:
            return {
                "jsonrpc": "2.0",
                "id": request["id"],
                "error": {"code": -32601, "message": "no"},
            }
        return {"jsonrpc": "2.0", "id": request["id"], "result": result}


@pytest.fixture
def chain() -> Iterator[tuple[FakeChain, str]]:
    fake = FakeChain()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fake.requests.append(body)
            fake.headers_seen.append(dict(self.headers))
            if fake.delay:
                time.sleep(fake.delay)
            if fake.script:
                status, headers, raw = fake.script.pop(0)
            else:
                status, headers = 200, {}
                answers = (
                    [fake.answer(r) for r in body] if isinstance(body, list) else fake.answer(body)
                )
                raw = json.dumps(answers).encode()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield fake, f"http://127.0.0.1:{server.server_address[1]}/rpc?key=secret"
    server.shutdown()
    server.server_close()


def _client(url: str, **overrides: Any) -> tuple[Upstream, list[float]]:
    slept: list[float] = []
    config = UpstreamConfig(url, **{"compute_units_per_second": None, **overrides})
    return Upstream(config, sleep=slept.append), slept


def test_calls_and_batches_with_headers(chain: tuple[FakeChain, str]) -> None:
    fake, url = chain
    upstream, _ = _client(url, headers={"Authorization": "Bearer t", "X-Team": "hb"})
    assert upstream.call("eth_chainId", []) == "0x7a69"
    assert upstream.batch(
        [("eth_getBalance", ["0x" + HOLDER.hex(), "0x10"]), ("eth_chainId", [])]
    ) == [
        hex(10**21),
        "0x7a69",
    ]
    assert isinstance(fake.requests[-1], list) and len(fake.requests[-1]) == 2
    assert fake.headers_seen[-1]["Authorization"] == "Bearer t"
    assert fake.headers_seen[-1]["X-Team"] == "hb"
    assert (upstream.requests, upstream.calls) == (2, 3)
    assert upstream.batch([]) == []
    with pytest.raises(UpstreamRejected, match="-32601") as rejected:
        upstream.call("eth_nothing", [])
    assert rejected.value.code == -32601


def test_retries_back_off_and_honour_retry_after(chain: tuple[FakeChain, str]) -> None:
    fake, url = chain
    upstream, slept = _client(url, retries=4)
    fake.script = [
        (429, {"Retry-After": "2"}, b"slow down"),
        (503, {}, b"busy"),
        (
            200,
            {},
            json.dumps(
                {"jsonrpc": "2.0", "id": 1, "error": {"code": -32005, "message": "x"}}
            ).encode(),
        ),
    ]
    assert upstream.call("eth_chainId", []) == "0x7a69"
    assert slept == [2.0, 0.2, 0.4]  # Retry-After, then the doubling back-off
    fake.script = [(429, {}, b"")] * 3
    upstream, slept = _client(url, retries=2)
    with pytest.raises(UpstreamRateLimited, match="429"):
        upstream.call("eth_chainId", [])
    assert slept == [0.1, 0.2]
    # A rate limit said in the error message (Infura, Alchemy) is retried too.
    fake.script = [
        (
            200,
            {},
            json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": None,
                    "error": {"code": -32000, "message": "Too Many Requests"},
                }
            ).encode(),
        )
    ]
    upstream, slept = _client(url, retries=1)
    assert upstream.call("eth_chainId", []) == "0x7a69"
    assert slept == [0.1]


def test_dead_slow_and_hostile_upstreams_are_clear_errors(chain: tuple[FakeChain, str]) -> None:
    fake, url = chain
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}/"
    upstream, slept = _client(dead, retries=2)
    with pytest.raises(UpstreamUnreachable, match=r"eth_chainId at http://127\.0\.0\.1"):
        upstream.call("eth_chainId", [])
    assert len(slept) == 2
    fake.delay = 0.5
    upstream, _ = _client(url, retries=0, timeout=0.1)
    with pytest.raises(UpstreamUnreachable) as slow:
        upstream.call("eth_chainId", [])
    assert "secret" not in str(slow.value)  # the URL's path and query stay out of messages
    fake.delay = 0.0
    upstream, _ = _client(url, retries=0)
    for status, body, error in (
        (200, b"<html>", UpstreamMalformed),
        (200, b"[1, 2]", UpstreamMalformed),
        (200, b'{"jsonrpc": "2.0", "id": 999, "result": "0x1"}', UpstreamMalformed),
        (200, b'{"jsonrpc": "2.0", "id": 0}', UpstreamMalformed),
        (404, b"not found", UpstreamUnreachable),
        (500, b"", UpstreamUnreachable),
    ):
        fake.script = [(status, {}, body)]
        with pytest.raises(error):
            upstream.call("eth_chainId", [])
    assert fake.script == []


def test_answers_are_checked() -> None:
    assert quantity("0x10", "n") == 16
    assert quantity("0x0001", "n") == 1
    for bad in ("10", "0x", "0xg", 16, None, "0x1" + "0" * 64, True):
        with pytest.raises(UpstreamMalformed):
            quantity(bad, "n")
    with pytest.raises(UpstreamMalformed, match="64 bits"):
        quantity("0x1" + "0" * 16, "nonce", 64)
    assert word("0x" + "00" * 31 + "07", "w") == 7
    assert word("0x7", "w") == 7
    for bad in ("0x" + "0" * 65, "0xzz" + "0" * 62, 7):
        with pytest.raises(UpstreamMalformed):
            word(bad, "w")
    assert parse_header("Authorization: Bearer a:b") == ("Authorization", "Bearer a:b")
    for bad in ("no colon", ": empty name"):
        with pytest.raises(ValueError):
            parse_header(bad)


@pytest.mark.parametrize(
    "overrides",
    [
        {"url": "ftp://x"},
        {"url": "not a url"},
        {"url": "http://"},
        {"timeout": 0},
        {"timeout": 10**9},
        {"retries": -1},
        {"retries": 10**6},
        {"compute_units_per_second": 0},
        {"headers": {"Bad Name": "x"}},
        {"headers": {"X-Ok": "a\r\nInjected: yes"}},
    ],
)
def test_bad_configuration_is_refused(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        UpstreamConfig(**{"url": "http://127.0.0.1:1/", **overrides})


def test_the_compute_unit_budget_spaces_requests(chain: tuple[FakeChain, str]) -> None:
    _, url = chain
    upstream, slept = _client(url, compute_units_per_second=34)  # two calls' worth a second
    upstream.call("eth_chainId", [])
    upstream.call("eth_chainId", [])
    assert slept == []
    upstream.call("eth_chainId", [])  # the bucket is empty: wait for 17 units
    assert len(slept) == 1 and 0.4 < slept[0] <= 0.5


def test_fork_point_and_chain_id(chain: tuple[FakeChain, str]) -> None:
    fake, url = chain
    upstream, _ = _client(url)
    point = resolve_fork_point(upstream, None, 31337)
    assert (point.number, point.hash, point.chain_id, point.header.base_fee_per_gas) == (
        16,
        FORK_HASH,
        31337,
        10**9,
    )
    assert not point.exact_header  # the fake's hash is not its header's
    assert resolve_fork_point(upstream, 5, None).number == 5
    with pytest.raises(ValueError, match="chain id is 31337, --fork-chain-id says 1"):
        resolve_fork_point(upstream, None, 1)
    with pytest.raises(ValueError, match="no block 99"):
        resolve_fork_point(upstream, 99, None)
    fake.override = lambda r: (
        {"result": {"number": "0x3"}} if r["method"] == "eth_getBlockByNumber" else None
    )
    with pytest.raises(UpstreamMalformed, match="asked for block 5"):
        resolve_fork_point(upstream, 5, None)


def test_fork_state_reads_lazily_in_batches_and_caches_on_disk(
    chain: tuple[FakeChain, str], tmp_path: Path
) -> None:
    _, url = chain
    upstream, _ = _client(url)
    point = resolve_fork_point(upstream, None, None)
    db = StateDB.open(tmp_path / "db")
    state = ForkState(upstream, point.number, point.hash, ForkCache(db, point.hash))
    before = upstream.requests
    assert state.account(HOLDER) == Account(3, 10**21, EMPTY_CODE_HASH)
    assert upstream.requests == before + 1  # balance, nonce and code in one batch
    assert state.account(b"\x99" * 20) is None
    assert state.account(CONTRACT) == Account(1, 5, keccak256(CODE))
    assert state.code(keccak256(CODE)) == CODE
    assert state.storage(CONTRACT, 0) == 7
    asked = upstream.requests
    assert state.account(HOLDER) is not None and state.storage(CONTRACT, 0) == 7
    assert upstream.requests == asked  # kept in memory
    # Many slots: batches of 100, several in flight, every answer kept.
    state.prefetch(slots=[(CONTRACT, s) for s in range(1, 350)])
    assert upstream.requests == asked + 4
    assert state.storage(CONTRACT, 2**256 - 1) == 2**255
    assert state.block_hash(3) == bytes([3]) * 32 and state.block_hash(17) is None
    assert state.has_storage(CONTRACT) and not state.has_storage(HOLDER)
    db.close()
    # A restart: everything comes from the cache, nothing from the upstream.
    db = StateDB.open(tmp_path / "db")
    again = ForkState(upstream, point.number, point.hash, ForkCache(db, point.hash))
    asked = upstream.requests
    assert again.account(CONTRACT) == Account(1, 5, keccak256(CODE))
    assert again.code(keccak256(CODE)) == CODE
    assert again.account(b"\x99" * 20) is None
    assert again.storage(CONTRACT, 0) == 7 and again.storage(CONTRACT, 349) == 0
    assert again.block_hash(3) == bytes([3]) * 32
    assert again.has_storage(CONTRACT) and not again.has_storage(HOLDER)
    assert upstream.requests == asked
    # Another fork point does not read them.
    other = ForkState(upstream, point.number, point.hash, ForkCache(db, b"\x01" * 32))
    assert other.storage(CONTRACT, 0) == 7 and upstream.requests == asked + 1
    db.close()


def test_malformed_state_is_never_cached(chain: tuple[FakeChain, str], tmp_path: Path) -> None:
    fake, url = chain
    upstream, _ = _client(url)
    point = resolve_fork_point(upstream, None, None)
    db = StateDB.ephemeral()
    state = ForkState(upstream, point.number, point.hash, ForkCache(db, point.hash))
    hostile = {
        "eth_getBalance": "0x" + "f" * 65,  # over 256 bits
        "eth_getTransactionCount": "0x1" + "0" * 16,  # over 64 bits
        "eth_getCode": "0x6",  # odd hex
    }
    for method, value in hostile.items():
        fake.override = lambda r, m=method, v=value: {"result": v} if r["method"] == m else None
        with pytest.raises(UpstreamMalformed):
            state.account(HOLDER)
    fake.override = lambda r: (
        {"error": {"code": -32000, "message": "missing trie node abc"}}
        if r["method"] == "eth_getStorageAt"
        else None
    )
    with pytest.raises(UpstreamRejected, match="missing trie node"):
        state.storage(CONTRACT, 0)  # pruned state: a clear error
    fake.override = None
    assert state.account(HOLDER) == Account(3, 10**21, EMPTY_CODE_HASH)
    assert state.storage(CONTRACT, 0) == 7
    # A corrupted cache record is dropped and fetched again.
    state.cache.put(b"a", CONTRACT, b"garbage")
    state.cache.put(b"s", CONTRACT + (5).to_bytes(32, "big"), b"short")
    fresh = ForkState(upstream, point.number, point.hash, state.cache)
    asked = upstream.requests
    assert fresh.account(CONTRACT) == Account(1, 5, keccak256(CODE))
    assert fresh.storage(CONTRACT, 5) == 0
    assert upstream.requests == asked + 2
    db.close()
