"""web3.py against a real node over HTTP: transfers, contracts, events, reverts, estimates,
filters, batches, pool errors, overrides and signing."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data
from web3 import Web3
from web3.exceptions import (
    ContractCustomError,
    ContractLogicError,
    ContractPanicError,
)

from tests.integration.node_process import RunningNode, contract, hummingbird

KEY0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningNode]:
    with hummingbird(tmp_path_factory.mktemp("node")) as running:
        yield running


@pytest.fixture(scope="module")
def w3(node: RunningNode) -> Web3:
    return Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 30}))


def raw(node: RunningNode, payload: object) -> Any:
    request = urllib.request.Request(
        node.url, json.dumps(payload).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
    return json.loads(body) if body else None


def call(node: RunningNode, method: str, *params: object) -> Any:
    return raw(node, {"jsonrpc": "2.0", "id": 7, "method": method, "params": list(params)})


def deploy(w3: Web3, name: str, *args: object) -> Any:
    spec = contract(name)
    factory = w3.eth.contract(abi=spec["abi"], bytecode=spec["bytecode"])
    tx_hash = factory.constructor(*args).transact({"from": w3.eth.accounts[0]})
    receipt = w3.eth.get_transaction_receipt(tx_hash)  # no wait: the block is sealed already
    assert receipt["status"] == 1
    return w3.eth.contract(address=receipt["contractAddress"], abi=spec["abi"])


def test_chain_basics(w3: Web3) -> None:
    assert w3.eth.chain_id == 31337
    accounts = w3.eth.accounts
    assert len(accounts) == 10
    assert accounts[0] == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    assert w3.eth.get_balance(accounts[9]) == 10_000 * 10**18
    assert w3.client_version.startswith("anvil/") and "hummingbird" in w3.client_version
    genesis = w3.eth.get_block(0)
    assert genesis["number"] == 0 and genesis["baseFeePerGas"] == 10**9
    for system in (
        "0x000F3df6D732807Ef1319fB7B8bB8522d0Beac02",
        "0x0000F90827F1C53a10cb7A02335B175320002935",
        "0x4e59b44847b379578588920cA78FbF26c0B4956C",
    ):
        assert len(w3.eth.get_code(Web3.to_checksum_address(system))) > 0


def test_transfer_receipt_is_there_when_hash_returns(w3: Web3) -> None:
    a, b = w3.eth.accounts[1], w3.eth.accounts[2]
    before = w3.eth.get_balance(b)
    nonce = w3.eth.get_transaction_count(a)
    tx_hash = w3.eth.send_transaction({"from": a, "to": b, "value": 12345})
    receipt = w3.eth.get_transaction_receipt(tx_hash)
    assert receipt["status"] == 1 and receipt["gasUsed"] == 21000
    assert w3.eth.get_balance(b) == before + 12345
    assert w3.eth.get_transaction_count(a) == nonce + 1
    block = w3.eth.get_block(receipt["blockNumber"], full_transactions=True)
    assert block["hash"] == receipt["blockHash"]
    assert block["transactions"][receipt["transactionIndex"]]["hash"] == tx_hash
    tx = w3.eth.get_transaction(tx_hash)
    assert tx["from"] == a and tx["value"] == 12345 and tx["blockNumber"] == block["number"]


def test_signed_raw_transaction(w3: Web3) -> None:
    account = Account.from_key(KEY0)
    tx = {
        "to": w3.eth.accounts[3],
        "value": 1,
        "gas": 21000,
        "maxFeePerGas": 10 * 10**9,
        "maxPriorityFeePerGas": 10**9,
        "nonce": w3.eth.get_transaction_count(account.address, "pending"),
        "chainId": 31337,
        "type": 2,
    }
    signed = account.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    assert tx_hash == signed.hash
    assert w3.eth.get_transaction_receipt(tx_hash)["status"] == 1
    raw_back = w3.eth.get_raw_transaction(tx_hash)
    assert bytes(raw_back) == bytes(signed.raw_transaction)


def test_legacy_transaction(w3: Web3) -> None:
    account = Account.from_key(KEY0)
    signed = account.sign_transaction(
        {
            "to": w3.eth.accounts[4],
            "value": 5,
            "gas": 21000,
            "gasPrice": 5 * 10**9,
            "nonce": w3.eth.get_transaction_count(account.address, "pending"),
            "chainId": 31337,
        }
    )
    receipt = w3.eth.get_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction))
    assert receipt["status"] == 1 and receipt["type"] == 0


def test_counter_contract_calls_and_events(w3: Web3) -> None:
    counter = deploy(w3, "Counter")
    assert counter.functions.counter().call() == 0
    tx_hash = counter.functions.increment().transact({"from": w3.eth.accounts[0]})
    receipt = w3.eth.get_transaction_receipt(tx_hash)
    assert counter.functions.counter().call() == 1
    events = counter.events.Incremented().process_receipt(receipt)
    assert events[0]["args"]["value"] == 1
    assert events[0]["args"]["by"] == w3.eth.accounts[0]
    logs = w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest", "address": counter.address})
    assert [log["transactionHash"] for log in logs] == [tx_hash]
    topic = logs[0]["topics"][0]
    by_topic = w3.eth.get_logs({"fromBlock": receipt["blockNumber"], "topics": [topic]})
    assert tx_hash in [log["transactionHash"] for log in by_topic]
    by_hash = w3.eth.get_logs({"blockHash": receipt["blockHash"]})
    assert len(by_hash) == 1 and by_hash[0]["logIndex"] == 0
    assert counter.functions.counter().call(block_identifier=receipt["blockNumber"] - 1) == 0


def test_get_account_storage_root_at_past_blocks(w3: Web3, node: RunningNode) -> None:
    """The storage root of an account at a past block is the one the head showed then."""
    token = deploy(w3, "Token", 10**24)
    address = token.address
    seen: dict[int, dict[str, str]] = {}
    for to in (w3.eth.accounts[6], w3.eth.accounts[7], w3.eth.accounts[6]):
        number = w3.eth.block_number
        seen[number] = call(node, "eth_getAccount", address, "latest")["result"]
        token.functions.transfer(to, 5).transact({"from": w3.eth.accounts[0]})
    head = call(node, "eth_getAccount", address, "latest")["result"]
    roots = {account["storageRoot"] for account in seen.values()} | {head["storageRoot"]}
    assert len(roots) == 4  # every transfer changed the token's storage
    for number, account in seen.items():
        assert call(node, "eth_getAccount", address, hex(number))["result"] == account


def test_erc20_transfer_and_event_filter(w3: Web3) -> None:
    token = deploy(w3, "Token", 10**24)
    alice, bob = w3.eth.accounts[0], w3.eth.accounts[5]
    tx_hash = token.functions.transfer(bob, 777).transact({"from": alice})
    assert w3.eth.get_transaction_receipt(tx_hash)["status"] == 1
    assert token.functions.balanceOf(bob).call() == 777
    transfers = token.events.Transfer().get_logs(from_block=0, argument_filters={"to": bob})
    assert [t["args"]["value"] for t in transfers] == [777]


def test_reverts_with_reason_custom_error_and_panic(w3: Web3, node: RunningNode) -> None:
    reverter = deploy(w3, "Reverter")
    with pytest.raises(ContractLogicError, match="execution reverted: reverted with reason"):
        reverter.functions.revertWithReason().call()
    with pytest.raises(ContractCustomError):
        reverter.functions.revertWithCustomError(1, 2).call()
    with pytest.raises(ContractPanicError):
        reverter.functions.panicAssert().call()

    def raw_call(fn: Any) -> Any:
        return call(
            node, "eth_call", {"to": reverter.address, "data": fn._encode_transaction_data()}
        )

    reason = raw_call(reverter.functions.revertWithReason())["error"]
    assert reason["code"] == 3
    assert reason["message"] == "execution reverted: reverted with reason"
    assert reason["data"].startswith("0x08c379a0")
    custom = raw_call(reverter.functions.revertWithCustomError(5, 9))["error"]
    selector = Web3.keccak(text="Insufficient(uint256,uint256)")[:4].hex()
    assert custom["code"] == 3 and custom["message"] == "execution reverted"
    assert custom["data"] == "0x" + selector + f"{5:064x}" + f"{9:064x}"
    panic = raw_call(reverter.functions.panicDivideByZero(0))["error"]
    assert panic["code"] == 3 and panic["data"] == "0x4e487b71" + f"{0x12:064x}"
    assert "division or modulo by zero" in panic["message"]
    empty = raw_call(reverter.functions.revertEmpty())["error"]
    assert empty == {"code": 3, "message": "execution reverted", "data": "0x"}
    # A reverting transaction is still mined, with status 0.
    tx_hash = reverter.functions.revertWithReason().transact(
        {"from": w3.eth.accounts[0], "gas": 100_000}
    )
    assert w3.eth.get_transaction_receipt(tx_hash)["status"] == 0


def test_estimate_gas_is_exact_and_never_too_low(w3: Web3, node: RunningNode) -> None:
    a, b = w3.eth.accounts[6], w3.eth.accounts[7]
    assert w3.eth.estimate_gas({"from": a, "to": b, "value": 1}) == 21000
    reverter = deploy(w3, "Reverter")
    for fn in (reverter.functions.burn(20), reverter.functions.needsGasLeft(10, 30_000)):
        estimate = fn.estimate_gas({"from": a})
        data = fn._encode_transaction_data()
        low = call(
            node,
            "eth_call",
            {"from": a, "to": reverter.address, "data": data, "gas": hex(estimate - 1)},
        )
        assert "error" in low, "one gas less must fail"
        tx_hash = w3.eth.send_transaction(
            {"from": a, "to": reverter.address, "data": data, "gas": estimate}
        )
        assert w3.eth.get_transaction_receipt(tx_hash)["status"] == 1
    error = call(
        node,
        "eth_estimateGas",
        {
            "from": a,
            "to": reverter.address,
            "data": reverter.functions.revertWithReason()._encode_transaction_data(),
        },
    )["error"]
    assert error["code"] == 3 and error["message"] == "execution reverted: reverted with reason"


def test_block_and_log_filters(w3: Web3) -> None:
    counter = deploy(w3, "Counter")
    block_filter = w3.eth.filter("latest")
    log_filter = w3.eth.filter({"address": counter.address})
    tx_hash = counter.functions.increment().transact({"from": w3.eth.accounts[0]})
    receipt = w3.eth.get_transaction_receipt(tx_hash)
    assert receipt["blockHash"] in block_filter.get_new_entries()
    assert block_filter.get_new_entries() == []
    changes = log_filter.get_new_entries()
    assert [c["transactionHash"] for c in changes] == [tx_hash]
    assert [c["transactionHash"] for c in log_filter.get_all_entries()] == [tx_hash]
    assert w3.eth.uninstall_filter(log_filter.filter_id) is True
    assert w3.eth.uninstall_filter(log_filter.filter_id) is False


def test_pending_block_is_the_next_block(w3: Web3, node: RunningNode) -> None:
    """`pending` is geth's pending block: head + 1, no hash/nonce/miner, the next base fee;
    calls at `pending` run in its environment (NUMBER), `latest` in the head's."""
    head = w3.eth.get_block("latest")
    pending = call(node, "eth_getBlockByNumber", "pending", False)["result"]
    assert int(pending["number"], 16) == head["number"] + 1
    assert pending["hash"] is None and pending["nonce"] is None and pending["miner"] is None
    assert pending["parentHash"] == head["hash"].to_0x_hex()
    assert pending["transactions"] == [] and pending["gasUsed"] == "0x0"
    assert int(pending["baseFeePerGas"], 16) == w3.eth.fee_history(1, "latest")["baseFeePerGas"][-1]
    assert int(pending["timestamp"], 16) >= head["timestamp"]
    assert call(node, "eth_getBlockTransactionCountByNumber", "pending")["result"] == "0x0"
    assert call(node, "eth_getBlockReceipts", "pending")["result"] == []
    assert call(node, "eth_getTransactionByBlockNumberAndIndex", "pending", "0x0")["result"] is None
    # NUMBER; PUSH1 0; MSTORE; PUSH1 32; PUSH1 0; RETURN, run as init code.
    number_code = "0x4360005260206000f3"
    at_pending = call(node, "eth_call", {"data": number_code}, "pending")["result"]
    at_latest = call(node, "eth_call", {"data": number_code}, "latest")["result"]
    assert int(at_pending, 16) == int(at_latest, 16) + 1 == head["number"] + 1
    account = w3.eth.accounts[3]
    assert w3.eth.get_balance(account, "pending") == w3.eth.get_balance(account, "latest")
    assert (
        call(node, "eth_getAccount", account, "pending")["result"]
        == call(node, "eth_getAccount", account, "latest")["result"]
    )


