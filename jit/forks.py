"""Forks as data: an ordered ``Fork`` enum and one frozen ``ForkRules`` per fork.

Each fork's rules are the previous fork's with a delta applied (opcodes,
precompiles, limits, transaction types, blob schedule, EIP flags), so nothing
is copied per fork and instruction handlers never test which fork they run in.

Cancun: EIP-1153, 4788, 4844, 5656, 6780, 7516. Prague: EIP-2537, 2935, 6110,
7002, 7251, 7623, 7685, 7691, 7702. Osaka: EIP-7594 (blob count per tx),
7823, 7825, 7883, 7918, 7939, 7951. Amsterdam (experimental: the devnet fixtures'
snapshot, execution-specs tests-bal@v5.7.0): Osaka with BPO2's blob schedule (the
fixtures' ``blobSchedule``), EIP-7708, 7778, 7843, 7928, 7954, 7976, 7981, 8024 and 8037.

``megaeth_rules(rules)`` is the opt-in MegaETH variant of a fork's rules: Rex5's dual
gas model (storage gas on top of compute gas) with the SALT bucket multiplier at 1,
98/100 gas forwarding, the storage call stipend and MegaETH's contract size limits.
The fields it sets default to Ethereum's values, so every fork's own rules are unchanged.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from jit.evm import gas, opcodes
from jit.evm.frame import Evm
from jit.evm.gas import fake_exponential
from jit.evm.instructions import log
from jit.evm.precompiles import registry
from jit.evm.precompiles.base import Precompile
from statedb.types import Address


class Fork(enum.IntEnum):
    CANCUN = 1
    PRAGUE = 2
    OSAKA = 3
    AMSTERDAM = 4  # experimental (issue 20): the devnet fixtures' Glamsterdam

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
    eip7976: bool = False  # calldata floor: 16 per token, 4 tokens per byte
    eip7981: bool = False  # access list bytes are floor tokens (intrinsic gas and floor)
    eip7708: bool = False  # ETH transfers and burns emit logs (jit.evm.transfer_logs)
    # Block-level access lists: headers carry the list's hash (EIP-7928) and the slot
    # number (EIP-7843) as fields 22 and 23, and blocks carry the list.
    eip7928: bool = False
    # EIP-8037: state gas (``jit.evm.state_gas``): its reservoir above the EIP-7825 cap,
    # new accounts, set slots, code and delegations priced per state byte, and blocks
    # metered in two dimensions (regular and state gas; the header holds the larger).
    eip8037: bool = False
    # EIP-7778: a block counts its transactions' gas before refunds (receipts and the
    # sender's charge still use the refunded figure).
    eip7778: bool = False
    # MegaETH (``megaeth_rules``); the defaults are Ethereum's. Storage gas is charged
    # on top of compute gas from the same gas limit and is never refunded.
    megaeth: bool = False
    intrinsic_storage_gas: int = 0  # per transaction
    calldata_storage_gas_per_token: int = 0  # zero byte: 1 token, non-zero byte: 4
    calldata_floor_storage_gas_per_token: int = 0  # added to the EIP-7623 floor's 10
    code_deposit_storage_gas: int = 0  # per deployed byte, on top of GAS_CODE_DEPOSIT
    # A frame called by CALL/CALLCODE with value (not the top frame) gets this much
    # allowance that only storage gas can draw on (mega-evm's STORAGE_CALL_STIPEND; with
    # m = 1 only LOG's storage gas is not zero).
    storage_call_stipend: int = 0
    # CALL* and CREATE* forward at most gas - gas * n // d (EIP-150: 1/64).
    forward_gas_withheld: tuple[int, int] = (1, 64)

    @property
    def key(self) -> str:
        """What ``rules_named`` rebuilds these rules from (another process's copy)."""
        return f"{self.fork.name.lower()}+megaeth" if self.megaeth else self.fork.name.lower()

    @property
    def max_tx_gas_limit(self) -> int | None:
        """The most gas a transaction may carry (EIP-7825), None: no cap. Under EIP-8037
        the cap bounds only its regular gas: the rest of its gas is its state gas
        reservoir, so its gas limit itself is not capped."""
        return None if self.eip8037 else self.tx_gas_limit_cap

    @property
    def name(self) -> str:
        if self.megaeth:
            return f"{self.fork.display_name}+MegaETH"
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


def _amsterdam(osaka: ForkRules) -> ForkRules:
    """Experimental: Osaka plus the Amsterdam EIPs of the devnet fixtures' snapshot."""
    rules = _with_opcodes(osaka, opcodes.AMSTERDAM)
    return replace(
        rules,
        fork=Fork.AMSTERDAM,
        # BPO2's parameters (BPO1 and BPO2 are Osaka's blob-parameter-only forks).
        blob_schedule=BlobSchedule(target=14, max=21, base_fee_update_fraction=11684671),
        max_code_size=0x8000,  # EIP-7954: 32 KiB (was 24 KiB)
        max_initcode_size=0x10000,  # EIP-7954: 64 KiB, twice the code size (was 48 KiB)
        eip7976=True,
        eip7981=True,
        eip7708=True,
        eip7928=True,
        eip8037=True,
        eip7778=True,
    )


_CANCUN = _cancun()
_PRAGUE = _prague(_CANCUN)
_OSAKA = _osaka(_PRAGUE)
_AMSTERDAM = _amsterdam(_OSAKA)

RULES: Mapping[Fork, ForkRules] = MappingProxyType(
    {
        Fork.CANCUN: _CANCUN,
        Fork.PRAGUE: _PRAGUE,
        Fork.OSAKA: _OSAKA,
        Fork.AMSTERDAM: _AMSTERDAM,
    }
)


def rules_for(fork: Fork | str) -> ForkRules:
    if isinstance(fork, str):
        fork = Fork.from_name(fork)
    return RULES[fork]


def _megaeth(base: ForkRules) -> ForkRules:
    storage_logs = {
        0xA0 + topics: opcodes.OpcodeInfo(
            f"LOG{topics}",
            log.make_storage_gas_log(
                topics, gas.MEGAETH_LOG_TOPIC_STORAGE_GAS, gas.MEGAETH_LOG_DATA_STORAGE_GAS
            ),
            base.opcode_table[0xA0 + topics].static_gas,
        )
        for topics in range(5)
    }
    rules = _with_opcodes(base, storage_logs)
    return replace(
        rules,
        megaeth=True,
        intrinsic_storage_gas=gas.MEGAETH_INTRINSIC_STORAGE_GAS,
        calldata_storage_gas_per_token=gas.MEGAETH_CALLDATA_STORAGE_GAS_PER_TOKEN,
        calldata_floor_storage_gas_per_token=gas.MEGAETH_CALLDATA_FLOOR_STORAGE_GAS_PER_TOKEN,
        code_deposit_storage_gas=gas.MEGAETH_CODE_DEPOSIT_STORAGE_GAS,
        storage_call_stipend=gas.MEGAETH_STORAGE_CALL_STIPEND,
        forward_gas_withheld=gas.MEGAETH_FORWARD_GAS_WITHHELD,
        max_code_size=gas.MEGAETH_MAX_CODE_SIZE,
        max_initcode_size=gas.MEGAETH_MAX_INITCODE_SIZE,
        tx_gas_limit_cap=None,
    )


_MEGAETH: Mapping[Fork, ForkRules] = MappingProxyType(
    {fork: _megaeth(rules) for fork, rules in RULES.items() if fork >= Fork.PRAGUE}
)


def megaeth_rules(base: ForkRules | Fork | str) -> ForkRules:
    """``base`` (a fork's rules, or the fork) with MegaETH Rex5's gas rules, SALT bucket
    multiplier m = 1 (mega-evm v1.7.0, docs/spec/evm/dual-gas-model.md):

    - intrinsic storage gas 39,000 per transaction; calldata storage gas 40 per zero
      byte, 160 per non-zero byte; the EIP-7623 floor becomes 21,000 + (10 + 100) per
      calldata token, without the 39,000 (and, as in Ethereum, without the creation
      costs);
    - LOG: 3,750 storage gas per topic and 80 per data byte, drawn first from the frame's
      storage call stipend (23,000 for a frame entered by a value-transferring CALL or
      CALLCODE below the top frame), the rest from the gas;
    - code deposit: 10,000 storage gas per byte on top of 200;
    - SSTORE 0 -> non-0, new accounts, contract creation: storage gas x (m - 1) = 0;
    - CALL*, CREATE*: forward at most 98/100 of the gas left (gas - gas * 2 // 100);
    - contracts up to 512 KiB, initcode up to 536 KiB; no EIP-7825 transaction gas cap
      (MegaETH's is the sequencer's setting, not a fork rule).

    The base fork's opcodes, precompiles and other rules are kept. MegaETH Rex5 builds on
    Prague (EIP-7623's floor), so forks before Prague are refused.
    """
    if not isinstance(base, ForkRules):
        base = rules_for(base)
    if base.megaeth:
        return base
    if base.fork < Fork.PRAGUE:
        raise ValueError(f"MegaETH's rules build on Prague or later, not {base.name}")
    if base is RULES[base.fork]:
        return _MEGAETH[base.fork]
    return _megaeth(base)


def rules_named(key: str) -> ForkRules:
    """The rules ``ForkRules.key`` names: a fork's, or with ``+megaeth`` its MegaETH
    variant (worker processes rebuild the node's rules from this)."""
    fork, plus, variant = key.partition("+")
    if not plus:
        return rules_for(fork)
    if variant != "megaeth":
        raise ValueError(f"unknown rules variant {variant!r} in {key!r}")
    return megaeth_rules(fork)
