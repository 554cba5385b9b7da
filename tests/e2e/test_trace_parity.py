"""Traces side by side with anvil (issue 16): the same transactions mined on a fresh
anvil and a fresh Hummingbird, then ``debug_traceTransaction`` (callTracer with and
without logs, onlyTopCall, the struct logger, 4byteTracer) and ``debug_traceCall``
compared exactly (addresses are the same on both because the same keys send the same
nonces), after two normalisations: anvil's Rust-debug error words in struct logs
(``Some(OutOfGas)``) are mapped to geth's (``out of gas``), ``ANVIL_ERROR_WORDS``; and
the coinbase's balance in prestate traces is compared by kind (the nodes' base fees
differ, so the priority fee they credit does: docs/rpc.md D10).

The corpus: contract deploys, ERC-20 transfers, nested calls through a proxy (CALL,
STATICCALL, DELEGATECALL), reverts with a reason, a custom error and a panic, CREATE2,
SELFDESTRUCT of a contract created in the same transaction, precompile calls, EIP-7702
delegated calls, out of gas in an inner frame.

Each difference left is listed in ``KNOWN`` with its triage (docs/rpc.md).
Without the anvil binary the comparison is skipped, except in CI, where it fails.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest
from eth_account import Account
from eth_utils import to_checksum_address

from scripts.peers.start import ANVIL, start_peer
from tests.helpers.asm import Asm, create2_factory, initcode_for
from tests.integration.node_process import contract, free_port, hummingbird, rpc

KEY: Final = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
KEY2: Final = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
SENDER: Final = Account.from_key(KEY).address.lower()
DELEGATOR: Final = Account.from_key(KEY2)
GWEI: Final = 10**9
CHAIN_ID: Final = 31337


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _call(url: str, method: str, params: list[Any]) -> Any:
    reply = rpc(url, method, params)
    assert isinstance(reply, dict)
    if "error" in reply:
        return {"error": reply["error"]}
    return reply["result"]


def _selector(signature: str) -> bytes:
    from eth_utils import keccak

    return keccak(text=signature)[:4]


def _word(value: int | bytes) -> bytes:
    return value.rjust(32, b"\x00") if isinstance(value, bytes) else value.to_bytes(32, "big")


def _address_of(sender: str, nonce: int) -> bytes:
    from eth_utils import keccak
    from rlp import encode

    return keccak(encode([bytes.fromhex(sender[2:]), nonce]))[12:]


def _proxy(kind: str, target: bytes) -> bytes:
    """Forwards its calldata to ``target`` with CALL / STATICCALL / DELEGATECALL and
    returns (or reverts with) what came back."""
    asm = Asm().op("CALLDATASIZE").push(0).push(0).op("CALLDATACOPY")
    asm.push(0).push(0).op("CALLDATASIZE").push(0)
    if kind == "CALL":
        asm.push(0)
    asm.push(target, 20).op("GAS").op(kind)
    asm.op("RETURNDATASIZE").push(0).push(0).op("RETURNDATACOPY")
    asm.push_label("ok").op("JUMPI")
    asm.op("RETURNDATASIZE").push(0).op("REVERT")
    asm.label("ok").op("RETURNDATASIZE").push(0).op("RETURN")
    return asm.build()


# CREATE2 with salt 7 of the calldata as init code; stores the new address at slot 0.
FACTORY: Final = create2_factory(7, store_address=True)
# Init code that self-destructs to its creator (EIP-6780: created in the same
# transaction, so the account is deleted).
DESTROY_INIT: Final = Asm().op("CALLER").op("SELFDESTRUCT").build()
# Calls sha256 (0x02) and identity (0x04) on 64 bytes and ecrecover (0x01) on junk.
PRECOMPILES: Final = b"".join(
    Asm()
    .push(0)
    .push(0)
    .push(64)
    .push(0)
    .push(address)
    .op("GAS")
    .op("STATICCALL")
    .op("POP")
    .build()
    for address in (2, 4, 1)
) + bytes([0x00])
# Spins until its gas is gone.
SPIN: Final = Asm().label("top").push_label("top").op("JUMP").build()


class Chain:
    """The corpus sent to one node; remembers each transaction's hash by name."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.nonce = 0
        self.hashes: dict[str, str] = {}
        self.addresses: dict[str, str] = {}

    def send(
        self, name: str, to: str | None, data: bytes, *, value: int = 0, gas: int = 3_000_000
    ) -> str:
        tx: dict[str, Any] = {
            "type": 2,
            "chainId": CHAIN_ID,
            "nonce": self.nonce,
            "to": None if to is None else to_checksum_address(to),
            "value": value,
            "data": "0x" + data.hex(),
            "gas": gas,
            "maxFeePerGas": 3 * GWEI,
            "maxPriorityFeePerGas": 3 * GWEI,
        }
        if to is None:
            del tx["to"]
        signed = Account.sign_transaction(tx, KEY)
        raw = "0x" + signed.raw_transaction.hex().removeprefix("0x")
        tx_hash = _call(self.url, "eth_sendRawTransaction", [raw])
        assert isinstance(tx_hash, str), tx_hash
        if to is None:
            self.addresses[name] = "0x" + _address_of(SENDER, self.nonce).hex()
        self.nonce += 1
        self.hashes[name] = tx_hash
        self.wait(name, tx_hash)
        return tx_hash

    def wait(self, name: str, tx_hash: str) -> None:
        """Until the transaction is mined (anvil mines a moment after it answers)."""
        for _ in range(500):
            if isinstance(_call(self.url, "eth_getTransactionReceipt", [tx_hash]), dict):
                return
            time.sleep(0.01)
        raise AssertionError(f"{name} was not mined")

    def delegate(self, name: str, target: str, calldata: bytes) -> None:
        """A type-4 transaction: DELEGATOR's account delegates to ``target`` and the
        same transaction calls it."""
        auth_nonce = int(
            _call(self.url, "eth_getTransactionCount", [DELEGATOR.address, "latest"]), 16
        )
        auth = DELEGATOR.sign_authorization(
            {"chainId": CHAIN_ID, "address": to_checksum_address(target), "nonce": auth_nonce}
        )
        tx = {
            "type": 4,
            "chainId": CHAIN_ID,
            "nonce": self.nonce,
            "to": DELEGATOR.address,
            "value": 0,
            "data": "0x" + calldata.hex(),
            "gas": 500_000,
            "maxFeePerGas": 3 * GWEI,
            "maxPriorityFeePerGas": 3 * GWEI,
            "authorizationList": [auth],
        }
        signed = Account.sign_transaction(tx, KEY)
        raw = "0x" + signed.raw_transaction.hex().removeprefix("0x")
        tx_hash = _call(self.url, "eth_sendRawTransaction", [raw])
        assert isinstance(tx_hash, str), tx_hash
        self.nonce += 1
        self.hashes[name] = tx_hash
        self.wait(name, tx_hash)


