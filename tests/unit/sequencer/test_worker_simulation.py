"""Off-loop simulation on worker processes (issue 15): eth_call, eth_estimateGas and
eth_createAccessList at the head or the pending block run on an idle worker process,
with results identical to the worker-thread path (the reference), the same errors
(revert data, halts, rejections), a deadline the worker enforces on itself, and a
fallback to the threads for older blocks, a busy pool or a dead worker. A worker with
a simulation outstanding is left out of the executor's batches."""

from __future__ import annotations

import asyncio
import json
import pickle
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sequencer.config import NodeConfig
from sequencer.errors import (
    ExecutionHalted,
    ExecutionReverted,
    InvalidInput,
    NodeError,
    ResourceNotFound,
    TransactionRejected,
)
from sequencer.executor.optimistic import OptimisticExecutor
from sequencer.node import Node
from sequencer.offload import CallTimeout
from sequencer.types.call import (
    AccountOverride,
    BlockOverride,
    CallRequest,
    SimulationCall,
    SimulationVerb,
)
from sequencer.types.transactions import Transaction, sign_transaction
from sequencer.workers.pool import WorkerPool
from statedb.types import keccak256
from tests.helpers.asm import initcode_for

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts" / "build"
TOKEN = json.loads((CONTRACTS / "Token.json").read_text())
REVERTER = json.loads((CONTRACTS / "Reverter.json").read_text())
# JUMPDEST, STATICCALL(gas, identity precompile, no data), POP, PUSH1 0, JUMP: runs until
# its gas is gone, ~150 gas and a precompile call per turn (slow per gas, on purpose).
LOOP = bytes.fromhex("5b600060006000600060045afa50600056")
INVALID = bytes.fromhex("fe")
POOR = b"\x42" * 20  # an address with no ether
TIMEOUT = 0.25  # the node's --rpc-timeout here


def _selector(signature: str) -> bytes:
    return keccak256(signature.encode())[:4]


def _word(value: int | bytes) -> bytes:
    if isinstance(value, bytes):
        return value.rjust(32, b"\x00")
    return value.to_bytes(32, "big")


class Deployed:
    def __init__(self, node: Node) -> None:
        self.node = node
        key = node.accounts[0].private_key
        self.owner = node.accounts[0].address
        codes = [
            bytes.fromhex(TOKEN["bytecode"][2:]) + _word(10**30),
            bytes.fromhex(REVERTER["bytecode"][2:]),
            initcode_for(LOOP),
            initcode_for(INVALID),
        ]
        for nonce, code in enumerate(codes):
            tx = sign_transaction(
                Transaction(2, 31337, nonce, 3_000_000, None, 0, code, 10**11, 10**9), key
            )
            node.pool.add(tx, tx.encode())
        (block,) = node.mine()
        assert all(r.status == 1 for r in block.receipts)
        self.token, self.reverter, self.loop, self.invalid = (
            r.contract_address for r in block.receipts
        )


@pytest.fixture
async def served() -> AsyncIterator[Deployed]:
    node = Node(
        NodeConfig(
            data_dir=None, accounts=4, workers=1, rpc_timeout=TIMEOUT, sender_recovery="inline"
        )
    )
    deployed = Deployed(node)
    await node.start()
    assert node.workers is not None and not node.workers.broken
    try:
        yield deployed
    finally:
        await node.stop()


