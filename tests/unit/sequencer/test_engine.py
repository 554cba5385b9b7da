"""The node's one execution engine: configuration, and every execution path (block
production, system calls, eth_call, eth_estimateGas, eth_createAccessList) runs
contract code through ``Node.engine.runner``; every mode gives the same results."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any
from unittest.mock import patch

import pytest

import sequencer.config as config_module
from jit.compiler import ENGINE_MODES, Engine
from jit.evm.frame import Evm
from jit.evm.message import execute_code
from jit.native import unavailable_reason
from sequencer.config import ConfigError, NodeConfig
from sequencer.genesis import (
    BEACON_ROOTS_ADDRESS,
    CONSOLIDATION_REQUEST_ADDRESS,
    HISTORY_STORAGE_ADDRESS,
    WITHDRAWAL_REQUEST_ADDRESS,
)
from sequencer.node import Node
from sequencer.types.blocks import MiniBlock
from sequencer.types.call import CallRequest
from sequencer.types.transactions import Transaction, sign_transaction
from tests.helpers.asm import Asm


def counter_runtime() -> bytes:
    """slot 0 += 1, then return slot 0 + (1 + 2 + ... + 10), summed in a loop."""
    code = Asm().push(0).op("SLOAD").push(1).op("ADD", "DUP1").push(0).op("SSTORE")
    code.push(0).label("loop").push(1).op("ADD", "SWAP1", "DUP2", "ADD", "SWAP1", "DUP1")
    code.push(10).op("GT").push_label("loop").op("JUMPI", "POP")
    return code.push(0).op("MSTORE").ret(0, 32).build()


def creation_code(runtime: bytes) -> bytes:
    # 12 bytes of PUSH1/CODECOPY/RETURN, then the runtime
    prefix = Asm().push(len(runtime)).push(12).push(0).op("CODECOPY")
    code = prefix.push(len(runtime)).push(0).op("RETURN").build()
    assert len(code) == 12
    return code + runtime


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"engine": "llvm"}, "engine must be one of interpreter, jit, auto, native, got 'llvm'"),
        ({"engine": ""}, "engine must be one of"),
        ({"hot_threshold": -5}, "JIT threshold must be an integer in 0..1000000000, got -5"),
        ({"hot_threshold": 10**10}, "JIT threshold must be"),
        ({"hot_threshold": 1.5}, "JIT threshold must be"),
        ({"hot_threshold": True}, "JIT threshold must be"),
    ],
)
def test_bad_engine_config(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        NodeConfig(data_dir=None, **changes)


def test_engine_defaults() -> None:
    config = NodeConfig(data_dir=None)
    assert (config.engine, config.hot_threshold) == ("auto", 2)
    assert set(ENGINE_MODES) == {"interpreter", "jit", "auto", "native"}


class SpyEngine:
    """Records the address whose code each run executes; interprets it."""

    instances: list[SpyEngine] = []

    def __init__(
        self, mode: str, hot_threshold: int = 2, background: bool = False, **native: Any
    ) -> None:
        self.args = (mode, hot_threshold, background)
        self.real = Engine("interpreter")
        self.targets: list[bytes] = []
        self.closed = False
        SpyEngine.instances.append(self)

    def runner(self, evm: Evm) -> None:
        self.targets.append(evm.msg.current_target)
        execute_code(evm)

    def stats(self) -> Any:
        return self.real.stats()

    def close(self) -> None:
        self.closed = True
        self.real.close()


def send(node: Node, tx: Transaction) -> MiniBlock:
    node.pool.add(tx, tx.encode())
    block = node.producer.produce()
    assert block is not None
    return block


def deploy_counter(node: Node) -> tuple[bytes, MiniBlock]:
    key = node.accounts[0].private_key
    tx = Transaction(
        2,
        31337,
        0,
        200_000,
        None,
        0,
        creation_code(counter_runtime()),
        max_fee_per_gas=10**10,
        max_priority_fee_per_gas=1,
    )
    block = send(node, sign_transaction(tx, key))
    address = block.receipts[0].contract_address
    assert address is not None and block.receipts[0].status == 1
    return address, block


def bump(node: Node, address: bytes, nonce: int) -> MiniBlock:
    tx = Transaction(
        2,
        31337,
        nonce,
        100_000,
        address,
        0,
        b"",
        max_fee_per_gas=10**10,
        max_priority_fee_per_gas=1,
    )
    return send(node, sign_transaction(tx, node.accounts[0].private_key))


@pytest.fixture
def spy_node(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Node, SpyEngine]]:
    SpyEngine.instances.clear()
    monkeypatch.setattr(config_module, "Engine", SpyEngine)
    node = Node(NodeConfig(data_dir=None, accounts=1, engine="jit", hot_threshold=7))
    spy = SpyEngine.instances[-1]
    assert node.engine is spy
    try:
        yield node, spy
    finally:
        node.close()


async def test_every_execution_path_runs_on_the_node_engine(
    spy_node: tuple[Node, SpyEngine],
) -> None:
    node, spy = spy_node
    assert spy.args == ("jit", 7, True)  # block engine, compiling in the background
    address, _ = deploy_counter(node)
    # block production: the four system contracts (EIP-4788, 2935, 7002, 7251) and the
    # creation transaction
    assert set(spy.targets) == {
        BEACON_ROOTS_ADDRESS,
        HISTORY_STORAGE_ADDRESS,
        WITHDRAWAL_REQUEST_ADDRESS,
        CONSOLIDATION_REQUEST_ADDRESS,
        address,
    }
    spy.targets.clear()
    bump(node, address, 1)
    assert address in spy.targets
    head = node.head_number
    request = CallRequest(sender=node.accounts[0].address, to=address)
    spy.targets.clear()
    for simulate in (
        lambda: node.call(request, head),
        lambda: node.estimate_gas(request, head, None, None),
        lambda: node.create_access_list(request, head, None, None),
    ):
        for engine in node.simulation_engines.all():
            engine.targets.clear()
        await simulate()
        # each simulation thread has its own engine, compiling on its own thread
        simulation_spies = node.simulation_engines.all()
        assert simulation_spies and spy not in simulation_spies
        assert {engine.args for engine in simulation_spies} == {("jit", 7, True)}
        targets = [t for engine in simulation_spies for t in engine.targets]
        assert targets and set(targets) == {address}
    assert not spy.targets  # simulation never runs on the block engine
    assert not spy.closed


async def test_stop_closes_the_engine(spy_node: tuple[Node, SpyEngine]) -> None:
    node, spy = spy_node
    await node.start()
    await node.stop()
    assert spy.closed and all(engine.closed for engine in node.simulation_engines.all())


def run_scenario(mode: str) -> list[object]:
    # The genesis timestamp is the wall clock's second, and its hash reaches the state
    # (EIP-2935's history contract): pin it too, or two runs a second apart differ.
    with patch("sequencer.node.time.time", return_value=1_999_999_000.0):
        node = Node(NodeConfig(data_dir=None, accounts=1, engine=mode, hot_threshold=2))
    # Block timestamps reach the state (EIP-4788's ring buffer): pin them, so runs that
    # straddle a second boundary still compare equal.
    head = node.chain.head
    assert head is not None
    node.clock.set_next(2_000_000_000, head.header.timestamp)
    node.clock.set_interval(1)
    try:
        address, block = deploy_counter(node)
        seen: list[object] = [block.header.gas_used, block.header.state_root]
        for nonce in range(1, 5):
            block = bump(node, address, nonce)
            seen += [block.header.gas_used, block.header.state_root, block.header.receipts_root]
        request = CallRequest(sender=node.accounts[0].address, to=address)
        head = node.head_number
        seen.append(asyncio.run(node.call(request, head)))
        seen.append(asyncio.run(node.estimate_gas(request, head, None, None)))
        seen.append(asyncio.run(node.create_access_list(request, head, None, None)))
        assert node.info()["engine"]["mode"] == mode  # type: ignore[index]
        return seen
    finally:
        node.close()


def test_every_mode_gives_the_interpreter_results() -> None:
    expected = run_scenario("interpreter")
    assert expected[-3] == (4 + 1 + 55).to_bytes(32, "big")
    for mode in ENGINE_MODES:
        if mode == "native" and unavailable_reason() is not None:
            continue  # llvmlite is optional; test_native_without_llvmlite covers that case
        assert run_scenario(mode) == expected, mode


def test_native_without_llvmlite_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    """llvmlite is optional: without it the native mode is refused with a message naming
    it, by the Engine and by the node's configuration, and every other mode still works."""
    import importlib.util

    import jit.native

    def find_spec(name: str) -> object:
        return None if name == "llvmlite" else importlib.util.find_spec(name)

    monkeypatch.setattr(jit.native, "find_spec", find_spec)
    with pytest.raises(ValueError, match="llvmlite"):
        Engine("native")
    with pytest.raises(ConfigError, match="llvmlite"):
        NodeConfig(data_dir=None, engine="native")
    for mode in ("interpreter", "jit", "auto"):
        Engine(mode).close()


