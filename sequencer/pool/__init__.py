"""The transaction pool (see ``sequencer.pool.pool``)."""

from sequencer.pool.pool import Admission, PoolTx, TxPool

__all__ = ["Admission", "PoolTx", "TxPool"]
