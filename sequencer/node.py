"""``Node``: the only object the rpc layer talks to (DESIGN §3).

Owns the wiring (statedb, chain, pool, producer, executor, miner, clock, pending
state edits, accounts, simulator, and the one execution engine,
``jit.compiler.Engine``, whose runner every execution path uses), genesis on first
start and resumption on restart, publication (``subscribe_blocks`` for each sealed
``MiniBlock``, ``subscribe_reverts`` for ``ChainReverted``), and the node's verbs:
sending transactions (answering once the block is sealed when mining is automatic),
state and chain reads at any block in the history window, simulation (delegated to
``sequencer.simulation``), and the dev verbs behind the ``anvil_`` / ``hardhat_`` /
``evm_`` methods: mining control, time, state edits, snapshots and revert,
impersonation, pool removal, block parameters.

The head state (``head_state``) is the committed head with the pending dev edits
over it: the pool, the node's reads at ``latest`` and the producer all read it.

Everything runs on one asyncio event loop thread: the producer seals a block
synchronously between awaits, so readers never see a half-built block.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, TypeVar, cast

from jit.compiler import Engine
from jit.compiler.engine import EngineStats
from jit.evm.addresses import DELEGATION_PREFIX
from jit.evm.frame import BlockEnv, Evm
from jit.evm.state import CodeRunner
from jit.forks import ForkRules, megaeth_rules, rules_for
from sequencer.access_list import (
    BlockAccessList,
    InvalidBlockAccessList,
    record_key,
)
from sequencer.access_list import decode as decode_bal
from sequencer.accounts import DEFAULT_PRIORITY_FEE, Accounts, impersonated
from sequencer.activity import BlockActivity, block_activity
from sequencer.builder import (
    BlockBuilder,
    OpenBlock,
    next_excess_blob_gas,
    sealed_env,
)
from sequencer.chain import FRESH_CHAIN_CFS, Chain, LogEntry, LogFilter
from sequencer.clock import MAX_TIMESTAMP, Clock, ClockError, ClockState
from sequencer.config import ChainConfig, ConfigError, ForkConfig, NodeConfig, engine_from
from sequencer.console_log import log_console_calls
from sequencer.edits import EDITS_RECORD, EditError, StateEdits, block_edits_key
from sequencer.errors import (
    ExecutionReverted,
    InvalidInput,
    NodeError,
    ReplicaMismatch,
    ResourceNotFound,
    TransactionRejected,
)
from sequencer.executor import SerialExecutor
from sequencer.executor.optimistic import OptimisticExecutor
from sequencer.fork.forked import Fork, encode_point
from sequencer.fork.upstream import UpstreamConfig, UpstreamError
from sequencer.genesis import (
    BEACON_ROOTS_ADDRESS,
    CONSOLIDATION_REQUEST_ADDRESS,
    HISTORY_STORAGE_ADDRESS,
    WITHDRAWAL_REQUEST_ADDRESS,
    DevAccount,
    dev_accounts,
    genesis_alloc,
    mnemonic_id,
)
from sequencer.megaeth import MEGAETH_PRIORITY_FEE
from sequencer.mini_block_signing import (
    SEQUENCER_REGISTRY_ADDRESS,
    MiniBlockSigner,
    SignedMiniBlockHeader,
    decode_signature_record,
    encode_signature_record,
    one_tier_header,
    registry_code,
    registry_storage,
    sequencer_key,
    signature_key,
)
from sequencer.mining import Miner, MiningMode
from sequencer.offload import CallTimeout, PerThread, SimulationWorker
from sequencer.pool import PoolStore, PoolTx, TxPool
from sequencer.producer import BlockParams, Producer
from sequencer.progress import Progress
from sequencer.publication import (
    BlockSealed,
    ChainEvent,
    ChainReverted,
    MiniBlockPreconfirmed,
    Publisher,
    Waiters,
)
from sequencer.recovery import SenderRecovery
from sequencer.replay import EVERY_HASH, BlockReplay, transaction_index
from sequencer.revert import decode_revert_reason
from sequencer.simulate_v1 import SimulatedBlock, SimulatedBlockSpec, simulate_v1
from sequencer.simulation import SimulationResult, Simulator, chain_env, pinned_simulator
from sequencer.state_dump import StateDump, StateDumpAccount
from sequencer.tracing.call import CallFrame
from sequencer.tracing.spec import TraceOptions, TraceResult, new_tracer, trace_result
from sequencer.trie import EMPTY_TRIE_ROOT
from sequencer.two_tier import JournaledEnv, OpenEvmBlock, PreconfirmedCopy
from sequencer.types.blobs import split_network_form, verify_sidecar
from sequencer.types.blocks import (
    EMPTY_BLOOM,
    EMPTY_REQUESTS_HASH,
    ZERO_HASH,
    Header,
    IndexKeys,
    MiniBlock,
)
from sequencer.types.call import (
    AccountOverride,
    BlockOverride,
    CallRequest,
    SimulationCall,
    SimulationVerb,
)
from sequencer.types.transactions import (
    InvalidTransactionEncoding,
    Transaction,
    decode_transaction,
)
from sequencer.workers.pool import WorkerPool
from sequencer.workers.protocol import Simulate, Simulated, WorkerConfig
from statedb import (
    CorruptDatabase,
    HistoryUnavailable,
    StateDB,
    StateDBError,
    remove_database,
)
from statedb.keys import CF_ADDRESS_INDEX, CF_BLOCKS, CF_CHAIN_META, CF_LOG_INDEX
from statedb.types import (
    EMPTY_CODE_HASH,
    Account,
    Address,
    Hash32,
    StateDiff,
    StateReader,
    keccak256,
)
from statedb.views import OverlayView

log = logging.getLogger("hummingbird.node")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RuntimeStats:
    """``Node.runtime_stats``: one sample of the node's moving parts."""

    head: int
    pending: int  # pool transactions ready to run (next nonce on)
    queued: int  # pool transactions waiting for an earlier nonce
    engine: EngineStats
    workers: int
    workers_busy: int  # with a request in flight


META_CHAIN_ID: Final = b"chain_id"
META_FORK: Final = b"fork"
# Which mnemonic made the dev accounts (a hash of it, not the words): a restart with
# another mnemonic is refused instead of printing accounts the chain never funded.
META_DEV_ACCOUNTS: Final = b"dev_accounts"
# Every block's system calls read these (EIP-4788, EIP-2935, EIP-7002, EIP-7251): a fork
# fetches them with the dev accounts at the start.
SYSTEM_CONTRACTS: Final = (
    BEACON_ROOTS_ADDRESS,
    HISTORY_STORAGE_ADDRESS,
    WITHDRAWAL_REQUEST_ADDRESS,
    CONSOLIDATION_REQUEST_ADDRESS,
)
# Fork mode: the upstream block the chain forked from (sequencer.fork.forked.encode_point).
META_FORK_POINT: Final = b"fork-point"
# One anvil_mine / hardhat_mine call seals at most this many blocks (each is a real
# block with its system calls and roots, ~1 ms): a larger count is refused, not queued.
MAX_MINE_BLOCKS: Final = 100_000

__all__ = [
    "DEFAULT_PRIORITY_FEE",
    "BlockSealed",
    "ChainEvent",
    "ChainReverted",
    "DevSnapshot",
    "MiniBlockPreconfirmed",
    "Node",
    "SimulationResult",
]


@dataclass(frozen=True, slots=True)
class ReplicaSnapshot:
    """A sequencer's head for a replica to start from when its genesis has left the
    history window: the head block with the whole state as its diff, and the blocks
    before it (up to BLOCKHASH's 256) so their hashes and records are there."""

    head: MiniBlock
    prior: tuple[MiniBlock, ...]


@dataclass(frozen=True, slots=True)
class DevSnapshot:
    """What ``evm_snapshot`` keeps besides statedb's own snapshot of the chain."""

    db_snapshot: int
    number: int
    edits: StateDiff
    clock: ClockState
    params: BlockParams


def _creator_in(frame: CallFrame, address: Address) -> Address | None:
    """The ``from`` of the CREATE / CREATE2 frame in ``frame``'s tree that made
    ``address`` successfully; None if there is none."""
    if frame.kind in ("CREATE", "CREATE2") and frame.to == address and frame.error is None:
        return frame.sender
    for child in frame.calls:
        found = _creator_in(child, address)
        if found is not None:
            return found
    return None


MAX_CALL_MANY: Final = 256


