"""``Node``: the only object the rpc layer talks to (DESIGN §3).

Owns the wiring (statedb, chain, pool, producer, executor, and the one execution
engine, ``jit.compiler.Engine``, whose runner every execution path uses: block
production, system calls and simulation), genesis on first
start and resumption on restart, the producer task, and the node's verbs:
sending transactions (answering once the block is sealed), simulation
(eth_call, eth_estimateGas, eth_createAccessList with state and block
overrides), state and chain reads at any block in the history window, and
subscriptions to published blocks and pending transactions.

Everything runs on one asyncio event loop thread: the producer seals a block
synchronously between awaits, so readers never see a half-built block.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from jit.compiler import Engine
from jit.evm.exceptions import InvalidTransaction
from jit.evm.frame import BlockEnv
from jit.evm.transaction import TxOutcome, execute_transaction
from jit.forks import ForkRules, rules_for
from sequencer.chain import Chain, LogEntry, LogFilter
from sequencer.config import ConfigError, NodeConfig
from sequencer.errors import (
    ExecutionHalted,
    ExecutionReverted,
    NodeError,
    ResourceNotFound,
    TransactionRejected,
)
from sequencer.executor import SerialExecutor
from sequencer.genesis import DevAccount, dev_accounts, genesis_alloc
from sequencer.pool import TxPool
from sequencer.producer import Producer, next_base_fee
from sequencer.recovery import SenderRecovery
from sequencer.revert import decode_revert_reason
from sequencer.trie import EMPTY_TRIE_ROOT
from sequencer.types.blobs import split_network_form, verify_sidecar
from sequencer.types.blocks import (
    EMPTY_BLOOM,
    EMPTY_REQUESTS_HASH,
    ZERO_HASH,
    Header,
    MiniBlock,
    block_size,
)
from sequencer.types.call import AccountOverride, BlockOverride, CallRequest
from sequencer.types.transactions import (
    InvalidTransactionEncoding,
    Transaction,
    decode_transaction,
    sign_transaction,
)
from statedb import HistoryUnavailable, StateDB
from statedb.keys import CF_CHAIN_META
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

META_CHAIN_ID = b"chain_id"
META_FORK = b"fork"
DEFAULT_PRIORITY_FEE = 1_000_000_000  # what anvil suggests


@dataclass(frozen=True, slots=True)
class SimulationResult:
    outcome: TxOutcome
    tx: Transaction


class Node:
    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        chain_config = config.chain
        self.rules: ForkRules = rules_for(chain_config.fork)
        if config.data_dir is None:
            self.db = StateDB.ephemeral(history_window=config.history_window)
        else:
            self.db = StateDB.open(config.data_dir, history_window=config.history_window)
        self.accounts: tuple[DevAccount, ...] = dev_accounts(config.mnemonic, config.accounts)
        self.keys: dict[Address, bytes] = {a.address: a.private_key for a in self.accounts}
        self.chain = Chain(self.db)
        if self.chain.head is None:
            self._write_genesis()
        else:
            self._check_resumed()
        try:
            # One engine for the whole node: compiled code is shared by block production
            # and simulation; "auto" compiles hot code on a worker thread, off the block path.
            self.engine = Engine(config.engine, hot_threshold=config.hot_threshold, background=True)
        except ValueError as error:
            self.db.close()
            raise ConfigError(str(error)) from None
        run_code = self.engine.runner
        self.pool = TxPool(
            config.pool,
            self.db.head.get_account,
            self.next_base_fee,
            lambda: chain_config.gas_limit,
            lambda: self.rules,
            chain_config.chain_id,
        )
        self.producer = Producer(
            self.db,
            self.chain,
            self.pool,
            SerialExecutor(run_code),
            chain_config,
            self.rules,
            config.block_time,
            self._publish,
            engine=run_code,
        )
        self.recovery = SenderRecovery()  # started by start() when the config asks for it
        self._block_listeners: list[Callable[[MiniBlock], None]] = []
        self._pending_listeners: list[Callable[[Transaction], None]] = []
        self._task: asyncio.Task[None] | None = None
        self.automine = True
        self.started_at = time.time()

    # ------------------------------------------------------------ lifecycle

    def _write_genesis(self) -> None:
        chain = self.config.chain
        diff = genesis_alloc(self.accounts, self.config.balance)
        prepared = self.db.prepare(diff)
        header = Header(
            parent_hash=ZERO_HASH,
            coinbase=chain.coinbase,
            state_root=prepared.state_root,
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
        block = MiniBlock(header, header.hash(), (), (), block_size(header, ()), ())
        records = self.chain.records(block)
        records[CF_CHAIN_META] = {
            META_CHAIN_ID: str(chain.chain_id).encode(),
            META_FORK: chain.fork.name.lower().encode(),
        }
        self.db.commit(0, prepared, records)
        self.chain.appended(block)

    def _check_resumed(self) -> None:
        stored = self.chain.meta(META_CHAIN_ID)
        wanted = self.config.chain.chain_id
        if stored is not None and int(stored) != wanted:
            raise ConfigError(
                f"the data directory holds a chain with chain id {int(stored)}, not {wanted}: "
                "pass --chain-id to match it, or use another --data-dir (or --ephemeral)"
            )

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._produce_forever())
        if self.config.uses_recovery_worker():
            await self.recovery.start()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.recovery.close()
        self.close()

    def close(self) -> None:
        """Stop the engine's compile thread and close the database."""
        try:
            self.engine.close()
        finally:
            self.db.close()

    async def _produce_forever(self) -> None:
        has_ready = self.pool.has_ready
        while True:
            await has_ready.wait()
            if not self.automine:
                await asyncio.sleep(self.config.block_time)
                continue
            try:
                self.producer.produce()
            except Exception:  # never let one bad block stop production
                log.exception("block production failed")
                await asyncio.sleep(0.1)
            # Let the requests that arrived while the block was built reach the pool.
            await asyncio.sleep(0)

    def _publish(self, block: MiniBlock) -> None:
        for listener in list(self._block_listeners):
            try:
                listener(block)
            except Exception:
                log.exception("block listener failed")

    def subscribe_blocks(self, listener: Callable[[MiniBlock], None]) -> Callable[[], None]:
        self._block_listeners.append(listener)
        return lambda: self._block_listeners.remove(listener)

    def subscribe_pending(self, listener: Callable[[Transaction], None]) -> Callable[[], None]:
        self._pending_listeners.append(listener)
        return lambda: self._pending_listeners.remove(listener)

    def mine(self) -> MiniBlock:
        """Seal a block now, with whatever is ready (possibly none)."""
        block = self.producer.produce(allow_empty=True)
        assert block is not None
        return block

    # ------------------------------------------------------------ transactions

    async def send_raw_transaction(self, raw: bytes) -> Hash32:
        """Admit a signed transaction; return its hash once its block is sealed (at once
        when it waits behind a nonce gap)."""
        # The sender comes from the recovery worker (another core) when it runs. Even a
        # lone submission goes there: the hop adds ~0.2 ms of latency, but the loop's core
        # is free meanwhile and submissions arriving together seal in fewer, larger blocks
        # (closed loop, 8 clients: +13% tx/s). None (worker not running, or it rejected
        # the bytes) decodes inline, raising the exact error.
        try:
            # A blob transaction may come in its network form (with blobs, commitments
            # and proofs); the chain keeps only the canonical form.
            raw, sidecar = split_network_form(raw)
            sender = await self.recovery.recover(raw) if self.recovery.running else None
            tx = decode_transaction(raw, known_sender=sender)
            if sidecar is not None:
                verify_sidecar(sidecar, tx.blob_versioned_hashes)
        except InvalidTransactionEncoding as error:
            raise TransactionRejected(str(error)) from None
        return await self.submit(tx, raw)

    async def submit(self, tx: Transaction, raw: bytes) -> Hash32:
        admission = self.pool.add(tx, raw)
        for listener in list(self._pending_listeners):
            try:
                listener(tx)
            except Exception:
                log.exception("pending listener failed")
        if admission.ready and self.automine:
            done: asyncio.Future[tuple[int, int]] = asyncio.get_running_loop().create_future()
            admission.entry.done = done
            await done
        return tx.hash

    def fill_transaction(self, request: CallRequest) -> Transaction:
        """eth_sendTransaction / eth_signTransaction: defaults for every missing field,
        signed with the dev key of ``request.sender``."""
        sender = request.sender
        if sender is None:
            raise NodeError("missing from address")
        key = self.keys.get(sender)
        if key is None:
            raise NodeError(f"unknown account 0x{sender.hex()}")
        chain_id = self.config.chain.chain_id
        if request.chain_id is not None and request.chain_id != chain_id:
            raise NodeError(f"invalid chain id: have {request.chain_id} want {chain_id}")
        nonce = request.nonce
        if nonce is None:
            nonce = self.pending_nonce(sender)
        gas = request.gas
        if gas is None:
            gas = self.estimate_gas(request, self.chain.head_number, None, None)
        tx_type = infer_tx_type(request)
        if tx_type in (0, 1):
            gas_price = request.gas_price
            if gas_price is None:
                gas_price = self.gas_price()
            unsigned = build_transaction(
                request, tx_type, chain_id, nonce, gas, gas_price=gas_price
            )
        else:
            base_fee = self.next_base_fee()
            tip = request.max_priority_fee_per_gas
            if tip is None:
                tip = DEFAULT_PRIORITY_FEE
                if request.max_fee_per_gas is not None:
                    tip = min(tip, request.max_fee_per_gas)
            max_fee = request.max_fee_per_gas
            if max_fee is None:
                max_fee = 2 * base_fee + tip
            unsigned = build_transaction(
                request, tx_type, chain_id, nonce, gas, max_fee=max_fee, tip=tip
            )
        return sign_transaction(unsigned, key)

    async def send_transaction(self, request: CallRequest) -> Hash32:
        tx = self.fill_transaction(request)
        return await self.submit(tx, tx.encode())

    async def wait_for_receipt(self, tx_hash: Hash32, timeout: float) -> bool:
        """Wait until ``tx_hash`` is in a block (EIP-7966); False on timeout."""
        if self.chain.locate(tx_hash) is not None:
            return True
        found = asyncio.get_running_loop().create_future()

        def on_block(block: MiniBlock) -> None:
            if not found.done() and any(tx.hash == tx_hash for tx in block.transactions):
                found.set_result(True)

        unsubscribe = self.subscribe_blocks(on_block)
        try:
            await asyncio.wait_for(found, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            unsubscribe()

    # ------------------------------------------------------------ state reads

    @property
    def head_number(self) -> int:
        return self.chain.head_number

    def state_at(self, number: int) -> StateReader:
        """The state after block ``number``; head + 1 is the pending block (``resolve``)."""
        head = self.chain.head_number
        if number > head:
            return OverlayView(self.db.head, self.producer.pending().diff)
        if number == head:
            return self.db.head
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

    def storage(self, address: Address, slot: int, number: int) -> int:
        return self.state_at(number).get_storage(address, slot)

    def pending_nonce(self, address: Address) -> int:
        account = self.db.head.get_account(address)
        return self.pool.pending_nonce(address, account.nonce if account else 0)

    # ------------------------------------------------------------ chain reads

    def resolve(self, number: int | None, block_hash: Hash32 | None, tag: str | None) -> int:
        """A block selector to a number; ``ResourceNotFound`` if there is no such block."""
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
        if tag == "pending":
            return head + 1
        return head

    def block(self, number: int) -> MiniBlock | None:
        return self.chain.block_by_number(number)

    def block_by_hash(self, block_hash: Hash32) -> MiniBlock | None:
        return self.chain.block_by_hash(block_hash)

    def logs(self, query: LogFilter) -> list[LogEntry]:
        return self.chain.logs(query)

    def pending_env(self) -> BlockEnv:
        return self.producer.next_env()

    def pending_block(self) -> MiniBlock:
        """geth's pending block: the next block as it would be sealed now with nothing
        ready (mini-blocks seal ready transactions at once, so it holds none)."""
        return self.producer.pending().block

    def next_base_fee(self) -> int:
        """The next block's EIP-1559 base fee (cheap: no full block environment)."""
        head = self.chain.head
        assert head is not None
        return next_base_fee(head.header)

    def gas_price(self) -> int:
        """eth_gasPrice: next base fee plus the suggested tip."""
        return self.next_base_fee() + DEFAULT_PRIORITY_FEE

    # ------------------------------------------------------------ simulation

    def _env_for(self, number: int, block_override: BlockOverride | None) -> BlockEnv:
        if number > self.chain.head_number:  # the pending block (``resolve``)
            env = self.producer.pending().env
        else:
            block = self.chain.block_by_number(number)
            if block is None:
                raise ResourceNotFound("header not found")
            header = block.header
            env = BlockEnv(
                chain_id=self.config.chain.chain_id,
                coinbase=header.coinbase,
                number=header.number,
                timestamp=header.timestamp,
                gas_limit=header.gas_limit,
                base_fee=header.base_fee_per_gas,
                prev_randao=header.prev_randao,
                excess_blob_gas=header.excess_blob_gas,
                blob_base_fee=self.rules.blob_base_fee(header.excess_blob_gas),
                block_hashes=self.chain.block_hashes,
                parent_beacon_block_root=header.parent_beacon_block_root,
            )
        if block_override is not None:
            o = block_override
            env = replace(
                env,
                number=env.number if o.number is None else o.number,
                timestamp=env.timestamp if o.time is None else o.time,
                gas_limit=env.gas_limit if o.gas_limit is None else o.gas_limit,
                coinbase=env.coinbase if o.coinbase is None else o.coinbase,
                prev_randao=env.prev_randao if o.prev_randao is None else o.prev_randao,
                base_fee=env.base_fee if o.base_fee is None else o.base_fee,
                blob_base_fee=env.blob_base_fee if o.blob_base_fee is None else o.blob_base_fee,
            )
        return env

    def _reader_with(
        self, reader: StateReader, overrides: dict[Address, AccountOverride] | None
    ) -> StateReader:
        if not overrides:
            return reader
        diff = StateDiff()
        for address, o in overrides.items():
            if o.state is not None and o.state_diff is not None:
                raise NodeError(f"account 0x{address.hex()} has both 'state' and 'stateDiff'")
            current = reader.get_account(address) or Account()
            code_hash = current.code_hash
            if o.code is not None:
                code_hash = keccak256(o.code) if o.code else EMPTY_CODE_HASH
                diff.codes[code_hash] = o.code
            diff.accounts[address] = Account(
                current.nonce if o.nonce is None else o.nonce,
                current.balance if o.balance is None else o.balance,
                code_hash,
            )
            if o.state is not None:
                diff.storage_cleared.add(address)
                diff.storage[address] = dict(o.state)
            elif o.state_diff is not None:
                diff.storage[address] = dict(o.state_diff)
        return OverlayView(reader, diff)

    def simulate(
        self,
        request: CallRequest,
        number: int,
        overrides: dict[Address, AccountOverride] | None = None,
        block_override: BlockOverride | None = None,
        gas: int | None = None,
    ) -> SimulationResult:
        """Run ``request`` on the state after block ``number``; raise on invalid."""
        env = self._env_for(number, block_override)
        reader = self._reader_with(self.state_at(number), overrides)
        if not request.has_fees:
            env = replace(env, base_fee=0)  # geth: a call without fees pays none
        tx = self._call_transaction(request, env, reader, gas)
        if tx.gas_limit > env.gas_limit:
            env = replace(env, gas_limit=tx.gas_limit)
        try:
            outcome = execute_transaction(
                tx, env, reader, self.rules, check_sender_code=False, engine=self.engine.runner
            )
        except InvalidTransaction as error:
            raise TransactionRejected(str(error)) from None
        return SimulationResult(outcome, tx)

    def _call_gas_cap(self, env: BlockEnv) -> int:
        cap = env.gas_limit
        if self.rules.tx_gas_limit_cap is not None:
            cap = min(cap, self.rules.tx_gas_limit_cap)
        return cap

    def _call_transaction(
        self, request: CallRequest, env: BlockEnv, reader: StateReader, gas: int | None
    ) -> Transaction:
        sender = request.sender or b"\x00" * 20
        account = reader.get_account(sender)
        nonce = account.nonce if account else 0
        if gas is None:
            gas = request.gas if request.gas is not None else self._call_gas_cap(env)
        tx_type = infer_tx_type(request)
        chain_id = self.config.chain.chain_id
        if tx_type in (0, 1):
            return build_transaction(
                request,
                tx_type,
                chain_id,
                nonce,
                gas,
                gas_price=request.gas_price or 0,
                sender=sender,
            )
        max_fee = request.max_fee_per_gas
        tip = request.max_priority_fee_per_gas
        if max_fee is None:
            max_fee = 0 if tip is None else tip + env.base_fee
        return build_transaction(
            request, tx_type, chain_id, nonce, gas, max_fee=max_fee, tip=tip or 0, sender=sender
        )

    def call(
        self,
        request: CallRequest,
        number: int,
        overrides: dict[Address, AccountOverride] | None = None,
        block_override: BlockOverride | None = None,
    ) -> bytes:
        outcome = self.simulate(request, number, overrides, block_override).outcome
        raise_for_failure(outcome)
        return outcome.output

    def estimate_gas(
        self,
        request: CallRequest,
        number: int,
        overrides: dict[Address, AccountOverride] | None,
        block_override: BlockOverride | None,
    ) -> int:
        """The smallest gas limit with which ``request`` succeeds and no frame runs out
        of gas (so a wallet that adds no buffer never under-estimates)."""
        env = self._env_for(number, block_override)
        cap = request.gas if request.gas is not None else self._call_gas_cap(env)
        first = self.simulate(request, number, overrides, block_override, gas=cap).outcome
        if not first.success:
            if first.result.name == "HALT" and first.error == "OutOfGasError":
                raise ExecutionHalted(f"gas required exceeds allowance ({cap})")
            raise_for_failure(first)
        strict = first.out_of_gas_halts == 0

        def succeeds(gas: int) -> bool:
            try:
                outcome = self.simulate(request, number, overrides, block_override, gas=gas).outcome
            except TransactionRejected:
                return False  # e.g. below intrinsic gas
            return outcome.success and (not strict or outcome.out_of_gas_halts == 0)

        if succeeds(first.gas_used):
            return first.gas_used
        lo, hi = first.gas_used, cap  # lo fails, hi succeeds
        guess = min(cap, first.gas_used * 2)
        if guess < hi:
            if succeeds(guess):
                hi = guess
            else:
                lo = guess
        while lo + 1 < hi:
            mid = (lo + hi) // 2
            if succeeds(mid):
                hi = mid
            else:
                lo = mid
        return hi

    def create_access_list(
        self,
        request: CallRequest,
        number: int,
        overrides: dict[Address, AccountOverride] | None,
        block_override: BlockOverride | None,
    ) -> tuple[tuple[tuple[Address, tuple[int, ...]], ...], int, str | None]:
        """(access list, gas used with it, error) like geth's eth_createAccessList."""
        access_list: tuple[tuple[Address, tuple[int, ...]], ...] = request.access_list or ()
        result = None
        for _ in range(8):  # geth iterates until the list is stable
            result = self.simulate(
                replace(request, access_list=access_list), number, overrides, block_override
            )
            found = self._access_list_of(result, request)
            if found == access_list:
                break
            access_list = found
        assert result is not None
        outcome = result.outcome
        error = None
        if not outcome.success:
            error = failure_message(outcome)
        return access_list, outcome.gas_used, error

    def _access_list_of(
        self, result: SimulationResult, request: CallRequest
    ) -> tuple[tuple[Address, tuple[int, ...]], ...]:
        outcome = result.outcome
        excluded = {result.tx.sender, *self.rules.precompiles}
        if request.to is not None:
            excluded.add(request.to)
        if outcome.contract_address is not None:
            excluded.add(outcome.contract_address)
        slots: dict[Address, set[int]] = {}
        for address, slot in outcome.storage_reads:
            slots.setdefault(address, set()).add(slot)
        for address in outcome.account_reads:
            if address not in excluded:
                slots.setdefault(address, set())
        return tuple(
            (address, tuple(sorted(slots[address])))
            for address in sorted(slots)
            if address not in excluded or slots[address]
        )

    # ------------------------------------------------------------ info

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
            "blockNumber": self.chain.head_number,
            "blockTime": self.config.block_time,
            "dataDir": self.config.data_dir,
            "pool": len(self.pool),
            "engine": engine,
            "senderRecovery": {
                "worker": self.recovery.running,
                "frames": self.recovery.frames,
                "recovered": self.recovery.recovered,
            },
        }


