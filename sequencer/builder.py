"""The block builder: one block from a parent, for every path that makes one.

Owns the block's environment rules (EIP-1559 base fee, EIP-4844/7918 excess blob
gas, EIP-7685 requests hash), the per-block system calls (EIP-4788 beacon root and
EIP-2935 parent hash before the transactions, EIP-7002 withdrawal and EIP-7251
consolidation requests after them), folding executor outcomes in order (state
diff, coinbase fee credit, gas and blob gas) and assembling the sealed record:
receipts, logs bloom, ordered-trie roots, the state root and the block's
normalised state diff; and the EIP-7928 access list (built at the seal from
Amsterdam, by ``replay_access_list`` on request before it). It
commits nothing: the producer commits and publishes,
genesis commits its block 0, the pending preview throws its block away.

Executors only compute outcomes; they call ``OpenBlock.apply`` for each included
one, in block order, so the next transaction runs on the state the previous one
left (the serial oracle's rule) whichever executor ran it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Final

from jit.evm.block_hashes import BlockHashes
from jit.evm.frame import BlockEnv
from jit.evm.gas import BLOB_BASE_COST, GAS_PER_BLOB
from jit.evm.state import CodeRunner
from jit.evm.transaction import TxOutcome, coinbase_credit_diff, execute_system_call
from jit.forks import ForkRules
from sequencer.access_list import (
    EMPTY_BAL_HASH,
    AccessStep,
    BlockAccessList,
    build_block_access_list,
    encode,
)
from sequencer.genesis import (
    BEACON_ROOTS_ADDRESS,
    CONSOLIDATION_REQUEST_ADDRESS,
    HISTORY_STORAGE_ADDRESS,
    WITHDRAWAL_REQUEST_ADDRESS,
)
from sequencer.trie import EMPTY_TRIE_ROOT, ordered_trie_root
from sequencer.types.blocks import (
    EMPTY_BLOOM,
    EMPTY_REQUESTS_HASH,
    ZERO_HASH,
    ChainLog,
    Header,
    MiniBlock,
    Receipt,
    block_size,
    encode_logs,
    logs_bloom,
)
from sequencer.types.transactions import Transaction
from statedb import PreparedBlock, StateDB
from statedb.conflicts import ReadSet
from statedb.types import Address, StateDiff, StateReader, keccak256
from statedb.views import OverlayView

ELASTICITY_MULTIPLIER: Final = 2
BASE_FEE_MAX_CHANGE_DENOMINATOR: Final = 8


def next_base_fee(parent: Header) -> int:
    """EIP-1559."""
    target = parent.gas_limit // ELASTICITY_MULTIPLIER
    base = parent.base_fee_per_gas
    if parent.gas_used == target or target == 0:
        return base
    if parent.gas_used > target:
        delta = base * (parent.gas_used - target) // target // BASE_FEE_MAX_CHANGE_DENOMINATOR
        return base + max(delta, 1)
    delta = base * (target - parent.gas_used) // target // BASE_FEE_MAX_CHANGE_DENOMINATOR
    return base - delta


def next_excess_blob_gas(parent: Header, rules: ForkRules) -> int:
    """EIP-4844, with EIP-7918's reserve price from Osaka."""
    target = rules.target_blob_gas_per_block
    if parent.excess_blob_gas + parent.blob_gas_used < target:
        return 0
    if rules.eip7918 and BLOB_BASE_COST * parent.base_fee_per_gas > GAS_PER_BLOB * (
        rules.blob_base_fee(parent.excess_blob_gas)
    ):
        schedule = rules.blob_schedule
        return (
            parent.excess_blob_gas
            + parent.blob_gas_used * (schedule.max - schedule.target) // schedule.max
        )
    return parent.excess_blob_gas + parent.blob_gas_used - target


def requests_hash(requests: list[bytes]) -> bytes:
    """EIP-7685: sha256 over sha256(type || data) of each non-empty request list."""
    digest = hashlib.sha256()
    for request in requests:
        if len(request) > 1:
            digest.update(hashlib.sha256(request).digest())
    return digest.digest()