class Node:
    def __init__(
        self,
        config: NodeConfig,
        genesis: MiniBlock | None = None,
        snapshot: ReplicaSnapshot | None = None,
    ) -> None:
        """``genesis`` (a replica's): the sequencer's block 0, with its diff, written
        instead of one built from ``config`` when the database is empty; a database
        that holds another chain is refused. ``snapshot`` (a replica's, when block 0
        has left the sequencer's window): the database starts at its head instead."""
        self.config = config
        self._genesis = genesis
        self._snapshot = snapshot
        chain_config = config.chain
        self.rules: ForkRules = (
            megaeth_rules(chain_config.fork) if config.megaeth else rules_for(chain_config.fork)
        )
        self.accounts: tuple[DevAccount, ...] = dev_accounts(config.mnemonic, config.accounts)
        self.signer = Accounts(self.accounts)
        self.keys: dict[Address, bytes] = self.signer.keys
        # Fork mode: the upstream (reached when the database is opened or created).
        self.fork: Fork | None = Fork(config.fork) if config.fork is not None else None
        try:
            self.db = self._open_database()
        except BaseException:
            if self.fork is not None:
                self.fork.close()
            raise
        try:
            self._attach_fork(self.db)
            self.chain = self._chain()
            if self.chain.head is None:  # ephemeral, or a statedb left without a block
                self._write_genesis(self.db)
                self.chain = self._chain()
            else:
                self._check_resumed()
        except BaseException as error:
            self.db.close()
            if self.fork is not None:
                self.fork.close()
            if isinstance(error, RuntimeError):  # Chain: a block missing under the head
                raise self._unusable(str(error)) from None
            raise
        config = self.config  # fork mode may have taken the upstream's chain id
        chain_config = config.chain
        # The fork this node was started on (a plain anvil_reset comes back to it).
        self._started_fork = None if self.fork is None else self.fork.point
        try:
            # One engine for the whole node: compiled code is shared by block production
            # and simulation; "auto" compiles hot code on a worker thread, off the block path.
            self.engine = engine_from(config, background=True)
        except ValueError as error:
            self.db.close()
            raise ConfigError(str(error)) from None
        run_code = self.engine.runner
        self._unsigned: set[Hash32] = set()  # impersonated transactions not yet sealed
        self._signature_senders: dict[bytes, Address] = {}  # anvil_impersonateSignature
        self.clock = Clock()
        self.edits = self._load_edits()
        # The dev sequencer key: signs every mini-block header (MegaETH Rex5).
        self.sequencer = MiniBlockSigner(sequencer_key(config.mnemonic))
        # Acknowledged pool transactions are kept with the chain (not for --ephemeral).
        self.pool_store = PoolStore(self.db) if config.data_dir is not None else None
        self.waiters = Waiters()
        self._ready = asyncio.Event()  # the miner's wake-up: the pool's ready queue is not empty
        self.pool = TxPool(
            config.pool,
            lambda address: self.head_state.get_account(address),
            self.next_base_fee,
            lambda: self.producer.params.gas_limit,
            lambda: self.rules,
            chain_config.chain_id,
            blob_base_fee=self.next_blob_base_fee,
            store=self.pool_store,
            on_settled=self.waiters.settle,
            on_ready=lambda ready: self._ready.set() if ready else self._ready.clear(),
        )
        self.producer = Producer(
            self.db,
            self.chain,
            self.pool,
            SerialExecutor(run_code, self._unsigned),
            chain_config,
            self.rules,
            config.block_time,
            self._publish,
            engine=run_code,
            clock=self.clock,
            edits=self.edits,
            evm_block_time=config.evm_block_time,
            unsigned=self._unsigned,
            signer=self.sequencer,
        )
        self.simulator = Simulator(
            self.rules,
            run_code,
            lambda: self.config.chain.chain_id,
            self.state_at,
            self._env_at,
            config.rpc_gas_cap,
        )
        # The read-only verbs run on worker threads (sequencer.offload), each with an
        # engine of its own (an engine's cache is written by the thread that executes).
        # Each compiles on a thread of its own and (auto with llvmlite, native) builds
        # machine code from its runs' profile, as the node's engine does; LLVM runs in
        # the process's one compiler child (jit.native.backend.shared_compiler).
        self.simulation_engines: PerThread[Engine] = PerThread(
            lambda: engine_from(config, background=True)
        )
        self.simulation_worker = SimulationWorker(config.rpc_timeout)
        self.miner = Miner(
            self._ready,
            self.producer.produce,
            self._produce_empty,
            MiningMode(
                # A replica seals nothing: its blocks come from the sequencer.
                auto=not config.no_mining and config.block_interval is None and not config.replica,
                # Two-tier mode: mini-blocks are the automine, EVM blocks the interval.
                interval=(
                    None
                    if config.replica
                    else config.evm_block_time
                    if config.evm_block_time is not None
                    else config.block_interval
                ),
            ),
        )
        self.recovery = SenderRecovery()  # started by start() when the config asks for it
        self.workers: WorkerPool | None = None  # started by start() when config.workers > 0
        # --verify-execution's parallel executor over the workers (built on first use).
        self._verifier: OptimisticExecutor | None = None
        # One event stream (sequencer.publication): the waiting senders first, then
        # the worker processes (Node._publish), RPC subscriptions and filters.
        self.publisher = Publisher()
        self.publisher.subscribe(self.waiters.on_event)
        self._pending_listeners: list[Callable[[Transaction], None]] = []
        self._activity_listeners = 0  # subscribe_activity: node logs printing console.log
        self._snapshots: dict[int, DevSnapshot] = {}
        self._next_snapshot = 0
        self.logging_enabled = True
        self.instance_id = secrets.token_bytes(32)  # anvil_metadata: changes on reset
        self.started_at = time.time()
        self._running = False
        self._persist_pending = False
        self._resume_open_block()  # before the pool: its nonces see the re-opened block
        if config.evm_block_time is not None and not config.replica:
            self._install_sequencer_registry()
        self._reload_pool()

    # ------------------------------------------------------------ lifecycle

    def _open_database(self) -> StateDB:
        """The state database: in memory, or the data directory, created atomically with
        its genesis block on the first start (``StateDB.open(initialize=...)``), so a
        killed first start leaves no directory or a complete one. A directory that
        cannot be used is refused with a ``ConfigError`` saying how to fix it."""
        config = self.config
        if config.data_dir is None:
            return StateDB.ephemeral(history_window=config.history_window)
        if config.reset:
            try:
                if remove_database(config.data_dir):
                    log.info("--reset: deleted the chain in %s", config.data_dir)
            except CorruptDatabase as error:
                raise ConfigError(
                    f"--reset deletes only a Hummingbird data directory, and {error}: "
                    "nothing was deleted"
                ) from None
            except StateDBError as error:
                raise ConfigError(f"--reset: {error}; nothing was deleted") from None
        try:
            return StateDB.open(
                config.data_dir,
                history_window=config.history_window,
                initialize=self._write_genesis,
            )
        except CorruptDatabase as error:
            raise self._unusable(str(error)) from None
        except StateDBError as error:  # e.g. held by another running node
            raise ConfigError(f"cannot open the data directory: {error}") from None
        except OSError as error:
            raise ConfigError(
                f"cannot create the data directory {config.data_dir}: {error.strerror or error}"
            ) from None

    def _unusable(self, problem: str) -> ConfigError:
        path = self.config.data_dir
        return ConfigError(
            f"the data directory {path} cannot be used ({problem}). To start a new chain "
            f"there, move it away (mv {path} {path}.broken) or delete it (rm -rf {path}); "
            "or pass another --data-dir, or --ephemeral"
        )

    def _chain(self) -> Chain:
        fork = self.fork
        if fork is None:
            return Chain(self.db)
        return Chain(self.db, floor=fork.point.number, upstream_hash=fork.block_hash)

    def _attach_fork(self, db: StateDB) -> None:
        """Fork mode: resolve the fork point (the one ``db`` recorded, if any) and read
        untouched state from the upstream. A database recorded as a fork opened without
        ``--fork-url``, or the reverse, is refused."""
        recorded = db.get_record(CF_CHAIN_META, META_FORK_POINT)
        if self.fork is None:
            if recorded is not None:
                raise ConfigError(
                    "the data directory holds a fork of another chain: pass its --fork-url, "
                    "or use another --data-dir (or --ephemeral)"
                )
            return
        if recorded is None and db.head_number >= 0:
            raise ConfigError(
                "the data directory holds a chain that is not a fork: use another --data-dir "
                "(or --ephemeral) with --fork-url"
            )
        point = self.fork.resolve(recorded, db)
        if self.fork.config.adopt_chain_id and self.config.chain.chain_id != point.chain_id:
            self.config = replace(
                self.config, chain=replace(self.config.chain, chain_id=point.chain_id)
            )
        if not db.forked:
            db.attach_upstream(self.fork.state)

    def _chain_meta(
        self, chain: ChainConfig, *, dev_accounts: bool = True
    ) -> dict[bytes, bytes | None]:
        """The chain's identity, stored with its genesis and checked on every restart
        (``_check_resumed``): chain id, hardfork and, where the node funded its dev
        accounts, which mnemonic they came from."""
        meta: dict[bytes, bytes | None] = {
            META_CHAIN_ID: str(chain.chain_id).encode(),
            META_FORK: chain.fork.name.lower().encode(),
        }
        if dev_accounts:
            meta[META_DEV_ACCOUNTS] = mnemonic_id(self.config.mnemonic)
        return meta

    def _write_genesis(self, db: StateDB) -> None:
        """Commit the genesis block into ``db`` (empty): the given one (a replica's), the
        fork block (fork mode), or one built from the configuration."""
        chain = self.config.chain
        meta = self._chain_meta(chain)
        if self.fork is not None:
            self._attach_fork(db)
            chain = self.config.chain  # the upstream's chain id, unless --chain-id
            meta[META_CHAIN_ID] = str(chain.chain_id).encode()
            block = self.fork.fork_block()
            diff = self._fork_genesis_diff(self.fork)
            fork_records = Chain(db).records(block)
            meta[META_FORK_POINT] = encode_point(self.fork.point)
            fork_records[CF_CHAIN_META] = dict(meta)
            db.bootstrap(block.number, diff, fork_records)
            return
        if self._snapshot is not None:
            head = self._snapshot.head
            if head.diff is None:
                raise ConfigError("a replica's snapshot must carry the whole state")
            records: dict[str, dict[bytes, bytes | None]] = {}
            for block in (*self._snapshot.prior, head):
                for cf, entries in Chain(db).records(block).items():
                    records.setdefault(cf, {}).update(entries)
            records[CF_CHAIN_META] = dict(meta)
            if db.bootstrap(head.number, head.diff, records) != head.header.state_root:
                raise ConfigError("the sequencer's snapshot does not give its state root")
            return
        if self._genesis is not None:
            block = self._genesis
            if block.number != 0 or block.diff is None:
                raise ConfigError("a replica's genesis must be block 0 with its state diff")
            prepared = db.prepare(block.diff)
            if prepared.state_root != block.header.state_root:
                raise ConfigError("the sequencer's genesis diff does not give its state root")
            records = Chain(db).records(block)
            records[CF_CHAIN_META] = self._chain_meta(chain, dev_accounts=False)
            db.commit(0, prepared, records, fresh=FRESH_CHAIN_CFS)
            return
        diff = genesis_alloc(self.accounts, self.config.balance)
        header = Header(
            parent_hash=ZERO_HASH,
            coinbase=chain.coinbase,
            state_root=ZERO_HASH,  # computed by the builder
            transactions_root=EMPTY_TRIE_ROOT,
            receipts_root=EMPTY_TRIE_ROOT,
            logs_bloom=EMPTY_BLOOM,
            number=0,
            gas_limit=chain.gas_limit,
            gas_used=0,
            timestamp=int(time.time()),
            base_fee_per_gas=chain.base_fee,
            withdrawals_root=EMPTY_TRIE_ROOT,
            blob_gas_used=0,
            excess_blob_gas=0,
            parent_beacon_block_root=ZERO_HASH,
            requests_hash=EMPTY_REQUESTS_HASH,
        )
        sealed = BlockBuilder(db, self.rules).genesis(diff, header)
        block = sealed.block
        records = Chain(db).records(block)
        records[CF_CHAIN_META] = meta
        db.commit(0, sealed.prepared, records, fresh=FRESH_CHAIN_CFS)

    def _fork_genesis_diff(self, fork: Fork) -> StateDiff:
        """The fork block's local state: the dev accounts funded over the upstream's
        (blocking: the first call fetches them), fetched in one batch with what every
        block reads (the system contracts, the coinbase, the request contracts' queue
        head, tail, excess and count)."""
        return fork.dev_accounts_diff(
            [account.address for account in self.accounts],
            self.config.balance,
            warm=(*SYSTEM_CONTRACTS, self.config.chain.coinbase),
            warm_slots=[
                (address, slot)
                for address in (WITHDRAWAL_REQUEST_ADDRESS, CONSOLIDATION_REQUEST_ADDRESS)
                for slot in range(4)
            ],
        )

    def _check_resumed(self) -> None:
        if self._genesis is not None:
            ours = self.chain.block_by_number(0)
            if ours is not None and ours.hash != self._genesis.hash:
                raise ConfigError(
                    "the data directory holds another chain than the sequencer's (its "
                    "genesis differs): use another --data-dir, or --ephemeral"
                )
        stored = self.chain.meta(META_CHAIN_ID)
        wanted = self.config.chain.chain_id
        path = self.config.data_dir
        if stored is not None and int(stored) != wanted:
            raise ConfigError(
                f"the data directory {path} holds a chain with chain id {int(stored)}, not "
                f"{wanted}: pass --chain-id {int(stored)} to continue it, --reset to start a "
                "new chain there, or another --data-dir (or --ephemeral)"
            )
        stored_fork = self.chain.meta(META_FORK)
        fork = self.config.chain.fork.name.lower()
        if stored_fork is not None and stored_fork.decode() != fork:
            raise ConfigError(
                f"the data directory {path} holds a chain on the {stored_fork.decode()} "
                f"hardfork, not {fork}: "
                f"pass --hardfork {stored_fork.decode()} to continue it, --reset to start a "
                f"new {fork} chain there, or another --data-dir (or --ephemeral)"
            )
        stored_accounts = self.chain.meta(META_DEV_ACCOUNTS)
        if stored_accounts is not None and stored_accounts != mnemonic_id(self.config.mnemonic):
            raise ConfigError(
                f"the data directory {path} holds a chain whose dev accounts came from "
                "another mnemonic (this one's accounts hold nothing there): pass that "
                "chain's --mnemonic to continue it, --reset to start a new chain with this "
                "one, or another --data-dir (or --ephemeral)"
            )

    def _reload_pool(self) -> None:
        """Re-admit the stored pool through the normal admission path, in the order it
        was acknowledged; a transaction that no longer passes (mined before the crash,
        its nonce used, its fee under the base fee, ...) is dropped with a log line."""
        store = self.pool_store
        if store is None:
            return
        kept = dropped = 0
        for record in store.load():
            if isinstance(record, bytes):
                log.warning("dropping an unreadable pool record %s", record.hex())
                store.delete_key(record)
                dropped += 1
                continue
            try:
                tx = decode_transaction(record.raw, known_sender=record.sender)
                if tx.hash != record.tx_hash:
                    raise TransactionRejected("stored hash does not match its transaction")
                if record.unsigned:
                    self._unsigned.add(tx.hash)
                entry = self.pool.add(tx, record.raw).entry
            except (InvalidTransactionEncoding, TransactionRejected) as error:
                self._unsigned.discard(record.tx_hash)
                log.info("dropping stored pool transaction 0x%s: %s", record.tx_hash.hex(), error)
                store.delete(record.tx_hash)
                dropped += 1
                continue
            entry.stored = True  # its record is already on disk
            kept += 1
        store.flush()
        if kept or dropped:
            log.info("pool reloaded: %d transactions kept, %d dropped", kept, dropped)

    def _resume_open_block(self) -> None:
        """Two-tier mode's open EVM block, as a stop or a kill left it (its journaled
        mini-blocks run again); without two-tier mode now, it is sealed at once."""
        restored = self.producer.resume_open()
        if self.producer.open is None:
            return
        log.info("resumed the open EVM block with %d preconfirmed transactions", restored)
        if self.config.evm_block_time is None:
            self.producer.seal_open()

    def _install_sequencer_registry(self) -> None:
        """Two-tier mode: MegaETH's SequencerRegistry at its address, naming this node's
        sequencer key from block 0, as a state edit (MegaETH's node installs it without a
        constructor too) unless the state already holds it as wanted."""
        state = self.head_state
        account = state.get_account(SEQUENCER_REGISTRY_ADDRESS)
        wanted = registry_storage(self.sequencer.address)
        code = registry_code()
        if (
            account is not None
            and account.code_hash == keccak256(code)
            and all(
                state.get_storage(SEQUENCER_REGISTRY_ADDRESS, slot) == value
                for slot, value in wanted.items()
            )
        ):
            return
        self.edit_state(SEQUENCER_REGISTRY_ADDRESS, code=code, nonce=1)
        for slot, value in wanted.items():
            self.edit_state(SEQUENCER_REGISTRY_ADDRESS, storage=(slot, value))

    def _seal_open(self) -> None:
        """Before a dev method that changes state or the chain: the open EVM block (if
        two-tier mode has one) is sealed first, so the method acts on sealed blocks and
        its change is carried by the next EVM block."""
        if self.producer.open is not None:
            self.producer.seal_open()

    def _load_edits(self) -> StateEdits:
        raw = self.chain.meta(EDITS_RECORD)
        if raw is None:
            return StateEdits()
        try:
            return StateEdits.decode(raw)
        except EditError as error:
            log.error("dropping unreadable pending state edits: %s", error)
            return StateEdits()

    async def start(self) -> None:
        if not self._running:
            if self.config.workers and self.workers is None:
                await self._start_workers()
            self._running = True
            self.miner.start()
        if self.config.uses_recovery_worker():
            await self.recovery.start()

    async def _start_workers(self) -> None:
        """Start the worker processes and hand block production the optimistic executor.
        Before mining starts, so the state they are seeded with cannot move; the seeding
        itself (pickling and sending the whole state) runs off the loop."""
        config = self.config
        head = self.chain.head_number

        def start() -> WorkerPool:
            pool = WorkerPool(
                config.workers,
                WorkerConfig(
                    config.engine,
                    config.hot_threshold,
                    config.native_cache_dir,
                    config.native_runs,
                ),
                self.db.resident,
                head,
            )
            pool.wait_ready(60.0)  # started and seeded before the first block
            return pool

        try:
            pool = await asyncio.to_thread(start)
        except OSError as error:
            log.error("worker processes could not start (%s): executing serially", error)
            return
        self.workers = pool
        self.producer.executor = OptimisticExecutor(pool, self.engine.runner, self._unsigned)

    async def stop(self) -> None:
        if self._running:
            self._running = False
            await self.miner.stop()
        await self.recovery.close()
        self.close()

    def close(self) -> None:
        """Stop the engine's compile thread and close the database."""
        try:
            if self._persist_pending:
                self._persist_edits()
            if self.pool_store is not None:
                self.pool_store.flush()
            self.simulation_worker.close()
            if self.workers is not None:
                self.workers.close()
            for engine in self.simulation_engines.all():
                engine.close()
            self.engine.close()
        finally:
            self.db.close()
            if self.fork is not None:
                self.fork.close()

    def _publish(self, event: ChainEvent) -> None:
        if not isinstance(event, BlockSealed):
            self.publisher.publish(event)
            return
        block = event.block
        if self.config.console_log and any(event.console) and not self._activity_listeners:
            # With a node log listening (subscribe_activity) the lines go under their
            # transaction there instead.
            for tx, calls in zip(block.transactions, event.console, strict=True):
                log_console_calls(calls, f"transaction 0x{tx.hash.hex()} (block {block.number})")
        if self.workers is not None:
            self.workers.apply(block, self.db.resident)
        if self._unsigned:
            self._unsigned.difference_update(tx.hash for tx in block.transactions)
        self.publisher.publish(event)

    def subscribe(self, listener: Callable[[ChainEvent], None]) -> Callable[[], None]:
        """Every published event, in order: ``BlockSealed``, ``MiniBlockPreconfirmed``
        (two-tier mode) and ``ChainReverted``."""
        return self.publisher.subscribe(listener)

    def subscribe_blocks(self, listener: Callable[[MiniBlock], None]) -> Callable[[], None]:
        """Each sealed block (the ``BlockSealed`` events of the stream)."""

        def on_event(event: ChainEvent) -> None:
            if isinstance(event, BlockSealed):
                listener(event.block)

        return self.publisher.subscribe(on_event)

    def subscribe_mini_blocks(
        self, listener: Callable[[MiniBlockPreconfirmed], None]
    ) -> Callable[[], None]:
        """Each preconfirmed mini-block (two-tier mode's ``MiniBlockPreconfirmed``)."""

        def on_event(event: ChainEvent) -> None:
            if isinstance(event, MiniBlockPreconfirmed):
                listener(event)

        return self.publisher.subscribe(on_event)

    @property
    def two_tier(self) -> bool:
        """Mini-blocks preconfirm into EVM blocks (``--evm-block-time``)."""
        return self.producer.evm_block_time is not None

    def subscribe_reverts(self, listener: Callable[[ChainReverted], None]) -> Callable[[], None]:
        """Each revert (the ``ChainReverted`` events of the stream)."""

        def on_event(event: ChainEvent) -> None:
            if isinstance(event, ChainReverted):
                listener(event)

        return self.publisher.subscribe(on_event)

    def subscribe_activity(self, listener: Callable[[BlockActivity], None]) -> Callable[[], None]:
        """Each sealed block as the node log shows it (``sequencer.activity``): its
        transactions' outcomes and console.log lines. While one listens, the node no
        longer logs transactions' console.log lines itself: the listener prints them
        under their transaction."""
        console = self.config.console_log

        def on_event(event: ChainEvent) -> None:
            if isinstance(event, BlockSealed):
                listener(block_activity(event, console=console))

        unsubscribe = self.publisher.subscribe(on_event)
        self._activity_listeners += 1
        listening = True

        def stop() -> None:
            nonlocal listening
            if listening:  # a second call does nothing
                listening = False
                self._activity_listeners -= 1
                unsubscribe()

        return stop

    def subscribe_pending(self, listener: Callable[[Transaction], None]) -> Callable[[], None]:
        self._pending_listeners.append(listener)
        return lambda: self._pending_listeners.remove(listener)

    # ------------------------------------------------------------ transactions

    async def send_raw_transaction(self, raw: bytes) -> Hash32:
        """Admit a signed transaction; return its hash once its block is sealed (at once
        when it waits behind a nonce gap, or when mining is not automatic)."""
        # The sender comes from the recovery worker (another core) when it runs. Even a
        # lone submission goes there: the hop adds ~0.2 ms of latency, but the loop's core
        # is free meanwhile and submissions arriving together seal in fewer, larger blocks
        # (closed loop, 8 clients: +13% tx/s). None (worker not running, or it rejected
        # the bytes) decodes inline, raising the exact error.
        try:
            # A blob transaction may come in its network form (with blobs, commitments
            # and proofs); the chain keeps only the canonical form.
            raw, sidecar = split_network_form(raw)
            sender = self._impersonated_signer(raw)
            if sender is None and self.recovery.running:
                sender = await self.recovery.recover(raw)
            tx = decode_transaction(raw, known_sender=sender)
            if sidecar is not None:
                verify_sidecar(sidecar, tx.blob_versioned_hashes)
        except InvalidTransactionEncoding as error:
            raise TransactionRejected(str(error)) from None
        return await self.submit(tx, raw)

    def _impersonated_signer(self, raw: bytes) -> Address | None:
        """The address anvil_impersonateSignature tied to ``raw``'s signature, if any."""
        if not self._signature_senders:
            return None
        placeholder = decode_transaction(raw, known_sender=b"\x00" * 20)
        key = placeholder.r.to_bytes(32, "big") + placeholder.s.to_bytes(32, "big")
        return self._signature_senders.get(key)

    async def submit(self, tx: Transaction, raw: bytes) -> Hash32:
        """Admit ``tx``; answer once its block is sealed when it is ready and mining is
        automatic, else once it is on disk (the pool store): an acknowledged transaction
        survives a kill. A ready one waiting for its block is not written (its answer is
        the block, which holds it) unless it stops waiting without being mined."""
        admission = self.pool.add(tx, raw)
        entry = admission.entry
        for listener in list(self._pending_listeners):
            try:
                listener(tx)
            except Exception:
                log.exception("pending listener failed")
        if admission.ready and self.miner.mode.auto and self._running:
            included = await self.waiters.wait(tx.hash)
            if included is not None:
                if self.config.hardhat_compat and not included.success:
                    # Hardhat's automine: a send whose transaction reverted is answered
                    # with the revert (the transaction is mined all the same).
                    raise ExecutionReverted(included.output, decode_revert_reason(included.output))
                return tx.hash
            # None: it waits queued now (an earlier nonce was dropped): answered as such.
        await self._acknowledge(entry)
        return tx.hash

    async def _acknowledge(self, entry: PoolTx) -> None:
        """Write ``entry`` to disk before its sender learns its hash (one batch per loop
        step for every transaction acknowledged in it)."""
        store = self.pool_store
        if store is None:
            return
        self.pool.persist(entry, unsigned=entry.tx.hash in self._unsigned)
        await store.written()

    def next_blob_base_fee(self) -> int:
        """The next block's EIP-4844 blob base fee (what the pool admits against)."""
        head = self.chain.head
        assert head is not None
        return self.rules.blob_base_fee(next_excess_blob_gas(head.header, self.rules))

    async def fill_transaction(self, request: CallRequest) -> Transaction:
        """eth_sendTransaction / eth_signTransaction: defaults for every missing field,
        signed with the dev key of ``request.sender`` (or impersonated)."""
        self._check_can_send(request)
        return self.signer.sign(await self.fill_request(request))

    def _check_can_send(self, request: CallRequest) -> None:
        sender = request.sender
        if sender is not None and not self.signer.can_send(sender):
            raise NodeError(f"unknown account 0x{sender.hex()}")

    async def fill_request(self, request: CallRequest) -> Transaction:
        """eth_fillTransaction: ``request`` with every missing field filled, unsigned.
        A missing gas is estimated off the loop, like eth_estimateGas."""
        if request.gas is None and request.sender is not None:
            gas = await self.estimate_gas(request, self.chain.head_number + 1, None, None)
            request = replace(request, gas=gas)
        return self._fill_request_now(request)

    def _fill_request_now(self, request: CallRequest) -> Transaction:
        return self.signer.fill(
            request,
            self.config.chain.chain_id,
            self.pending_nonce,
            lambda r: self.simulator.estimate_gas(r, self.chain.head_number + 1, None, None),
            self.gas_price,
            self.next_base_fee,
            self.priority_fee,
        )

    async def send_unsigned_transaction(self, request: CallRequest) -> Hash32:
        """eth_sendUnsignedTransaction (anvil): sent for ``from`` without a signature,
        whether or not it is impersonated."""
        tx = impersonated(await self.fill_request(request))
        self._unsigned.add(tx.hash)
        return await self.submit(tx, tx.encode())

    async def fill_unsigned(self, request: CallRequest) -> Transaction:
        """eth_fillTransaction: filled like a send, with a placeholder signature."""
        return impersonated(await self.fill_request(request))

    async def send_transaction(self, request: CallRequest) -> Hash32:
        tx = await self.fill_transaction(request)
        if tx.sender not in self.signer.keys:
            self._unsigned.add(tx.hash)
        return await self.submit(tx, tx.encode())

    async def wait_for_receipt(self, tx_hash: Hash32, timeout: float) -> bool:
        """Wait until ``tx_hash`` is in a block, or preconfirmed in two-tier mode
        (EIP-7966); False on timeout."""
        if self.locate_transaction(tx_hash) is not None:
            return True

        def holds(event: ChainEvent) -> bool:
            if isinstance(event, ChainReverted):
                return False
            first = event.info.first_tx if isinstance(event, MiniBlockPreconfirmed) else 0
            return any(tx.hash == tx_hash for tx in event.block.transactions[first:])

        return await self._wait_for_event(holds, timeout)

    async def _wait_for_event(self, done: Callable[[ChainEvent], bool], timeout: float) -> bool:
        """Wait until a published event makes ``done`` true; False on timeout."""
        found: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

        def on_event(event: ChainEvent) -> None:
            if not found.done() and done(event):
                found.set_result(True)

        unsubscribe = self.subscribe(on_event)
        try:
            await asyncio.wait_for(found, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            unsubscribe()

    def pool_transaction(self, tx_hash: Hash32) -> Transaction | None:
        return self.pool.get(tx_hash)

    def dev_key(self, address: Address) -> bytes | None:
        return self.signer.keys.get(address)

    # ------------------------------------------------------------ state reads

    @property
    def head_number(self) -> int:
        return self.chain.head_number

    @property
    def head_state(self) -> StateReader:
        """The newest state: the committed head with the pending dev edits; in two-tier
        mode with an EVM block open, that block's state after its last mini-block (the
        pool's nonces, ``latest`` reads)."""
        open_evm = self.producer.open
        if open_evm is not None:
            return open_evm.block.state
        return self.edits.over(self.db.head)

    def state_at(self, number: int) -> StateReader:
        """The state after block ``number``; head + 1 is the pending block (``resolve``)."""
        head = self.chain.head_number
        if number > head:
            return OverlayView(self.db.head, self.producer.pending().diff)
        if self.fork is not None and number < self.fork.point.number:
            return self.fork.state_at(number)  # the upstream's own blocks
        if number == head:
            # The open EVM block's edits are its own: the sealed head is the committed one.
            return self.db.head if self.producer.open is not None else self.head_state
        try:
            return self.db.at(number)
        except HistoryUnavailable:
            raise NodeError(
                f"state of block {number} is no longer available: the node keeps "
                f"{self.config.history_window} blocks of history (oldest: "
                f"{self.db.oldest_available})"
            ) from None

    def account(self, address: Address, number: int) -> Account | None:
        try:
            return self.state_at(number).get_account(address)
        except HistoryUnavailable:
            raise NodeError(f"state of block {number} is no longer available") from None

    def code(self, address: Address, number: int) -> bytes:
        state = self.state_at(number)
        account = state.get_account(address)
        if account is None or account.code_hash == EMPTY_CODE_HASH:
            return b""
        return state.get_code(account.code_hash)

    def chain_meta(self, key: bytes) -> bytes | None:
        """A chain-meta record (debug_dbGet), None if there is none under ``key``."""
        return self.chain.meta(key)

    def code_by_hash(self, code_hash: Hash32) -> bytes:
        """debug_codeByHash: the code stored under ``code_hash``; empty if none is."""
        if code_hash == EMPTY_CODE_HASH:
            return b""
        try:
            return self.db.head.get_code(code_hash)
        except KeyError:
            return b""

    def storage(self, address: Address, slot: int, number: int) -> int:
        return self.state_at(number).get_storage(address, slot)

    def pending_nonce(self, address: Address) -> int:
        account = self.head_state.get_account(address)
        return self.pool.pending_nonce(address, account.nonce if account else 0)

    # ------------------------------------------------------------ chain reads

    def resolve(
        self,
        number: int | None,
        block_hash: Hash32 | None,
        tag: str | None,
        *,
        for_state: bool = False,
    ) -> int:
        """A block selector to a number; ``ResourceNotFound`` if there is no such block.
        ``for_state``: the selector names the state a read runs on; in two-tier mode
        ``latest`` is then the pending block (the newest mini-block's state), while
        numbered, ``safe`` and ``finalized`` reads see sealed EVM blocks."""
        head = self.chain.head_number
        if block_hash is not None:
            found = self.chain.number_of_hash(block_hash)
            if found is None:
                raise ResourceNotFound(f"block 0x{block_hash.hex()} not found")
            return found
        if number is not None:
            if number > head:
                raise ResourceNotFound("header not found")
            return number
        if tag == "earliest":
            return 0
        if tag == "pending" or (for_state and tag in (None, "latest") and self.two_tier):
            return head + 1
        return head

    def block(self, number: int) -> MiniBlock | None:
        return self.chain.block_by_number(number)

    async def block_access_list(
        self, number: int | None, block_hash: Hash32 | None, tag: str | None
    ) -> BlockAccessList | None:
        """Block's EIP-7928 access list; None for an unknown block (or ``pending``: it is
        not sealed yet). An Amsterdam block's is stored with it at the seal (and by a
        replica that verified it) and read back; any other is built by replaying the
        block on its parent state (the history window's), off the loop, and a header
        that commits to a hash must get a list with that hash."""
        try:
            found = self.resolve(number, block_hash, tag)
        except ResourceNotFound:
            return None
        if found > self.chain.head_number:
            return None
        if found == 0:
            return BlockAccessList()  # genesis ran no index
        stored = self.chain.meta(record_key(found))
        if stored is not None:
            try:
                return decode_bal(stored)
            except InvalidBlockAccessList as error:
                raise NodeError(f"block {found}'s stored access list is corrupt: {error}") from None
        replay = self._pinned_replay(found)
        return await self.simulation_worker.run(replay.access_list)

    def _pinned_replay(self, number: int) -> BlockReplay:
        """Block ``number``'s replay, with everything it reads pinned now, on the loop
        (as ``_pinned_simulator`` does); its methods run on a worker thread."""
        block = self.chain.block_by_number(number)
        parent = self.chain.block_by_number(number - 1)
        if block is None or parent is None:
            raise ResourceNotFound(f"block {number} not found")
        try:
            base = self.db.at(number - 1)
        except HistoryUnavailable:
            raise NodeError(
                f"state of block {number - 1} is no longer available to replay block "
                f"{number}: the node keeps {self.config.history_window} blocks of history "
                f"(oldest: {self.db.oldest_available})"
            ) from None
        env = sealed_env(
            block.header,
            self.config.chain.chain_id,
            self.rules,
            self.chain.block_hashes_at(number),
        )
        raw_edits = self.chain.meta(block_edits_key(number))
        edits = StateEdits.decode(raw_edits).diff if raw_edits is not None else None
        builder = BlockBuilder(self.db, self.rules, self._simulation_runner())
        return BlockReplay(builder, parent, block, env, base, edits)

    async def upstream_transaction(self, method: str, tx_hash: Hash32) -> dict[str, Any] | None:
        """Fork mode: the upstream's answer to ``method`` (``eth_getTransactionByHash``,
        ``eth_getTransactionReceipt``) about ``tx_hash`` if the upstream mined it at or
        below the fork block; None otherwise (a transaction it mined later is not this
        chain's), and None without a fork."""
        fork = self.fork
        if fork is None:
            return None
        answer = await self.upstream_history(method, ["0x" + tx_hash.hex()])
        number = answer.get("blockNumber") if isinstance(answer, dict) else None
        try:
            mined = int(number, 16) if isinstance(number, str) else None
        except ValueError:
            mined = None
        if mined is None or mined > fork.point.number:
            return None
        assert isinstance(answer, dict)
        return answer

    async def _upstream_replay(self, number: int) -> BlockReplay:
        """Fork mode: upstream block ``number``'s replay on the upstream's state before
        it (fetched off the loop). Replayed under this node's rules, so a block of an
        upstream on other rules (another hardfork) is reported as diverging."""
        fork = self.fork
        assert fork is not None
        if number == 0:
            raise NodeError("genesis is not traceable")

        def fetch() -> tuple[MiniBlock, MiniBlock, StateReader]:
            block = fork.replay_block(number)
            parent_header = fork.header_at(number - 1)
            parent = MiniBlock(parent_header, block.header.parent_hash, (), (), 0, ())
            return block, parent, fork.state_at(number - 1)

        try:
            block, parent, base = await asyncio.to_thread(fetch)
        except UpstreamError as error:
            raise NodeError(f"cannot replay upstream block {number}: {error}") from None
        env = sealed_env(
            block.header,
            self.config.chain.chain_id,
            self.rules,
            self.chain.block_hashes_at(number),
        )
        builder = BlockBuilder(self.db, self.rules, self._simulation_runner())
        return BlockReplay(builder, parent, block, env, base, None)

    # ------------------------------------------------------------ replica
    #
    # A replica's blocks come from its sequencer's replication stream (rpc.replica):
    # applied, not executed; the state root the diff gives must be the header's.

    def apply_replicated(
        self,
        block: MiniBlock,
        edits: bytes | None = None,
        *,
        verify: bool = False,
        signed: SignedMiniBlockHeader | None = None,
    ) -> None:
        """Commit block ``block`` (with its diff) as the sequencer sealed it, and publish
        it to this node's subscribers and filters. ``edits``: the dev edits record the
        block carried (kept for replays and traces of it). With ``verify``, the block is
        first executed again here and must come out the same. ``ReplicaMismatch`` if it
        does not follow the head, its diff does not give its state root, or (``verify``)
        its transactions do not make it (nothing is written). ``signed``: the block's
        mini-block signature (checked by the caller), kept and published with it, so the
        replica's own ``miniBlocks`` subscribers get it as the sequencer's do."""
        head = self.chain.head
        assert head is not None
        if block.diff is None:
            raise ReplicaMismatch(f"block {block.number} came without its state diff")
        if block.number != head.number + 1 or block.header.parent_hash != head.hash:
            raise ReplicaMismatch(
                f"block {block.number} (parent 0x{block.header.parent_hash.hex()}) does not "
                f"follow the head {head.number} (0x{head.hash.hex()})"
            )
        open_evm = self.producer.open
        if open_evm is not None and open_evm.env.number == block.number:
            self._check_preconfirmations(open_evm, block)
        access_list = self._verify_replicated(head, block, edits) if verify else None
        prepared = self.db.prepare(block.diff, normalised=True)
        if prepared.state_root != block.header.state_root:
            raise ReplicaMismatch(
                f"block {block.number}: its diff gives state root 0x{prepared.state_root.hex()}, "
                f"the header says 0x{block.header.state_root.hex()}"
            )
        records = self.chain.records(block)
        if signed is not None:
            records[CF_BLOCKS][signature_key(block.number)] = encode_signature_record(
                signed.header.mini_block_timestamp, signed.signature
            )
        if edits is not None:
            records.setdefault(CF_CHAIN_META, {})[block_edits_key(block.number)] = edits
        if access_list is not None:  # verified: kept, as the sequencer keeps its own
            records.setdefault(CF_CHAIN_META, {})[record_key(block.number)] = access_list
        self.db.commit(block.number, prepared, records, fresh=FRESH_CHAIN_CFS)
        self.chain.appended(block)
        self.producer.open = None  # its preconfirmations are in the sealed block now
        self._publish(
            BlockSealed(
                block,
                tuple(b"" for _ in block.encoded),
                mini=None if signed is None else signed.header,
                signature=None if signed is None else signed.signature,
            )
        )

    def preconfirm_replicated(
        self,
        saved: JournaledEnv,
        preconfirmed: PreconfirmedCopy,
        *,
        snapshot: bool = False,
    ) -> None:
        """Two-tier sequencer: a mini-block it preconfirmed (``snapshot``: its open EVM
        block so far, sent when this replica starts following). Kept as this replica's
        open block, which ``latest`` reads, receipts and subscriptions see until the
        sealed EVM block arrives; ``ReplicaMismatch`` if it does not fit."""
        head = self.chain_head
        info = preconfirmed.info
        if saved.number != head.number + 1 or preconfirmed.parent_hash != head.hash:
            raise ReplicaMismatch(
                f"a mini-block of block {saved.number} (parent "
                f"0x{preconfirmed.parent_hash.hex()}) does not follow the head {head.number}"
            )
        env = self.producer.env_of(saved)
        producer = self.producer
        open_evm = producer.open
        if snapshot or open_evm is None or open_evm.env.number != env.number:
            if not snapshot and info.index != 0:
                raise ReplicaMismatch(
                    f"mini-block {info.index} of block {env.number} came before its first"
                )
            open_evm = OpenEvmBlock(OpenBlock(env, head, self.db.head), info.number - info.index)
            producer.open = open_evm
        elif info.index != open_evm.minis[-1].index + 1:
            raise ReplicaMismatch(
                f"mini-block {info.index} of block {env.number} after {open_evm.minis[-1].index}"
            )
        open_evm.add_replicated(
            preconfirmed.transactions,
            preconfirmed.raws,
            preconfirmed.receipts,
            preconfirmed.diff,
            info,
        )
        if preconfirmed.mini is not None:
            self.publisher.publish(
                MiniBlockPreconfirmed(
                    info,
                    open_evm.preview(),
                    preconfirmed.diff,
                    tuple(b"" for _ in preconfirmed.transactions),
                    preconfirmed.mini,
                    preconfirmed.signature,
                )
            )

    @staticmethod
    def _check_preconfirmations(open_evm: OpenEvmBlock, block: MiniBlock) -> None:
        """Two-tier: the sealed EVM block must keep what its mini-blocks preconfirmed
        (each signature-checked as it came): they are its first transactions, in order,
        with the same receipts. ``ReplicaMismatch`` for a block that breaks them."""
        count = len(open_evm.raws)
        if len(block.encoded) < count:
            raise ReplicaMismatch(
                f"block {block.number} has {len(block.encoded)} transactions, its "
                f"mini-blocks preconfirmed {count}"
            )
        for index, (sealed, preconfirmed) in enumerate(
            zip(block.encoded, open_evm.raws, strict=False)
        ):
            if sealed != preconfirmed:
                raise ReplicaMismatch(
                    f"block {block.number}: transaction {index} is not the one its "
                    "mini-blocks preconfirmed"
                )
        receipts = block.receipts[:count]
        for index, (sealed_receipt, preconfirmed_receipt) in enumerate(
            zip(receipts, open_evm.receipts, strict=True)
        ):
            if sealed_receipt != preconfirmed_receipt:
                raise ReplicaMismatch(
                    f"block {block.number}: the receipt of transaction {index} differs from "
                    "the preconfirmed one"
                )

    def _verify_replicated(
        self, parent: MiniBlock, block: MiniBlock, edits: bytes | None
    ) -> bytes | None:
        """Execute ``block``'s transactions on the head and compare the block they make
        (from Amsterdam its header's access list hash too); the access list built, RLP
        (None before Amsterdam)."""
        env = sealed_env(
            block.header,
            self.config.chain.chain_id,
            self.rules,
            self.chain.block_hashes_at(block.number),
        )
        try:
            diff = StateEdits.decode(edits).diff if edits is not None else None
            replay = BlockReplay(
                BlockBuilder(self.db, self.rules, self.engine.runner),
                parent,
                block,
                env,
                self.db.head,
                diff,
                self.verify_executor(),
            )
            sealed = replay.sealed_again()
        except (NodeError, EditError) as error:
            raise ReplicaMismatch(f"block {block.number} does not execute here: {error}") from None
        again = sealed.block
        if again.hash != block.hash:
            differs = [
                name
                for name in (
                    "state_root",
                    "receipts_root",
                    "gas_used",
                    "logs_bloom",
                    "requests_hash",
                    "block_access_list_hash",
                )
                if getattr(again.header, name) != getattr(block.header, name)
            ]
            raise ReplicaMismatch(
                f"block {block.number} executed here differs from the sequencer's: "
                f"{', '.join(differs) or 'header'} (0x{again.hash.hex()} vs 0x{block.hash.hex()})"
            )
        return sealed.access_list_rlp

    def verify_executor(self) -> OptimisticExecutor | None:
        """What re-executes a replicated block (``--verify-execution``): with worker
        processes, the optimistic executor over them (the sequencer's own parallel path:
        shares by sender on the block's parent state, merged in order, conflicts re-run,
        exact by construction; serial where it cannot pay), fed the published blocks
        like every worker, so it is at the block's parent when a block is verified.
        None (the serial oracle) without workers. Its unsigned set is every hash: a
        sealed block's impersonated transactions passed EIP-3607 when they were mined."""
        if self.workers is None:
            return None
        if self._verifier is None or self._verifier.workers is not self.workers:
            self._verifier = OptimisticExecutor(self.workers, self.engine.runner, EVERY_HASH)
        return self._verifier

    def block_signature(self, number: int) -> SignedMiniBlockHeader | None:
        """One-tier block ``number``'s signed mini-block header (None for a block sealed
        unsigned or in two-tier mode, whose mini-blocks are signed one by one)."""
        block = self.chain.block_by_number(number)
        raw = self.db.get_record(CF_BLOCKS, signature_key(number))
        if block is None or raw is None:
            return None
        stamp, signature = decode_signature_record(raw)
        return SignedMiniBlockHeader(one_tier_header(block, stamp), signature)

    @property
    def open_evm_block(self) -> OpenEvmBlock | None:
        """Two-tier mode: the EVM block mini-blocks are being added to (read-only for
        callers: the replication stream sends it to a follower that starts meanwhile)."""
        return self.producer.open

    def replica_snapshot(self) -> ReplicaSnapshot:
        """The head with the whole state as its diff, and up to 256 blocks before it
        (``hummingbird_replicaSnapshot``: a replica's bootstrap past the window)."""
        head = self.chain_head
        resident = self.db.resident
        state = StateDiff(
            accounts=dict(resident.accounts),
            storage={address: dict(slots) for address, slots in resident.storage.items()},
            codes={h: code for h, code in resident.codes.items() if h != EMPTY_CODE_HASH},
        )
        prior = tuple(
            block
            for number in range(max(0, head.number - 256), head.number)
            if (block := self.chain.block_by_number(number)) is not None
        )
        try:
            index = self._index_keys(head.number)
        except HistoryUnavailable:  # a bootstrapped replica's own first block
            index = None
        return ReplicaSnapshot(head.published(state, index), prior)

    def block_edits(self, number: int) -> bytes | None:
        """The dev edits record block ``number`` carried, if any (the replication stream
        sends it with the block)."""
        return self.chain.meta(block_edits_key(number))

    def revert_replicated(self, number: int) -> None:
        """The sequencer's chain was reverted to block ``number``: so is this one."""
        self.producer.open = None
        head = self.chain.head_number
        if number >= head:
            return
        try:
            self.db.revert_to(number)
        except HistoryUnavailable as error:
            raise ReplicaMismatch(f"cannot follow the revert to block {number}: {error}") from None
        for sid in [s for s, snap in self._snapshots.items() if snap.number > number]:
            del self._snapshots[sid]
        self._after_revert(number, head)

    @property
    def chain_head(self) -> MiniBlock:
        """The newest sealed block."""
        head = self.chain.head
        assert head is not None
        return head

    @property
    def replication_floor(self) -> int:
        """The oldest block the replication stream can send (its diff is rebuilt from
        the history window)."""
        return self.db.oldest_changeset

    def replicated_block(self, number: int) -> MiniBlock:
        """Sealed block ``number`` with its normalised state diff, as it was published:
        for a follower catching up (``StateDB.block_diff``)."""
        block = self.chain.block_by_number(number)
        if block is None:
            raise NodeError(f"block {number} not found")
        try:
            diff = self.db.block_diff(number)
            index = self._index_keys(number)
        except HistoryUnavailable:
            raise NodeError(
                f"block {number} left the history window (oldest: {self.replication_floor})"
            ) from None
        return block.published(diff, index)

    def _index_keys(self, number: int) -> IndexKeys:
        """The index keys block ``number``'s commit wrote (in the history window)."""
        return IndexKeys(
            self.db.block_record_keys(number, CF_LOG_INDEX),
            self.db.block_record_keys(number, CF_ADDRESS_INDEX),
        )

    def block_by_hash(self, block_hash: Hash32) -> MiniBlock | None:
        return self.chain.block_by_hash(block_hash)

    def locate_transaction(self, tx_hash: Hash32) -> tuple[MiniBlock, int] | None:
        """The block holding a mined transaction and its index there; a transaction
        preconfirmed in the open EVM block (two-tier mode) is in its preview, under the
        placeholder hash."""
        found = self.chain.locate(tx_hash)
        if found is None and self.producer.open is not None:
            return self.producer.open.locate(tx_hash)
        return found

    def transaction_by_sender_and_nonce(
        self, sender: Address, nonce: int
    ) -> tuple[Transaction, MiniBlock | None, int | None] | None:
        """The pool's or the chain's transaction of ``sender`` with ``nonce``: a binary
        search over the sender's nonce in the history window (O(log blocks) reads)."""
        for tx in self.pool:
            if tx.sender == sender and tx.nonce == nonce:
                return tx, None, None
        head = self.chain.head_number
        account = self.db.head.get_account(sender)
        if account is None or account.nonce <= nonce:
            return None
        lo = max(self.db.oldest_available, 0)  # nonce at lo - 1 may be unknown
        hi = head  # the first block after which the nonce exceeds ``nonce``
        while lo < hi:
            mid = (lo + hi) // 2
            seen = self.db.at(mid).get_account(sender) if mid < head else account
            if seen is not None and seen.nonce > nonce:
                hi = mid
            else:
                lo = mid + 1
        block = self.chain.block_by_number(hi)
        if block is None:
            return None
        for index, tx in enumerate(block.transactions):
            if tx.sender == sender and tx.nonce == nonce:
                return tx, block, index
        return None

    def logs(self, query: LogFilter) -> list[LogEntry]:
        """Logs matching ``query``, on the loop (small queries: a filter's new blocks)."""
        return self.chain.logs(query)

    async def find_logs(self, query: LogFilter) -> list[LogEntry]:
        """eth_getLogs: ``logs`` on the simulation worker under the RPC timeout, since a
        query over a long range can read many blocks. Block and index reads are safe
        while the loop appends (a revert during the query may leave it inconsistent)."""
        chain = self.chain
        return await self.simulation_worker.run(lambda: chain.logs(query))

    async def find_logs_page(
        self, query: LogFilter, after: tuple[int, int] | None, limit: int
    ) -> tuple[list[LogEntry], bool]:
        """One page of ``find_logs`` after position ``after`` (eth_getLogsWithCursor)."""
        chain = self.chain
        return await self.simulation_worker.run(lambda: chain.logs_page(query, after, limit))

    async def wait_for_nonce(self, address: Address, nonce: int, timeout: float) -> bool:
        """Wait until ``address``'s nonce at ``latest`` (the newest mini-block's in two-tier
        mode) reaches ``nonce`` (MegaETH's eth_callAfter); False on timeout."""

        def reached() -> bool:
            account = self.head_state.get_account(address)
            return (account.nonce if account else 0) >= nonce

        if reached():
            return True
        return await self._wait_for_event(lambda _: reached(), timeout)

    def pending_env(self) -> BlockEnv:
        open_evm = self.producer.open
        return open_evm.env if open_evm is not None else self.producer.next_env()

    def pending_block(self) -> MiniBlock:
        """geth's pending block: the next block as it would be sealed now with nothing
        ready (mini-blocks seal ready transactions at once, so it holds none)."""
        return self.producer.pending().block

    def next_base_fee(self) -> int:
        """The next block's EIP-1559 base fee (cheap: no full block environment)."""
        override = self.producer.params.next_base_fee
        if override is not None:
            return override
        head = self.chain.head
        assert head is not None
        return self.producer.next_base_fee(head.header)

    @property
    def priority_fee(self) -> int:
        """The suggested tip (eth_maxPriorityFeePerGas): anvil's 1 gwei; 0 in MegaETH mode."""
        return MEGAETH_PRIORITY_FEE if self.config.megaeth else DEFAULT_PRIORITY_FEE

    def gas_price(self) -> int:
        """eth_gasPrice: next base fee plus the suggested tip."""
        return self.next_base_fee() + self.priority_fee

    # ------------------------------------------------------------ simulation
    #
    # The async verbs run on the simulation worker thread under the RPC timeout
    # (sequencer.offload). What they read is pinned here, on the loop, before the job
    # is queued: a historical view of the block (safe while the loop commits), the
    # pending dev edits copied, the pending block's diff and environment computed.

    def simulate(
        self,
        request: CallRequest,
        number: int,
        overrides: dict[Address, AccountOverride] | None = None,
        block_override: BlockOverride | None = None,
        gas: int | None = None,
    ) -> SimulationResult:
        """Run ``request`` on the loop (internal callers with a known small gas)."""
        return self.simulator.simulate(request, number, overrides, block_override, gas)

    def _env_at(self, number: int) -> BlockEnv:
        """The environment of block ``number``; above the head, the pending block's."""
        if number > self.chain.head_number:
            return self.producer.pending().env
        if self.fork is not None and number < self.fork.point.number:
            # The upstream's own block (its header; BLOCKHASH from the upstream too).
            return sealed_env(
                self.fork.header_at(number),
                self.config.chain.chain_id,
                self.rules,
                self.chain.block_hashes_at(number),
            )
        return chain_env(self.chain, number, self.config.chain.chain_id, self.rules)

    def _pinned(self, number: int) -> tuple[StateReader, BlockEnv]:
        """The state after block ``number`` and its environment, fixed now (on the loop)
        for a job elsewhere: it reads nothing that the loop mutates in place."""
        head = self.chain.head_number
        if number > head:
            pending = self.producer.pending()
            return OverlayView(self._pinned_view(head), pending.diff), pending.env
        env = self._env_at(number)
        if number == head:
            reader = self._pinned_view(head)
            if self.edits:
                reader = OverlayView(reader, self.edits.copy())
            return reader, env
        return self.state_at(number), env

    def _pinned_simulator(self, number: int) -> Simulator:
        """A ``Simulator`` for block ``number`` whose state and environment are pinned
        now, for a worker thread."""
        reader, env = self._pinned(number)
        return pinned_simulator(
            number,
            reader,
            env,
            self.rules,
            self._simulation_runner(),
            self.config.chain.chain_id,
            self.config.rpc_gas_cap,
        )

    async def _off_loop(self, number: int, job: Callable[[Simulator], T]) -> T:
        """``job`` on the simulation worker, given a simulator pinned to block ``number``
        now (on the loop), under the RPC timeout."""
        sim = self._pinned_simulator(number)
        return await self.simulation_worker.run(lambda: job(sim))

    def _simulation_runner(self) -> CodeRunner | None:
        """The code runner for the worker threads: each thread's own engine."""
        if self.engine.runner is None:  # interpreter mode
            return None
        engines = self.simulation_engines

        def run(evm: Evm) -> None:
            runner = engines.get().runner
            assert runner is not None
            runner(evm)

        return run

    def _pinned_view(self, number: int) -> StateReader:
        try:
            return self.db.at(number)
        except HistoryUnavailable:
            raise NodeError(f"state of block {number} is no longer available") from None

    async def _simulate(self, call: SimulationCall) -> object:
        """One simulation verb off the loop: on an idle worker process when one holds
        the state it needs (the head, or the pending block on top of it), else on a
        worker thread (older blocks, no workers, all of them busy)."""
        workers = self.workers
        head = self.chain.head_number
        if workers is not None and call.number >= head and workers.head == head:
            index = workers.idle_for_simulation()
            if index is not None:
                reply = await self._simulate_on_worker(workers, index, call)
                if reply is not None:
                    self._log_console(reply.console, call.verb)
                    if reply.error is not None:
                        raise reply.error
                    return reply.value
        sim = self._pinned_simulator(call.number)
        try:
            return await self.simulation_worker.run(lambda: sim.run(call))
        finally:
            self._log_console(sim.console, call.verb)

    def _log_console(self, calls: tuple[bytes, ...], verb: SimulationVerb) -> None:
        if calls and self.config.console_log:
            names = {
                SimulationVerb.CALL: "eth_call",
                SimulationVerb.ESTIMATE_GAS: "eth_estimateGas",
                SimulationVerb.CREATE_ACCESS_LIST: "eth_createAccessList",
            }
            log_console_calls(calls, names[verb])

    async def _simulate_on_worker(
        self, workers: WorkerPool, index: int, call: SimulationCall
    ) -> Simulated | None:
        """``call`` on worker ``index``; None if it cannot serve it (stale, broken)."""
        head = self.chain.head_number
        if call.number > head:
            pending = self.producer.pending()
            base: StateDiff | None = pending.diff
            env = pending.env
        else:
            base = self.edits.copy() if self.edits else None
            env = self._env_at(head)
        timeout = self.simulation_worker.timeout
        message = Simulate(
            workers.next_request_id(),
            head,
            self.rules.key,
            self.config.chain.chain_id,
            self.config.rpc_gas_cap,
            timeout,
            env,
            base,
            call,
        )
        reply = await workers.simulate(index, message, timeout)
        if reply is None:
            return None
        if reply.timed_out:
            raise CallTimeout(timeout)
        return None if reply.stale else reply

    async def call(
        self,
        request: CallRequest,
        number: int,
        overrides: dict[Address, AccountOverride] | None = None,
        block_override: BlockOverride | None = None,
    ) -> bytes:
        call = SimulationCall(SimulationVerb.CALL, request, number, overrides, block_override)
        output = await self._simulate(call)
        assert isinstance(output, bytes)
        return output

    async def estimate_gas(
        self,
        request: CallRequest,
        number: int,
        overrides: dict[Address, AccountOverride] | None,
        block_override: BlockOverride | None,
    ) -> int:
        call = SimulationCall(
            SimulationVerb.ESTIMATE_GAS, request, number, overrides, block_override
        )
        gas = await self._simulate(call)
        assert isinstance(gas, int)
        return gas

    async def create_access_list(
        self,
        request: CallRequest,
        number: int,
        overrides: dict[Address, AccountOverride] | None,
        block_override: BlockOverride | None,
    ) -> tuple[tuple[tuple[Address, tuple[int, ...]], ...], int, str | None]:
        call = SimulationCall(
            SimulationVerb.CREATE_ACCESS_LIST, request, number, overrides, block_override
        )
        result = await self._simulate(call)
        return cast(tuple[tuple[tuple[Address, tuple[int, ...]], ...], int, str | None], result)

    # ------------------------------------------------------------ tracing (issue 16)

    async def trace_transaction(self, tx_hash: Hash32, options: TraceOptions) -> TraceResult:
        """debug_traceTransaction: the mined transaction re-run after its block's prefix
        (``sequencer.replay``) with the tracer ``options`` name, off the loop. In fork
        mode an upstream transaction (mined at or below the fork block) is replayed on
        the upstream's state before its block (``cast run`` of a mainnet transaction)."""
        found = self.chain.locate(tx_hash)
        upstream = (
            None
            if found is not None
            else await self.upstream_transaction("eth_getTransactionByHash", tx_hash)
        )
        if found is not None:
            if found[0].number == self.genesis_number:
                raise NodeError("genesis is not traceable")
            replay = self._pinned_replay(found[0].number)
        elif upstream is not None:
            replay = await self._upstream_replay(int(upstream["blockNumber"], 16))
            index = transaction_index(replay.block, tx_hash)
            if index is None:
                raise ResourceNotFound(f"transaction 0x{tx_hash.hex()} not found")
            found = (replay.block, index)
        else:
            raise ResourceNotFound(f"transaction 0x{tx_hash.hex()} not found")
        block, index = found
        tx = block.transactions[index]
        max_bytes = self.config.max_trace_bytes

        def job() -> TraceResult:
            tracer = new_tracer(options, max_bytes, replay.env.coinbase)
            return trace_result(tracer, options, tx, replay.trace(index, tracer))

        return await self.simulation_worker.run(job)

    async def trace_block(
        self, number: int, options: TraceOptions
    ) -> list[tuple[Hash32, TraceResult]]:
        """debug_traceBlockByNumber / ByHash: every transaction of block ``number``
        (in fork mode, an upstream block at or below the fork block too)."""
        if number == 0:
            return []
        if self.fork is not None and number <= self.fork.point.number:
            replay = await self._upstream_replay(number)
        else:
            replay = self._pinned_replay(number)
        txs = replay.block.transactions
        max_bytes = self.config.max_trace_bytes

        def job() -> list[tuple[Hash32, TraceResult]]:
            tracers = [new_tracer(options, max_bytes, replay.env.coinbase) for _ in txs]
            outcomes = replay.trace_all(tracers)
            return [
                (tx.hash, trace_result(tracer, options, tx, outcome))
                for tx, tracer, outcome in zip(txs, tracers, outcomes, strict=True)
            ]

        return await self.simulation_worker.run(job)

    async def trace_call(
        self,
        request: CallRequest,
        number: int,
        overrides: dict[Address, AccountOverride] | None,
        block_override: BlockOverride | None,
        options: TraceOptions,
    ) -> TraceResult:
        """debug_traceCall: ``request`` simulated at block ``number`` with the tracer."""
        max_bytes = self.config.max_trace_bytes

        def job(sim: Simulator) -> TraceResult:
            coinbase = sim.env_for(number, block_override).coinbase
            tracer = new_tracer(options, max_bytes, coinbase)
            result = sim.simulate(request, number, overrides, block_override, tracer=tracer)
            return trace_result(tracer, options, result.tx, result.outcome)

        return await self._off_loop(number, job)

    async def storage_range_at(
        self, block_hash: Hash32, tx_index: int, address: Address, key_start: Hash32, limit: int
    ) -> tuple[list[tuple[Hash32, int, int]], Hash32 | None]:
        """debug_storageRangeAt: ``address``'s storage as transaction ``tx_index`` of the
        block found it, ordered by the slots' keccak (geth's trie order), from
        ``key_start`` on: up to ``limit`` (hashed slot, slot, value), and the next hashed
        slot (None at the end)."""
        number = self.chain.number_of_hash(block_hash)
        if number is None:
            raise ResourceNotFound(f"block 0x{block_hash.hex()} not found")
        block = self.chain.block_by_number(number)
        if block is None or number == 0:
            raise ResourceNotFound(f"block 0x{block_hash.hex()} not found")
        if not 0 <= tx_index <= len(block.transactions):
            raise InvalidInput(
                f"transaction index {tx_index} out of range (block has {len(block.transactions)})"
            )
        replay = self._pinned_replay(number)

        def job() -> tuple[list[tuple[Hash32, int, int]], Hash32 | None]:
            state = replay.state_before(tx_index)
            slots = sorted(
                (keccak256(slot.to_bytes(32, "big")), slot) for slot in state.storage_slots(address)
            )
            out: list[tuple[Hash32, int, int]] = []
            for hashed, slot in slots:
                if hashed < key_start:
                    continue
                value = state.get_storage(address, slot)
                if not value:
                    continue
                if len(out) == limit:
                    return out, hashed
                out.append((hashed, slot, value))
            return out, None

        return await self.simulation_worker.run(job)

    async def trace_call_many(
        self, requests: Sequence[CallRequest], number: int, options: TraceOptions
    ) -> list[TraceResult]:
        """trace_callMany: ``requests`` simulated one after another on block ``number``,
        each on the state the ones before it left, each with its own tracer."""
        if len(requests) > MAX_CALL_MANY:
            raise InvalidInput(f"too many calls ({len(requests)}, limit {MAX_CALL_MANY})")
        reader, env = self._pinned(number)
        max_bytes = self.config.max_trace_bytes
        runner = self._simulation_runner()
        chain_id = self.config.chain.chain_id

        def job() -> list[TraceResult]:
            changes = StateDiff()
            out: list[TraceResult] = []
            for request in requests:
                sim = pinned_simulator(
                    number,
                    OverlayView(reader, changes),
                    env,
                    self.rules,
                    runner,
                    chain_id,
                    self.config.rpc_gas_cap,
                )
                tracer = new_tracer(options, max_bytes, env.coinbase)
                result = sim.simulate(request, number, tracer=tracer)
                changes.merge(result.outcome.diff)
                out.append(trace_result(tracer, options, result.tx, result.outcome))
            return out

        return await self.simulation_worker.run(job)

    # ------------------------------------------------------------ address history (ots_)

    def address_appearances(
        self, address: Address, block: int, before: bool, limit: int
    ) -> list[tuple[int, int]]:
        """(block, transaction index) of the transactions whose call traces or logs name
        ``address`` (``Chain.appearances``),
        strictly before ``block`` (newest first) or after it (oldest first)."""
        return self.chain.appearances(address, block, before, limit)

    async def contract_creator(self, address: Address) -> tuple[Hash32, Address] | None:
        """(creating transaction hash, creator) of the contract at ``address``: the
        deploy transaction's sender, or for a contract made by another contract (CREATE
        / CREATE2 inside a transaction) that contract, found by locating the block the
        code appeared in (a binary search over the history window) and tracing it.
        None for an account without code, one that had it at genesis, or one whose
        creation is older than the history window."""
        head = self.chain.head_number
        account = self.db.head.get_account(address)
        if account is None or account.code_hash == EMPTY_CODE_HASH:
            return None
        if self.db.head.get_code(account.code_hash).startswith(DELEGATION_PREFIX):
            return None  # an EIP-7702 delegation: an account, not a created contract
        for number, index in self.chain.appearances(address, -1, False, 64):
            block = self.chain.block_by_number(number)
            if block is not None and block.receipts[index].contract_address == address:
                tx = block.transactions[index]
                return tx.hash, tx.sender

        def has_code(number: int) -> bool:
            found = self.db.at(number).get_account(address)
            return found is not None and found.code_hash != EMPTY_CODE_HASH

        lo = max(self.db.oldest_available, 0)
        if has_code(lo):
            return None  # at genesis, or created before the history window
        hi = head  # has_code(hi) and not has_code(lo)
        while lo + 1 < hi:
            mid = (lo + hi) // 2
            if has_code(mid):
                hi = mid
            else:
                lo = mid
        block = self.chain.block_by_number(hi)
        if block is None:
            return None
        for tx in block.transactions:
            frame = await self.trace_transaction(tx.hash, TraceOptions("callTracer"))
            found = _creator_in(frame, address) if isinstance(frame, CallFrame) else None
            if found is not None:
                return tx.hash, found
        return None

    async def simulate_v1(
        self,
        specs: Sequence[SimulatedBlockSpec],
        number: int,
        *,
        validation: bool = False,
        trace_transfers: bool = False,
    ) -> list[SimulatedBlock]:
        """eth_simulateV1: simulated blocks on top of block ``number``; commits nothing."""
        return await self._off_loop(
            number,
            lambda sim: simulate_v1(
                sim,
                self.chain,
                number,
                specs,
                validation=validation,
                trace_transfers=trace_transfers,
            ),
        )

    # ------------------------------------------------------------ dev: mining

    @property
    def mining_mode(self) -> MiningMode:
        return self.miner.mode

    @property
    def automine(self) -> bool:
        return self.miner.mode.auto

    async def set_mining_mode(self, mode: MiningMode) -> None:
        await self.miner.set_mode(mode)
        if mode.auto:
            self.pool.on_block()  # what waited while mining was manual seals now

    def _produce_empty(self) -> MiniBlock:
        block = self.producer.produce(allow_empty=True)
        assert block is not None
        return block

    def mine(self, blocks: int = 1, interval: int | None = None) -> list[MiniBlock]:
        """Seal ``blocks`` blocks now with whatever is ready (possibly empty).

        ``interval`` (anvil_mine): the clock moves ``interval`` seconds before the first
        block, and each later block is exactly ``interval`` after the one before. anvil
        adds the interval to its offset before each block instead, so a wall-clock second
        passing during the call adds one; the blocks of one call being exactly spaced is
        what callers check (viem's test client).
        """
        if type(blocks) is not int or not 0 <= blocks <= MAX_MINE_BLOCKS:
            raise InvalidInput(f"number of blocks must be in 0..{MAX_MINE_BLOCKS}, got {blocks}")
        mined: list[MiniBlock] = []
        try:
            for _ in range(blocks):
                if interval is not None and mined:
                    parent = mined[-1].header.timestamp
                    self.clock.set_next(min(parent + interval, MAX_TIMESTAMP), parent)
                elif interval is not None:
                    self.clock.increase(interval)
                mined.append(self._produce_empty())
        except ClockError as error:
            raise InvalidInput(str(error)) from None
        return mined

    def mine_spaced(self, blocks: int, interval: int) -> list[MiniBlock]:
        """hardhat_mine: ``blocks`` blocks, the first at the usual time and each later one
        exactly ``interval`` seconds after the one before."""
        if type(blocks) is not int or not 0 <= blocks <= MAX_MINE_BLOCKS:
            raise InvalidInput(f"number of blocks must be in 0..{MAX_MINE_BLOCKS}, got {blocks}")
        if blocks == 0:
            return []
        mined = [self._produce_empty()]
        try:
            for _ in range(blocks - 1):
                parent = mined[-1].header.timestamp
                self.clock.set_next(parent + interval, parent)
                mined.append(self._produce_empty())
        except ClockError as error:
            raise InvalidInput(str(error)) from None
        return mined

    def mine_at(self, timestamp: int | None, blocks: int = 1) -> list[MiniBlock]:
        """evm_mine: the first block at ``timestamp`` (if given), then ``blocks - 1`` more."""
        if timestamp is not None:
            self.set_next_block_timestamp(timestamp)
        return self.mine(blocks)

    # ------------------------------------------------------------ dev: time

    def _parent_timestamp(self) -> int:
        head = self.chain.head
        assert head is not None
        return head.header.timestamp

    def increase_time(self, seconds: int) -> int:
        try:
            return self.clock.increase(seconds)
        except ClockError as error:
            raise InvalidInput(str(error)) from None

    def set_next_block_timestamp(self, timestamp: int) -> None:
        try:
            self.clock.set_next(timestamp, self._parent_timestamp())
        except ClockError as error:
            raise InvalidInput(str(error)) from None

    def set_time(self, timestamp: int) -> int:
        try:
            return self.clock.set_time(timestamp)
        except ClockError as error:
            raise InvalidInput(str(error)) from None

    def set_block_timestamp_interval(self, seconds: int) -> None:
        try:
            self.clock.set_interval(seconds)
        except ClockError as error:
            raise InvalidInput(str(error)) from None

    def remove_block_timestamp_interval(self) -> bool:
        return self.clock.remove_interval()

    # ------------------------------------------------------------ dev: state edits

    def edit_state(
        self,
        address: Address,
        *,
        balance: int | None = None,
        add_balance: int | None = None,
        nonce: int | None = None,
        code: bytes | None = None,
        storage: tuple[int, int] | None = None,
    ) -> None:
        """Change an account outside any transaction (anvil_setBalance, ...): visible at
        ``latest`` at once, carried by the next block's state diff, kept across a
        restart (``sequencer.edits``)."""
        self._seal_open()
        head = self.db.head
        edits = self.edits
        try:
            if balance is not None:
                edits.set_balance(head, address, balance)
            if add_balance is not None:
                edits.add_balance(head, address, add_balance)
            if nonce is not None:
                edits.set_nonce(head, address, nonce)
            if code is not None:
                edits.set_code(head, address, code)
            if storage is not None:
                edits.set_storage(head, address, *storage)
        except EditError as error:
            raise InvalidInput(str(error)) from None
        self._schedule_persist()
        self.pool.on_block()  # a nonce or balance change may make waiting transactions ready

    async def deal_erc20(
        self, token: Address, query: bytes, value: int, what: str = "balance"
    ) -> None:
        """anvil_dealERC20 / anvil_setERC20Allowance: find the storage slot that the view
        call ``query`` (``balanceOf`` / ``allowance``) reads its answer from, by overriding
        each slot the call touches with ``value`` until the call answers it (anvil's
        method), then set that slot as a state edit. The search runs off the loop."""
        if type(value) is not int or not 0 <= value < 2**256:
            raise InvalidInput(f"amount must be in 0..2**256-1, got {value!r}")
        request = CallRequest(to=token, data=query)
        number = self.chain.head_number

        def find_slot(sim: Simulator) -> int | None:
            access_list, _, _ = sim.create_access_list(request, number, None, None)
            for address, slots in access_list:
                if address != token:
                    continue
                for slot in slots:
                    override = {token: AccountOverride(state_diff={slot: value})}
                    try:
                        output = sim.call(request, number, override)
                    except NodeError:
                        continue
                    if len(output) >= 32 and int.from_bytes(output[:32], "big") == value:
                        return slot
            return None

        slot = await self._off_loop(number, find_slot)
        if slot is None:
            raise NodeError(f"Unable to set ERC20 {what}, no slot found", code=-32603)
        self.edit_state(token, storage=(slot, value))

    def impersonate_signature(self, signature: bytes, address: Address) -> None:
        """anvil_impersonateSignature: a raw transaction carrying this signature (r, s)
        is taken as sent by ``address``."""
        if len(signature) != 65:
            raise InvalidInput(f"signature must be 65 bytes, got {len(signature)}")
        self._signature_senders[signature[:64]] = address

    def dump_state(self) -> StateDump:
        """anvil_dumpState: every account of the head state (pending edits included).

        ``block`` is left null: anvil refuses to load a dump whose best block it does not
        have, and a dump carries no blocks, so null is what makes ours load into anvil.
        """
        self._seal_open()
        view = self.head_state
        addresses = set(self.db.resident.accounts) | set(self.edits.diff.accounts)
        accounts: dict[Address, StateDumpAccount] = {}
        for address in sorted(addresses):
            account = view.get_account(address)
            if account is None:
                continue
            code = b"" if account.code_hash == EMPTY_CODE_HASH else view.get_code(account.code_hash)
            slots = view.storage_slots(address)
            storage = {slot: view.get_storage(address, slot) for slot in slots}
            accounts[address] = StateDumpAccount(
                account.nonce, account.balance, code, {k: v for k, v in storage.items() if v}
            )
        return StateDump(accounts, None, None)

    def load_state(self, dump: StateDump) -> None:
        """anvil_loadState: each listed account's balance, code and listed slots are set,
        its nonce becomes the larger of the two (anvil); applied as pending edits, so the
        next block carries them and a revert to an earlier snapshot undoes them."""
        self._seal_open()
        head = self.db.head
        edits = self.edits
        before = edits.copy()
        progress = Progress("loading state", len(dump.accounts), "accounts")
        try:
            for address, entry in dump.accounts.items():
                progress.advance()
                current = edits.over(head).get_account(address)
                nonce = max(entry.nonce, current.nonce if current else 0)
                edits.set_code(head, address, entry.code)
                edits.set_nonce(head, address, nonce)
                edits.set_balance(head, address, entry.balance)
                for slot, value in entry.storage.items():
                    edits.set_storage(head, address, slot, value)
        except EditError as error:
            edits.replace(before)  # all or nothing
            raise InvalidInput(f"cannot load state: {error}") from None
        progress.finish()
        self._schedule_persist()
        self.pool.on_block()

    def _schedule_persist(self) -> None:
        """Save the edits once per event-loop step, not once per edit: the record holds
        all of them, so a batch of 10,000 setBalance calls would otherwise re-encode a
        growing record 10,000 times. The write lands right after the step that made the
        edits (before any later request runs); ``close`` writes a pending one."""
        if self._persist_pending:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (library use, tests): write now
            self._persist_edits()
            return
        self._persist_pending = True
        loop.call_soon(self._flush_edits)

    def _flush_edits(self) -> None:
        if self._persist_pending:  # not already written (by close, or a revert)
            self._persist_edits()

    def _persist_edits(self) -> None:
        self._persist_pending = False
        value = self.edits.encode() if self.edits else None
        self.db.put_records({CF_CHAIN_META: {EDITS_RECORD: value}})

    # ------------------------------------------------------------ dev: snapshots

    def snapshot(self) -> int:
        """evm_snapshot: an id (0, 1, ... as anvil) to revert to."""
        self._seal_open()
        snapshot_id = self._next_snapshot
        self._next_snapshot += 1
        self._snapshots[snapshot_id] = DevSnapshot(
            self.db.snapshot(),
            self.chain.head_number,
            self.edits.copy(),
            self.clock.state(),
            self.producer.params.copy(),
        )
        return snapshot_id

    def revert(self, snapshot_id: int) -> bool:
        """evm_revert: back to the snapshot (chain, state, pending edits, block params;
        the clock continues from the snapshot's head). False for an unknown id (anvil);
        the snapshot and every later one are used up."""
        self._seal_open()
        snap = self._snapshots.get(snapshot_id)
        if snap is None:
            return False
        removed_to = self.chain.head_number
        self.db.revert(snap.db_snapshot)
        for sid in [sid for sid in self._snapshots if sid >= snapshot_id]:
            del self._snapshots[sid]
        self._after_revert(snap.number, removed_to)
        self.edits.replace(snap.edits)
        self._persist_edits()
        self.producer.params = snap.params.copy()
        self.clock.restore(snap.clock)
        self.clock.reset(self._parent_timestamp())
        self.clock.interval = snap.clock.interval
        self.pool.on_block()
        return True

    def rollback(self, depth: int = 1) -> None:
        """anvil_rollback: remove the last ``depth`` blocks."""
        self._seal_open()
        head = self.chain.head_number
        if type(depth) is not int or not 0 <= depth <= head:
            raise InvalidInput(f"rollback depth must be in 0..{head} (the head), got {depth}")
        if depth == 0:
            return
        try:
            self.db.revert_to(head - depth)
        except HistoryUnavailable as error:
            raise InvalidInput(str(error)) from None
        # Snapshots of removed blocks can no longer be reverted to.
        for sid in [s for s, snap in self._snapshots.items() if snap.number > head - depth]:
            del self._snapshots[sid]
        self._after_revert(head - depth, head)
        self.clock.reset(self._parent_timestamp())
        self.pool.on_block()

    def reorg(self, depth: int, pairs: Sequence[tuple[CallRequest | bytes, int]]) -> None:
        """anvil_reorg: replace the last ``depth`` blocks with ``depth`` new ones; each
        (transaction, index) pair goes into new block ``index`` (0 = the first). A
        transaction is a raw signed one or a request the node fills and signs (``from``
        defaults to the first dev account). Runs without awaiting, so nothing else seals
        in between; a transaction the pool refuses fails the call after the blocks before
        it were replaced (as anvil's does)."""
        head = self.chain.head_number
        if type(depth) is not int or not 0 <= depth <= head:
            raise InvalidInput(
                "Reorg depth must not exceed current chain height: current height "
                f"{head}, depth {depth}"
            )
        by_block: dict[int, list[CallRequest | bytes]] = {}
        for tx, index in pairs:
            if type(index) is not int or not 0 <= index < depth:
                raise InvalidInput(
                    f"Block number for reorg tx will exceed the reorged chain height. Block "
                    f"number {index} must not exceed (depth-1) {depth - 1}"
                )
            by_block.setdefault(index, []).append(tx)
        raws = [tx for tx in (t for t, _ in pairs) if isinstance(tx, bytes)]
        decoded: dict[bytes, Transaction] = {}
        for raw in raws:  # every raw transaction must decode before anything changes
            try:
                decoded[raw] = decode_transaction(raw)
            except InvalidTransactionEncoding as error:
                raise InvalidInput(f"Failed to decode signed transaction: {error}") from None
        self.rollback(depth)
        for index in range(depth):
            for item in by_block.get(index, ()):
                if isinstance(item, bytes):
                    self.pool.add(decoded[item], item)
                    continue
                request = item
                if request.sender is None and self.accounts:
                    request = replace(request, sender=self.accounts[0].address)
                # A dev verb replaying known transactions: filled on the loop.
                self._check_can_send(request)
                signed = self.signer.sign(self._fill_request_now(request))
                self.pool.add(signed, signed.encode())
            self._produce_empty()

    def reset(self) -> None:
        """anvil_reset / hardhat_reset without a fork: back to the genesis block with an
        empty pool, no edits, no snapshots, the configured block parameters and a clock
        that runs from now. Needs the genesis changesets (history window, or no pruning)."""
        self._seal_open()
        head = self.chain.head_number
        genesis = self.genesis_number
        try:
            self.db.revert_to(genesis)
        except HistoryUnavailable:
            raise NodeError(
                f"cannot reset: blocks before {self.db.oldest_available} left the history "
                "window; restart the node (--ephemeral) or raise --history-window"
            ) from None
        self._forget_dev_state()
        self._after_revert(genesis, head)

    def _forget_dev_state(self) -> None:
        """A reset's bookkeeping: an empty pool, no edits, no snapshots, the configured
        block parameters, a clock that runs from now, no impersonation."""
        self._snapshots.clear()
        self.pool.clear(TransactionRejected("dropped: the chain was reset"))
        self.edits.clear()
        self._persist_edits()
        self.producer.params = BlockParams(self.config.chain.coinbase, self.config.chain.gas_limit)
        self.clock.restore(ClockState(0, None, None))
        self.signer.impersonated.clear()
        self.signer.auto_impersonate = False
        self.instance_id = secrets.token_bytes(32)

    async def reset_to_start(self) -> None:
        """anvil_reset / hardhat_reset without forking parameters: back to the chain the
        node was started as (Hardhat's and anvil's rule): its genesis, or the fork block
        it was started on; a node made a fork by a reset becomes a chain of its own
        again."""
        fork, started = self.fork, self._started_fork
        if fork is not None and started is None:
            self._unfork()
        elif fork is not None and started is not None and fork.point.hash != started.hash:
            assert self.config.fork is not None
            await self.reset_to_fork(self.config.fork.upstream.url, started.number)
        else:
            self.reset()

    def _unfork(self) -> None:
        """A node made a fork by a reset starts again as a chain of its own."""
        self._seal_open()
        head = self.chain.head_number
        self.db.clear()
        fork, self.fork = self.fork, None
        self._write_genesis(self.db)
        self.chain.reload()
        self._started_again(head, fork)

    async def reset_to_fork(self, url: str | None, block_number: int | None) -> None:
        """anvil_reset / hardhat_reset with forking parameters: the chain starts again as
        a fork of ``url`` (None: this fork's upstream) at ``block_number`` (None: the
        upstream's head), keeping this node's chain id, as Hardhat does. The new fork
        point is resolved before anything is dropped: a bad URL or block changes
        nothing (``NodeError``)."""
        conflict = self.config.fork_conflict()
        if conflict is not None:
            raise NodeError(f"forking is not supported on a node run with {conflict}")
        current = self.fork
        if url is None and current is None:
            raise NodeError("forking needs a jsonRpcUrl: this node is not a fork")
        try:
            if current is None:
                assert url is not None
                upstream = UpstreamConfig(url)
            else:
                upstream = current.config.upstream
                if url is not None:
                    upstream = replace(upstream, url=url)
        except ValueError as error:
            raise NodeError(str(error)) from None
        fork = Fork(ForkConfig(upstream, block_number=block_number, adopt_chain_id=False))

        def prepare() -> None:  # the network part, off the loop
            fork.resolve(None, None)
            self._fork_genesis_diff(fork)

        try:
            await asyncio.to_thread(prepare)
        except (ConfigError, UpstreamError) as error:
            fork.close()
            raise NodeError(str(error)) from None
        self._seal_open()
        head = self.chain.head_number
        self.db.clear()
        self.fork = fork
        self._write_genesis(self.db)
        self.chain.reload(fork.point.number, fork.block_hash)
        self._started_again(head, current)

    def _started_again(self, old_head: int, old_fork: Fork | None) -> None:
        """After the database was cleared and a chain written anew: the reset's
        bookkeeping, subscribers told (blocks up to ``old_head`` are gone), the old
        upstream closed."""
        self._forget_dev_state()
        new_head = self.chain.head
        assert new_head is not None
        self.publisher.publish(ChainReverted(new_head, old_head))
        if old_fork is not None:
            old_fork.close()

    async def set_fork_url(self, url: str) -> None:
        """anvil_setRpcUrl: read the upstream through ``url`` from now on (it must serve
        the fork block under the same hash)."""
        fork = self.fork
        if fork is None:
            raise NodeError("anvil_setRpcUrl needs fork mode: this node is not a fork")
        try:
            await asyncio.to_thread(fork.use_url, url)
        except ConfigError as error:
            raise NodeError(str(error)) from None

    @property
    def genesis_number(self) -> int:
        """The local chain's first block: 0, or in fork mode the fork block."""
        return 0 if self.fork is None else self.fork.point.number

    @property
    def fork_number(self) -> int | None:
        """Fork mode: the upstream block this chain forked from (its blocks up to this
        one are the upstream's: ``upstream_history``); None for a chain of its own."""
        return None if self.fork is None else self.fork.point.number

    async def upstream_history(self, method: str, params: list[Any]) -> Any:
        """Fork mode: the upstream's answer to a read of its chain at or below the fork
        block (cached; off the event loop). ``NodeError`` if the upstream fails."""
        fork = self.fork
        if fork is None:
            raise NodeError("not a fork: there is no upstream chain")
        try:
            return await asyncio.to_thread(fork.history, method, params)
        except UpstreamError as error:
            raise NodeError(f"the fork's upstream did not answer: {error}") from None

    def _after_revert(self, number: int, removed_to: int) -> None:
        self.chain.reverted_to(number)
        if self.workers is not None:
            self.workers.invalidate()  # re-seeded with the next block
        head = self.chain.head
        assert head is not None
        if number == removed_to:
            return
        self.publisher.publish(ChainReverted(head, removed_to))

    def snapshot_ids(self) -> dict[int, tuple[int, Hash32]]:
        """Live snapshots: id -> (block number, block hash), as anvil_metadata lists them."""
        out = {}
        for sid, snap in self._snapshots.items():
            block = self.chain.block_by_number(snap.number)
            if block is not None:
                out[sid] = (snap.number, block.hash)
        return out

    # ------------------------------------------------------------ dev: pool

    def drop_transaction(self, tx_hash: Hash32) -> bool:
        return self.pool.remove(tx_hash, TransactionRejected("dropped from the pool"))

    def drop_all_transactions(self) -> int:
        return self.pool.clear(TransactionRejected("dropped from the pool"))

    def remove_pool_transactions(self, sender: Address) -> int:
        return self.pool.remove_sender(sender, TransactionRejected("dropped from the pool"))

    # ------------------------------------------------------------ dev: block params

    def set_coinbase(self, address: Address) -> None:
        self.producer.params.coinbase = address

    def set_block_gas_limit(self, gas_limit: int) -> None:
        if type(gas_limit) is not int or not 21_000 <= gas_limit <= 2**63 - 1:
            raise InvalidInput(f"gas limit must be in 21000..2**63-1, got {gas_limit}")
        self.producer.params.gas_limit = gas_limit

    def set_next_block_base_fee(self, base_fee: int) -> None:
        if type(base_fee) is not int or not 0 <= base_fee < 2**64:
            raise InvalidInput(f"base fee must be in 0..2**64-1, got {base_fee}")
        self.producer.params.next_base_fee = base_fee

    def set_next_prev_randao(self, value: bytes) -> None:
        if len(value) != 32:
            raise InvalidInput("prevRandao must be 32 bytes")
        self.producer.params.next_prev_randao = value

    def set_chain_id(self, chain_id: int) -> None:
        """anvil_setChainId: later transactions must be signed for ``chain_id``; kept
        across a restart."""
        self._seal_open()
        try:
            chain = replace(self.config.chain, chain_id=chain_id)
        except (ConfigError, TypeError) as error:
            raise InvalidInput(str(error)) from None
        self.config = replace(self.config, chain=chain)
        self.pool.set_chain_id(chain_id)
        self.producer.config = chain
        self.db.put_records({CF_CHAIN_META: {META_CHAIN_ID: str(chain_id).encode()}})

    def impersonate(self, address: Address) -> None:
        self.signer.impersonate(address)

    def stop_impersonating(self, address: Address) -> None:
        self.signer.stop_impersonating(address)

    def set_auto_impersonate(self, enabled: bool) -> None:
        self.signer.auto_impersonate = enabled

    # ------------------------------------------------------------ info

    def genesis_timestamp(self) -> int:
        block = self.chain.block_by_number(0)
        assert block is not None
        return block.header.timestamp

    def runtime_stats(self) -> RuntimeStats:
        """What the node's metrics sample on a scrape (``rpc.metrics``): cheap reads of
        the head, the pool, the JIT's counters and the workers."""
        pending, queued = self.pool.content()
        workers = self.workers
        return RuntimeStats(
            head=self.chain.head_number,
            pending=sum(map(len, pending.values())),
            queued=sum(map(len, queued.values())),
            engine=self.engine.stats(),
            workers=0 if workers is None else workers.count,
            workers_busy=0 if workers is None else workers.busy,
        )

    def info(self) -> dict[str, object]:
        stats = self.engine.stats()
        engine: dict[str, object] = {"mode": stats.mode}
        if stats.mode == "auto":
            engine["hotThreshold"] = self.config.hot_threshold
        engine.update(
            compiled=stats.compiled,
            failed=stats.failed,
            cached=stats.cached,
            compileSeconds=round(stats.compile_seconds, 6),
            compiledRuns=stats.compiled_runs,
            interpretedRuns=stats.interpreted_runs,
        )
        return {
            "name": "hummingbird",
            "chainId": self.config.chain.chain_id,
            "hardfork": self.config.chain.fork.name.lower(),
            "megaeth": self.config.megaeth,
            "replica": self.config.replica,
            "sequencer": "0x" + self.sequencer.address.hex(),
            "evmBlockTime": self.producer.evm_block_time,
            "blockNumber": self.chain.head_number,
            "blockTime": self.config.block_time,
            "miningMode": self.miner.mode.name,
            "dataDir": self.config.data_dir,
            "pool": len(self.pool),
            "engine": engine,
            "senderRecovery": {
                "worker": self.recovery.running,
                "frames": self.recovery.frames,
                "recovered": self.recovery.recovered,
            },
        }
