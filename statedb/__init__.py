"""statedb: flat key-value Ethereum state (RocksDB underneath, resident in memory).

The lowest layer: it imports nothing from ``jit``, ``sequencer`` or ``rpc``.
``StateDB`` is the database; ``statedb.keys`` the key schema and state-key kinds;
``statedb.commitment`` the state root; ``statedb.conflicts`` the read/write sets and
the parallel executor's conflict rule; the views implement ``StateReader``.
"""

from statedb.backend import remove_database
from statedb.commitment import Commitment, compute_root
from statedb.db import DEFAULT_HISTORY_WINDOW, PreparedBlock, StateDB
from statedb.errors import (
    BlockOrderError,
    CorruptDatabase,
    DatabaseClosed,
    HistoryUnavailable,
    InvalidStateInput,
    StateDBError,
)
from statedb.history import HistoricalView
from statedb.types import (
    EMPTY_CODE_HASH,
    Account,
    Address,
    Hash32,
    StateDiff,
    StateReader,
)
from statedb.views import HeadView, OverlayView

__all__ = [
    "DEFAULT_HISTORY_WINDOW",
    "EMPTY_CODE_HASH",
    "Account",
    "Address",
    "BlockOrderError",
    "Commitment",
    "CorruptDatabase",
    "DatabaseClosed",
    "Hash32",
    "HeadView",
    "HistoricalView",
    "HistoryUnavailable",
    "InvalidStateInput",
    "OverlayView",
    "PreparedBlock",
    "StateDB",
    "StateDBError",
    "StateDiff",
    "StateReader",
    "compute_root",
    "remove_database",
]
