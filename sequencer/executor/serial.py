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
from dataclasses import dataclass, field
from typing import Protocol

from jit.evm.exceptions import InvalidTransaction
from jit.evm.frame import BlockEnv
from jit.evm.state import CodeRunner
from jit.evm.transaction import TxOutcome, coinbase_credit_diff, execute_transaction
from jit.forks import ForkRules
from sequencer.types.transactions import Transaction
from statedb.types import Hash32, StateDiff, StateReader
from statedb.views import OverlayView

log = logging.getLogger("hummingbird.executor")


@dataclass(slots=True)
class BlockProgress:
    """The open block's running totals; ``diff`` is everything applied so far."""

    diff: StateDiff = field(default_factory=StateDiff)
    gas_used: int = 0
    blob_gas_used: int = 0


class Executor(Protocol):
    def execute(
        self,
        block: BlockEnv,
        base: StateReader,
        rules: ForkRules,
        batch: Sequence[Transaction],
        progress: BlockProgress,
        deadline: float,
    ) -> list[TxOutcome | InvalidTransaction]:
        """Run a prefix of ``batch`` (at least one transaction, then until ``deadline``,
        a ``time.monotonic()`` value); one result per transaction run, in order.
        Included outcomes are folded into ``progress``; invalid ones change nothing."""
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
        block: BlockEnv,
        base: StateReader,
        rules: ForkRules,
        batch: Sequence[Transaction],
        progress: BlockProgress,
        deadline: float,
    ) -> list[TxOutcome | InvalidTransaction]:
        view = OverlayView(base, progress.diff)
        results: list[TxOutcome | InvalidTransaction] = []
        coinbase = block.coinbase
        engine = self.engine
        for tx in batch:
            if results and time.monotonic() >= deadline:
                break
            try:
                outcome = execute_transaction(
                    tx,
                    block,
                    view,
                    rules,
                    block_gas_used=progress.gas_used,
                    block_blob_gas_used=progress.blob_gas_used,
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
            progress.diff.merge(outcome.diff)
            if outcome.fee_credit:
                progress.diff.merge(coinbase_credit_diff(view, coinbase, outcome.fee_credit))
            progress.gas_used += outcome.gas_used
            progress.blob_gas_used += outcome.blob_gas_used
            results.append(outcome)
        return results