def test_batch_keeps_order_and_per_item_errors(node: RunningNode) -> None:
    reply = raw(
        node,
        [
            {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"},
            {"jsonrpc": "2.0", "id": 2, "method": "no_such_method"},
            {"jsonrpc": "2.0", "id": 3, "method": "eth_getBalance", "params": ["0x12"]},
            {"jsonrpc": "2.0", "method": "eth_chainId"},  # notification: no answer
            {"jsonrpc": "2.0", "id": "x", "method": "net_version"},
        ],
    )
    assert [r["id"] for r in reply] == [1, 2, 3, "x"]
    assert reply[0]["result"] == "0x7a69"
    assert reply[1]["error"]["code"] == -32601
    assert reply[2]["error"]["code"] == -32602
    assert reply[3]["result"] == "31337"


def test_batch_of_submissions_is_one_block_and_later_items_see_it(
    w3: Web3, node: RunningNode
) -> None:
    account = Account.from_key(KEY0)
    nonce = w3.eth.get_transaction_count(account.address)

    def transfer(offset: int) -> tuple[str, str]:
        signed = account.sign_transaction(
            {
                "to": w3.eth.accounts[2],
                "value": 1,
                "gas": 21000,
                "chainId": 31337,
                "maxFeePerGas": 10**11,
                "maxPriorityFeePerGas": 10**9,
                "nonce": nonce + offset,
            }
        )
        return "0x" + bytes(signed.raw_transaction).hex(), "0x" + bytes(signed.hash).hex()

    def request(id_: object, method: str, param: str) -> dict[str, object]:
        return {"jsonrpc": "2.0", "id": id_, "method": method, "params": [param]}

    sent = [transfer(i) for i in range(5)]
    reply = raw(node, [request(i, "eth_sendRawTransaction", tx) for i, (tx, _) in enumerate(sent)])
    hashes = [item["result"] for item in reply]
    assert hashes == [tx_hash for _, tx_hash in sent]
    reply = raw(node, [request(h, "eth_getTransactionReceipt", h) for h in hashes])
    assert len({item["result"]["blockNumber"] for item in reply}) == 1
    block = w3.eth.get_block(int(reply[0]["result"]["blockNumber"], 16))
    assert [h.to_0x_hex() for h in block["transactions"]] == hashes
    # a receipt asked for after a submission in the same batch is already there
    tx, tx_hash = transfer(5)
    reply = raw(
        node,
        [
            request(1, "eth_sendRawTransaction", tx),
            request(2, "eth_getTransactionReceipt", tx_hash),
        ],
    )
    assert reply[0]["result"] == tx_hash
    assert reply[1]["result"]["status"] == "0x1"


def test_pool_rejections_use_geth_wording(w3: Web3, node: RunningNode) -> None:
    account = Account.from_key(KEY0)
    nonce = w3.eth.get_transaction_count(account.address)
    base = {
        "to": w3.eth.accounts[1],
        "value": 1,
        "gas": 21000,
        "chainId": 31337,
        "maxPriorityFeePerGas": 10**9,
    }

    def send(**fields: Any) -> Any:
        signed = account.sign_transaction({**base, **fields})
        return call(node, "eth_sendRawTransaction", "0x" + bytes(signed.raw_transaction).hex())

    assert send(nonce=nonce - 1, maxFeePerGas=10**10)["error"]["message"].startswith(
        "nonce too low"
    )
    low = send(nonce=nonce, gas=20_000, maxFeePerGas=10**10)["error"]
    assert low["code"] == -32000 and "intrinsic gas too low" in low["message"]
    poor = send(nonce=nonce, value=10**30, maxFeePerGas=10**10)["error"]["message"]
    assert poor.startswith("insufficient funds for gas * price + value")
    cheap = send(nonce=nonce, maxFeePerGas=1, maxPriorityFeePerGas=1)["error"]["message"]
    assert cheap.startswith("max fee per gas less than block base fee")
    # A future nonce returns at once and waits in the queue; the gap filler releases it.
    gap = send(nonce=nonce + 1, maxFeePerGas=10**10)
    assert "result" in gap
    assert call(node, "txpool_status")["result"] == {"pending": "0x0", "queued": "0x1"}
    assert send(nonce=nonce + 1, maxFeePerGas=10**10)["error"]["message"] == "already known"
    underpriced = send(nonce=nonce + 1, maxFeePerGas=10**10 + 1, value=2)["error"]["message"]
    assert underpriced == "replacement transaction underpriced"
    assert w3.eth.get_transaction_count(account.address, "pending") == nonce
    first = send(nonce=nonce, maxFeePerGas=10**10)["result"]
    assert w3.eth.get_transaction_receipt(first)["status"] == 1
    receipt = w3.eth.wait_for_transaction_receipt(gap["result"], timeout=10, poll_latency=0.01)
    assert receipt["status"] == 1
    assert w3.eth.get_transaction_count(account.address) == nonce + 2


def test_overrides_access_list_and_fee_history(w3: Web3, node: RunningNode) -> None:
    counter = deploy(w3, "Counter")
    data = counter.functions.counter()._encode_transaction_data()
    override = {counter.address: {"stateDiff": {"0x" + "00" * 32: "0x" + f"{41:064x}"}}}
    result = call(node, "eth_call", {"to": counter.address, "data": data}, "latest", override)
    assert int(result["result"], 16) == 41
    rich = "0x" + "11" * 20
    balance = call(node, "eth_getBalance", rich, "latest")["result"]
    assert balance == "0x0"
    block_override = call(
        node, "eth_call", {"to": counter.address, "data": data}, "latest", None, {"number": "0x99"}
    )
    assert "result" in block_override
    listed = call(
        node,
        "eth_createAccessList",
        {
            "from": w3.eth.accounts[0],
            "to": counter.address,
            "data": counter.functions.increment()._encode_transaction_data(),
        },
    )["result"]
    assert listed["accessList"] == [] or listed["accessList"][0]["address"] != counter.address
    history = w3.eth.fee_history(4, "latest", [10, 90])
    assert len(history["baseFeePerGas"]) == len(history["gasUsedRatio"]) + 1
    assert len(history["reward"]) == len(history["gasUsedRatio"])
    pending = call(node, "eth_feeHistory", "0x2", "pending", [])["result"]
    assert len(pending["baseFeePerGas"]) == 3


def test_signing_methods_recover_to_the_dev_account(w3: Web3, node: RunningNode) -> None:
    address = w3.eth.accounts[0]
    message = b"hello hummingbird"
    signature = call(node, "personal_sign", "0x" + message.hex(), address)["result"]
    assert Account.recover_message(encode_defunct(message), signature=signature) == address
    signature = call(node, "eth_sign", address, "0x" + message.hex())["result"]
    assert Account.recover_message(encode_defunct(message), signature=signature) == address
    typed = {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "chainId", "type": "uint256"},
            ],
            "Mail": [{"name": "contents", "type": "string"}],
        },
        "primaryType": "Mail",
        "domain": {"name": "hb", "chainId": 31337},
        "message": {"contents": "hi"},
    }
    signature = call(node, "eth_signTypedData_v4", address, typed)["result"]
    recovered = Account.recover_message(encode_typed_data(full_message=typed), signature=signature)
    assert recovered == address
    unknown = call(node, "personal_sign", "0x00", "0x" + "22" * 20)["error"]
    assert unknown["code"] == -32000 and "unknown account" in unknown["message"]


