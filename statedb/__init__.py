"""statedb: flat key-value Ethereum state (RocksDB underneath, resident in memory).

The lowest layer: it imports nothing from ``jit``, ``sequencer`` or ``rpc``.
"""

from statedb.types import (
    EMPTY_CODE_HASH,
    Account,
    Address,
    Hash32,
    StateDiff,
    StateReader,
)

__all__ = ["EMPTY_CODE_HASH", "Account", "Address", "Hash32", "StateDiff", "StateReader"]