def _calls(d: Deployed) -> list[SimulationCall]:
    node = d.node
    head = node.chain.head_number
    balance_of = _selector("balanceOf(address)") + _word(d.owner)
    transfer = _selector("transfer(address,uint256)") + _word(b"\x01" * 20) + _word(5)
    requests = [
        CallRequest(to=d.token, data=balance_of),
        CallRequest(sender=d.owner, to=d.token, data=transfer),
        CallRequest(to=d.reverter, data=_selector("revertWithReason()")),
        CallRequest(to=d.reverter, data=_selector("revertWithCustomError()")),
        CallRequest(to=d.reverter, data=_selector("panicDivideByZero()")),
        CallRequest(to=d.invalid),
        CallRequest(sender=POOR, to=d.owner, value=1, gas_price=10**9),
        CallRequest(sender=d.owner, to=POOR, value=10**18),
        CallRequest(to=d.loop, gas=100_000),
    ]
    overrides = {
        d.owner: AccountOverride(balance=7),
        d.token: AccountOverride(state_diff={0: 1}),
        POOR: AccountOverride(code=bytes.fromhex("4360005260206000f3")),  # returns NUMBER
    }
    out = []
    for verb in SimulationVerb:
        for request in requests:
            for number in (head, head + 1):
                out.append(SimulationCall(verb, request, number))
    out.append(SimulationCall(SimulationVerb.CALL, CallRequest(to=POOR), head, overrides))
    out.append(
        SimulationCall(
            SimulationVerb.CALL,
            CallRequest(to=POOR),
            head,
            overrides,
            BlockOverride(number=12345, base_fee=0),
        )
    )
    out.append(
        SimulationCall(
            SimulationVerb.ESTIMATE_GAS,
            CallRequest(sender=d.owner, to=d.token, data=transfer),
            head,
            {d.owner: AccountOverride(nonce=9)},
        )
    )
    return out


def _answer(value: object | None, error: BaseException | None) -> object:
    if error is None:
        return ("ok", value)
    assert isinstance(error, NodeError), error
    return (type(error).__name__, error.message, error.code, error.data)


async def _on_thread(node: Node, call: SimulationCall) -> object:
    try:
        return _answer(await node._off_loop(call.number, lambda sim: sim.run(call)), None)
    except NodeError as error:
        return _answer(None, error)


async def test_a_worker_answers_as_the_threads_do(served: Deployed) -> None:
    node = served.node
    workers = node.workers
    assert workers is not None
    for call in _calls(served):
        reply = await node._simulate_on_worker(workers, 0, call)
        assert reply is not None, call  # served, not stale
        expected = await _on_thread(node, call)
        assert _answer(reply.value, reply.error) == expected, call


async def test_pending_dev_edits_travel_with_the_request(served: Deployed) -> None:
    """anvil_setBalance / setCode / setStorageAt before the next block: visible at the
    head, so the worker must see them too (they are not in its state yet)."""
    node = served.node
    workers = node.workers
    assert workers is not None
    node.edit_state(POOR, balance=10**20, code=bytes.fromhex("4760005260206000f3"))  # SELFBALANCE
    node.edit_state(served.token, storage=(0, 77))
    head = node.chain.head_number
    calls = [
        SimulationCall(SimulationVerb.CALL, CallRequest(to=POOR), head),
        SimulationCall(SimulationVerb.ESTIMATE_GAS, CallRequest(sender=POOR, value=10**19), head),
        SimulationCall(
            SimulationVerb.CREATE_ACCESS_LIST,
            CallRequest(to=served.token, data=_selector("totalSupply()")),
            head,
        ),
    ]
    for call in calls:
        reply = await node._simulate_on_worker(workers, 0, call)
        assert reply is not None and reply.error is None, call
        assert _answer(reply.value, None) == await _on_thread(node, call), call
    output = await node.call(CallRequest(to=POOR), head)
    assert int.from_bytes(output, "big") == 10**20


async def test_the_node_verbs_go_to_the_worker(served: Deployed) -> None:
    node = served.node
    workers = node.workers
    assert workers is not None
    sent: list[int] = []
    original = workers.simulate

    async def spy(index: int, message: object, timeout: float) -> object:
        sent.append(index)
        return await original(index, message, timeout)  # type: ignore[arg-type]

    workers.simulate = spy  # type: ignore[assignment,method-assign]
    head = node.chain.head_number
    balance = await node.call(CallRequest(to=served.token, data=_selector("totalSupply()")), head)
    assert int.from_bytes(balance, "big") == 10**30
    gas = await node.estimate_gas(
        CallRequest(sender=served.owner, to=POOR, value=1), head + 1, None, None
    )
    assert gas == 21_000
    access_list, _, error = await node.create_access_list(
        CallRequest(to=served.token, data=_selector("balanceOf(address)") + _word(POOR)),
        head,
        None,
        None,
    )
    assert error is None and access_list and access_list[0][0] == served.token
    with pytest.raises(ExecutionReverted) as raised:
        await node.call(CallRequest(to=served.reverter, data=_selector("revertWithReason()")), head)
    assert raised.value.code == 3 and raised.value.data
    assert sent == [0, 0, 0, 0]
    # An older block is not on the worker: the threads answer it.
    node.mine()
    old = await node.call(CallRequest(to=served.token, data=_selector("totalSupply()")), head)
    assert old == balance and sent == [0, 0, 0, 0]