def test_send_raw_transaction_sync_returns_receipt(w3: Web3, node: RunningNode) -> None:
    account = Account.from_key(KEY0)
    signed = account.sign_transaction(
        {
            "to": w3.eth.accounts[8],
            "value": 3,
            "gas": 21000,
            "maxFeePerGas": 10**10,
            "maxPriorityFeePerGas": 10**9,
            "chainId": 31337,
            "nonce": w3.eth.get_transaction_count(account.address, "pending"),
        }
    )
    hexed = "0x" + bytes(signed.raw_transaction).hex()
    receipt = call(node, "eth_sendRawTransactionSync", hexed, "5000")["result"]
    assert receipt["status"] == "0x1" and receipt["transactionHash"] == "0x" + signed.hash.hex()
    bad = call(node, "eth_sendRawTransactionSync", hexed, "soon")["error"]
    assert bad["code"] == -32602


def test_hostile_parameters_get_clear_errors(node: RunningNode) -> None:
    assert call(node, "eth_getBalance", "0x" + "ff" * 5_000_000)["error"]["code"] == -32602
    assert call(node, "eth_call", "not an object")["error"]["code"] == -32602
    assert call(node, "eth_call", {"data": "0x12", "input": "0x34"})["error"]["code"] == -32602
    assert call(node, "eth_getLogs", {"fromBlock": "0x5", "toBlock": "0x1"})["error"] == {
        "code": -32000,
        "message": "invalid block range params",
    }
    assert call(node, "eth_sendRawTransaction", "0xdeadbeef")["error"]["code"] == -32000
    assert call(node, "eth_getBlockByNumber", "0x" + "f" * 15, False)["result"] is None
    assert call(node, "eth_feeHistory", "0x1", "latest", [50, 10])["error"]["code"] == -32602


