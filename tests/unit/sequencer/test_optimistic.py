"""parallel == serial: the optimistic executor, over a real worker process, gives exactly
the serial executor's block (receipts, logs, gas, state root, state diff) for
hypothesis-generated batches with controlled conflicts: plain transfers (to fresh
addresses or to each other), ERC-20 transfers (to fresh or one hot recipient), a shared
counter, a contract that reads the coinbase's balance (fee credits), CREATE of a
contract that self-destructs in its constructor, contracts with storage, EIP-7702
delegations and calls through them, and transactions that are invalid (nonce gaps)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jit.evm.exceptions import InvalidTransaction
from jit.evm.transaction import TxOutcome
from jit.forks import Fork
from sequencer.access_list import BlockAccessList, bal_hash
from sequencer.builder import Included, SealedBlock
from sequencer.config import ChainConfig, ConfigError, NodeConfig
from sequencer.executor import Executor, SerialExecutor
from sequencer.executor.optimistic import OptimisticExecutor
from sequencer.mining import MiningMode
from sequencer.node import Node
from sequencer.types.blocks import MiniBlock
from sequencer.types.transactions import Transaction, sign_authorization, sign_transaction
from sequencer.workers.pool import WorkerPool
from sequencer.workers.protocol import WorkerConfig
from statedb.types import keccak256

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts" / "build"
TOKEN = json.loads((CONTRACTS / "Token.json").read_text())
COUNTER = json.loads((CONTRACTS / "Counter.json").read_text())
SENDERS = 8
HOT = b"\xee" * 20
# COINBASE BALANCE PUSH1 0 SSTORE STOP: stores the coinbase's balance.
COINBASE_READER = bytes.fromhex("4131600055" + "00")
# Constructor writes a slot, then SELFDESTRUCT to the caller (EIP-6780: gone at once).
CREATE_AND_DESTROY = bytes.fromhex("6001600055" + "33ff")
# Constructor stores two slots, deploys empty code.
STORE_TWO = bytes.fromhex("600160005560026001556000f3")


def _initcode_for(runtime: bytes) -> bytes:
    """Initcode returning ``runtime`` (CODECOPY of the tail)."""
    size = len(runtime)
    prefix = bytes.fromhex(f"61{size:04x}600e60003961{size:04x}6000f3")
    assert len(prefix) == 14
    return prefix + runtime


def _tx(
    key: bytes,
    nonce: int,
    to: bytes | None,
    data: bytes = b"",
    gas: int = 1_000_000,
    **extra: object,
) -> Transaction:
    fields: dict[str, object] = {
        "max_fee_per_gas": 10**11,
        "max_priority_fee_per_gas": 10**9,
    }
    fields.update(extra)
    tx_type = int(fields.pop("tx_type", 2))  # type: ignore[call-overload]
    value = int(fields.pop("value", 0))  # type: ignore[call-overload]
    return sign_transaction(
        Transaction(tx_type, 31337, nonce, gas, to, value, data, **fields),  # type: ignore[arg-type]
        key,
    )


class World:
    """A node with the contracts deployed and one worker process in step with it."""

    def __init__(self, fork: Fork = Fork.OSAKA) -> None:
        self.node = Node(
            NodeConfig(
                data_dir=None, accounts=SENDERS, no_mining=True, chain=ChainConfig(fork=fork)
            )
        )
        self.keys = [account.private_key for account in self.node.accounts]
        self.addresses = [account.address for account in self.node.accounts]
        deployer = self.keys[0]
        # Deployments on Amsterdam's rules pay EIP-8037 state gas per code byte.
        deploys = [
            _tx(
                deployer,
                0,
                None,
                bytes.fromhex(TOKEN["bytecode"][2:]) + (10**30).to_bytes(32, "big"),
                gas=10_000_000,
            ),
            _tx(deployer, 1, None, bytes.fromhex(COUNTER["bytecode"][2:]), gas=10_000_000),
            _tx(deployer, 2, None, _initcode_for(COINBASE_READER), gas=10_000_000),
        ]
        for tx in deploys:
            self.node.pool.add(tx, tx.encode())
        (block,) = self.node.mine()
        created = [r.contract_address for r in block.receipts]
        assert all(r.status == 1 for r in block.receipts)
        assert None not in created
        self.token, self.counter, self.reader = (a for a in created if a is not None)
        # Every sender holds tokens.
        transfer = keccak256(b"transfer(address,uint256)")[:4]
        funding = [
            _tx(
                deployer,
                3 + i,
                self.token,
                transfer + a.rjust(32, b"\x00") + (10**24).to_bytes(32, "big"),
            )
            for i, a in enumerate(self.addresses[1:])
        ]
        for tx in funding:
            self.node.pool.add(tx, tx.encode())
        self.node.mine()
        self.pool = WorkerPool(
            1, WorkerConfig("jit", 0), self.node.db.resident, self.node.chain.head_number
        )
        self.env = self.node.producer.next_env()

    def nonce(self, index: int) -> int:
        account = self.node.db.head.get_account(self.addresses[index])
        return account.nonce if account else 0

    def close(self) -> None:
        self.pool.close()
        self.node.close()


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    w = World()
    yield w
    w.close()


@pytest.fixture(scope="module")
def amsterdam_world() -> Iterator[World]:
    """Amsterdam: blocks commit to their EIP-7928 access list, built at the seal."""
    w = World(Fork.AMSTERDAM)
    yield w
    w.close()


KINDS = (
    "eth_fresh",
    "eth_peer",
    "erc20_fresh",
    "erc20_hot",
    "counter",
    "coinbase",
    "destroy",
    "store",
    "delegate",
    "call_delegated",
    "gap",
)

_specs = st.lists(
    st.tuples(st.sampled_from(KINDS), st.integers(0, SENDERS - 1), st.integers(0, 2**16)),
    min_size=1,
    max_size=40,
)


def _build(world: World, specs: list[tuple[str, int, int]]) -> list[Transaction]:
    nonces = [world.nonce(i) for i in range(SENDERS)]
    transfer = keccak256(b"transfer(address,uint256)")[:4]
    increment = keccak256(b"increment()")[:4]
    txs = []
    for kind, sender, salt in specs:
        key = world.keys[sender]
        nonce = nonces[sender]
        fresh = keccak256(salt.to_bytes(4, "big"))[:20]
        if kind == "eth_fresh":
            tx = _tx(key, nonce, fresh, value=salt + 1)
        elif kind == "eth_peer":
            tx = _tx(key, nonce, world.addresses[salt % SENDERS], value=salt + 1)
        elif kind in ("erc20_fresh", "erc20_hot"):
            to = fresh if kind == "erc20_fresh" else HOT
            tx = _tx(
                key,
                nonce,
                world.token,
                transfer + to.rjust(32, b"\x00") + (salt + 1).to_bytes(32, "big"),
            )
        elif kind == "counter":
            tx = _tx(key, nonce, world.counter, increment)
        elif kind == "coinbase":
            tx = _tx(key, nonce, world.reader)
        elif kind == "destroy":
            tx = _tx(key, nonce, None, CREATE_AND_DESTROY)
        elif kind == "store":
            tx = _tx(key, nonce, None, STORE_TWO)
        elif kind == "delegate":
            # The sender delegates its own account to the counter (nonce + 1: it sends it).
            auth = sign_authorization(31337, world.counter, nonce + 1, key)
            tx = _tx(key, nonce, fresh, tx_type=4, authorization_list=(auth,))
        elif kind == "call_delegated":
            tx = _tx(key, nonce, world.addresses[salt % SENDERS], increment)
        else:  # "gap": a nonce from the future, invalid in any order
            tx = _tx(key, nonce + 5, fresh)
            txs.append(tx)
            continue
        nonces[sender] += 1
        txs.append(tx)
    return txs


def _run(
    world: World, executor: Executor, txs: list[Transaction]
) -> tuple[SealedBlock, list[TxOutcome | InvalidTransaction]]:
    """Execute ``txs`` into the next block and seal it (from Amsterdam the seal builds
    the block's EIP-7928 list from the executor's outcomes)."""
    node = world.node
    parent = node.chain.head
    assert parent is not None
    block = node.producer.builder.open(parent, world.env)
    results = executor.execute(block, node.rules, txs, float("inf"))
    assert len(results) == len(txs)
    included = [
        Included(tx, tx.encode(), r)
        for tx, r in zip(txs, results, strict=True)
        if isinstance(r, TxOutcome)
    ]
    return node.producer.builder.seal(block, included), results


def _replayed_access_list(world: World, block: MiniBlock) -> BlockAccessList:
    """The block's list from a second, serial execution of it (the replay path)."""
    node = world.node
    parent = node.chain.head
    assert parent is not None
    opened = node.producer.builder.open(parent, world.env)
    results = SerialExecutor(node.engine.runner).execute(
        opened, node.rules, block.transactions, float("inf")
    )
    included = [
        Included(tx, raw, r)
        for tx, raw, r in zip(block.transactions, block.encoded, results, strict=True)
        if isinstance(r, TxOutcome)
    ]
    return node.producer.builder.replay_access_list(opened, included)


