"""Errors the node reports to its callers (the rpc layer maps them to JSON-RPC).

Owns ``NodeError`` and its subclasses. Each carries the JSON-RPC ``code``,
the ``message`` clients match on (geth's and anvil's wording, DESIGN §8) and
optional ``data``. ``jit.evm.exceptions.InvalidTransaction`` raised from
execution is re-raised by the node as ``TransactionRejected`` with the same text.
A ``NodeError`` pickles whole (class, message, code, data and any attribute of a
subclass), so a worker process can raise one for the sequencer to answer with.
"""

from __future__ import annotations

from typing import Any


class NodeError(Exception):
    """A request the node refuses; ``code`` and ``message`` go on the wire unchanged."""

    code: int = -32000

    def __init__(self, message: str, *, data: object | None = None, code: int | None = None):
        super().__init__(message)
        self.message = message
        self.data = data
        if code is not None:
            self.code = code

    def __reduce__(self) -> tuple[Any, ...]:
        # Exception's own reduction calls ``cls(*args)``, which a subclass with another
        # constructor (``ExecutionReverted(output, reason)``) cannot take.
        return _rebuild, (type(self), self.args, dict(self.__dict__))


def _rebuild(cls: type[NodeError], args: tuple[Any, ...], state: dict[str, Any]) -> NodeError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


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


class ReplicaMismatch(NodeError):
    """A replicated block that does not fit this replica's chain or state."""