def test_realtime_send_nonce_gaps_and_timeouts(w3: Web3, node: RunningNode) -> None:
    """realtime_sendRawTransaction is eth_sendRawTransactionSync (MegaETH's name); a
    transaction behind a nonce gap is EIP-7966's code 5 with the expected nonce as data,
    at once; timeouts in hex or decimal, bounded by --txsync-max (600 s by default)."""
    account = Account.from_key(KEY0)

    def signed(nonce: int) -> str:
        tx = account.sign_transaction(
            {
                "to": w3.eth.accounts[7],
                "value": 1,
                "gas": 21000,
                "maxFeePerGas": 10**10,
                "maxPriorityFeePerGas": 10**9,
                "chainId": 31337,
                "nonce": nonce,
            }
        )
        return "0x" + bytes(tx.raw_transaction).hex()

    nonce = w3.eth.get_transaction_count(account.address, "pending")
    receipt = call(node, "realtime_sendRawTransaction", signed(nonce), "0x1388")["result"]
    assert receipt["status"] == "0x1"
    gap = call(node, "realtime_sendRawTransaction", signed(nonce + 5))["error"]
    assert gap["code"] == 5 and gap["data"] == hex(nonce + 1)
    assert "cannot run yet" in gap["message"]
    filled = [
        call(node, "eth_sendRawTransactionSync", signed(n), 5000)["result"]["status"]
        for n in range(nonce + 1, nonce + 5)
    ]
    assert filled == ["0x1"] * 4
    # The gapped transaction was kept queued and is mined now that the gap is filled.
    assert w3.eth.get_transaction_count(account.address, "pending") == nonce + 6
    for bad in ("0x0", "0", "600001", "-5", "1.5", "0x" + "f" * 20):
        error = call(node, "realtime_sendRawTransaction", signed(nonce + 6), bad)["error"]
        assert error["code"] == -32602, (bad, error)