def _same(world: World, txs: list[Transaction]) -> OptimisticExecutor:
    serial = SerialExecutor(world.node.engine.runner)
    optimistic = OptimisticExecutor(
        world.pool, world.node.engine.runner, min_batch=1, cooldown=0, measured=False
    )
    expected_sealed, expected_results = _run(world, serial, txs)
    got_sealed, got_results = _run(world, optimistic, txs)
    expected, got = expected_sealed.block, got_sealed.block
    for want, have in zip(expected_results, got_results, strict=True):
        if isinstance(want, InvalidTransaction):
            assert isinstance(have, InvalidTransaction) and str(have) == str(want)
        else:
            assert isinstance(have, TxOutcome)
            assert (have.success, have.gas_used, have.output, have.logs, have.contract_address) == (
                want.success,
                want.gas_used,
                want.output,
                want.logs,
                want.contract_address,
            )
    assert got.receipts == expected.receipts
    assert got.diff == expected.diff
    assert got.hash == expected.hash  # state root, receipts root, gas, bloom (and BAL hash)
    if world.node.rules.eip7928:
        assert got_sealed.access_list is not None
        assert got_sealed.access_list == expected_sealed.access_list
        assert got_sealed.access_list == _replayed_access_list(world, got)
        assert got.header.block_access_list_hash == bal_hash(got_sealed.access_list)
    else:
        assert got_sealed.access_list is None and got.header.block_access_list_hash is None
    return optimistic


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(specs=_specs)
def test_parallel_equals_serial(world: World, specs: list[tuple[str, int, int]]) -> None:
    _same(world, _build(world, specs))


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(specs=_specs)
def test_seal_time_access_list_is_the_same_on_both_executors(
    amsterdam_world: World, specs: list[tuple[str, int, int]]
) -> None:
    """Amsterdam: the list the seal builds from the optimistic executor's outcomes
    (independent shares folded whole, conflicts re-run) is the serial executor's and
    a serial replay's, and the header commits to its hash."""
    _same(amsterdam_world, _build(amsterdam_world, specs))


