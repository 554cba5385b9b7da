"""Forks as data: an ordered ``Fork`` enum and one frozen ``ForkRules`` per fork.

Each fork's rules are the previous fork's with a delta applied (opcodes,
precompiles, limits, transaction types, blob schedule, EIP flags), so nothing
is copied per fork and instruction handlers never test which fork they run in.

Cancun: EIP-1153, 4788, 4844, 5656, 6780, 7516. Prague: EIP-2537, 2935, 6110,
7002, 7251, 7623, 7685, 7691, 7702. Osaka: EIP-7594 (blob count per tx),
7823, 7825, 7883, 7918, 7939, 7951.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from jit.evm import opcodes
from jit.evm.frame import Evm
from jit.evm.gas import fake_exponential
from jit.evm.precompiles import registry
from jit.evm.precompiles.base import Precompile
from statedb.types import Address


class Fork(enum.IntEnum):
    CANCUN = 1
    PRAGUE = 2
    OSAKA = 3

    @classmethod
    def from_name(cls, name: str) -> Fork:
        try:
            return cls[name.strip().upper()]
        except KeyError:
            known = ", ".join(f.name.lower() for f in cls)
            raise ValueError(f"unknown fork {name!r}; known forks: {known}") from None

    @property
    def display_name(self) -> str:
        return self.name.capitalize()


@dataclass(frozen=True, slots=True)
class BlobSchedule:
    """EIP-4844 blob parameters (EIP-7691 raised them in Prague)."""

    target: int
    max: int
    base_fee_update_fraction: int


@dataclass(frozen=True, slots=True)
class ForkRules:
    fork: Fork
    opcode_table: Mapping[int, opcodes.OpcodeInfo]
    ops: tuple[Callable[[Evm], None], ...]
    static_gas: tuple[int, ...]
    precompiles: Mapping[Address, Precompile]
    tx_types: frozenset[int]
    max_code_size: int  # EIP-170
    max_initcode_size: int  # EIP-3860
    tx_gas_limit_cap: int | None  # EIP-7825
    blob_schedule: BlobSchedule
    max_blobs_per_tx: int | None  # EIP-7594 (Osaka)
    eip7702: bool  # delegation designators are followed by calls
    eip7623: bool  # calldata floor price
    eip7918: bool  # blob base fee reserve price
    eip2935: bool  # history storage contract system call
    system_requests: bool  # EIP-7685 requests (EIP-6110/7002/7251)

    @property
    def name(self) -> str:
        return self.fork.display_name

    def blob_base_fee(self, excess_blob_gas: int) -> int:
        return fake_exponential(1, excess_blob_gas, self.blob_schedule.base_fee_update_fraction)

    @property
    def max_blob_gas_per_block(self) -> int:
        return self.blob_schedule.max * (1 << 17)

    @property
    def target_blob_gas_per_block(self) -> int:
        return self.blob_schedule.target * (1 << 17)


def _address(number: int) -> Address:
    return number.to_bytes(20, "big")


def _with_opcodes(rules: ForkRules, delta: Mapping[int, opcodes.OpcodeInfo]) -> ForkRules:
    table = {**rules.opcode_table, **delta}
    ops, static_gas = opcodes.dispatch_tables(table)
    return replace(rules, opcode_table=MappingProxyType(table), ops=ops, static_gas=static_gas)


def _with_precompiles(rules: ForkRules, delta: Mapping[int, Precompile]) -> ForkRules:
    merged = dict(rules.precompiles)
    merged.update({_address(number): fn for number, fn in delta.items()})
    return replace(rules, precompiles=MappingProxyType(merged))


def _cancun() -> ForkRules:
    ops, static_gas = opcodes.dispatch_tables(opcodes.CANCUN)
    return ForkRules(
        fork=Fork.CANCUN,
        opcode_table=MappingProxyType(dict(opcodes.CANCUN)),
        ops=ops,
        static_gas=static_gas,
        precompiles=MappingProxyType({_address(n): fn for n, fn in registry.CANCUN.items()}),
        tx_types=frozenset({0, 1, 2, 3}),
        max_code_size=0x6000,
        max_initcode_size=0xC000,
        tx_gas_limit_cap=None,
        blob_schedule=BlobSchedule(target=3, max=6, base_fee_update_fraction=3338477),
        max_blobs_per_tx=None,
        eip7702=False,
        eip7623=False,
        eip7918=False,
        eip2935=False,
        system_requests=False,
    )


def _prague(cancun: ForkRules) -> ForkRules:
    rules = _with_opcodes(cancun, opcodes.PRAGUE)
    rules = _with_precompiles(rules, registry.PRAGUE)
    return replace(
        rules,
        fork=Fork.PRAGUE,
        tx_types=rules.tx_types | {4},
        blob_schedule=BlobSchedule(target=6, max=9, base_fee_update_fraction=5007716),
        eip7702=True,
        eip7623=True,
        eip2935=True,
        system_requests=True,
    )


def _osaka(prague: ForkRules) -> ForkRules:
    rules = _with_opcodes(prague, opcodes.OSAKA)
    rules = _with_precompiles(rules, registry.OSAKA)
    return replace(
        rules,
        fork=Fork.OSAKA,
        tx_gas_limit_cap=1 << 24,
        max_blobs_per_tx=6,
        eip7918=True,
    )


_CANCUN = _cancun()
_PRAGUE = _prague(_CANCUN)
_OSAKA = _osaka(_PRAGUE)

RULES: Mapping[Fork, ForkRules] = MappingProxyType(
    {Fork.CANCUN: _CANCUN, Fork.PRAGUE: _PRAGUE, Fork.OSAKA: _OSAKA}
)


def rules_for(fork: Fork | str) -> ForkRules:
    if isinstance(fork, str):
        fork = Fork.from_name(fork)
    return RULES[fork]
