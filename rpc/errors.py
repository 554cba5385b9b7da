"""JSON-RPC errors: ``RpcError`` and THE one mapping from any exception to an error object.

Owns the JSON-RPC 2.0 error codes (-32700 parse, -32600 invalid request, -32601
method not found, -32602 invalid params, -32603 internal), ``error_object`` (the only
place an exception becomes ``{"code", "message", "data"}``: ``RpcError`` and
``sequencer.errors.NodeError`` carry their own fields, ``InvalidTransaction`` is
-32000 with its text, anything else is -32603 with a logged traceback) and
``decode_revert_reason`` (Solidity ``Error(string)`` / ``Panic(uint256)`` revert data
to the text anvil prints). Wording follows geth and anvil (DESIGN §8).
"""

from __future__ import annotations

import logging

from jit.evm.exceptions import InvalidTransaction
from sequencer.errors import NodeError
from sequencer.revert import decode_revert_reason

__all__ = ["decode_revert_reason", "error_object"]

logger = logging.getLogger("hummingbird.rpc")

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
SERVER_ERROR = -32000  # geth's default code for errors a handler returns


class RpcError(Exception):
    """An error answered to the client as is: ``code``, ``message`` and optional ``data``."""

    code: int = INTERNAL_ERROR
    default_message: str = "internal error"

    def __init__(
        self, message: str | None = None, data: object | None = None, *, code: int | None = None
    ) -> None:
        self.message = self.default_message if message is None else message
        super().__init__(self.message)
        self.data = data
        if code is not None:
            self.code = code


class ParseError(RpcError):
    code = PARSE_ERROR
    default_message = "parse error"


class InvalidRequest(RpcError):
    code = INVALID_REQUEST
    default_message = "invalid request"


class MethodNotFound(RpcError):
    code = METHOD_NOT_FOUND

    def __init__(self, method: str) -> None:
        super().__init__(f"the method {method} does not exist/is not available")
        self.method = method


class InvalidParams(RpcError):
    code = INVALID_PARAMS
    default_message = "invalid params"


class InternalError(RpcError):
    code = INTERNAL_ERROR
    default_message = "internal error"


def error_object(exc: BaseException) -> dict[str, object]:
    """The JSON-RPC error object for ``exc``; unexpected exceptions log their traceback."""
    code: int
    message: str
    data: object | None = None
    if isinstance(exc, RpcError | NodeError):
        code, message, data = exc.code, exc.message, exc.data
    elif isinstance(exc, InvalidTransaction):
        code, message = SERVER_ERROR, str(exc)
    else:
        logger.error("internal error: %s: %s", type(exc).__name__, exc, exc_info=exc)
        code, message, data = INTERNAL_ERROR, "internal error", f"{type(exc).__name__}: {exc}"
    out: dict[str, object] = {"code": code, "message": message}
    if data is not None:
        out["data"] = data
    return out