def test_seal_time_access_list_of_independent_erc20_shares(amsterdam_world: World) -> None:
    """Disjoint ERC-20 transfers: every share is independent, so the workers' outcomes
    are folded whole; the seal still gets each transaction's diff and read set."""
    specs = [("erc20_fresh", sender, 1000 + sender) for sender in range(SENDERS)] * 2
    optimistic = _same(amsterdam_world, _build(amsterdam_world, specs))
    assert optimistic.stats.parallel_batches == 1 and optimistic.stats.reexecuted == 0


@pytest.mark.parametrize("hot_share", [0, 25, 100])
def test_controlled_conflict_rates(world: World, hot_share: int) -> None:
    """A batch of 40 ERC-20 transfers where ``hot_share`` percent pay one recipient (one
    hot slot); with none, nothing is re-run on the sequencer."""
    specs = [
        (
            "erc20_hot" if i * hot_share // 100 != (i + 1) * hot_share // 100 else "erc20_fresh",
            i % SENDERS,
            i,
        )
        for i in range(40)
    ]
    executor = _same(world, _build(world, specs))
    assert executor.stats.parallel_batches == 1
    if hot_share == 0:
        assert executor.stats.reexecuted == 0


def test_a_coinbase_reader_after_fees_is_rerun(world: World) -> None:
    specs = [("eth_fresh", 1, 1), ("eth_fresh", 2, 2), ("coinbase", 3, 0), ("coinbase", 4, 0)]
    executor = _same(world, _build(world, specs))
    assert executor.stats.reexecuted >= 1


