"""The transaction pool (see ``sequencer.pool.pool``)."""

from sequencer.pool.pool import Admission, Included, PoolTx, TxPool

__all__ = ["Admission", "Included", "PoolTx", "TxPool"]
