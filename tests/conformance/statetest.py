"""Running one state-test case: fixture JSON -> pre state, block env and
transaction -> execute -> compare with the expected post state.

Shared by ``scripts/conformance.py`` and the tests. EEST fixtures carry the full
post state; legacy ethereum/tests fixtures only an MPT state root, which is
computed here with the ``trie`` package (a test dependency the product never
imports). ``engine`` runs the contract code (``tests.conformance.engines.runner``;
None interprets); the result carries the observation the engines are compared on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jit import rlp
from jit.evm.exceptions import InvalidTransaction
from jit.evm.frame import BlockEnv
from jit.evm.state import CodeRunner
from jit.evm.transaction import coinbase_credit_diff, execute_transaction
from jit.forks import ForkRules
from sequencer.types.transactions import (
    AuthorizationTuple,
    InvalidTransactionEncoding,
    Transaction,
    decode_transaction,
    private_key_to_address,
)
from statedb.types import EMPTY_CODE_HASH, DictState, keccak256
from tests.conformance.engines import Observation, observe_tx

FORK_NAMES = {
    "Cancun": "cancun",
    "Prague": "prague",
    "Osaka": "osaka",
    "Amsterdam": "amsterdam",
}


def hex_int(value: str | int | None, default: int = 0) -> int:
    if value is None:
        return default
    if isinstance(value, int):
        return value
    return int(value, 16) if value.startswith(("0x", "0X")) else int(value)


def hex_bytes(value: str | None) -> bytes:
    if not value:
        return b""
    return bytes.fromhex(value[2:] if value.startswith(("0x", "0X")) else value)


def build_pre_state(alloc: Mapping[str, Any]) -> DictState:
    state = DictState()
    for address_hex, account in alloc.items():
        address = hex_bytes(address_hex)
        state.set_account(
            address,
            nonce=hex_int(account.get("nonce")),
            balance=hex_int(account.get("balance")),
            code=hex_bytes(account.get("code")),
        )
        slots = {hex_int(k): hex_int(v) for k, v in account.get("storage", {}).items()}
        slots = {k: v for k, v in slots.items() if v}
        if slots:
            state.storage[address] = slots
    return state


def build_block_env(env: Mapping[str, Any], rules: ForkRules, chain_id: int) -> BlockEnv:
    excess_blob_gas = hex_int(env.get("currentExcessBlobGas"))
    block_hashes = {}
    if "previousHash" in env:
        block_hashes[hex_int(env["currentNumber"]) - 1] = hex_bytes(env["previousHash"])
    randao = env.get("currentRandom") or env.get("currentDifficulty") or "0x00"
    return BlockEnv(
        chain_id=chain_id,
        coinbase=hex_bytes(env["currentCoinbase"]),
        number=hex_int(env["currentNumber"]),
        timestamp=hex_int(env["currentTimestamp"]),
        gas_limit=hex_int(env["currentGasLimit"]),
        base_fee=hex_int(env.get("currentBaseFee"), 0),
        prev_randao=hex_int(randao).to_bytes(32, "big"),
        excess_blob_gas=excess_blob_gas,
        blob_base_fee=rules.blob_base_fee(excess_blob_gas),
        block_hashes=block_hashes,
    )


def build_transaction(
    tx: Mapping[str, Any], indexes: Mapping[str, int], chain_id: int
) -> Transaction:
    """The transaction of one case, from the fixture's fields."""
    data_index, gas_index, value_index = indexes["data"], indexes["gas"], indexes["value"]
    access_lists = tx.get("accessLists")
    access_list_raw = access_lists[data_index] if access_lists else None
    access_list = tuple(
        (hex_bytes(entry["address"]), tuple(hex_int(k) for k in entry["storageKeys"]))
        for entry in (access_list_raw or [])
    )
    if "authorizationList" in tx:
        tx_type = 4
    elif "blobVersionedHashes" in tx or "maxFeePerBlobGas" in tx:
        tx_type = 3
    elif "maxFeePerGas" in tx:
        tx_type = 2
    elif access_list_raw is not None:
        tx_type = 1
    else:
        tx_type = 0
    authorizations = tuple(
        AuthorizationTuple(
            hex_int(a["chainId"]),
            hex_bytes(a["address"]),
            hex_int(a["nonce"]),
            hex_int(a.get("yParity", a.get("v"))),
            hex_int(a["r"]),
            hex_int(a["s"]),
        )
        for a in tx.get("authorizationList", [])
    )
    if "sender" in tx:
        sender = hex_bytes(tx["sender"])
    else:
        sender = private_key_to_address(hex_bytes(tx["secretKey"]))
    to = tx.get("to")
    return Transaction(
        tx_type=tx_type,
        chain_id=chain_id if tx_type else None,
        nonce=hex_int(tx["nonce"]),
        gas_limit=hex_int(tx["gasLimit"][gas_index]),
        to=hex_bytes(to) if to else None,
        value=hex_int(tx["value"][value_index]),
        data=hex_bytes(tx["data"][data_index]),
        gas_price=hex_int(tx.get("gasPrice")),
        max_fee_per_gas=hex_int(tx.get("maxFeePerGas")),
        max_priority_fee_per_gas=hex_int(tx.get("maxPriorityFeePerGas")),
        access_list=access_list,
        max_fee_per_blob_gas=hex_int(tx.get("maxFeePerBlobGas")),
        blob_versioned_hashes=tuple(hex_bytes(h) for h in tx.get("blobVersionedHashes", [])),
        authorization_list=authorizations,
        sender=sender,
    )


