"""Off-loop simulation (``sequencer.offload``) and what the node runs on it: the deadline,
the abort that never lands on another job, the RPC gas cap over every override, the views
that stay pinned while blocks are sealed, and eth_getLogs' use of every topic position."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Iterator

import pytest

from jit.forks import Fork
from sequencer.chain import LogFilter
from sequencer.config import ChainConfig, ConfigError, NodeConfig
from sequencer.errors import NodeError
from sequencer.node import Node
from sequencer.offload import CallTimeout, PerThread, SimulationWorker
from sequencer.types.call import AccountOverride, BlockOverride, CallRequest
from sequencer.types.transactions import Transaction, sign_transaction

LOOP = bytes.fromhex("5b600056")  # JUMPDEST PUSH1 0 JUMP
LOOPER = b"\x0a" * 20
COUNTER = b"\x0c" * 20
# Returns slot 0 (empty calldata).
SLOAD_RETURN = bytes.fromhex("5f545f5260205ff3")


def spin() -> None:
    while True:
        pass


# ------------------------------------------------------------------ the worker


async def test_a_job_past_its_deadline_is_stopped_and_the_next_job_runs() -> None:
    worker = SimulationWorker(0.2, threads=1)
    try:
        started = time.monotonic()
        with pytest.raises(CallTimeout, match=r"execution aborted \(timeout = 0.2s\)"):
            await worker.run(spin)
        assert time.monotonic() - started < 1.0
        # the thread was freed: a following job on the same (only) thread completes
        assert await worker.run(lambda: 7) == 7
        assert worker.aborted == 1
    finally:
        worker.close()


async def test_an_abort_never_lands_on_a_later_job() -> None:
    worker = SimulationWorker(0.05, threads=1)
    try:
        for i in range(30):
            # jobs that end right around their deadline: whichever way each one ends, a
            # late abort must be cleared before the next job starts
            with contextlib.suppress(CallTimeout):
                await worker.run(lambda i=i: time.sleep(0.044 + (i % 7) * 0.002))
            assert await worker.run(lambda: sum(range(20_000)), timeout=5) == sum(range(20_000))
    finally:
        worker.close()


async def test_a_job_whose_deadline_passes_in_the_queue_never_starts() -> None:
    worker = SimulationWorker(5, threads=1)
    started: list[int] = []
    try:
        blocker = asyncio.ensure_future(worker.run(lambda: time.sleep(0.3)))
        await asyncio.sleep(0.05)
        with pytest.raises(CallTimeout):
            await worker.run(lambda: started.append(1), timeout=0.1)
        await blocker
        await asyncio.sleep(0.05)
        assert started == []
    finally:
        worker.close()


async def test_a_light_job_is_not_queued_behind_a_heavy_one() -> None:
    worker = SimulationWorker(3, threads=2)
    try:
        heavy = asyncio.ensure_future(worker.run(spin))
        await asyncio.sleep(0.05)
        started = time.monotonic()
        assert await worker.run(lambda: 1) == 1
        assert time.monotonic() - started < 1.0
        # and the event loop keeps turning while the heavy job runs
        ticks = 0
        deadline = time.monotonic() + 0.2
        while time.monotonic() < deadline:
            await asyncio.sleep(0.001)
            ticks += 1
        assert ticks > 20
        with pytest.raises(CallTimeout):
            await heavy
    finally:
        worker.close()


async def test_job_errors_propagate_unchanged() -> None:
    worker = SimulationWorker(1)
    try:
        with pytest.raises(NodeError, match="boom"):
            await worker.run(lambda: (_ for _ in ()).throw(NodeError("boom")))
    finally:
        worker.close()


@pytest.mark.parametrize("timeout", [0, -1, float("nan")])
def test_the_worker_refuses_bad_timeouts(timeout: float) -> None:
    with pytest.raises(ValueError):
        SimulationWorker(timeout)


@pytest.mark.parametrize("threads", [0, -1, 65])
def test_the_worker_refuses_bad_thread_counts(threads: int) -> None:
    with pytest.raises(ValueError):
        SimulationWorker(1, threads=threads)


def test_per_thread_makes_one_value_per_thread() -> None:
    made = PerThread(object)
    mine = made.get()
    assert made.get() is mine
    others: list[object] = []
    thread = threading.Thread(target=lambda: others.append(made.get()))
    thread.start()
    thread.join()
    assert others[0] is not mine and set(map(id, made.all())) == {id(mine), id(others[0])}


# ------------------------------------------------------------------ config


@pytest.mark.parametrize(
    "field, value",
    [
        ("rpc_timeout", 0.0),
        ("rpc_timeout", -5.0),
        ("rpc_timeout", 1e9),
        ("rpc_timeout", float("nan")),
        ("rpc_gas_cap", 20_999),
        ("rpc_gas_cap", 2**63),
        ("rpc_gas_cap", True),
        ("rpc_gas_cap", 1.5),
    ],
)
def test_config_refuses_bad_rpc_limits(field: str, value: object) -> None:
    with pytest.raises(ConfigError):
        NodeConfig(data_dir=None, **{field: value})  # type: ignore[arg-type]


# ------------------------------------------------------------------ the node


@pytest.fixture
def node() -> Iterator[Node]:
    node = Node(NodeConfig(data_dir=None, accounts=2, rpc_timeout=0.5, rpc_gas_cap=2_000_000))
    try:
        yield node
    finally:
        node.close()


def _loop_call(**request: object) -> tuple[CallRequest, dict[bytes, AccountOverride]]:
    return CallRequest(to=LOOPER, **request), {LOOPER: AccountOverride(code=LOOP)}  # type: ignore[arg-type]


async def test_the_gas_cap_holds_whatever_the_request_or_overrides_say(node: Node) -> None:
    head = node.head_number
    request, overrides = _loop_call()
    big = BlockOverride(gas_limit=2**40)
    # no gas given, or 2**31 with a block gas limit override of 2**40: each runs out at the cap
    for req, block_override in ((request, None), (_loop_call(gas=2**24)[0], big)):
        with pytest.raises(NodeError, match="out of gas"):
            await node.call(req, head, overrides, block_override)
    result = node.simulate(_loop_call(gas=2**24)[0], head, overrides, big)
    assert result.tx.gas_limit == 2_000_000 and result.outcome.gas_used == 2_000_000
    with pytest.raises(NodeError, match=r"gas required exceeds allowance \(2000000\)"):
        await node.estimate_gas(_loop_call(gas=2**24)[0], head, overrides, big)


async def test_an_endless_call_times_out_and_blocks_keep_being_sealed() -> None:
    config = NodeConfig(
        data_dir=None,
        accounts=1,
        rpc_timeout=0.3,
        rpc_gas_cap=2**62,
        chain=ChainConfig(fork=Fork.PRAGUE, gas_limit=2**62),
    )
    node = Node(config)
    try:
        request, overrides = _loop_call()
        call = asyncio.ensure_future(node.call(request, node.head_number, overrides))
        await asyncio.sleep(0.05)
        before = node.head_number
        key = node.accounts[0].private_key
        tx = sign_transaction(
            Transaction(
                2,
                31337,
                0,
                21_000,
                COUNTER,
                1,
                b"",
                max_fee_per_gas=10**10,
                max_priority_fee_per_gas=1,
            ),
            key,
        )
        node.pool.add(tx, tx.encode())
        node.producer.produce()  # the loop is free to seal while the call runs
        assert node.head_number == before + 1
        with pytest.raises(CallTimeout, match=r"timeout = 0.3s"):
            await call
        assert node.simulation_worker.aborted == 1
    finally:
        node.close()


async def test_a_call_stays_on_its_block_while_blocks_are_sealed(node: Node) -> None:
    # slot 0 of COUNTER is set by a dev edit, sealed, then changed again and sealed;
    # a call pinned before the second seal still reads the first value.
    node.edit_state(COUNTER, code=SLOAD_RETURN, storage=(0, 1))
    node.mine(1)
    pinned = node._pinned_simulator(node.head_number)
    number = node.head_number
    node.edit_state(COUNTER, storage=(0, 2))
    node.mine(1)
    worker = node.simulation_worker
    output = await worker.run(lambda: pinned.call(CallRequest(to=COUNTER), number))
    assert int.from_bytes(output, "big") == 1
    assert int.from_bytes(await node.call(CallRequest(to=COUNTER), node.head_number), "big") == 2


async def test_pending_edits_are_seen_by_calls_at_latest(node: Node) -> None:
    node.edit_state(COUNTER, code=SLOAD_RETURN, storage=(0, 9))
    output = await node.call(CallRequest(to=COUNTER), node.head_number)
    assert int.from_bytes(output, "big") == 9
    # the pending block carries them too: the next block seals them
    pending = await node.call(CallRequest(to=COUNTER), node.head_number + 1)
    assert int.from_bytes(pending, "big") == 9


# ------------------------------------------------------------------ eth_getLogs


LOG2 = bytes.fromhex(
    # LOG2(0, 0, topic1 = calldata[0:32], topic2 = calldata[32:64])
    "60203560003560006000a200"
)
EMITTER = b"\x0e" * 20


def _emit(node: Node, nonce: int, topic1: int, topic2: int) -> None:
    key = node.accounts[0].private_key
    tx = sign_transaction(
        Transaction(
            2,
            31337,
            nonce,
            100_000,
            EMITTER,
            0,
            topic1.to_bytes(32, "big") + topic2.to_bytes(32, "big"),
            max_fee_per_gas=10**10,
            max_priority_fee_per_gas=1,
        ),
        key,
    )
    node.pool.add(tx, tx.encode())
    assert node.producer.produce() is not None


async def test_get_logs_matches_any_topic_position_through_the_index(node: Node) -> None:
    node.edit_state(EMITTER, code=LOG2)
    for nonce, (a, b) in enumerate([(1, 2), (2, 1), (3, 4), (1, 4)]):
        _emit(node, nonce, a, b)
    head = node.head_number

    def query(*topics: set[int] | None) -> list[tuple[int, int]]:
        wanted = tuple(
            None if t is None else frozenset(v.to_bytes(32, "big") for v in t) for t in topics
        )
        found = node.chain.logs(LogFilter(0, head, topics=wanted))
        return [tuple(int.from_bytes(t, "big") for t in e.log.topics) for e in found]  # type: ignore[misc]

    assert query(None, {4}) == [(3, 4), (1, 4)]
    assert query({1}, {4}) == [(1, 4)]
    assert query(None, {1, 2}) == [(1, 2), (2, 1)]
    assert query({2}, None) == [(2, 1)]
    assert query(None, {7}) == []
    # the candidates come from the index: a topic-2-only query reads only blocks listing it
    candidates = node.chain._indexed_blocks(
        LogFilter(0, head, topics=(None, frozenset({(4).to_bytes(32, "big")}))), 0, head
    )
    assert candidates is not None and len(candidates) == 2
    assert await node.find_logs(LogFilter(0, head, topics=(None, frozenset()))) == []
