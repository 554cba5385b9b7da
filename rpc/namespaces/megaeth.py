"""MegaETH's optional read methods, behind ``--megaeth-extras`` (issue 17): MegaETH's
public RPC no longer serves them (-32601), so without the flag neither does this node.

Owns ``eth_callAfter`` (``[request, {account, nonce, timeout?}, stateOverride?,
blockOverrides?]``: wait until ``account``'s nonce at ``latest`` reaches ``nonce``, at most
``timeout`` ms (default 3,000, at most 60,000), then eth_call at ``latest``; -32000
``Timeout: timeout waiting for nonce condition``) and ``eth_getLogsWithCursor``
(eth_getLogs' filter plus an optional opaque ``cursor``: ``{logs, cursor?}`` pages of at
most ``LOG_PAGE`` logs, ``cursor`` present while more remain). Shapes and errors from
megaeth-labs/documentation ("RPC: read methods", 2026).
"""

from __future__ import annotations

from typing import Any, Final

from rpc.codecs import data, parse_address
from rpc.dispatch import RequestContext, method
from rpc.errors import InvalidParams
from rpc.namespaces.dev import parse_number
from rpc.namespaces.eth import LATEST, node_of, simulation_args
from rpc.namespaces.filters import log_query, logs_json
from sequencer.errors import NodeError
from sequencer.node import Node

DEFAULT_CALL_AFTER_TIMEOUT_MS: Final = 3_000
MAX_CALL_AFTER_TIMEOUT_MS: Final = 60_000
LOG_PAGE: Final = 1_000
MAX_NONCE: Final = 2**64 - 1


def _require_extras(node: Node, name: str) -> None:
    if not node.config.megaeth_extras:
        raise NodeError(
            f"the method {name} does not exist/is not available (start the node with "
            "--megaeth-extras)",
            code=-32601,
        )


def _condition(value: object) -> tuple[bytes, int, float]:
    if not isinstance(value, dict) or set(value) - {"account", "nonce", "timeout"}:
        raise InvalidParams(
            'invalid argument 1: expected {"account": address, "nonce": quantity, '
            '"timeout"?: milliseconds}'
        )
    if "account" not in value or "nonce" not in value:
        raise InvalidParams("invalid argument 1: account and nonce are required")
    account = parse_address(value["account"], 1)
    nonce = parse_number(value["nonce"], 1, bits=64)
    raw_timeout = value.get("timeout")
    timeout = (
        DEFAULT_CALL_AFTER_TIMEOUT_MS
        if raw_timeout is None
        else parse_number(raw_timeout, 1, bits=64)
    )
    if not 1 <= timeout <= MAX_CALL_AFTER_TIMEOUT_MS:
        raise InvalidParams(
            f"invalid argument 1: timeout must be in 1..{MAX_CALL_AFTER_TIMEOUT_MS} ms"
        )
    return account, nonce, timeout / 1000


@method("eth_callAfter")
async def call_after(
    ctx: RequestContext,
    request: object,
    condition: object,
    state_overrides: object = None,
    block_overrides: object = None,
) -> str:
    node = node_of(ctx)
    _require_extras(node, "eth_callAfter")
    account, nonce, timeout = _condition(condition)
    # Everything is parsed before waiting: a bad request fails at once.
    simulation_args(node, request, LATEST, state_overrides, block_overrides)
    if not await node.wait_for_nonce(account, nonce, timeout):
        raise NodeError("Timeout: timeout waiting for nonce condition")
    args = simulation_args(node, request, LATEST, state_overrides, block_overrides)
    return data(await node.call(*args))


def _cursor(value: object) -> tuple[int, int] | None:
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or not value.startswith("0x")
        or not 18 <= len(value) <= 34
        or any(c not in "0123456789abcdef" for c in value[2:])
    ):
        raise InvalidParams("invalid argument 0: cursor is not one this node gave")
    digits = value[2:]
    return int(digits[:-8], 16), int(digits[-8:], 16)


def encode_cursor(block_number: int, log_index: int) -> str:
    """Opaque to clients: the last returned log's block number and log index."""
    return f"0x{block_number:08x}{log_index:08x}"


@method("eth_getLogsWithCursor")
async def get_logs_with_cursor(ctx: RequestContext, criteria: object) -> dict[str, Any]:
    node = node_of(ctx)
    _require_extras(node, "eth_getLogsWithCursor")
    if not isinstance(criteria, dict):
        raise InvalidParams("invalid argument 0: expected a filter object")
    after = _cursor(criteria.get("cursor"))
    plain = {key: value for key, value in criteria.items() if key != "cursor"}
    query = log_query(node, plain)
    entries, more = await node.find_logs_page(query, after, LOG_PAGE)
    out: dict[str, Any] = {"logs": logs_json(node, entries)}
    if more and entries:
        last = entries[-1]
        out["cursor"] = encode_cursor(last.block_number, last.log_index)
    return out
