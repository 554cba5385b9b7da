"""MegaETH Rex5's dual gas rules with SALT multiplier m = 1 (``jit.forks.megaeth_rules``).

Every expected gas figure is worked out by hand from the spec (mega-evm v1.7.0,
docs/spec/evm/dual-gas-model.md, gas-forwarding.md, contract-limits.md); where a mega-evm
test or fixture states the number for the same scenario, the test says which. Every
scenario runs on the interpreter and on the JIT (one shared engine, so programs compiled
under Ethereum's rules and under MegaETH's for the same code meet in its cache) and the
two must agree on everything. Ethereum's rules must be what they were.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pytest

from jit.compiler import Engine
from jit.evm import exceptions as ex
from jit.evm.addresses import compute_contract_address
from jit.evm.frame import BlockEnv
from jit.evm.transaction import (
    ResultKind,
    TxOutcome,
    execute_transaction,
    intrinsic_gas,
    validate_static,
)
from jit.forks import Fork, ForkRules, megaeth_rules, rules_for
from sequencer.types.transactions import Transaction
from statedb.types import DictState
from tests.helpers.asm import push
from tests.helpers.evm import outcome_fingerprint

ENGINE = Engine("jit")
OSAKA = rules_for("osaka")
MEGA = megaeth_rules(OSAKA)
MEGA_PRAGUE = megaeth_rules("prague")

SENDER = bytes.fromhex("f39fd6e51aad88f6f4ce6ab8827279cfffb92266")  # mega-evme's fixtures
CONTRACT = bytes.fromhex("00000000000000000000000000000000000c0de0")
OTHER = bytes.fromhex("00000000000000000000000000000000000c0de1")
FRESH = bytes.fromhex("3000000000000000000000000000000000000003")
COINBASE = bytes.fromhex("2adc25665018aa1fe0e6bc666dac8fc2697ff9ba")
ETHER = 10**18
BLOCK = BlockEnv(
    chain_id=6342, coinbase=COINBASE, number=1, timestamp=1, gas_limit=10**10, base_fee=0
)

PUSH0, MSTORE, SSTORE, GAS, STOP, RETURN, REVERT = 0x5F, 0x52, 0x55, 0x5A, 0x00, 0xF3, 0xFD
CALL, CALLCODE, DELEGATECALL, CREATE = 0xF1, 0xF2, 0xF4, 0xF0
LOG0, LOG1 = 0xA0, 0xA1


def ops(*parts: int | bytes) -> bytes:
    return b"".join(bytes([part]) if isinstance(part, int) else part for part in parts)


@dataclass(frozen=True)
class Result:
    outcome: TxOutcome
    state: DictState

    @property
    def gas_used(self) -> int:
        return self.outcome.gas_used

    def code(self, address: bytes) -> bytes:
        account = self.state.accounts.get(address)
        return b"" if account is None else self.state.codes[account.code_hash]

    def slot(self, address: bytes, key: int) -> int:
        return self.state.storage.get(address, {}).get(key, 0)


def execute(
    rules: ForkRules,
    *,
    to: bytes | None = CONTRACT,
    data: bytes = b"",
    value: int = 0,
    gas: int = 1_000_000,
    code: bytes = b"",
    other: bytes = b"",
    engine: Engine = ENGINE,
) -> Result:
    """One legacy transaction at gas price 0 (as mega-evme's fixtures), on the
    interpreter and on the JIT; both must agree. ``code`` is CONTRACT's, ``other``
    OTHER's (each account exists only when it has code)."""
    state = DictState()
    state.set_account(SENDER, balance=ETHER)
    if code:
        state.set_account(CONTRACT, code=code, balance=ETHER)
    if other:
        state.set_account(OTHER, code=other)
    tx = Transaction(
        tx_type=0,
        chain_id=6342,
        nonce=0,
        gas_limit=gas,
        to=to,
        value=value,
        data=data,
        gas_price=0,
        sender=SENDER,
    )
    interpreted = execute_transaction(tx, BLOCK, state, rules)
    compiled = execute_transaction(tx, BLOCK, state, rules, engine=engine.runner)
    assert outcome_fingerprint(compiled) == outcome_fingerprint(interpreted)
    state.apply(interpreted.diff)
    return Result(interpreted, state)


def both(**kwargs: Any) -> tuple[Result, Result]:
    """The same transaction under MegaETH's rules and under Osaka's."""
    return execute(MEGA, **kwargs), execute(OSAKA, **kwargs)


# ------------------------------------------------------------ Ethereum untouched


@pytest.mark.parametrize("fork", list(Fork))
def test_every_fork_keeps_ethereum_values(fork: Fork) -> None:
    rules = rules_for(fork)
    assert not rules.megaeth
    assert rules.name == fork.display_name
    assert (rules.intrinsic_storage_gas, rules.calldata_storage_gas_per_token) == (0, 0)
    assert (rules.calldata_floor_storage_gas_per_token, rules.code_deposit_storage_gas) == (0, 0)
    assert rules.storage_call_stipend == 0
    assert rules.forward_gas_withheld == (1, 64)
    sizes = (0x8000, 0x10000) if fork >= Fork.AMSTERDAM else (0x6000, 0xC000)  # EIP-7954
    assert (rules.max_code_size, rules.max_initcode_size) == sizes
    assert [rules.ops[0xA0 + n].__name__ for n in range(5)] == [f"log{n}" for n in range(5)]
    result = execute(rules, to=FRESH, value=1)
    assert result.gas_used == 21_000


def test_megaeth_rules_are_a_variant_of_the_fork() -> None:
    assert MEGA.megaeth and MEGA.fork is Fork.OSAKA and MEGA.name == "Osaka+MegaETH"
    assert megaeth_rules(Fork.OSAKA) is MEGA is megaeth_rules("osaka") is megaeth_rules(MEGA)
    assert (
        MEGA_PRAGUE.fork is Fork.PRAGUE
        and MEGA_PRAGUE.precompiles == rules_for("prague").precompiles
    )
    assert MEGA.precompiles == OSAKA.precompiles and MEGA.tx_types == OSAKA.tx_types
    assert MEGA.static_gas == OSAKA.static_gas  # LOG's storage gas is all dynamic
    assert MEGA.tx_gas_limit_cap is None  # the sequencer's setting, not EIP-7825's 2**24
    assert rules_for("osaka").ops[LOG1].__name__ == "log1"  # the fork's own table untouched
    with pytest.raises(ValueError, match="Prague"):
        megaeth_rules("cancun")


# ---------------------------------------------------------------- transactions


def test_plain_transfer_costs_60000() -> None:
    """dual-gas-model.md "Transaction Intrinsic Costs": 21,000 + 39,000 storage gas; a
    new account costs 25,000 x (m - 1) = 0 more (mega-evm
    crates/mega-evm/tests/rex/storage_gas.rs test_new_account_minimum_bucket_zero_gas)."""
    for rules in (MEGA, MEGA_PRAGUE):
        assert execute(rules, to=FRESH, value=1000).gas_used == 60_000
    assert execute(OSAKA, to=FRESH, value=1000).gas_used == 21_000


def test_transfer_below_60000_is_invalid() -> None:
    tx = Transaction(tx_type=0, chain_id=1, nonce=0, gas_limit=59_999, to=FRESH, value=1, data=b"")
    with pytest.raises(ex.IntrinsicGasTooLow):
        validate_static(tx, MEGA)
    assert validate_static(replace(tx, gas_limit=60_000), MEGA) == (60_000, 21_000)
    assert validate_static(tx, OSAKA) == (21_000, 21_000)


def test_value_transfer_fixture() -> None:
    """bin/mega-evme/tests/fixtures/test_tx_value_transfer.json: 1000 wei to 0x01
    (ECRECOVER, empty input: 3,000) uses 63,000."""
    mega, eth = both(to=bytes(19) + b"\x01", value=1000)
    assert mega.gas_used == 63_000 and mega.outcome.success
    assert eth.gas_used == 24_000


def test_create_fixture() -> None:
    """bin/mega-evme/tests/fixtures/test_tx_create.json: initcode 0x60fe60005360016000f3
    (2 zero, 8 non-zero bytes: 34 tokens) deploys 0xfe and uses 103,716:
    compute 21,000 + 32,000 + 2 (1 initcode word) + 4 x 34 + 18 (execution) + 200 (deposit)
    + storage 39,000 + 40 x 34 + 10,000 (deposit) = 53,356 + 50,360."""
    initcode = bytes.fromhex("60fe60005360016000f3")
    mega, eth = both(to=None, data=initcode)
    address = bytes.fromhex("5fbdb2315678afecb367f032d93f642f64180aa3")
    assert compute_contract_address(SENDER, 0) == address
    assert mega.gas_used == 103_716 and mega.outcome.contract_address == address
    assert mega.code(address) == b"\xfe"
    assert eth.gas_used == 53_356


def test_revert_and_out_of_gas_fixtures() -> None:
    """bin/mega-evme/tests/fixtures/test_tx_revert.json (code 5f5ffd: 60,004, status 0)
    and test_tx_halt_oog.json (code 5b600056, an endless loop, gas limit 60,100: all of it
    used); prestate_contracts.json has the codes."""
    mega, eth = both(code=bytes.fromhex("5f5ffd"))
    assert mega.gas_used == 60_004 and mega.outcome.result is ResultKind.REVERT
    assert eth.gas_used == 21_004
    looping = execute(MEGA, code=bytes.fromhex("5b600056"), gas=60_100)
    assert looping.gas_used == 60_100 and looping.outcome.error == "OutOfGasError"


def test_run_basic_return_fixture() -> None:
    """bin/mega-evme/tests/fixtures/test_run_basic_return.json: 604260005260206000f3
    returns 0x..42 and uses 60,018."""
    mega, eth = both(code=bytes.fromhex("604260005260206000f3"))
    assert mega.gas_used == 60_018 and mega.outcome.output == (0x42).to_bytes(32, "big")
    assert eth.gas_used == 21_018


# ------------------------------------------------------------------- calldata


@pytest.mark.parametrize(
    ("data", "mega_gas", "eth_gas"),
    [
        # crates/mega-evm/tests/rex/intrinsic_gas.rs test_rex_intrinsic_gas_with_calldata:
        # 100 non-zero bytes = 400 tokens: 60,000 + (4 + 40) x 400 = 77,600 (the floor,
        # 21,000 + 110 x 400 = 65,000, is lower). Ethereum: 22,600 < floor 25,000.
        (b"\x01" * 100, 77_600, 25_000),
        # One non-zero byte: 60,000 + 44 x 4 = 60,176 (floor 21,440).
        (b"\x42", 60_176, 21_040),
        # crates/mega-evm/tests/mini_rex/gas.rs test_floor_gas_large_calldata_mini_rex:
        # 1,024 bytes 0x42 = 4,096 tokens; the floor 21,000 + 110 x 4,096 = 471,560 is
        # above 60,000 + 44 x 4,096 = 240,224 (the floor has no 39,000, so MiniRex's
        # figure holds under Rex).
        (b"\x42" * 1024, 471_560, 61_960),
        # mini_rex/gas.rs test_calldata_additional_cost: 1,024 zero bytes: floor
        # 21,000 + 110 x 1,024 = 133,640 above 60,000 + 44 x 1,024 = 105,056.
        (bytes(1024), 133_640, 31_240),
    ],
)
def test_calldata_storage_gas_and_floor(data: bytes, mega_gas: int, eth_gas: int) -> None:
    mega, eth = both(to=FRESH, data=data, value=1)
    assert (mega.gas_used, eth.gas_used) == (mega_gas, eth_gas)


def test_floor_above_the_gas_limit_is_invalid() -> None:
    """crates/mega-evm/tests/rex5/gas_validation.rs
    test_rex5_floor_gas_above_gas_limit_is_validation_rejection: 700 zero bytes give
    intrinsic 60,000 + 44 x 700 = 90,800 and floor 21,000 + 110 x 700 = 98,000; a gas
    limit of 95,000 is rejected before any state change."""
    tx = Transaction(
        tx_type=0, chain_id=1, nonce=0, gas_limit=95_000, to=FRESH, value=0, data=bytes(700)
    )
    assert intrinsic_gas(tx, MEGA) == (90_800, 98_000)
    with pytest.raises(ex.IntrinsicGasTooLow):
        validate_static(tx, MEGA)
    result = execute(MEGA, to=FRESH, data=bytes(700), gas=98_000)
    assert result.outcome.success and result.gas_used == 98_000


def test_floor_of_a_contract_creation() -> None:
    """The floor is 21,000 + 110 per token for a creation too (EIP-7623's floor has no
    creation costs; mega-evm adds only the 100-per-token storage part to it). 1,200 zero
    bytes of initcode (STOP at once, nothing deployed): standard 21,000 + 32,000
    + 2 x 38 words + 4 x 1,200 + 39,000 + 40 x 1,200 = 144,876; floor 153,000."""
    tx = Transaction(
        tx_type=0, chain_id=1, nonce=0, gas_limit=10**6, to=None, value=0, data=bytes(1200)
    )
    assert intrinsic_gas(tx, MEGA) == (144_876, 153_000)
    assert intrinsic_gas(tx, OSAKA) == (57_876, 33_000)
    mega, eth = both(to=None, data=bytes(1200))
    assert (mega.gas_used, eth.gas_used) == (153_000, 57_876)
    assert mega.outcome.contract_address == compute_contract_address(SENDER, 0)


# ------------------------------------------------------------------------ LOG


def test_log_fixture_of_mega_evm() -> None:
    """crates/mega-evm/tests/mini_rex/gas.rs test_log_additional_cost: LOG1 of 1,024
    bytes costs 30,049 + 3,750 + 80 x 1,024 under MiniRex; Rex adds the 39,000:
    60,000 + 9,049 + 3,750 + 81,920 = 154,719."""
    code = ops(push(1), push(1024, 8), push(0), LOG1, STOP)  # BytecodeBuilder's pushes
    mega, eth = both(code=code)
    assert (mega.gas_used, eth.gas_used) == (154_719, 30_049)
    assert len(mega.outcome.logs) == 1 and mega.outcome.logs[0].data == bytes(1024)


@pytest.mark.parametrize("topics", range(5))
@pytest.mark.parametrize(("size", "memory_gas"), [(0, 0), (1, 3), (33, 6)])
def test_log_storage_gas_per_topic_and_byte(topics: int, size: int, memory_gas: int) -> None:
    code = ops(*[push(7)] * topics, push(size), PUSH0, 0xA0 + topics, STOP)
    pushes = 3 * topics + 3 + 2
    compute = pushes + 375 + 375 * topics + 8 * size + memory_gas
    mega, eth = both(code=code)
    assert eth.gas_used == 21_000 + compute
    assert mega.gas_used == 60_000 + compute + 3_750 * topics + 80 * size


def test_log_storage_gas_runs_out_of_gas() -> None:
    """PUSH1 1 PUSH0 PUSH0 LOG1 STOP: 7 + 750 compute + 3,750 storage."""
    code = ops(push(1), PUSH0, PUSH0, LOG1, STOP)
    enough = execute(MEGA, code=code, gas=60_000 + 7 + 750 + 3_750)
    assert enough.outcome.success and len(enough.outcome.logs) == 1
    short = execute(MEGA, code=code, gas=60_000 + 7 + 750 + 3_749)
    assert short.outcome.error == "OutOfGasError" and short.gas_used == 64_506
    assert short.outcome.out_of_gas_halts == 1


def test_log_storage_gas_is_kept_by_a_reverted_frame() -> None:
    """dual-gas-model.md "Revert Behavior": LOG1 then REVERT; the receipt still pays
    the 3,750 (7 + 750 + 3,750 + 4)."""
    code = ops(push(1), PUSH0, PUSH0, LOG1, PUSH0, PUSH0, REVERT)
    mega, eth = both(code=code)
    assert mega.outcome.result is ResultKind.REVERT and mega.outcome.logs == ()
    assert (mega.gas_used, eth.gas_used) == (64_511, 21_761)


# ---------------------------------------------------------------- code deposit


def test_code_deposit_storage_gas() -> None:
    """PUSH1 100 PUSH0 RETURN (1 zero, 4 non-zero bytes: 17 tokens) deploys 100 zero
    bytes: compute 21,000 + 32,000 + 2 + 68 + 18 (pushes and 4 words of memory)
    + 100 x 200, storage 39,000 + 680 + 100 x 10,000."""
    initcode = ops(push(100), push(0, 1), RETURN)
    mega, eth = both(to=None, data=initcode, gas=2_000_000)
    assert (mega.gas_used, eth.gas_used) == (1_112_768, 73_088)
    assert mega.code(compute_contract_address(SENDER, 0)) == bytes(100)


@pytest.mark.parametrize(
    "gas",
    [
        1_112_767,  # the 1,000,000 storage gas fits, the 20,000 compute gas does not
        92_768 + 999_999,  # the storage gas does not fit (charged first, as mega-evm does)
    ],
)
def test_code_deposit_storage_gas_out_of_gas(gas: int) -> None:
    """Short of the deposit's gas: the creation halts, all gas is used and nothing is
    deployed (mega-evm after_frame_run_instructions: OutOfGas)."""
    initcode = ops(push(100), push(0, 1), RETURN)
    result = execute(MEGA, to=None, data=initcode, gas=gas)
    assert result.outcome.error == "OutOfGasError" and result.gas_used == gas
    assert result.outcome.contract_address is None and result.outcome.out_of_gas_halts == 1
    assert result.code(compute_contract_address(SENDER, 0)) == b""


def test_code_deposit_of_the_create_instruction() -> None:
    """CREATE from a contract (the JIT calls the interpreter's handler): initcode
    PUSH1 10 PUSH0 RETURN from memory; caller 11 + 8 + 32,000 + 2, child 8, deposit
    10 x (200 + 10,000)."""
    code = ops(push(0x600A5FF3, 4), PUSH0, MSTORE, push(4), push(28), PUSH0, CREATE, STOP)
    mega, eth = both(code=code)
    assert (mega.gas_used, eth.gas_used) == (194_029, 55_029)
    assert mega.code(compute_contract_address(CONTRACT, 0)) == bytes(10)


@pytest.mark.parametrize(
    ("initcode", "gas_used"),
    [
        # crates/mega-evm/tests/rex/storage_gas.rs test_contract_creation_minimum_bucket:
        # initcode STOP, 21,000 + 32,000 + 39,000 + 46 (4 + 40 for the zero byte, 2 for
        # the initcode word); contract creation storage gas 32,000 x (m - 1) = 0.
        (b"\x00", 92_046),
        # rex/storage_gas.rs test_combined_contract_creation_and_sstore, its m-independent
        # part: PUSH32 0x42 PUSH32 0 SSTORE STOP (64 zero, 4 non-zero bytes: 80 tokens)
        # = 53,326 + 42,200 intrinsic + 22,106 execution; SSTORE storage gas x (m - 1) = 0.
        (ops(push(0x42, 32), push(0, 32), SSTORE, STOP), 117_632),
    ],
)
def test_contract_creation_at_minimum_bucket(initcode: bytes, gas_used: int) -> None:
    result = execute(MEGA, to=None, data=initcode)
    assert result.outcome.success and result.gas_used == gas_used


def test_sstore_at_minimum_bucket() -> None:
    """crates/mega-evm/tests/rex/storage_gas.rs test_sstore_minimum_bucket_zero_gas:
    60,000 + 22,100 + 6: SSTORE 0 -> non-0 storage gas is 20,000 x (m - 1) = 0."""
    code = ops(push(0x42, 32), push(0, 32), SSTORE, STOP)
    mega, eth = both(code=code)
    assert (mega.gas_used, eth.gas_used) == (82_106, 43_106)
    assert mega.slot(CONTRACT, 0) == 0x42


# ---------------------------------------------------------------- contract limits


def test_contract_size_limits() -> None:
    """contract-limits.md: MAX_CONTRACT_SIZE 524,288, MAX_INITCODE_SIZE 548,864.
    Deploying 24,577 zero bytes (Ethereum's limit + 1) with PUSH2 0x6001 PUSH0 RETURN
    (no zero byte: 20 tokens): intrinsic 53,082 + 39,800, execution 5 + 3,462 memory,
    deposit 24,577 x 10,200."""
    initcode = ops(push(0x6001, 2), PUSH0, RETURN)
    mega = execute(MEGA, to=None, data=initcode, gas=300_000_000)
    assert mega.outcome.success and mega.gas_used == 250_781_749
    eth = execute(OSAKA, to=None, data=initcode, gas=16_000_000)
    assert eth.outcome.error == "OutOfGasError" and eth.gas_used == 16_000_000

    gas = 6_000_000_000
    at_limit = execute(MEGA, to=None, data=ops(push(524_288, 3), PUSH0, RETURN), gas=gas)
    assert at_limit.outcome.success
    assert len(at_limit.code(compute_contract_address(SENDER, 0))) == 524_288
    over = execute(MEGA, to=None, data=ops(push(524_289, 3), PUSH0, RETURN), gas=gas)
    assert over.outcome.error == "OutOfGasError" and over.gas_used == gas


def test_initcode_size_limit() -> None:
    tx = Transaction(
        tx_type=0, chain_id=1, nonce=0, gas_limit=10**8, to=None, value=0, data=bytes(548_864)
    )
    validate_static(tx, MEGA)
    with pytest.raises(ex.InitcodeTooLarge):
        validate_static(replace(tx, data=bytes(548_865)), MEGA)
    with pytest.raises(ex.InitcodeTooLarge):
        validate_static(replace(tx, data=bytes(49_153), gas_limit=10**7), OSAKA)


# ------------------------------------------------------------- 98/100 forwarding

# CALL(gas=2**256-1, OTHER, 0, 0, 0, 0, 32), then RETURN the 32 bytes OTHER returned;
# OTHER returns the GAS it sees first. Before CALL: 17; CALL: 100 + 2,500 cold + 3 memory.
CALLER_OF_GAS = ops(
    push(32), PUSH0, PUSH0, PUSH0, PUSH0, push(int.from_bytes(OTHER, "big"), 20),
    push(2**256 - 1, 32), CALL, push(32), PUSH0, RETURN,
)  # fmt: skip
RETURN_GAS = ops(GAS, PUSH0, MSTORE, push(32), PUSH0, RETURN)  # 15 gas


def test_call_forwards_98_of_100() -> None:
    """gas-forwarding.md: forwarded = min(requested, R - R x 2 // 100), R the gas left
    after the call's own costs. MegaETH: R = 940,000 - 2,620 = 937,380, withheld 18,747,
    forwarded 918,633, GAS reads 918,631. Osaka: R = 976,380, withheld 15,255, GAS reads
    961,123. Both pay 2,640 for execution."""
    mega, eth = both(code=CALLER_OF_GAS, other=RETURN_GAS)
    assert int.from_bytes(mega.outcome.output, "big") == 918_631
    assert int.from_bytes(eth.outcome.output, "big") == 961_123
    assert (mega.gas_used, eth.gas_used) == (62_640, 23_640)


def test_create_forwards_98_of_100() -> None:
    """CREATE of GAS PUSH0 SSTORE STOP (stored from memory): R = gas - 11 - 8 - 32,002.
    MegaETH: R = 907,979, withheld 18,159, the initcode's GAS reads 889,818. Osaka:
    R = 946,979, withheld 14,796, GAS reads 932,181. Execution 54,125 on both."""
    code = ops(push(0x5A5F5500, 4), PUSH0, MSTORE, push(4), push(28), PUSH0, CREATE, STOP)
    mega, eth = both(code=code)
    created = compute_contract_address(CONTRACT, 0)
    assert mega.slot(created, 0) == 889_818
    assert eth.slot(created, 0) == 932_181
    assert (mega.gas_used, eth.gas_used) == (114_125, 75_125)


# ------------------------------------------------------------ storage call stipend

LOG1_RECEIVER = ops(push(0xDEADBEEF), PUSH0, PUSH0, LOG1, STOP)  # 7 + 750 (+ 3,750)


def _call_with_value(opcode: int, gas: int, value: int = 1) -> bytes:
    """``opcode``(gas, OTHER, value, 0, 0, 0, 0); RETURN its success flag."""
    value_push = [push(value)] if opcode in (CALL, CALLCODE) else []
    return ops(
        PUSH0, PUSH0, PUSH0, PUSH0, *value_push, push(int.from_bytes(OTHER, "big"), 20),
        push(gas) if gas else PUSH0, opcode, PUSH0, MSTORE, push(32), PUSH0, RETURN,
    )  # fmt: skip


@pytest.mark.parametrize("opcode", [CALL, CALLCODE], ids=["CALL", "CALLCODE"])
def test_storage_stipend_pays_log_storage_gas(opcode: int) -> None:
    """crates/mega-evm/tests/rex5/stipend_accounting.rs
    test_log1_value_transfer_succeeds_at_zero_gas_rex5: a value-transferring CALL (or
    CALLCODE) with gas 0 gives the callee 2,300 gas and a 23,000 storage allowance; LOG1's
    3,750 storage gas comes from the allowance, its 757 compute gas from the 2,300. The
    caller pays 16 + (100 + 2,500 + 9,000 - 1,543 returned) + 13 = 10,086; the unused
    allowance is not returned."""
    mega, eth = both(code=_call_with_value(opcode, 0), other=LOG1_RECEIVER)
    assert int.from_bytes(mega.outcome.output, "big") == 1
    assert (mega.gas_used, eth.gas_used) == (70_086, 31_086)
    assert len(mega.outcome.logs) == 1


def test_storage_stipend_residual_is_charged_to_gas() -> None:
    """LOG0 of 300 bytes in a value-transferring CALL with gas 5,000: storage gas
    80 x 300 = 24,000, 23,000 from the allowance, 1,000 from the gas; the child uses
    5 + 375 + 2,400 + 30 + 1,000 = 3,810 of 7,300."""
    receiver = ops(push(300), PUSH0, LOG0, STOP)
    mega, eth = both(code=_call_with_value(CALL, 5000), other=receiver)
    assert int.from_bytes(mega.outcome.output, "big") == 1
    assert (mega.gas_used, eth.gas_used) == (73_140, 33_140)


def test_no_storage_stipend_without_a_value_transfer() -> None:
    """gas-forwarding.md: DELEGATECALL (here in a frame called with value 1), value-free
    calls and the top frame get no allowance. DELEGATECALL with 1,000 gas: LOG1 needs
    757 + 3,750, the child runs out of gas: 14 + 2,600 + 1,000 + 13."""
    mega, eth = both(code=_call_with_value(DELEGATECALL, 1000), other=LOG1_RECEIVER, value=1)
    assert int.from_bytes(mega.outcome.output, "big") == 0
    assert int.from_bytes(eth.outcome.output, "big") == 1
    assert (mega.gas_used, eth.gas_used) == (63_627, 24_384)
    zero_value = execute(MEGA, code=_call_with_value(CALL, 1000, value=0), other=LOG1_RECEIVER)
    assert int.from_bytes(zero_value.outcome.output, "big") == 0
    # The top frame: crates/mega-evm/tests/rex5/stipend_accounting.rs
    # test_top_level_value_transfer_does_not_get_stipend_rex5.
    top = execute(MEGA, code=LOG1_RECEIVER, value=1)
    assert top.gas_used == 60_000 + 757 + 3_750


# ------------------------------------------------------------------------ JIT


def test_jit_cache_keeps_the_rules_apart() -> None:
    """One engine runs the same code under both rules in turn: a program compiled with
    Ethereum's LOG handler must never run under MegaETH's rules, nor the reverse."""
    engine = Engine("jit")
    code = ops(push(1), PUSH0, PUSH0, LOG1, STOP)
    for rules, gas_used in ((OSAKA, 21_757), (MEGA, 64_507), (OSAKA, 21_757), (MEGA, 64_507)):
        assert execute(rules, code=code, engine=engine).gas_used == gas_used
    assert engine.program_for(code, OSAKA) is not engine.program_for(code, MEGA)
    assert engine.stats().compiled == 2


@pytest.mark.parametrize(
    ("code", "other"),
    [
        (ops(push(1), push(1024, 8), push(0), LOG1, STOP), b""),
        (_call_with_value(CALL, 0), LOG1_RECEIVER),
        (_call_with_value(CALL, 5000), ops(push(300), PUSH0, LOG0, STOP)),
        (CALLER_OF_GAS, RETURN_GAS),
        (ops(push(0x600A5FF3, 4), PUSH0, MSTORE, push(4), push(28), PUSH0, CREATE, STOP), b""),
    ],
)
def test_engines_agree_near_the_gas_limit(code: bytes, other: bytes) -> None:
    used = execute(MEGA, code=code, other=other).gas_used
    for shortfall in (1, 2, 3, 50, 757, 1_000, 3_750, 10_000, 60_000):
        if used - shortfall >= 60_000:
            execute(MEGA, code=code, other=other, gas=used - shortfall)


def test_constants_match_mega_evm() -> None:
    """crates/mega-evm/src/constants.rs and the spec pages' constant tables."""
    from jit.evm import gas

    values = {
        "MEGAETH_INTRINSIC_STORAGE_GAS": 39_000,
        "MEGAETH_CALLDATA_STORAGE_GAS_PER_TOKEN": 40,
        "MEGAETH_CALLDATA_FLOOR_STORAGE_GAS_PER_TOKEN": 100,
        "MEGAETH_CODE_DEPOSIT_STORAGE_GAS": 10_000,
        "MEGAETH_LOG_TOPIC_STORAGE_GAS": 3_750,
        "MEGAETH_LOG_DATA_STORAGE_GAS": 80,
        "MEGAETH_STORAGE_CALL_STIPEND": 23_000,
        "MEGAETH_FORWARD_GAS_WITHHELD": (2, 100),
        "MEGAETH_MAX_CODE_SIZE": 524_288,
        "MEGAETH_MAX_INITCODE_SIZE": 548_864,
    }
    assert {name: getattr(gas, name) for name in values} == values
