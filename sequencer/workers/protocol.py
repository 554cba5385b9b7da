"""The messages between the sequencer and its worker processes.

Owns the message types (frozen dataclasses, pickled over a ``multiprocessing`` pipe).
Pickle is used because both ends are this program's own processes, started by the
sequencer with its own user and code: it is the fastest codec for these dict-shaped
records (a block's diff pickles in a few microseconds). Nothing from the network is
ever unpickled; replicas on other machines use ``sequencer.types.wire`` instead.

Sequencer -> worker: ``Seed`` (the whole head state, at start and after a revert),
``ApplyBlock`` (each sealed block's normalised diff, in order), ``Execute`` (a batch),
``Details`` (the full outcomes of the last batch), ``Stop``. Worker -> sequencer:
``Executed`` or ``Stale``, one per ``Execute``; ``DetailsSent``, one per ``Details``.

On a second pipe, so that the executor's synchronous round trips never read a
simulation's answer: sequencer -> worker ``Simulate`` (eth_call and its kin at the
head or the pending block), worker -> sequencer ``Simulated``, one per ``Simulate``.
"""

from __future__ import annotations

import copyreg
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jit.compiler.engine import NATIVE_HOT_RUNS
from jit.evm.frame import BlockEnv
from jit.evm.state import Log
from jit.evm.transaction import TxOutcome
from sequencer.errors import NodeError
from sequencer.types.call import SimulationCall
from sequencer.types.transactions import AuthorizationTuple, Transaction
from statedb.types import Account, Address, Hash32, StateDiff


def _positional(cls: type) -> Callable[[Any], tuple[type, tuple[Any, ...]]]:
    """A pickle reducer that rebuilds a dataclass through its constructor. The default
    for a slotted dataclass calls ``dataclasses``' Python-level ``__setstate__``, which
    looks the fields up on every object: ~3x slower to unpickle, and the sequencer
    unpickles every outcome a worker sends."""
    names = tuple(f.name for f in dataclasses.fields(cls))
    assert all(f.init for f in dataclasses.fields(cls)), cls

    def reduce(obj: Any) -> tuple[type, tuple[Any, ...]]:
        return cls, tuple([getattr(obj, name) for name in names])

    return reduce


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """How a worker runs code: the node's engine mode, its hot threshold, the runs
    profiled before machine code and the machine-code cache's directory."""

    engine: str
    hot_threshold: int
    native_cache_dir: str | None = None
    native_runs: int = NATIVE_HOT_RUNS


@dataclass(frozen=True, slots=True)
class Seed:
    """The whole state after block ``head`` (the worker takes ownership of the dicts)."""

    head: int
    accounts: dict[Address, Account]
    storage: dict[Address, dict[int, int]]
    codes: dict[Hash32, bytes]


@dataclass(frozen=True, slots=True)
class ApplyBlock:
    """Block ``number`` was sealed with this normalised diff."""

    number: int
    diff: StateDiff


@dataclass(frozen=True, slots=True)
class Execute:
    """Run ``transactions`` in order on the state after ``head`` plus ``base`` (what the
    open block applied before them). Each transaction comes with whether to check
    EIP-3607 (sender has code; skipped for impersonated senders)."""

    request_id: int
    head: int
    fork: str
    env: BlockEnv
    base: StateDiff
    gas_used: int
    blob_gas_used: int
    transactions: tuple[tuple[Transaction, bool], ...]


@dataclass(frozen=True, slots=True)
class ShareResult:
    """What one executor did with its share of a batch.

    ``results``: one per transaction, its outcome on the executor's view, or None when
    it was invalid there (the sequencer re-runs it on the exact state). ``diff`` is the
    share's combined change (its valid outcomes merged in order, not the base);
    ``reads`` and ``writes`` are the union of its outcomes' read and write keys
    (``sequencer.executor.optimistic.write_keys``); ``wipes``: some outcome wiped an
    account's storage."""

    results: list[TxOutcome | None]
    diff: StateDiff
    reads: frozenset[object]
    writes: frozenset[object]
    wipes: bool


@dataclass(frozen=True, slots=True)
class Executed:
    """A worker's answer to ``Execute``: compact, its outcomes without their diffs and
    read sets (the share's union of them is in ``share``), which is all an independent
    share needs; ``Details`` asks for the rest. From Amsterdam (``ForkRules.eip7928``)
    the outcomes are whole: the seal builds the block's access list from each one."""

    request_id: int
    share: ShareResult


@dataclass(frozen=True, slots=True)
class Details:
    """Send the full outcomes (diffs and read sets) of request ``request_id``."""

    request_id: int


@dataclass(frozen=True, slots=True)
class DetailsSent:
    """The full outcomes of request ``request_id`` (None: the worker no longer has it)."""

    request_id: int
    results: list[TxOutcome | None] | None


@dataclass(frozen=True, slots=True)
class Stale:
    """The worker is not at the request's head (it is at ``head``; -1: out of step)."""

    request_id: int
    head: int


@dataclass(frozen=True, slots=True)
class Simulate:
    """Run ``call`` on the state after ``head`` plus ``base`` (the pending dev edits, or
    the pending block's diff for a call above the head) in block environment ``env``,
    for at most ``timeout`` seconds, with the node's chain id and RPC gas cap."""

    request_id: int
    head: int
    fork: str
    chain_id: int
    gas_cap: int
    timeout: float
    env: BlockEnv
    base: StateDiff | None
    call: SimulationCall


@dataclass(frozen=True, slots=True)
class Simulated:
    """The answer to ``Simulate`` ``request_id``: the verb's ``value``, or the
    ``error`` it raised; ``stale``: the worker was not at the request's head (nothing
    ran); ``timed_out``: stopped at the deadline."""

    request_id: int
    value: object = None
    error: NodeError | None = None
    stale: bool = False
    timed_out: bool = False
    console: tuple[bytes, ...] = ()  # an eth_call's console.log calls


@dataclass(frozen=True, slots=True)
class Stop:
    """Exit."""


for _cls in (TxOutcome, StateDiff, Account, Transaction, AuthorizationTuple, BlockEnv, ShareResult):
    copyreg.pickle(_cls, _positional(_cls))
copyreg.pickle(Log, lambda log: (Log, (log.address, log.topics, log.data)))
