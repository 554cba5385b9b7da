"""A real node with ``--engine jit`` (and ``auto``) driven by web3.py: deploy, transact,
call, estimate, revert, events; every observable result equals the interpreter's."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web3 import Web3
from web3.exceptions import ContractLogicError

from tests.integration.node_process import RunningNode, contract, hummingbird

ENGINES = {
    "interpreter": ["--engine", "interpreter"],
    "jit": ["--engine", "jit"],
    "auto": ["--engine", "auto", "--jit-threshold", "1"],
}


def node_info(node: RunningNode) -> dict[str, Any]:
    with urllib.request.urlopen(node.url, timeout=10) as response:
        info: dict[str, Any] = json.loads(response.read())
    return info


def deploy(w3: Web3, name: str, *args: object) -> tuple[Any, dict[str, Any]]:
    spec = contract(name)
    factory = w3.eth.contract(abi=spec["abi"], bytecode=spec["bytecode"])
    tx_hash = factory.constructor(*args).transact({"from": w3.eth.accounts[0]})
    receipt = dict(w3.eth.get_transaction_receipt(tx_hash))
    assert receipt["status"] == 1
    return w3.eth.contract(address=receipt["contractAddress"], abi=spec["abi"]), receipt


def summary(receipt: Any) -> tuple[object, ...]:
    logs = tuple(
        (log["address"], tuple(bytes(t) for t in log["topics"]), bytes(log["data"]))
        for log in receipt["logs"]
    )
    return (receipt["status"], receipt["gasUsed"], receipt["contractAddress"], logs)


def scenario(w3: Web3, contracts: dict[str, Any] | None = None) -> list[object]:
    """Everything a client can observe of an ERC-20 and a counter, in order."""
    a0, a1, a2 = w3.eth.accounts[:3]
    seen: list[object] = []
    token, receipt = deploy(w3, "Token", 10**24)
    seen.append(summary(receipt))
    for i in range(4):  # the same code again and again: "auto" compiles it on the way
        tx = token.functions.transfer(a1, 1000 + i).transact({"from": a0})
        seen.append(summary(w3.eth.get_transaction_receipt(tx)))
    seen.append(token.functions.balanceOf(a1).call())
    seen.append(token.functions.balanceOf(a0).call())
    seen.append(token.functions.totalSupply().call())
    seen.append(token.functions.transfer(a2, 7).estimate_gas({"from": a1}))
    with pytest.raises(ContractLogicError, match="ERC20: transfer amount exceeds balance"):
        token.functions.transfer(a0, 10**30).call({"from": a2})
    # a failed transaction is mined with status 0
    tx = token.functions.transfer(a0, 10**30).transact({"from": a2, "gas": 100_000})
    seen.append(summary(w3.eth.get_transaction_receipt(tx)))
    counter, receipt = deploy(w3, "Counter")
    seen.append(summary(receipt))
    for _ in range(3):
        tx = counter.functions.increment().transact({"from": a1})
        seen.append(summary(w3.eth.get_transaction_receipt(tx)))
    seen.append(counter.functions.counter().call())
    seen.append(w3.eth.get_balance(a2))
    if contracts is not None:
        contracts.update(token=token, counter=counter)
    return seen


@pytest.fixture(scope="module")
def interpreter_results(tmp_path_factory: pytest.TempPathFactory) -> list[object]:
    with hummingbird(tmp_path_factory.mktemp("interp"), *ENGINES["interpreter"]) as node:
        w3 = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 30}))
        assert node_info(node)["engine"]["mode"] == "interpreter"
        return scenario(w3)


@pytest.fixture(params=["jit", "auto"])
def engine_node(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RunningNode]:
    with hummingbird(tmp_path, *ENGINES[request.param]) as node:
        yield node


def test_engine_gives_the_interpreter_results(
    engine_node: RunningNode, interpreter_results: list[object]
) -> None:
    w3 = Web3(Web3.HTTPProvider(engine_node.url, request_kwargs={"timeout": 30}))
    mode = node_info(engine_node)["engine"]["mode"]
    contracts: dict[str, Any] = {}
    assert scenario(w3, contracts) == interpreter_results
    # compiled code ran ("auto" compiles on a worker thread: calls pick the program up)
    deadline = time.monotonic() + 10
    while True:
        engine = node_info(engine_node)["engine"]
        if engine["compiled"] >= 2 and engine["compiledRuns"] > 0:
            break
        if time.monotonic() > deadline:
            break
        contracts["counter"].functions.counter().call()
        contracts["token"].functions.totalSupply().call()
        time.sleep(0.05)
    assert engine["mode"] == mode
    assert engine["compiled"] >= 2, engine  # at least the two contracts
    assert engine["failed"] == 0, engine
    assert engine["compiledRuns"] > 0, engine
    assert "ERROR" not in engine_node.log() and "Traceback" not in engine_node.log()
