"""Exceptions raised by the state database.

Owns: the ``StateDBError`` hierarchy. Every error statedb raises on bad input or a
bad database is one of these, so callers (the sequencer, the RPC error mapping)
can tell a rejected write from a bug.
"""

from __future__ import annotations


class StateDBError(Exception):
    """Base class of every statedb error."""


class InvalidStateInput(StateDBError, ValueError):
    """A diff, key or record that cannot be stored (bad length, out-of-range value ...)."""


class BlockOrderError(StateDBError):
    """A commit for a block number other than head + 1, or a stale prepared block."""


class HistoryUnavailable(StateDBError):
    """A block outside the history window (pruned, in the future or reverted away)."""


class CorruptDatabase(StateDBError):
    """The directory is not a Hummingbird state database, or its contents disagree."""


class DatabaseClosed(StateDBError):
    """The database was used after ``close()``."""
