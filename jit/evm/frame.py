"""Execution contexts: the block and transaction environments, a message
(one call or create), and ``Evm``, the mutable frame an instruction acts on.

Mutable hot objects are plain slotted classes (no dataclass machinery on the
per-call path); environments are frozen slotted dataclasses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jit.evm.block_hashes import EMPTY_BLOCK_HASHES, BlockHashes
from jit.evm.exceptions import OutOfGasError, StackOverflowError
from statedb.types import Address

if TYPE_CHECKING:
    from jit.evm.state import TxState
    from jit.forks import ForkRules

UINT256_MAX = (1 << 256) - 1
STACK_LIMIT = 1024
CALL_DEPTH_LIMIT = 1024
_SIGN_BIT = 1 << 255
_MODULUS = 1 << 256


@dataclass(frozen=True, slots=True)
class BlockEnv:
    """What the block gives execution: header fields and recent block hashes.

    ``block_hashes`` is what BLOCKHASH reads: a ``BlockHashes`` pinned at this block
    (``BlockHashLog.view(number)``, O(1)). A plain mapping is accepted and frozen into
    one at construction (a copy of the 256 entries before ``number``), so an
    environment never sees a hash change under it, and pickles without the chain.
    """

    chain_id: int
    coinbase: Address
    number: int
    timestamp: int
    gas_limit: int
    base_fee: int
    prev_randao: bytes = b"\x00" * 32
    excess_blob_gas: int = 0
    blob_base_fee: int = 1
    block_hashes: BlockHashes | Mapping[int, bytes] = EMPTY_BLOCK_HASHES
    parent_beacon_block_root: bytes | None = None
    slot_number: int = 0  # EIP-7843 (Amsterdam): the header's slot number, SLOTNUM reads it

    def __post_init__(self) -> None:
        if not isinstance(self.block_hashes, BlockHashes):
            hashes = BlockHashes.of(self.block_hashes, self.number)
            object.__setattr__(self, "block_hashes", hashes)


@dataclass(frozen=True, slots=True)
class TxEnv:
    """What the transaction gives execution."""

    origin: Address
    gas_price: int
    blob_versioned_hashes: tuple[bytes, ...] = ()


class Message:
    """One call or create. ``target`` None means a create of ``current_target``."""

    __slots__ = (
        "caller",
        "code",
        "code_address",
        "current_target",
        "data",
        "depth",
        "disable_precompiles",
        "gas",
        "is_static",
        "should_transfer_value",
        "state_gas",
        "target",
        "value",
    )

    def __init__(
        self,
        caller: Address,
        target: Address | None,
        current_target: Address,
        code_address: Address | None,
        value: int,
        data: bytes,
        code: bytes,
        gas: int,
        depth: int,
        is_static: bool,
        should_transfer_value: bool = True,
        disable_precompiles: bool = False,
        state_gas: int = 0,
    ) -> None:
        self.caller = caller
        self.target = target
        self.current_target = current_target
        self.code_address = code_address
        self.value = value
        self.data = data
        self.code = code
        self.gas = gas
        self.depth = depth
        self.is_static = is_static
        self.should_transfer_value = should_transfer_value
        self.disable_precompiles = disable_precompiles
        self.state_gas = state_gas  # EIP-8037: the reservoir handed to the frame


class Evm:
    """The frame of one message: the machine state instructions act on.

    ``pc`` points at the byte after the instruction being executed while its
    handler runs (the loop advances it before dispatch); jumps overwrite it.
    ``storage_allowance`` is MegaETH's storage call stipend left to this frame (0 under
    Ethereum's rules; see ``ForkRules.storage_call_stipend``).
    ``state_gas_*`` are EIP-8037's reservoir and this frame's net state gas, inline
    refunds and refunds owed by an ancestor (all 0 before Amsterdam; see
    ``jit.evm.state_gas``).
    """

    __slots__ = (
        "block",
        "code",
        "error",
        "gas_left",
        "jumpdests",
        "memory",
        "msg",
        "output",
        "pc",
        "return_data",
        "rules",
        "stack",
        "state",
        "state_gas_left",
        "state_gas_refund",
        "state_gas_refund_pending",
        "state_gas_used",
        "storage_allowance",
        "tx",
    )

    def __init__(
        self,
        msg: Message,
        state: TxState,
        rules: ForkRules,
        block: BlockEnv,
        tx: TxEnv,
    ) -> None:
        self.msg = msg
        self.state = state
        self.rules = rules
        self.block = block
        self.tx = tx
        self.code = msg.code
        self.pc = 0
        self.stack: list[int] = []
        self.memory = bytearray()
        self.gas_left = msg.gas
        self.jumpdests: frozenset[int] | None = None
        self.output = b""
        self.return_data = b""
        self.error: Exception | None = None
        self.storage_allowance = 0
        self.state_gas_left = msg.state_gas
        self.state_gas_used = 0
        self.state_gas_refund = 0
        self.state_gas_refund_pending = 0


def to_signed(value: int) -> int:
    """A stack word read as two's-complement."""
    return value - _MODULUS if value & _SIGN_BIT else value


def push(evm: Evm, value: int) -> None:
    """Push for instructions that may grow the stack past its limit.

    The hottest pushers (PUSHn, DUPn) inline this check instead.
    """
    stack = evm.stack
    stack.append(value)
    if len(stack) > STACK_LIMIT:
        raise StackOverflowError


def charge(evm: Evm, cost: int) -> None:
    """Take ``cost`` gas or halt with out of gas."""
    if cost > evm.gas_left:
        raise OutOfGasError
    evm.gas_left -= cost