def infer_tx_type(request: CallRequest) -> int:
    """The transaction type a request without ``type`` means (as geth's TransactionArgs)."""
    if request.tx_type is not None:
        return request.tx_type
    if request.authorization_list:
        return 4
    if request.blob_versioned_hashes:
        return 3
    if request.gas_price is not None:
        return 1 if request.access_list is not None else 0
    return 2


def build_transaction(
    request: CallRequest,
    tx_type: int,
    chain_id: int,
    nonce: int,
    gas: int,
    *,
    gas_price: int = 0,
    max_fee: int = 0,
    tip: int = 0,
    sender: Address = b"",
) -> Transaction:
    """``request`` as an (unsigned) transaction of ``tx_type`` with the given fees;
    the fee fields the type lacks stay at their defaults."""
    common = (tx_type, chain_id, nonce, gas, request.to, request.value, request.data)
    access_list = request.access_list or ()
    if tx_type in (0, 1):
        return Transaction(*common, gas_price=gas_price, access_list=access_list, sender=sender)
    return Transaction(
        *common,
        max_fee_per_gas=max_fee,
        max_priority_fee_per_gas=tip,
        access_list=access_list,
        max_fee_per_blob_gas=request.max_fee_per_blob_gas or 0,
        blob_versioned_hashes=request.blob_versioned_hashes,
        authorization_list=request.authorization_list,
        sender=sender,
    )


def failure_message(outcome: TxOutcome) -> str:
    if outcome.result.name == "REVERT":
        reason = decode_revert_reason(outcome.output)
        return "execution reverted" if reason is None else f"execution reverted: {reason}"
    return _HALT_MESSAGES.get(outcome.error or "", outcome.error or "execution halted")


_HALT_MESSAGES = {
    "OutOfGasError": "out of gas",
    "InvalidOpcode": "invalid opcode",
    "InvalidJumpDestError": "invalid jump destination",
    "StackUnderflowError": "stack underflow",
    "StackOverflowError": "stack limit reached 1024",
    "WriteInStaticContext": "write protection",
    "OutOfBoundsRead": "return data out of bounds",
    "InvalidContractPrefix": "invalid code: must not begin with 0xef",
    "AddressCollision": "contract address collision",
    "PrecompileHalt": "precompiled contract failed",
}


def raise_for_failure(outcome: TxOutcome) -> None:
    if outcome.success:
        return
    if outcome.result.name == "REVERT":
        raise ExecutionReverted(outcome.output, decode_revert_reason(outcome.output))
    raise ExecutionHalted(failure_message(outcome))