def looping_runtime(iterations: int) -> bytes:
    """slot 0 += 1, then a loop of ``iterations`` multiply-adds (worth machine code);
    returns its result."""
    code = Asm().push(0).op("SLOAD").push(1).op("ADD").push(0).op("SSTORE")
    code.push(1).push(iterations).label("loop").op("SWAP1").push(3).op("MUL").push(7)
    code.op("ADD", "SWAP1").push(1).op("SWAP1", "SUB", "DUP1").push_label("loop").op("JUMPI")
    return code.op("POP").push(0).op("MSTORE").ret(0, 32).build()


def run_native_node(
    cache_dir: str | None, runs: int, engine: str = "native"
) -> tuple[list[object], Any]:
    """A node under --engine native with a machine-code cache: a looping contract
    deployed and called ``runs`` times; the blocks' roots and the engine's stats."""
    with patch("sequencer.node.time.time", return_value=1_999_999_000.0):
        node = Node(
            NodeConfig(data_dir=None, accounts=1, engine=engine, native_cache_dir=cache_dir)
        )
    head = node.chain.head
    assert head is not None
    node.clock.set_next(2_000_000_000, head.header.timestamp)
    node.clock.set_interval(1)
    try:
        key = node.accounts[0].private_key
        runtime = looping_runtime(500)
        deploy = Transaction(
            2,
            31337,
            0,
            300_000,
            None,
            0,
            creation_code(runtime),
            max_fee_per_gas=10**10,
            max_priority_fee_per_gas=1,
        )
        block = send(node, sign_transaction(deploy, key))
        address = block.receipts[0].contract_address
        assert address is not None
        seen: list[object] = []
        for nonce in range(1, runs + 1):
            block = bump(node, address, nonce)
            assert block.receipts[0].status == 1
            seen += [block.header.gas_used, block.header.state_root]
            node.engine.wait_idle(timeout=60)  # a build, once hot, before the next run
        return seen, node.engine.stats()
    finally:
        node.close()


