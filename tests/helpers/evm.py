"""Run bytecode in a one-transaction world for unit tests."""

from __future__ import annotations

from dataclasses import dataclass, replace

from jit.evm.frame import BlockEnv
from jit.evm.state import CodeRunner
from jit.evm.transaction import TxOutcome, coinbase_credit_diff, execute_transaction
from jit.forks import rules_for
from sequencer.types.transactions import Transaction
from statedb.types import DictState

SENDER = bytes.fromhex("a94f5374fce5edbc8e2a8697c15331677e6ebf0b")
CONTRACT = bytes.fromhex("00000000000000000000000000000000000c0de0")
OTHER = bytes.fromhex("00000000000000000000000000000000000c0de1")
COINBASE = bytes.fromhex("2adc25665018aa1fe0e6bc666dac8fc2697ff9ba")
ETHER = 10**18


@dataclass
class Run:
    outcome: TxOutcome
    state: DictState

    def storage(self, address: bytes = CONTRACT) -> dict[int, int]:
        return dict(self.state.storage.get(address, {}))


def transaction(**fields: object) -> Transaction:
    """An EIP-1559 transaction from ``SENDER`` to ``CONTRACT`` (chain 1, nonce 0, 1M gas,
    fee cap 10, tip 1), with ``fields`` replaced."""
    base = Transaction(
        tx_type=2,
        chain_id=1,
        nonce=0,
        gas_limit=1_000_000,
        to=CONTRACT,
        value=0,
        data=b"",
        max_fee_per_gas=10,
        max_priority_fee_per_gas=1,
        sender=SENDER,
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def world(code: bytes, **others: bytes) -> DictState:
    state = DictState()
    state.set_account(SENDER, balance=100 * ETHER)
    state.set_account(CONTRACT, code=code, balance=ETHER)
    for address_hex, other_code in others.items():
        state.set_account(bytes.fromhex(address_hex), code=other_code)
    return state


def run(
    code: bytes,
    *,
    data: bytes = b"",
    value: int = 0,
    gas: int = 1_000_000,
    fork: str = "osaka",
    state: DictState | None = None,
    to: bytes | None = CONTRACT,
    tx_type: int = 2,
    base_fee: int = 7,
    engine: CodeRunner | None = None,
    slot_number: int = 0,
    block_gas_limit: int = 30_000_000,
    access_list: tuple[tuple[bytes, tuple[int, ...]], ...] = (),
) -> Run:
    state = state if state is not None else world(code)
    rules = rules_for(fork)
    block = BlockEnv(
        chain_id=1,
        coinbase=COINBASE,
        number=1,
        timestamp=1000,
        gas_limit=block_gas_limit,
        base_fee=base_fee,
        slot_number=slot_number,
    )
    tx = transaction(
        tx_type=tx_type,
        nonce=state.accounts[SENDER].nonce,
        gas_limit=gas,
        to=to,
        value=value,
        data=data,
        gas_price=10,
        access_list=access_list,
    )
    outcome = execute_transaction(tx, block, state, rules, engine=engine)
    state.apply(outcome.diff)
    state.apply(coinbase_credit_diff(state, COINBASE, outcome.fee_credit))
    return Run(outcome, state)


def outcome_fingerprint(outcome: TxOutcome) -> tuple[object, ...]:
    """Everything a transaction's outcome says, comparable: the engine differentials
    (JIT == interpreter) assert two of them equal."""
    diff = outcome.diff
    return (
        outcome.result,
        outcome.error,
        outcome.gas_used,
        outcome.output,
        outcome.contract_address,
        sorted(diff.accounts.items()),
        sorted((a, sorted(s.items())) for a, s in diff.storage.items()),
        sorted(diff.storage_cleared),
        sorted(diff.codes.items()),
        [(log.address, log.topics, log.data) for log in outcome.logs],
        outcome.out_of_gas_halts,
        outcome.block_gas,
        outcome.block_state_gas,
    )