def sealed_env(header: Header, chain_id: int, rules: ForkRules, hashes: BlockHashes) -> BlockEnv:
    """The environment a sealed block ran in, from its header (for a replay or a call at
    that block); ``hashes`` is what BLOCKHASH read there (``Chain.block_hashes_at``)."""
    return BlockEnv(
        chain_id=chain_id,
        coinbase=header.coinbase,
        number=header.number,
        timestamp=header.timestamp,
        gas_limit=header.gas_limit,
        base_fee=header.base_fee_per_gas,
        prev_randao=header.prev_randao,
        excess_blob_gas=header.excess_blob_gas,
        blob_base_fee=rules.blob_base_fee(header.excess_blob_gas),
        block_hashes=hashes,
        parent_beacon_block_root=header.parent_beacon_block_root,
        slot_number=header.slot_number or 0,
    )


@dataclass(slots=True)
class SystemAccess:
    """What the system operations of one EIP-7928 block access index did (index 0: the
    dev edits and the pre-block system calls; n + 1: withdrawals and the post-block
    system calls): their state change and what they read (the list names every account
    and slot they read; a changed account is always listed)."""

    diff: StateDiff = field(default_factory=StateDiff)
    accounts: set[Address] = field(default_factory=set)
    slots: set[tuple[Address, int]] = field(default_factory=set)

    def add(self, diff: StateDiff, reads: ReadSet | None = None) -> None:
        self.diff.merge(diff)
        self.accounts.update(diff.accounts)
        self.accounts.update(diff.storage)
        self.accounts.update(diff.storage_cleared)
        if reads is not None:
            self.accounts.update(reads.accounts)
            self.slots.update(reads.slots)

    def step(self, index: int, pre: StateReader) -> AccessStep:
        return AccessStep(index, pre, self.diff, frozenset(self.accounts), frozenset(self.slots))


@dataclass(slots=True)
class OpenBlock:
    """A block being built (mutable; owned by one builder call chain).

    ``diff`` is everything applied on top of ``base`` so far: pending dev edits, the
    pre-block system calls, then each included transaction and its fee credit.
    ``state`` reads ``base`` with ``diff`` on top; it follows ``diff`` as it grows.
    """

    env: BlockEnv
    parent: MiniBlock
    base: StateReader
    diff: StateDiff = field(default_factory=StateDiff)
    gas_used: int = 0  # the transactions' ``block_gas`` (EIP-8037: the regular dimension)
    blob_gas_used: int = 0
    state_gas_used: int = 0  # EIP-8037: the transactions' ``block_state_gas``
    state: OverlayView = field(init=False)
    # What happened before the transactions (edits, pre-block system calls): the block
    # access list's index 0. Set by ``BlockBuilder.open``.
    pre_block: SystemAccess = field(default_factory=SystemAccess)

    def __post_init__(self) -> None:
        self.state = OverlayView(self.base, self.diff)

    def apply(self, outcome: TxOutcome) -> None:
        """Fold one included transaction, in block order: its state change, the
        coinbase's fee credit (per transaction, so a later ``BALANCE(coinbase)`` is
        exact), its gas and blob gas."""
        self.diff.merge(outcome.diff)
        if outcome.fee_credit:
            self.diff.merge(coinbase_credit_diff(self.state, self.env.coinbase, outcome.fee_credit))
        self.count_gas(outcome)

    def count_gas(self, outcome: TxOutcome) -> None:
        """Add ``outcome``'s gas and blob gas to the block's."""
        self.gas_used += outcome.block_gas
        self.state_gas_used += outcome.block_state_gas
        self.blob_gas_used += outcome.blob_gas_used

    @property
    def header_gas_used(self) -> int:
        """The header's gas used: the larger of the two dimensions (EIP-8037; before it
        the state dimension is 0). Receipts count ``TxOutcome.gas_used`` instead."""
        return max(self.gas_used, self.state_gas_used)


@dataclass(frozen=True, slots=True)
class Included:
    """A transaction the block holds: its canonical encoding and what it did."""

    tx: Transaction
    raw: bytes
    outcome: TxOutcome


@dataclass(frozen=True, slots=True)
class SealedBlock:
    """A built block and its staged state change (commit ``prepared`` to seal it); from
    Amsterdam its EIP-7928 access list, whose hash the header commits to."""

    block: MiniBlock
    prepared: PreparedBlock
    access_list: BlockAccessList | None = None
    access_list_rlp: bytes | None = None  # its encoding, hashed once and stored as is


