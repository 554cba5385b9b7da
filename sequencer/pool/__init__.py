"""The transaction pool (see ``sequencer.pool.pool``) and its on-disk copy
(``sequencer.pool.persist``)."""

from sequencer.pool.persist import PoolStore, StoredTx
from sequencer.pool.pool import Admission, PoolTx, TxPool

__all__ = ["Admission", "PoolStore", "PoolTx", "StoredTx", "TxPool"]