def _code(name: str) -> bytes:
    build = contract(name)
    bytecode = build["bytecode"]
    assert isinstance(bytecode, str)
    return bytes.fromhex(bytecode.removeprefix("0x"))


def run_corpus(url: str) -> Chain:
    chain = Chain(url)
    chain.send("deploy.token", None, _code("Token") + _word(10**24))
    token = chain.addresses["deploy.token"]
    chain.send("deploy.reverter", None, _code("Reverter"))
    reverter = chain.addresses["deploy.reverter"]
    chain.send("deploy.counter", None, _code("Counter"))
    counter = chain.addresses["deploy.counter"]
    token_bytes = bytes.fromhex(token[2:])
    for kind in ("CALL", "STATICCALL", "DELEGATECALL"):
        chain.send(f"deploy.proxy.{kind}", None, initcode_for(_proxy(kind, token_bytes)))
    chain.send("deploy.factory", None, initcode_for(FACTORY))
    chain.send("deploy.precompiles", None, initcode_for(PRECOMPILES))
    chain.send("deploy.spin", None, initcode_for(SPIN))
    spin = bytes.fromhex(chain.addresses["deploy.spin"][2:])
    chain.send("deploy.proxy.spin", None, initcode_for(_proxy("CALL", spin)))

    transfer = _selector("transfer(address,uint256)") + _word(b"\x11" * 20) + _word(5)
    chain.send("erc20.transfer", token, transfer)
    chain.send("proxy.call", chain.addresses["deploy.proxy.CALL"], transfer)
    balance_of = _selector("balanceOf(address)") + _word(bytes.fromhex(SENDER[2:]))
    chain.send("proxy.staticcall", chain.addresses["deploy.proxy.STATICCALL"], balance_of)
    chain.send("proxy.delegatecall", chain.addresses["deploy.proxy.DELEGATECALL"], transfer)
    chain.send("revert.reason", reverter, _selector("revertWithReason()"))
    chain.send(
        "revert.custom",
        reverter,
        _selector("revertWithCustomError(uint256,uint256)") + _word(1) + _word(2),
    )
    chain.send("revert.panic", reverter, _selector("panicAssert()"))
    chain.send("burn", reverter, _selector("burn(uint256)") + _word(3))
    chain.send("create2", chain.addresses["deploy.factory"], initcode_for(b"\x00"))
    chain.send("selfdestruct", chain.addresses["deploy.factory"], DESTROY_INIT)
    chain.send("precompiles", chain.addresses["deploy.precompiles"], b"")
    chain.send("oog.inner", chain.addresses["deploy.proxy.spin"], b"", gas=200_000)
    chain.send("transfer.value", "0x" + "22" * 20, b"", value=12345)
    chain.send("counter.increment", counter, _selector("increment()"))
    chain.delegate("7702.delegated", counter, _selector("increment()"))
    return chain