async def test_a_runaway_call_stops_at_its_deadline_and_the_worker_goes_on(
    served: Deployed,
) -> None:
    node = served.node
    workers = node.workers
    assert workers is not None
    head = node.chain.head_number
    start = time.monotonic()
    with pytest.raises(CallTimeout):
        await node.call(CallRequest(to=served.loop), head)
    assert time.monotonic() - start < TIMEOUT + 1.0
    # The worker stopped itself: it is idle again and serves the next call.
    for _ in range(100):
        if workers.idle_for_simulation() == 0:
            break
        await asyncio.sleep(0.01)
    assert workers.idle_for_simulation() == 0
    call = SimulationCall(
        SimulationVerb.CALL, CallRequest(to=served.token, data=_selector("totalSupply()")), head
    )
    reply = await node._simulate_on_worker(workers, 0, call)
    assert reply is not None and reply.error is None
    assert int.from_bytes(reply.value, "big") == 10**30  # type: ignore[arg-type]


async def test_a_busy_worker_is_left_out_of_batches_and_calls(served: Deployed) -> None:
    node = served.node
    workers = node.workers
    assert workers is not None
    executor = node.producer.executor
    assert isinstance(executor, OptimisticExecutor)
    head = node.chain.head_number
    task = asyncio.ensure_future(node.call(CallRequest(to=served.loop), head))
    await asyncio.sleep(0.05)  # the worker is running it now
    assert workers.free_for_batch() == [] and workers.idle_for_simulation() is None
    # A second call does not queue behind it: the threads serve it at once.
    answer = await node.call(CallRequest(to=served.token, data=_selector("totalSupply()")), head)
    assert int.from_bytes(answer, "big") == 10**30
    with pytest.raises(CallTimeout):
        await task
    await asyncio.sleep(TIMEOUT)
    assert workers.free_for_batch() == [0]


async def test_a_dead_worker_falls_back_to_the_threads(served: Deployed) -> None:
    node = served.node
    workers = node.workers
    assert workers is not None
    workers._processes[0].kill()
    workers._processes[0].join(5)
    head = node.chain.head_number
    answer = await node.call(CallRequest(to=served.token, data=_selector("totalSupply()")), head)
    assert int.from_bytes(answer, "big") == 10**30
    answer = await node.call(CallRequest(to=served.token, data=_selector("totalSupply()")), head)
    assert int.from_bytes(answer, "big") == 10**30
    assert workers.broken and workers.idle_for_simulation() is None


@pytest.mark.parametrize(
    "error",
    [
        NodeError("plain"),
        NodeError("with data", data={"a": [1, "x"]}, code=-32099),
        ExecutionReverted(b"\x08\xc3\x79\xa0" + b"\x00" * 4, "why"),
        ExecutionReverted(b"", None),
        ExecutionHalted("out of gas"),
        TransactionRejected("insufficient funds for gas * price + value"),
        ResourceNotFound("header not found"),
        InvalidInput("bad"),
        CallTimeout(0.25),
    ],
)
def test_node_errors_cross_the_pipe_whole(error: NodeError) -> None:
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert (copy.message, copy.code, copy.data, str(copy)) == (
        error.message,
        error.code,
        error.data,
        str(error),
    )
    assert copy.__dict__ == error.__dict__


def test_idle_and_free_workers_of_a_broken_pool() -> None:
    pool = WorkerPool.__new__(WorkerPool)
    pool.broken = True
    pool.head = 3
    pool._outstanding = [0, 1]
    assert pool.idle_for_simulation() is None
    pool.broken = False
    assert pool.idle_for_simulation() == 0 and pool.free_for_batch() == [0]
    pool._outstanding = [1, 1]
    assert pool.idle_for_simulation() is None and pool.free_for_batch() == []
    pool._outstanding = [0, 0]
    pool.head = -1  # after a revert, before the next block re-seeds
    assert pool.idle_for_simulation() is None