def logs_hash(logs: Any) -> bytes:
    return keccak256(rlp.encode([[log.address, list(log.topics), log.data] for log in logs]))


def mpt_state_root(state: DictState) -> bytes:
    """The Merkle-Patricia state root (harness only)."""
    from trie import HexaryTrie

    accounts = HexaryTrie({})
    for address, account in state.accounts.items():
        storage = HexaryTrie({})
        for slot, value in state.storage.get(address, {}).items():
            if value:
                storage[keccak256(slot.to_bytes(32, "big"))] = rlp.encode(value)
        accounts[keccak256(address)] = rlp.encode(
            [account.nonce, account.balance, storage.root_hash, account.code_hash]
        )
    return bytes(accounts.root_hash)


def compare_post_state(state: DictState, expected: Mapping[str, Any]) -> str | None:
    """None if equal, else a description of the first differences."""
    problems = []
    expected_addresses = {hex_bytes(a) for a in expected}
    for address in sorted(set(state.accounts) | expected_addresses):
        want = expected.get("0x" + address.hex())
        if want is None:
            for key, value in expected.items():
                if hex_bytes(key) == address:
                    want = value
        have = state.accounts.get(address)
        label = "0x" + address.hex()
        if want is None:
            problems.append(f"{label}: unexpected account {have}")
            continue
        if have is None:
            problems.append(f"{label}: missing account")
            continue
        if have.nonce != hex_int(want.get("nonce")):
            problems.append(f"{label}: nonce {have.nonce} != {hex_int(want.get('nonce'))}")
        if have.balance != hex_int(want.get("balance")):
            problems.append(f"{label}: balance {have.balance} != {hex_int(want.get('balance'))}")
        code = hex_bytes(want.get("code"))
        want_hash = keccak256(code) if code else EMPTY_CODE_HASH
        if have.code_hash != want_hash:
            problems.append(f"{label}: code differs")
        want_storage = {hex_int(k): hex_int(v) for k, v in want.get("storage", {}).items()}
        want_storage = {k: v for k, v in want_storage.items() if v}
        have_storage = state.storage.get(address, {})
        if have_storage != want_storage:
            diffs = [
                f"[{slot:#x}] {have_storage.get(slot, 0):#x} != {want_storage.get(slot, 0):#x}"
                for slot in sorted(set(have_storage) | set(want_storage))
                if have_storage.get(slot, 0) != want_storage.get(slot, 0)
            ]
            problems.append(f"{label}: storage " + ", ".join(diffs[:4]))
        if len(problems) > 6:
            break
    return "; ".join(problems) if problems else None


@dataclass(frozen=True, slots=True)
class CaseResult:
    passed: bool
    reason: str = ""
    # What each execution of the case did, in order (for comparing engines).
    observations: tuple[Observation, ...] = ()


def run_case(
    test: Mapping[str, Any],
    post: Mapping[str, Any],
    rules: ForkRules,
    engine: CodeRunner | None = None,
) -> CaseResult:
    """Run one (test, fork, post index) case on ``engine`` and judge it."""
    result, observation = _run_case(test, post, rules, engine)
    if observation is None:
        return result
    return CaseResult(result.passed, result.reason, (observation,))


def _run_case(
    test: Mapping[str, Any],
    post: Mapping[str, Any],
    rules: ForkRules,
    engine: CodeRunner | None,
) -> tuple[CaseResult, Observation | None]:
    chain_id = hex_int((test.get("config") or {}).get("chainid"), 1)
    state = build_pre_state(test["pre"])
    block = build_block_env(test["env"], rules, chain_id)
    expect_exception = post.get("expectException")
    tx = build_transaction(test["transaction"], post["indexes"], chain_id)
    txbytes = hex_bytes(post.get("txbytes"))
    if txbytes:
        try:
            decoded = decode_transaction(txbytes)
        except InvalidTransactionEncoding as error:
            if expect_exception:
                # rejected: the pre state must stand
                return _judge_state(state, post), (("result", "undecodable"),)
            return CaseResult(False, f"txbytes do not decode: {error}"), None
        if decoded.sender != tx.sender:
            return CaseResult(
                False, "sender recovered from txbytes differs from the fixture's"
            ), None
        tx = decoded
    try:
        outcome = execute_transaction(tx, block, state, rules, engine=engine)
    except InvalidTransaction as error:
        observation = observe_tx(error)
        if not expect_exception:
            return CaseResult(False, f"rejected as {type(error).__name__}: {error}"), observation
        return _judge_state(state, post), observation  # execution is pure: nothing applied
    observation = observe_tx(outcome)
    if expect_exception:
        return CaseResult(
            False, f"expected exception {expect_exception}, but it executed"
        ), observation
    state.apply(outcome.diff)
    state.apply(coinbase_credit_diff(state, block.coinbase, outcome.fee_credit))
    want_logs = hex_bytes(post.get("logs"))
    if want_logs and logs_hash(outcome.logs) != want_logs:
        return CaseResult(False, f"logs hash differs ({len(outcome.logs)} logs)"), observation
    return _judge_state(state, post), observation


def _judge_state(state: DictState, post: Mapping[str, Any]) -> CaseResult:
    if "state" in post:
        problem = compare_post_state(state, post["state"])
        return CaseResult(problem is None, problem or "")
    root = mpt_state_root(state)
    if root != hex_bytes(post["hash"]):
        return CaseResult(False, f"state root {root.hex()} != {post['hash']}")
    return CaseResult(True)
