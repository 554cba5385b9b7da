"""One executor's share of an optimistic batch: the same code on the sequencer and on
a worker process.

Owns running a share's transactions in block order on the batch's starting state plus
the share's own earlier results, and summarising them for the merge
(``sequencer.executor.optimistic``): each outcome, the share's combined diff, and the
union of its read and write keys.

Conflict keys (until ``statedb.keys`` has the one vocabulary): an address stands for
its account (nonce, balance, code hash); ``(address, slot)`` for a storage slot;
``(address, None)`` for "all of the address's storage" (a wipe).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from jit.evm.exceptions import InvalidTransaction
from jit.evm.frame import BlockEnv
from jit.evm.state import CodeRunner
from jit.evm.transaction import TxOutcome, execute_transaction
from jit.forks import ForkRules
from sequencer.types.transactions import Transaction
from sequencer.workers.protocol import ShareResult
from statedb.types import StateDiff, StateReader
from statedb.views import OverlayView

log = logging.getLogger("hummingbird.executor")


def write_keys(diff: StateDiff, into: set[object]) -> bool:
    """Add the conflict keys ``diff`` writes to ``into``; True if it wipes storage."""
    into.update(diff.accounts)
    for address, slots in diff.storage.items():
        into.update([(address, slot) for slot in slots])
    wipes = False
    for address in diff.storage_cleared:
        into.add((address, None))
        wipes = True
    for address, account in diff.accounts.items():
        if account is None:
            into.add((address, None))
            wipes = True
    return wipes


def run_share(
    txs: Sequence[tuple[Transaction, bool]],
    env: BlockEnv,
    start: StateReader,
    rules: ForkRules,
    gas_used: int,
    blob_gas_used: int,
    engine: CodeRunner | None,
) -> ShareResult:
    """Run ``txs`` (each with whether to check EIP-3607) in order on ``start``.

    The coinbase fee credit is not applied: the sequencer applies it, and a
    transaction that reads the coinbase after a credit fails the merge's check."""
    share = StateDiff()
    view = OverlayView(start, share)
    results: list[TxOutcome | None] = []
    reads: set[object] = set()
    writes: set[object] = set()
    wipes = False
    for tx, check_sender_code in txs:
        try:
            outcome = execute_transaction(
                tx,
                env,
                view,
                rules,
                block_gas_used=gas_used,
                block_blob_gas_used=blob_gas_used,
                check_sender_code=check_sender_code,
                engine=engine,
            )
        except InvalidTransaction:
            results.append(None)  # maybe only on this view: the merge re-runs it exactly
            continue
        except Exception:  # a bug: the merge re-runs it and reports it there
            log.exception("executing transaction 0x%s in a share failed", tx.hash.hex())
            results.append(None)
            continue
        share.merge(outcome.diff)
        reads.update(outcome.account_reads)
        reads.update(outcome.storage_reads)
        wipes |= write_keys(outcome.diff, writes)
        results.append(outcome)
    return ShareResult(results, share, frozenset(reads), frozenset(writes), wipes)
