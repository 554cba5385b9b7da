"""Chain data types: typed transactions (0-4); blocks and receipts come with the node."""

from sequencer.types.transactions import (
    AuthorizationTuple,
    InvalidTransactionEncoding,
    Transaction,
    decode_transaction,
    sign_transaction,
)

__all__ = [
    "AuthorizationTuple",
    "InvalidTransactionEncoding",
    "Transaction",
    "decode_transaction",
    "sign_transaction",
]
