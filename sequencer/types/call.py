"""Requests that are not (yet) signed transactions: eth_call / eth_estimateGas /
eth_sendTransaction arguments, state overrides and block overrides, and
``SimulationCall``: one read-only simulation verb with its arguments, as the node runs
it on a worker thread or sends it to a worker process.

Plain frozen data; the rpc layer fills them from JSON (``input`` and ``data``
both accepted there) and the node turns them into transactions.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sequencer.types.transactions import AuthorizationTuple
from statedb.types import Address, Hash32


@dataclass(frozen=True, slots=True)
class CallRequest:
    sender: Address | None = None
    to: Address | None = None
    gas: int | None = None
    gas_price: int | None = None
    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None
    value: int = 0
    data: bytes = b""
    nonce: int | None = None
    tx_type: int | None = None
    chain_id: int | None = None
    access_list: tuple[tuple[Address, tuple[int, ...]], ...] | None = None
    max_fee_per_blob_gas: int | None = None
    blob_versioned_hashes: tuple[Hash32, ...] = ()
    authorization_list: tuple[AuthorizationTuple, ...] = ()

    @property
    def has_fees(self) -> bool:
        return (
            self.gas_price is not None
            or self.max_fee_per_gas is not None
            or self.max_priority_fee_per_gas is not None
        )


@dataclass(frozen=True, slots=True)
class AccountOverride:
    """geth's state override: ``state`` replaces all storage, ``state_diff`` patches it."""

    balance: int | None = None
    nonce: int | None = None
    code: bytes | None = None
    state: dict[int, int] | None = None
    state_diff: dict[int, int] | None = None
    move_precompile_to: Address | None = None


@dataclass(frozen=True, slots=True)
class BlockOverride:
    number: int | None = None
    time: int | None = None
    gas_limit: int | None = None
    coinbase: Address | None = None
    prev_randao: Hash32 | None = None
    base_fee: int | None = None
    blob_base_fee: int | None = None


class SimulationVerb(enum.Enum):
    CALL = "call"  # -> bytes (the output)
    ESTIMATE_GAS = "estimate_gas"  # -> int
    CREATE_ACCESS_LIST = "create_access_list"  # -> (access list, gas used, error)


@dataclass(frozen=True, slots=True)
class SimulationCall:
    """``verb`` of ``request`` on the state after block ``number`` (the head + 1: the
    pending block), with state and block overrides."""

    verb: SimulationVerb
    request: CallRequest
    number: int
    overrides: dict[Address, AccountOverride] | None = None
    block_override: BlockOverride | None = None
