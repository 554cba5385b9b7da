"""Everything that can stop execution, kept in three families.

- ``ExceptionalHalt``: the frame halts and burns all its gas (stack errors,
  out of gas, invalid jumps and opcodes, static-context writes, ...).
- ``Revert``: REVERT; the frame's changes roll back, unused gas is returned.
- ``InvalidTransaction``: the transaction cannot be included at all; raised by
  validation before any state change.
"""

from __future__ import annotations

import enum


class ExceptionalHalt(Exception):
    """Halts the current frame, consuming all of its gas."""


class StackUnderflowError(ExceptionalHalt):
    pass


class StackOverflowError(ExceptionalHalt):
    pass


class OutOfGasError(ExceptionalHalt):
    pass


class InvalidOpcode(ExceptionalHalt):
    pass


class InvalidJumpDestError(ExceptionalHalt):
    pass


class WriteInStaticContext(ExceptionalHalt):
    pass


class OutOfBoundsRead(ExceptionalHalt):
    """RETURNDATACOPY past the end of the return data (EIP-211)."""


class InvalidContractPrefix(ExceptionalHalt):
    """Deployed code starting with 0xEF (EIP-3541)."""


class AddressCollision(ExceptionalHalt):
    """CREATE/CREATE2 target already has code, nonce or storage (EIP-684, EIP-7610)."""


class PrecompileHalt(ExceptionalHalt):
    """A precompile rejected its input or ran out of gas."""


class Revert(Exception):
    """REVERT: roll back the frame, keep the unused gas and the output."""


class HaltReason(enum.StrEnum):
    """Why a transaction's top frame did not succeed (``TxOutcome.error``): typed, and
    equal to the name of the exception that stopped it (``HaltReason.of``)."""

    STACK_UNDERFLOW = "StackUnderflowError"
    STACK_OVERFLOW = "StackOverflowError"
    OUT_OF_GAS = "OutOfGasError"
    INVALID_OPCODE = "InvalidOpcode"
    INVALID_JUMP = "InvalidJumpDestError"
    STATIC_WRITE = "WriteInStaticContext"
    RETURN_DATA_OUT_OF_BOUNDS = "OutOfBoundsRead"
    INVALID_CONTRACT_PREFIX = "InvalidContractPrefix"
    ADDRESS_COLLISION = "AddressCollision"
    PRECOMPILE_FAILED = "PrecompileHalt"
    REVERT = "Revert"

    @classmethod
    def of(cls, error: ExceptionalHalt | Revert) -> HaltReason:
        return cls(type(error).__name__)


class InvalidTransaction(Exception):
    """The transaction is not valid in this block; nothing was changed."""


class NonceMismatch(InvalidTransaction):
    pass


class NonceTooLow(NonceMismatch):
    pass


class NonceTooHigh(NonceMismatch):
    pass


class NonceOverflow(InvalidTransaction):
    """The sender's nonce is already 2**64 - 1 (EIP-2681)."""


class InsufficientFunds(InvalidTransaction):
    pass


class IntrinsicGasTooLow(InvalidTransaction):
    pass


class GasLimitExceeded(InvalidTransaction):
    """The transaction's gas limit exceeds the block's (or EIP-7825's cap)."""


class FeeCapTooLow(InvalidTransaction):
    """max fee per gas (or gas price) below the block's base fee."""


class PriorityFeeTooHigh(InvalidTransaction):
    """max priority fee per gas above max fee per gas (EIP-1559)."""


class SenderNotEOA(InvalidTransaction):
    """The sender has code that is not a delegation designator (EIP-3607)."""


class InitcodeTooLarge(InvalidTransaction):
    """Creation transaction data above the EIP-3860 limit."""


class TransactionTypeNotSupported(InvalidTransaction):
    pass


class BlobError(InvalidTransaction):
    """An EIP-4844 rule: no blobs, too many blobs, bad versioned hash, blob fee cap, create."""


class AuthorizationListError(InvalidTransaction):
    """EIP-7702: an empty authorization list or a creation transaction."""


class GasPriceOverflow(InvalidTransaction):
    """gas * price does not fit in 256 bits."""