TRACE_OPTIONS: Final[dict[str, dict[str, Any]]] = {
    "call": {"tracer": "callTracer"},
    "call.logs": {"tracer": "callTracer", "tracerConfig": {"withLog": True}},
    "call.top": {"tracer": "callTracer", "tracerConfig": {"onlyTopCall": True}},
    "struct": {},
    "struct.memory": {"enableMemory": True, "disableStack": True},
    "4byte": {"tracer": "4byteTracer"},
    "prestate": {"tracer": "prestateTracer"},
    "prestate.diff": {"tracer": "prestateTracer", "tracerConfig": {"diffMode": True}},
}

# (transaction name, options name) -> (triage, reason); see docs/rpc.md.
# anvil 1.7.1 prints some struct-log errors as Rust debug values; geth and we print
# geth's words. The only normalisation: anvil's form is mapped to geth's before comparing.
ANVIL_ERROR_WORDS: Final = {"Some(OutOfGas)": "out of gas"}

# (transaction name, options name) -> (triage, reason) of differences left; docs/rpc.md.
_VM_CODE: Final = (
    "anvil quirk",
    "anvil's vmTrace shows '0x' as the code of a frame running init code (a CREATE, "
    "CREATE2 or deploy) or an EIP-7702 delegate's code; ours shows the code that ran "
    "(OpenEthereum's): every op, cost and push is equal",
)
KNOWN: Final[dict[tuple[str, str], tuple[str, str]]] = {
    ("deploy.token", "parity.vm"): _VM_CODE,
    ("deploy.proxy.CALL", "parity.vm"): _VM_CODE,
    ("create2", "parity.vm"): _VM_CODE,
    ("selfdestruct", "parity.vm"): _VM_CODE,
    ("7702.delegated", "parity.vm"): _VM_CODE,
    ("precompiles", "parity.replay"): (
        "anvil quirk",
        "anvil's trace_replayBlockTransactions leaves out calls into precompiles, which its "
        "own trace_transaction and trace_block list (and OpenEthereum did); we list them",
    ),
    ("7702.delegated", "parity.replay"): (
        "anvil quirk",
        "anvil's stateDiff shows the delegating account's code as unchanged ('='); the "
        "EIP-7702 authorization set it to 0xef0100 + the delegate, which we show",
    ),
}


COINBASE: Final = "0x" + "00" * 20


def normalise_fees(value: Any) -> Any:
    """The coinbase's balance by kind only: the two nodes move the base fee differently
    (docs/rpc.md D10), so the priority fee credited differs; everything else is equal."""
    if isinstance(value, dict):
        out = {key: normalise_fees(item) for key, item in value.items()}
        account = out.get(COINBASE)
        if isinstance(account, dict) and "balance" in account:
            out[COINBASE] = {**account, "balance": "<quantity>"}
        return out
    return value


def normalise_anvil(value: Any) -> Any:
    if isinstance(value, dict):
        out = {key: normalise_anvil(item) for key, item in value.items()}
        error = out.get("error")
        if isinstance(error, str):
            out["error"] = ANVIL_ERROR_WORDS.get(error, error)
        return out
    if isinstance(value, list):
        return [normalise_anvil(item) for item in value]
    return value


def _traces(chain: Chain) -> dict[tuple[str, str], Any]:
    out = {}
    for name, tx_hash in chain.hashes.items():
        for option_name, options in TRACE_OPTIONS.items():
            out[(name, option_name)] = _call(
                chain.url, "debug_traceTransaction", [tx_hash, options]
            )
        out[(name, "parity")] = _call(chain.url, "trace_transaction", [tx_hash])
        receipt = _call(chain.url, "eth_getTransactionReceipt", [tx_hash])
        number = receipt["blockNumber"]
        out[(name, "parity.block")] = _call(chain.url, "trace_block", [number])
        out[(name, "parity.replay")] = _call(
            chain.url, "trace_replayBlockTransactions", [number, ["trace", "stateDiff"]]
        )
        out[(name, "parity.filter")] = _call(
            chain.url, "trace_filter", [{"fromBlock": number, "toBlock": number}]
        )
        replay = _call(chain.url, "trace_replayBlockTransactions", [number, ["vmTrace"]])
        out[(name, "parity.vm")] = [vm_shape(r["vmTrace"]) for r in replay]
    return out


_CALLS_AND_CREATES: Final = frozenset(
    {"CALL", "CALLCODE", "DELEGATECALL", "STATICCALL", "CREATE", "CREATE2"}
)


