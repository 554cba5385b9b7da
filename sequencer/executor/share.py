"""One executor's share of an optimistic batch: the same code on the sequencer and on
a worker process.

Owns running a share's transactions in block order on the batch's starting state plus
the share's own earlier results, and summarising them for the merge
(``sequencer.executor.optimistic``): each outcome, the share's combined diff, and the
union of its read and write keys.

Conflict keys: the kinds of ``statedb.keys`` (account, slot, has-storage; no code key:
see ``statedb.conflicts``) flattened into one hashable space so a share's reads and
writes are two plain sets: an address is its account (nonce, balance, code hash);
``(address, slot)`` a storage slot; ``(address, HAS_STORAGE)`` whether it has any
non-zero slot; ``(address, None)`` all of its storage (a wipe). A slot write counts as a
has-storage write of its address whether or not it flips it: conservative (it can only
add conflicts), and has-storage is read only by CREATE's collision check, on fresh
addresses, so it costs nothing in practice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Final

from jit.evm.exceptions import InvalidTransaction
from jit.evm.frame import BlockEnv
from jit.evm.state import CodeRunner
from jit.evm.transaction import TxOutcome, execute_transaction
from jit.forks import ForkRules
from sequencer.types.transactions import Transaction
from sequencer.workers.protocol import ShareResult
from statedb.conflicts import ReadSet
from statedb.types import StateDiff, StateReader
from statedb.views import OverlayView

log = logging.getLogger("hummingbird.executor")

HAS_STORAGE: Final = -1  # the "slot" of an address's has-storage key (slots are >= 0)


def read_keys(reads: ReadSet, into: set[object]) -> None:
    """Add the conflict keys of ``reads`` to ``into``."""
    into.update(reads.accounts)
    into.update(reads.slots)
    if reads.has_storage:
        into.update([(address, HAS_STORAGE) for address in reads.has_storage])


def write_keys(diff: StateDiff, into: set[object]) -> bool:
    """Add the conflict keys ``diff`` writes to ``into``; True if it wipes storage."""
    into.update(diff.accounts)
    for address, slots in diff.storage.items():
        into.update([(address, slot) for slot in slots])
        into.add((address, HAS_STORAGE))
    wipes = False
    for address in diff.storage_cleared:
        into.add((address, None))
        into.add((address, HAS_STORAGE))
        wipes = True
    for address, account in diff.accounts.items():
        if account is None:
            into.add((address, None))
            into.add((address, HAS_STORAGE))
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
        read_keys(outcome.reads, reads)
        wipes |= write_keys(outcome.diff, writes)
        results.append(outcome)
    return ShareResult(results, share, frozenset(reads), frozenset(writes), wipes)