def test_a_batch_that_overfills_the_block_runs_serially(world: World) -> None:
    """A share checks each transaction's gas limit against the room at the batch's start,
    which is exact only if the whole batch fits: three 1M-gas transfers from three
    senders in a 1.01M-gas block must leave the second and third out, as serially."""
    saved = world.env
    world.env = replace(saved, gas_limit=1_010_000)
    try:
        txs = _build(world, [("eth_fresh", sender, sender) for sender in (1, 2, 3)])
        executor = _same(world, txs)
        assert executor.stats.parallel_batches == 0
        _, results = _run(world, SerialExecutor(world.node.engine.runner), txs)
        assert isinstance(results[0], TxOutcome)
        assert all(isinstance(r, InvalidTransaction) for r in results[1:])
    finally:
        world.env = saved


def test_a_dead_worker_falls_back_to_serial() -> None:
    world = World()
    try:
        world.pool._processes[0].kill()
        world.pool._processes[0].join(5)
        txs = _build(world, [("erc20_fresh", i % SENDERS, i) for i in range(20)])
        _same(world, txs)
        assert world.pool.broken
    finally:
        world.close()


def test_a_worker_out_of_step_is_reseeded_not_trusted() -> None:
    """A worker whose head does not match answers Stale; the batch is exact anyway."""
    world = World()
    try:
        world.pool.head += 1  # the pool believes in a head the worker never applied
        txs = _build(world, [("erc20_fresh", i % SENDERS, i) for i in range(20)])
        executor = OptimisticExecutor(
            world.pool, world.node.engine.runner, min_batch=1, measured=False
        )
        _run(world, executor, txs)
        assert executor.stats.parallel_batches == 0  # not at the block's parent: serial
        world.pool.head -= 1
        world.pool._broadcast(b"")  # a message the worker cannot read: it must not crash it
        _same(world, txs)
    finally:
        world.close()


@pytest.mark.parametrize("workers", [-1, 65, True, "1", 1.5])
def test_bad_worker_counts_are_refused(workers: object) -> None:
    with pytest.raises(ConfigError, match="workers must be an integer"):
        NodeConfig(data_dir=None, workers=workers)  # type: ignore[arg-type]