class BlockBuilder:
    """Builds blocks on top of ``db``'s head. Stateless between calls."""

    def __init__(self, db: StateDB, rules: ForkRules, engine: CodeRunner | None = None) -> None:
        self.db = db
        self.rules = rules
        self.engine = engine  # runs the system contracts' code (None: the interpreter)

    def open(
        self,
        parent: MiniBlock,
        env: BlockEnv,
        edits: StateDiff | None = None,
        base: StateReader | None = None,
    ) -> OpenBlock:
        """Open the block after ``parent``: ``edits`` (state changes made outside
        transactions, e.g. dev methods) first, then the pre-block system calls. ``base``
        is the state after ``parent``: the database head unless given (a replay of an
        older block passes that block's parent state)."""
        block = OpenBlock(env, parent, self.db.head if base is None else base)
        if edits:
            block.diff.merge(edits)
            block.pre_block.add(edits)
        calls = [(BEACON_ROOTS_ADDRESS, env.parent_beacon_block_root or ZERO_HASH)]
        if self.rules.eip2935:
            calls.append((HISTORY_STORAGE_ADDRESS, parent.hash))
        for target, data in calls:
            result = execute_system_call(
                target, data, env, block.state, self.rules, engine=self.engine
            )
            if result is not None:
                block.diff.merge(result.diff)
                block.pre_block.add(result.diff, result.reads)
        return block

    def seal(self, block: OpenBlock, included: Sequence[Included]) -> SealedBlock:
        """Run the post-block system calls and assemble the block; commits nothing.
        From Amsterdam (``rules.eip7928``) the EIP-7928 access list is built here from
        what the executors reported per transaction (no second execution) and the header
        commits to its hash; before it, ``replay_access_list`` builds one when asked."""
        post_block = SystemAccess()
        requests = self._post_block(block, post_block)
        env = block.env
        access_list = access_list_rlp = list_hash = slot_number = None
        if self.rules.eip7928:
            access_list = block_access_list(block, included, post_block)
            access_list_rlp = encode(access_list)
            list_hash = keccak256(access_list_rlp)
            slot_number = env.slot_number
        receipts, bloom = build_receipts(included)
        encoded = tuple(item.raw for item in included)
        prepared = self.db.prepare(block.diff)
        header = Header(
            parent_hash=block.parent.hash,
            coinbase=env.coinbase,
            state_root=prepared.state_root,
            transactions_root=ordered_trie_root(encoded),
            receipts_root=ordered_trie_root([r.consensus_encoding() for r in receipts]),
            logs_bloom=bloom.to_bytes(256, "big"),
            number=env.number,
            gas_limit=env.gas_limit,
            gas_used=block.header_gas_used,
            timestamp=env.timestamp,
            base_fee_per_gas=env.base_fee,
            withdrawals_root=EMPTY_TRIE_ROOT,
            blob_gas_used=block.blob_gas_used,
            excess_blob_gas=env.excess_blob_gas,
            parent_beacon_block_root=env.parent_beacon_block_root or ZERO_HASH,
            requests_hash=requests,
            prev_randao=env.prev_randao,
            block_access_list_hash=list_hash,
            slot_number=slot_number,
        )
        sealed = MiniBlock(
            header,
            header.hash(),
            tuple(item.tx for item in included),
            tuple(receipts),
            block_size(header, encoded),
            encoded,
            published_diff(prepared),
        )
        return SealedBlock(sealed, prepared, access_list, access_list_rlp)

    def replay_access_list(self, block: OpenBlock, included: Sequence[Included]) -> BlockAccessList:
        """The access list of an opened block whose transactions ``included`` ran: the
        post-block system calls, then the per-index replay; no root, nothing staged."""
        post_block = SystemAccess()
        self._post_block(block, post_block)
        return block_access_list(block, included, post_block)

    def genesis(self, alloc: StateDiff, header: Header) -> SealedBlock:
        """Block 0: ``alloc`` onto the empty database; ``header`` gives every field but
        the state root, which is computed here (and, from Amsterdam, the empty access
        list's hash and slot 0 when it has none)."""
        prepared = self.db.prepare(alloc)
        sealed = replace(header, state_root=prepared.state_root)
        if self.rules.eip7928 and sealed.block_access_list_hash is None:
            sealed = replace(sealed, block_access_list_hash=EMPTY_BAL_HASH, slot_number=0)
        block = MiniBlock(
            sealed,
            sealed.hash(),
            (),
            (),
            block_size(sealed, ()),
            (),
            published_diff(prepared),
        )
        return SealedBlock(block, prepared)

    def _post_block(self, block: OpenBlock, post_block: SystemAccess) -> bytes:
        """The EIP-7002/7251 system calls; their changes go into ``block.diff`` and
        ``post_block`` (the access list's last index)."""
        if not self.rules.system_requests:
            return EMPTY_REQUESTS_HASH
        requests: list[bytes] = [b"\x00"]  # EIP-6110 deposits: no deposit contract here
        for kind, target in ((1, WITHDRAWAL_REQUEST_ADDRESS), (2, CONSOLIDATION_REQUEST_ADDRESS)):
            result = execute_system_call(
                target, b"", block.env, block.state, self.rules, engine=self.engine
            )
            if result is None or not result.success:
                requests.append(bytes((kind,)))
                continue
            block.diff.merge(result.diff)
            post_block.add(result.diff, result.reads)
            requests.append(bytes((kind,)) + result.output)
        return requests_hash(requests)


