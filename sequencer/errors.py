"""Errors the node reports to its callers (the rpc layer maps them to JSON-RPC).

Owns ``NodeError`` and its subclasses. Each carries the JSON-RPC ``code``,
the ``message`` clients match on (geth's and anvil's wording, DESIGN §8) and
optional ``data``. ``jit.evm.exceptions.InvalidTransaction`` raised from
execution is re-raised by the node as ``TransactionRejected`` with the same text.
"""

from __future__ import annotations


class NodeError(Exception):
    """A request the node refuses; ``code`` and ``message`` go on the wire unchanged."""

    code: int = -32000

    def __init__(self, message: str, *, data: object | None = None, code: int | None = None):
        super().__init__(message)
        self.message = message
        self.data = data
        if code is not None:
            self.code = code


class TransactionRejected(NodeError):
    """The pool or validation refused a transaction (``nonce too low``, ...)."""


class ExecutionReverted(NodeError):
    """eth_call / eth_estimateGas hit REVERT: code 3, raw revert bytes as data.

    ``output`` is the revert data; ``reason`` the decoded ``Error(string)`` /
    ``Panic(uint256)`` text, or None.
    """

    code = 3

    def __init__(self, output: bytes, reason: str | None) -> None:
        message = "execution reverted" if reason is None else f"execution reverted: {reason}"
        super().__init__(message, data="0x" + output.hex())
        self.output = output
        self.reason = reason


class ExecutionHalted(NodeError):
    """eth_call / eth_estimateGas ended in an exceptional halt (out of gas, invalid opcode)."""


class ResourceNotFound(NodeError):
    """A block, transaction, filter or snapshot that does not exist (-32001 like geth's)."""

    code = -32001


class InvalidInput(NodeError):
    """Well-formed parameters the node cannot use (-32602: e.g. a range too large)."""

    code = -32602


class Unsupported(NodeError):
    """A request the node understands but does not serve (-32004)."""

    code = -32004