def vm_shape(trace: Any) -> Any:
    """What both nodes' vmTraces share (docs/rpc.md T12: anvil records each op's ``ex``
    one instruction late, so its ``used``, ``mem`` and a call's push differ): the code,
    and per op its pc, cost, name, pushes (not a call's or a create's) and nested frame."""
    if trace is None:
        return None
    return {
        "code": trace["code"],
        "ops": [
            {
                "pc": op["pc"],
                "cost": op["cost"],
                "op": op.get("op"),
                "push": None
                if op["ex"] is None or op.get("op") in _CALLS_AND_CREATES
                else op["ex"]["push"],
                "sub": vm_shape(op["sub"]),
            }
            for op in trace["ops"]
        ],
    }


def normalise_parity(value: Any) -> Any:
    """Block hashes by kind (they hold each node's timestamps); the coinbase's balance
    change by kind (the nodes' base fees differ, docs/rpc.md D10)."""
    if isinstance(value, list):
        return [normalise_parity(item) for item in value]
    if not isinstance(value, dict):
        return value
    out = {key: normalise_parity(item) for key, item in value.items()}
    if "blockHash" in out:
        out["blockHash"] = "<hash>"
    diff = out.get("stateDiff")
    if isinstance(diff, dict) and COINBASE in diff:
        diff[COINBASE] = {**diff[COINBASE], "balance": "<changed>"}
    return out


@pytest.fixture(scope="module")
def traces(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[dict[Any, Any], dict[Any, Any]]]:
    if not ANVIL.is_file():
        message = f"anvil is not installed ({ANVIL}): run `bash scripts/peers/install.sh`"
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)
    with start_peer("anvil-steps", free_port()) as url:
        theirs = _traces(run_corpus(url))
    workdir: Path = tmp_path_factory.mktemp("trace")
    with hummingbird(workdir) as node:
        ours = _traces(run_corpus(node.url))
    yield ours, theirs


CASES: Final = [
    (tx, option)
    for tx in (
        "deploy.token",
        "deploy.proxy.CALL",
        "erc20.transfer",
        "proxy.call",
        "proxy.staticcall",
        "proxy.delegatecall",
        "revert.reason",
        "revert.custom",
        "revert.panic",
        "burn",
        "create2",
        "selfdestruct",
        "precompiles",
        "oog.inner",
        "transfer.value",
        "counter.increment",
        "7702.delegated",
    )
    for option in [
        *TRACE_OPTIONS,
        "parity",
        "parity.block",
        "parity.replay",
        "parity.filter",
        "parity.vm",
    ]
]


@pytest.mark.parametrize(("tx", "option"), CASES, ids=[f"{t}-{o}" for t, o in CASES])
def test_trace_matches_anvil(
    tx: str, option: str, traces: tuple[dict[Any, Any], dict[Any, Any]]
) -> None:
    ours, theirs = traces
    mine, anvils = ours[(tx, option)], normalise_anvil(theirs[(tx, option)])
    if option.startswith("prestate"):
        mine, anvils = normalise_fees(mine), normalise_fees(anvils)
    if option.startswith("parity"):
        mine, anvils = normalise_parity(mine), normalise_parity(anvils)
    if mine == anvils:
        if (tx, option) in KNOWN:
            pytest.fail("now equal to anvil: remove it from KNOWN")
        return
    known = KNOWN.get((tx, option))
    if known is not None:
        pytest.xfail(f"{known[0]}: {known[1]}")
    lines = "\n".join(differences(mine, anvils)[:20])
    pytest.fail(f"differs from anvil (path: ours | anvil):\n{lines}")


def differences(ours: Any, theirs: Any, path: str = "") -> list[str]:
    """Where two JSON values differ, as ``path: ours | anvil`` lines."""
    if isinstance(ours, dict) and isinstance(theirs, dict):
        out = []
        for key in sorted(set(ours) | set(theirs)):
            if key not in ours or key not in theirs:
                out.append(
                    f"{path}.{key}: {_short(ours.get(key, '<absent>'))} | "
                    f"{_short(theirs.get(key, '<absent>'))}"
                )
            else:
                out += differences(ours[key], theirs[key], f"{path}.{key}")
        return out
    if isinstance(ours, list) and isinstance(theirs, list):
        out = []
        if len(ours) != len(theirs):
            out.append(f"{path}: {len(ours)} items | {len(theirs)} items")
        for index, (a, b) in enumerate(zip(ours, theirs)):
            out += differences(a, b, f"{path}[{index}]")
        return out
    return [] if ours == theirs else [f"{path}: {_short(ours)} | {_short(theirs)}"]


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 90 else text[:87] + "..."