def block_access_list(
    block: OpenBlock, included: Sequence[Included], post_block: SystemAccess
) -> BlockAccessList:
    """The block's EIP-7928 access list from what each index did: index 0 the edits and
    pre-block system calls, i + 1 transaction i with its coinbase fee credit, n + 1 the
    post-block system calls (``post_block``)."""
    return access_list_of(
        block.base, block.env.coinbase, block.pre_block, [i.outcome for i in included], post_block
    )


def access_list_of(
    base: StateReader,
    coinbase: Address,
    pre_block: SystemAccess,
    outcomes: Sequence[TxOutcome],
    post_block: SystemAccess,
) -> BlockAccessList:
    """The EIP-7928 access list of a block that started from ``base``: ``pre_block``
    (index 0), each transaction's outcome in block order with its coinbase fee credit
    (i + 1) and ``post_block`` (n + 1). The per-index states are rebuilt here by folding
    the diffs again over ``base`` (no execution): whichever executor ran the
    transactions, each outcome's diff and read set are what it did in the serial order.

    Inclusion (the fixtures' rules): every account and slot an index read, whether
    or not a reverted frame read it; the coinbase of every transaction, as a read when
    its fee is zero (EIP-7928 "COINBASE"); nothing for the system address unless code
    reads it."""
    running = StateDiff()
    view = OverlayView(base, running)

    def steps() -> Iterator[AccessStep]:
        # ``build_block_access_list`` records each step before it asks for the next, so
        # ``view`` is the state before the step it is handed with.
        yield pre_block.step(0, view)
        running.merge(pre_block.diff)
        for index, outcome in enumerate(outcomes, 1):
            step = StateDiff()
            step.merge(outcome.diff)
            if outcome.fee_credit:  # as ``OpenBlock.apply`` folds it
                step.merge(
                    coinbase_credit_diff(OverlayView(view, step), coinbase, outcome.fee_credit)
                )
            yield AccessStep(
                index, view, step, outcome.account_reads | {coinbase}, outcome.storage_reads
            )
            running.merge(step)
        yield post_block.step(len(outcomes) + 1, view)

    return build_block_access_list(steps())


def build_receipts(included: Sequence[Included], gas_before: int = 0) -> tuple[list[Receipt], int]:
    """The receipts of ``included`` (cumulative gas counted from ``gas_before``, the gas
    the block used before them) and the OR of their logs blooms as an integer."""
    receipts: list[Receipt] = []
    cumulative = gas_before
    bloom = 0
    for item in included:
        outcome = item.outcome
        cumulative += outcome.gas_used
        logs = tuple(ChainLog(log.address, tuple(log.topics), log.data) for log in outcome.logs)
        receipt_bloom = logs_bloom(logs) if logs else EMPTY_BLOOM
        if logs:
            bloom |= int.from_bytes(receipt_bloom, "big")
        receipts.append(
            Receipt(
                tx_type=item.tx.tx_type,
                status=1 if outcome.success else 0,
                cumulative_gas_used=cumulative,
                gas_used=outcome.gas_used,
                effective_gas_price=outcome.effective_gas_price,
                contract_address=outcome.contract_address,
                blob_gas_used=outcome.blob_gas_used,
                logs=logs,
                logs_bloom=receipt_bloom,
                logs_rlp=encode_logs(logs),
            )
        )
    return receipts, bloom


def published_diff(prepared: PreparedBlock) -> StateDiff:
    """The block's normalised state change as a ``StateDiff``: only real changes, wipes
    expanded into explicit zero writes of the slots that existed, deleted accounts as
    None. It shares the prepared block's dicts (no copy on the seal path), so it must
    never be mutated: every consumer treats a published diff as read-only."""
    return StateDiff(accounts=prepared.acc_ops, storage=prepared.sto_ops, codes=prepared.codes)
