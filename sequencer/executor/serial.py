"""The serial executor: transactions one after another (the oracle for the parallel one).

Owns running a batch of pool transactions against the block's running state.
Each transaction sees every earlier one, including the coinbase fee credit,
which is applied per transaction so ``BALANCE(coinbase)`` is exact (DESIGN §3
defers it to the seal; see docs/architecture.md for why the serial oracle must not).
Contract code runs on the node's engine (``jit.compiler.Engine.runner``; None
interprets). A transaction that raises anything but ``InvalidTransaction`` (a bug)
is reported as invalid with the error logged, so it is dropped alone and the rest
of the batch is still mined.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Container, Sequence
from typing import TYPE_CHECKING, Protocol

from jit.evm.exceptions import InvalidTransaction
from jit.evm.state import CodeRunner
from jit.evm.transaction import TxOutcome, execute_transaction
from jit.forks import ForkRules
from sequencer.types.transactions import Transaction
from statedb.types import Hash32

if TYPE_CHECKING:
    from sequencer.builder import OpenBlock

log = logging.getLogger("hummingbird.executor")


class Executor(Protocol):
    def execute(
        self,
        block: OpenBlock,
        rules: ForkRules,
        batch: Sequence[Transaction],
        deadline: float,
    ) -> list[TxOutcome | InvalidTransaction]:
        """Run a prefix of ``batch`` (at least one transaction, then until ``deadline``,
        a ``time.monotonic()`` value) on ``block``; one result per transaction run, in
        order. Each included outcome is folded with ``block.apply`` before the next
        transaction's result counts; invalid ones change nothing."""
        ...


class SerialExecutor:
    def __init__(
        self, engine: CodeRunner | None = None, unsigned: Container[Hash32] = frozenset()
    ) -> None:
        self.engine = engine
        # Hashes of transactions sent for an impersonated account (placeholder signature):
        # they skip EIP-3607, so a contract can be impersonated, as anvil and Hardhat allow.
        self.unsigned = unsigned

    def execute(
        self,
        block: OpenBlock,
        rules: ForkRules,
        batch: Sequence[Transaction],
        deadline: float,
    ) -> list[TxOutcome | InvalidTransaction]:
        view = block.state
        env = block.env
        results: list[TxOutcome | InvalidTransaction] = []
        engine = self.engine
        for tx in batch:
            if results and time.monotonic() >= deadline:
                break
            try:
                outcome = execute_transaction(
                    tx,
                    env,
                    view,
                    rules,
                    block_gas_used=block.gas_used,
                    block_blob_gas_used=block.blob_gas_used,
                    block_state_gas_used=block.state_gas_used,
                    check_sender_code=tx.hash not in self.unsigned,
                    engine=engine,
                )
            except InvalidTransaction as error:
                results.append(error)
                continue
            except Exception as error:  # a bug; only this transaction pays for it
                log.exception("executing transaction 0x%s failed", tx.hash.hex())
                results.append(InvalidTransaction(f"internal error executing transaction: {error}"))
                continue
            block.apply(outcome)
            results.append(outcome)
        return results
