"""The transaction pool (see ``sequencer.pool.pool``) and its on-disk copy
(``sequencer.pool.persist``)."""

from sequencer.pool.persist import PoolStore, StoredTx
from sequencer.pool.pool import Admission, Included, PoolTx, TxPool

__all__ = ["Admission", "Included", "PoolStore", "PoolTx", "StoredTx", "TxPool"]