async def test_a_served_node_mines_bursts_in_parallel_and_survives_reverts() -> None:
    """The node with one worker process: a burst of ERC-20 transfers from many senders is
    mined through the optimistic executor; after evm_revert the worker is re-seeded and
    the next burst is still exact (every balance adds up, the worker's state equals
    the sequencer's)."""
    world = World()
    world.pool.close()  # the node starts its own
    node = world.node
    node.config = replace(node.config, workers=1, sender_recovery="inline")
    await node.start()
    await node.miner.set_mode(MiningMode(auto=False))
    try:
        assert node.workers is not None and isinstance(node.producer.executor, OptimisticExecutor)
        executor = node.producer.executor
        executor.measured = False  # every large batch in parallel (the choice is tested apart)
        transfer = keccak256(b"transfer(address,uint256)")[:4]

        async def burst(amount: int) -> None:
            txs = []
            for i in range(1, SENDERS):
                for k in range(6):
                    to = keccak256(bytes((i, k, amount)))[:20]
                    txs.append(
                        _tx(
                            world.keys[i],
                            world.nonce(i) + k,
                            world.token,
                            transfer + to.rjust(32, b"\x00") + amount.to_bytes(32, "big"),
                        )
                    )
            # Manual mining: everything waits, then one block takes the whole batch.
            await asyncio.wait_for(
                asyncio.gather(*(node.submit(tx, tx.encode()) for tx in txs)), 10
            )
            # A serial batch stops at the block time: the rest seals in the next blocks.
            for _ in range(len(txs)):
                if not len(node.pool):
                    break
                node.mine()
            for tx in txs:
                found = node.locate_transaction(tx.hash)
                assert found is not None
                assert found[0].receipts[found[1]].status == 1

        await burst(3)
        parallel = executor.stats.parallel_batches
        assert parallel >= 1
        snap = node.snapshot()
        await burst(5)
        assert node.revert(snap)
        await burst(7)
        assert executor.stats.parallel_batches > parallel
        # The worker's copy is the sequencer's: run a batch both ways on the head.
        world.pool = node.workers
        world.env = node.producer.next_env()
        _same(world, _build(world, [("erc20_fresh", i % SENDERS, i) for i in range(30)]))
    finally:
        await node.stop()


def test_measured_choice_keeps_the_faster_way(world: World) -> None:
    """The first large batch runs serially to time it; a parallel batch that costs more
    per transaction sends the next ones back to serial for a while."""
    import time as _time

    executor = OptimisticExecutor(world.pool, world.node.engine.runner, min_batch=1, cooldown=2)
    slow_parallel = executor._parallel

    def slower(*args: object) -> list[TxOutcome | InvalidTransaction]:
        _time.sleep(0.2)  # parallelism that does not pay
        return slow_parallel(*args)  # type: ignore[arg-type]

    executor._parallel = slower  # type: ignore[method-assign]
    txs = _build(world, [("erc20_fresh", i % SENDERS, i) for i in range(10)])
    _run(world, executor, txs)
    assert executor.stats.parallel_batches == 0 and executor._serial_cost is not None
    _run(world, executor, txs)
    assert executor.stats.parallel_batches == 1  # the workers' warm-up: not timed
    assert executor._serial_left == 0
    _run(world, executor, txs)
    assert executor.stats.parallel_batches == 2
    assert executor._serial_left == 16  # 8 x cooldown batches serial before it tries again
    for _ in range(16):
        _run(world, executor, txs)
    assert executor.stats.parallel_batches == 2
    _run(world, executor, txs)
    assert executor.stats.parallel_batches == 3  # measured again


def test_weighted_dealing_keeps_senders_whole() -> None:
    """Senders are dealt to the share with the fewest transactions per unit of weight
    (the sequencer's share weighs own_weight); a sender's transactions stay together."""
    from types import SimpleNamespace

    from sequencer.executor.optimistic import _share_by_sender

    batch = [SimpleNamespace(sender=bytes([i % 9])) for i in range(90)]
    even = _share_by_sender(batch, 3, 0)  # type: ignore[arg-type]
    assert [even.count(s) for s in range(3)] == [30, 30, 30]
    heavy = _share_by_sender(batch, 2, 0, 1.25)  # type: ignore[arg-type]
    assert heavy.count(0) == 50 and heavy.count(1) == 40  # 5 senders of 10 vs 4
    for sender in range(9):
        owners = {heavy[i] for i in range(90) if i % 9 == sender}
        assert len(owners) == 1
    assert _share_by_sender(batch, 2, 1)[0] == 1  # type: ignore[arg-type]


@pytest.mark.parametrize("weight", [0.0, -1.0, 8.5, float("nan")])
def test_bad_own_weights_are_refused(world: World, weight: float) -> None:
    with pytest.raises(ValueError, match="own_weight"):
        OptimisticExecutor(world.pool, own_weight=weight)