def test_native_nodes_share_machine_code_through_the_cache(tmp_path: Any) -> None:
    """The first node builds the hot contract's machine code and keeps it; a second
    node (another process would do the same) loads it instead of compiling; both give
    the interpreter's blocks."""
    if unavailable_reason() is not None:
        pytest.skip("llvmlite is optional")
    from jit.compiler.engine import NATIVE_HOT_RUNS

    runs = NATIVE_HOT_RUNS + 3
    cache_dir = str(tmp_path / "native")
    first, first_stats = run_native_node(cache_dir, runs)
    assert first_stats.native_regions >= 1 and first_stats.native_loaded == 0
    assert len(list((tmp_path / "native").glob("*.o"))) == 1
    second, second_stats = run_native_node(cache_dir, runs)
    assert second_stats.native_loaded == 1 and second_stats.native_regions >= 1
    assert first == second == run_native_node(None, runs, "interpreter")[0]


def test_eth_call_reaches_machine_code_under_auto() -> None:
    """The simulation threads' engines tier as the node's does: a looping view called
    often enough runs in machine code under the default engine, with the same answers."""
    if unavailable_reason() is not None:
        pytest.skip("llvmlite is optional")
    node = Node(
        NodeConfig(data_dir=None, accounts=1, engine="auto", hot_threshold=1, native_runs=2)
    )
    try:
        key = node.accounts[0].private_key
        deploy = Transaction(
            2, 31337, 0, 300_000, None, 0, creation_code(looping_runtime(500)),
            max_fee_per_gas=10**10, max_priority_fee_per_gas=1,
        )  # fmt: skip
        block = send(node, sign_transaction(deploy, key))
        address = block.receipts[0].contract_address
        assert address is not None
        request = CallRequest(sender=node.accounts[0].address, to=address)
        answers = set()
        for _ in range(8):
            answers.add(asyncio.run(node.call(request, node.head_number)))
            for engine in node.simulation_engines.all():
                engine.wait_idle(timeout=60)
        assert len(answers) == 1
        stats = [engine.stats() for engine in node.simulation_engines.all()]
        assert sum(s.native_regions for s in stats) >= 1 and not any(s.failed for s in stats)
    finally:
        node.close()
