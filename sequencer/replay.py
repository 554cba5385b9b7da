"""Re-executing a sealed block through the builder that sealed it (issues 15 and 16).

Owns ``BlockReplay``: everything a replay of block ``number`` reads, pinned when it is
made (on the event loop: the parent's state view, the block, its environment and the
dev edits it carried), and the replays themselves, which run anywhere (a worker
thread): the block's EIP-7928 access list, and one transaction re-run with a tracer
after the block's prefix (the pre-block system calls, the dev edits, every earlier
transaction and its coinbase credit), exactly as the producer ran them. A replayed
transaction whose result differs from its receipt is reported, never returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from jit.evm.exceptions import InvalidTransaction
from jit.evm.frame import BlockEnv
from jit.evm.tracing import Tracer
from jit.evm.transaction import TxOutcome, execute_transaction
from sequencer.access_list import BlockAccessList, bal_hash
from sequencer.builder import BlockBuilder, Included, OpenBlock, SealedBlock
from sequencer.errors import NodeError
from sequencer.executor.serial import Executor, SerialExecutor
from sequencer.types.blocks import MiniBlock
from statedb.types import Hash32, StateDiff, StateReader


class _EveryHash:
    """Every transaction of a sealed block passed EIP-3607 when it was mined (an
    impersonated one skipped it): a replay checks nothing that could refuse it."""

    def __contains__(self, item: object) -> bool:
        return True


EVERY_HASH: Final = _EveryHash()


@dataclass(frozen=True, slots=True)
class BlockReplay:
    """Block ``block`` (sealed on ``parent``), ready to re-run on ``base`` (the state
    after ``parent``) in ``env`` with the dev ``edits`` it carried. ``executor``: what
    runs the transactions (default: the serial oracle; a replica verifying blocks passes
    the optimistic executor over its workers, which must hold ``parent``'s state and
    be built with ``EVERY_HASH`` as its unsigned set)."""

    builder: BlockBuilder
    parent: MiniBlock
    block: MiniBlock
    env: BlockEnv
    base: StateReader
    edits: StateDiff | None
    executor: Executor | None = None

    def open(self) -> OpenBlock:
        return self.builder.open(self.parent, self.env, self.edits, base=self.base)

    def _run(self, opened: OpenBlock, count: int) -> list[Included]:
        """The block's first ``count`` transactions, folded into ``opened``."""
        block = self.block
        executor = self.executor or SerialExecutor(self.builder.engine, unsigned=EVERY_HASH)
        txs = block.transactions[:count]
        results = executor.execute(opened, self.builder.rules, txs, float("inf"))
        included = []
        for index, (tx, raw, result) in enumerate(
            zip(txs, block.encoded[:count], results, strict=True)
        ):
            self._check(index, result)
            assert isinstance(result, TxOutcome)
            included.append(Included(tx, raw, result))
        return included

    def _check(self, index: int, result: TxOutcome | InvalidTransaction) -> None:
        receipt = self.block.receipts[index]
        if isinstance(result, InvalidTransaction) or result.gas_used != receipt.gas_used:
            raise NodeError(
                f"replaying block {self.block.number} diverged at transaction {index}: "
                f"{result if isinstance(result, InvalidTransaction) else 'gas used'}"
            )

    def state_before(self, index: int) -> StateReader:
        """The state transaction ``index`` started from (the block's prefix applied)."""
        opened = self.open()
        self._run(opened, index)
        return opened.state

    def sealed_again(self) -> SealedBlock:
        """The block built again from its transactions on ``base`` (which must be the
        database head: the seal stages its state root there): its block is equal to
        ``block`` when the block is what its transactions do (a replica's
        ``--verify-execution``); from Amsterdam it carries the access list it built."""
        opened = self.open()
        included = self._run(opened, len(self.block.transactions))
        return self.builder.seal(opened, included)

    def access_list(self) -> BlockAccessList:
        """The block's EIP-7928 access list; for a block whose header commits to one
        (Amsterdam), a list that does not hash to it is an error, never an answer."""
        opened = self.open()
        included = self._run(opened, len(self.block.transactions))
        built = self.builder.replay_access_list(opened, included)
        committed = self.block.header.block_access_list_hash
        if committed is not None and bal_hash(built) != committed:
            raise NodeError(
                f"replaying block {self.block.number} gives an access list whose hash "
                f"0x{bal_hash(built).hex()} is not the header's 0x{committed.hex()}"
            )
        return built

    def trace(self, index: int, tracer: Tracer) -> TxOutcome:
        """Transaction ``index`` re-run with ``tracer`` after everything before it."""
        opened = self.open()
        self._run(opened, index)
        return self._traced(opened, index, tracer)

    def trace_all(self, tracers: Sequence[Tracer]) -> list[TxOutcome]:
        """Every transaction re-run in order, the i-th with ``tracers[i]``."""
        opened = self.open()
        outcomes = []
        for index, tracer in enumerate(tracers):
            outcome = self._traced(opened, index, tracer)
            opened.apply(outcome)
            outcomes.append(outcome)
        return outcomes

    def _traced(self, opened: OpenBlock, index: int, tracer: Tracer) -> TxOutcome:
        try:
            outcome = execute_transaction(
                self.block.transactions[index],
                opened.env,
                opened.state,
                self.builder.rules,
                block_gas_used=opened.gas_used,
                block_blob_gas_used=opened.blob_gas_used,
                block_state_gas_used=opened.state_gas_used,
                check_sender_code=False,
                tracer=tracer,
            )
        except InvalidTransaction as error:
            self._check(index, error)
            raise AssertionError("unreachable") from None
        self._check(index, outcome)
        return outcome


def transaction_index(block: MiniBlock, tx_hash: Hash32) -> int | None:
    for index, tx in enumerate(block.transactions):
        if tx.hash == tx_hash:
            return index
    return None
