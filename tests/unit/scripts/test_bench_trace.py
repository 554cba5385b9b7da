"""scripts/bench_trace.py: argument checks (the run itself is a benchmark, not a test)."""

from __future__ import annotations

import pytest

from scripts import bench_trace


@pytest.mark.parametrize(
    "argv",
    [
        ["--runs", "0"],
        ["--runs", "1001"],
        ["--runs", "x"],
        ["--compute-gas", "99999"],
        ["--compute-gas", "30000001"],
        ["--compute-gas", "9" * 5000],
    ],
)
def test_bad_arguments_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as raised:
        bench_trace.main(argv)
    assert raised.value.code == 2


def test_the_compute_loop_costs_what_it_says() -> None:
    """GAS_PER_TURN sizes the compute transaction: pin it to the interpreter."""
    from jit.evm.frame import BlockEnv
    from jit.evm.transaction import execute_transaction
    from jit.forks import Fork, rules_for
    from sequencer.types.transactions import Transaction, sign_transaction
    from statedb.types import Account, DictState, keccak256

    key = bytes.fromhex(bench_trace.KEY[2:])
    code_address = b"\x77" * 20
    state = DictState()
    tx = sign_transaction(
        Transaction(2, 31337, 0, 1_000_000, code_address, 0, (1000).to_bytes(32, "big"), 10, 1),
        key,
    )
    state.accounts[tx.sender] = Account(0, 10**18)
    state.accounts[code_address] = Account(0, 0, keccak256(bench_trace.COMPUTE))
    state.codes[keccak256(bench_trace.COMPUTE)] = bench_trace.COMPUTE
    env = BlockEnv(
        chain_id=31337,
        coinbase=b"\x00" * 20,
        number=1,
        timestamp=1,
        gas_limit=30_000_000,
        base_fee=1,
    )
    outcome = execute_transaction(tx, env, state, rules_for(Fork.OSAKA))
    assert outcome.success
    intrinsic = 21_000 + 16 * 2 + 4 * 30  # two non-zero calldata bytes
    per_turn = (outcome.gas_used - intrinsic - 3 - 3) / 1000  # PUSH0+CALLDATALOAD ~ setup
    assert abs(per_turn - bench_trace.GAS_PER_TURN) < 0.1
