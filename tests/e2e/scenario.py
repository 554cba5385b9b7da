"""The side-by-side scenario: one list of JSON-RPC steps, run against any node URL.

``STEPS`` is the scenario: every method Hummingbird serves (``rpc/namespaces``), with
realistic requests (transfers of every transaction type, contract deploys and calls,
logs, filters, reverts, pool rejections, malformed params, batches, WebSocket
subscriptions). A step's params may depend on earlier answers (a deployed address, a
block hash), so they are either a list or a function of the ``Run`` so far.

``run_scenario(url)`` runs ``STEPS`` in order against one node and returns the ``Run``:
each step's response (``{"result": ...}`` or ``{"error": {...}}``, the JSON-RPC envelope
dropped) and the node's chain afterwards (block and transaction hashes by position, which
``tests.e2e.normalise`` turns into labels so two chains compare).

Both nodes start fresh with the default dev accounts (chain id 31337). Every transaction
sets its fees explicitly (``maxFeePerGas == maxPriorityFeePerGas`` or a legacy gas
price), so the price paid does not depend on the base fee, which the two nodes move
differently; balances after identical operations are then equal.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp
from eth_abi import encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address

from tests.integration.node_process import contract

Json = Any
Params = list[Any] | Callable[["Run"], list[Any]]

CHAIN_ID: Final = 31337
GWEI: Final = 10**9
FEE: Final = 3 * GWEI  # above any base fee either node reaches in this scenario
STEP_TIMEOUT: Final = 10.0

# The well-known dev keys of `test test ... junk` (m/44'/60'/0'/0/i).
KEYS: Final = {
    0: "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    1: "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    2: "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9d804cdab365a",
    3: "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    9: "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
}
A0: Final = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"  # eth_sendTransaction
A1: Final = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8"  # signed raw transactions
A2: Final = "0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc"  # signing; default-fee transfer
A9: Final = "0xa0ee7a142d267c1f36714e4a8f75612f20a79720"  # a queued (nonce-gap) transaction
SINK: Final = "0x1111111111111111111111111111111111111111"  # receives value only
UNKNOWN_HASH: Final = "0x" + "ab" * 32

# Runtime code for state-override calls: return NUMBER / TIMESTAMP / SELFBALANCE as a word.
RETURN_NUMBER: Final = "0x4360005260206000f3"
RETURN_TIMESTAMP: Final = "0x4260005260206000f3"
RETURN_SELFBALANCE: Final = "0x4760005260206000f3"


def selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def calldata(signature: str, *args: Any) -> str:
    """ABI calldata: ``calldata("set(uint256)", 7)``."""
    types = signature[signature.index("(") + 1 : -1]
    encoded = encode([t for t in types.split(",") if t], list(args)) if types else b""
    return "0x" + (selector(signature) + encoded).hex()


def topic(signature: str) -> str:
    return "0x" + keccak(text=signature).hex()


def signed(key_index: int, **fields: Any) -> str:
    """A raw signed transaction of ``key_index``'s dev account (chain id 31337)."""
    tx = {"chainId": CHAIN_ID, "value": 0, "data": "0x", **fields}
    tx["to"] = to_checksum_address(tx["to"])
    for entry in tx.get("accessList", []):
        entry["address"] = to_checksum_address(entry["address"])
    raw = Account.sign_transaction(tx, KEYS[key_index]).raw_transaction
    return "0x" + bytes(raw).hex()


def legacy(nonce: int, to: str, value: int, gas: int = 21_000, **extra: Any) -> str:
    return signed(1, nonce=nonce, to=to, value=value, gas=gas, gasPrice=FEE, **extra)


def eip1559(key_index: int, nonce: int, to: str, value: int, **extra: Any) -> str:
    fields = {"maxFeePerGas": FEE, "maxPriorityFeePerGas": FEE, "gas": 21_000, **extra}
    return signed(key_index, type=2, nonce=nonce, to=to, value=value, **fields)


def bytecode(name: str) -> str:
    code = contract(name)["bytecode"]
    assert isinstance(code, str)
    return code


def send(frm: str, **fields: Any) -> dict[str, Any]:
    """An eth_sendTransaction object with explicit gas and fees."""
    tx: dict[str, Any] = {
        "from": frm,
        "gas": hex(fields.pop("gas", 1_000_000)),
        "maxFeePerGas": hex(FEE),
        "maxPriorityFeePerGas": hex(FEE),
    }
    for key, value in fields.items():
        tx[key] = hex(value) if isinstance(value, int) else value
    return tx


# ------------------------------------------------------------------ steps


@dataclass(frozen=True)
class Step:
    """One request. ``method`` starting with ``@`` is a pseudo-step the runner handles:
    ``@batch`` / ``@raw`` post ``body`` as is, ``@notifications`` is the first WebSocket
    notification of the subscription the step named in ``params`` made.

    ``check``: ``exact`` (normalised values equal), ``shape`` (same keys and value kinds).
    ``message``: how an error message compares: ``exact``, or ``prefix`` (anvil's message
    starts ours: geth appends details such as ``: have 20000, want 21000``).
    ``loose``: keys compared by kind only in this step (besides ``normalise.LOOSE_KEYS``).
    ``wait``: a transaction send; the runner waits for its receipt before going on.
    ``ws``: sent over the WebSocket connection instead of HTTP.
    """

    name: str
    method: str
    params: Params = field(default_factory=list)
    check: str = "exact"
    message: str = "exact"
    loose: frozenset[str] = frozenset()
    wait: bool = False
    ws: bool = False
    body: Callable[[Run], Json] | str | None = None


@dataclass
class Run:
    """One node's answers: step name -> response, and its chain's hashes by position."""

    url: str
    responses: dict[str, Json] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)

    def result(self, name: str) -> Any:
        response = self.responses[name]
        if "result" not in response:
            raise KeyError(f"step {name} has no result: {response}")
        return response["result"]

    def address(self, receipt_step: str) -> str:
        address = self.result(receipt_step)["contractAddress"]
        assert isinstance(address, str)
        return address

    def block_of(self, receipt_step: str) -> tuple[str, str]:
        """(number, hash) of the block a receipt step's transaction is in."""
        receipt = self.result(receipt_step)
        return receipt["blockNumber"], receipt["blockHash"]


def _counter(r: Run) -> str:
    return r.address("deploy.counter.receipt")


def _token(r: Run) -> str:
    return r.address("deploy.token.receipt")


def _emitter(r: Run) -> str:
    return r.address("deploy.emitter.receipt")


def _reverter(r: Run) -> str:
    return r.address("deploy.reverter.receipt")


def _call(to: Callable[[Run], str], data: str, **extra: Any) -> Callable[[Run], list[Any]]:
    return lambda r: [{"from": A0, "to": to(r), "data": data, **extra}, "latest"]


def _revert_call(data: str) -> Callable[[Run], list[Any]]:
    return _call(_reverter, data)


TYPED_DATA: Final = {
    "types": {
        "EIP712Domain": [
            {"name": "name", "type": "string"},
            {"name": "version", "type": "string"},
            {"name": "chainId", "type": "uint256"},
            {"name": "verifyingContract", "type": "address"},
        ],
        "Person": [
            {"name": "name", "type": "string"},
            {"name": "wallet", "type": "address"},
        ],
        "Mail": [
            {"name": "from", "type": "Person"},
            {"name": "to", "type": "Person"},
            {"name": "contents", "type": "string"},
        ],
    },
    "primaryType": "Mail",
    "domain": {
        "name": "Ether Mail",
        "version": "1",
        "chainId": CHAIN_ID,
        "verifyingContract": "0xcccccccccccccccccccccccccccccccccccccccc",
    },
    "message": {
        "from": {"name": "Cow", "wallet": "0xcd2a3d9f938e13cd947ec05abc7fe734df8dd826"},
        "to": {"name": "Bob", "wallet": "0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"},
        "contents": "Hello, Bob!",
    },
}

_FEES = frozenset({"gasPrice"})
_RECEIPT = "eth_getTransactionReceipt"


def _receipt(name: str, send_step: str) -> Step:
    return Step(name, _RECEIPT, lambda r: [r.result(send_step)])


DEV: Final = "0x000000000000000000000000000000000000d0d0"
SLOT_VALUE: Final = "0x" + "00" * 31 + "2a"
RANDAO: Final = "0x" + "5a" * 32
FUTURE: Final = 4_102_444_800  # 2100-01-01: later than any block either node has sealed

# State edits, snapshots, mining, time, impersonation, pool and block parameters. The
# steps undo what they change (automine back on, gas limit and coinbase restored) so the
# chain the two nodes end with stays comparable.
DEV_STEPS: Final[list[Step]] = [
    Step("dev.accountInfo", "eth_getAccountInfo", [A0, "latest"], check="shape"),
    Step("dev.accountInfo.empty", "eth_getAccountInfo", [DEV, "latest"]),
    Step("dev.fillTransaction", "eth_fillTransaction", [{"from": A0, "to": SINK}], check="shape"),
    Step(
        "simulate.v1",
        "eth_simulateV1",
        [{"blockStateCalls": [{"calls": [{"from": A0, "to": SINK, "value": "0x1"}]}]}, "latest"],
        check="shape",
    ),
    Step("compat.getWork", "eth_getWork", message="prefix"),
    Step(
        "compat.submitWork",
        "eth_submitWork",
        ["0x" + "00" * 8, UNKNOWN_HASH, UNKNOWN_HASH],
        message="prefix",
    ),
    Step(
        "compat.submitHashrate",
        "eth_submitHashrate",
        [UNKNOWN_HASH, UNKNOWN_HASH],
        message="prefix",
    ),
    Step("compat.protocolVersion", "eth_protocolVersion"),
    Step("compat.networkId", "eth_networkId"),
    Step(
        "compat.rawByNumberAndIndex", "eth_getRawTransactionByBlockNumberAndIndex", ["0x1", "0x0"]
    ),
    Step(
        "compat.rawByHashAndIndex",
        "eth_getRawTransactionByBlockHashAndIndex",
        lambda r: [r.result("block.genesis")["hash"], "0x0"],
    ),
    Step("compat.storageValues", "eth_getStorageValues", [{DEV: ["0x0"]}, "latest"], check="shape"),
    Step("compat.bySenderAndNonce", "eth_getTransactionBySenderAndNonce", [A0, "0x0"]),
    Step(
        "compat.bySenderAndNonce.ots",
        "ots_getTransactionBySenderAndNonce",
        [A0, "0x0"],
        check="shape",
    ),
    Step("compat.bySenderAndNonce.none", "eth_getTransactionBySenderAndNonce", [SINK, "0x0"]),
    Step("compat.config", "eth_config", check="shape"),
    Step("bal.latest", "eth_getBlockAccessList", ["latest"], check="shape"),
    Step("bal.byHash", "eth_getBlockAccessListByBlockHash", [UNKNOWN_HASH]),
    Step("bal.byNumber", "eth_getBlockAccessListByBlockNumber", ["0x1"], check="shape"),
    Step("bal.raw", "eth_getBlockAccessListRaw", ["latest"], check="shape"),
    Step("bal.raw.debug", "debug_getRawBlockAccessList", ["earliest"], check="shape"),
    Step("compat.getProof", "eth_getProof", [A0, [], "latest"], check="shape"),
    Step("compat.signTypedData.v3", "eth_signTypedData_v3", [A0, TYPED_DATA], check="shape"),
    Step("compat.blobByHash", "anvil_getBlobByHash", ["0x01" + "00" * 31]),
    Step("compat.blobsByTx", "anvil_getBlobsByTransactionHash", [UNKNOWN_HASH]),
    Step("compat.feeToken", "anvil_setFeeToken", [SINK, SINK], message="prefix"),
    Step("compat.validatorFeeToken", "anvil_setValidatorFeeToken", [SINK, SINK], message="prefix"),
    Step("compat.feeAmm", "anvil_setFeeAmmLiquidity", [SINK, SINK, "0x1"], message="prefix"),
    Step("dev.automine.get", "anvil_getAutomine"),
    Step("dev.automine.get.hardhat", "hardhat_getAutomine"),
    Step("dev.interval.get", "anvil_getIntervalMining", check="shape"),
    Step("dev.setBalance", "anvil_setBalance", [DEV, "0x10"]),
    Step("dev.setBalance.hardhat", "hardhat_setBalance", [DEV, "0x20"]),
    Step("dev.setBalance.tenderly", "tenderly_setBalance", [DEV, "0x30"]),
    Step("dev.addBalance", "anvil_addBalance", [DEV, "0x1"]),
    Step("dev.addBalance.hardhat", "hardhat_addBalance", [DEV, "0x1"]),
    Step("dev.addBalance.tenderly", "tenderly_addBalance", [DEV, "0x1"]),
    Step("dev.balance", "eth_getBalance", [DEV, "latest"]),
    Step("dev.setBalance.bad", "anvil_setBalance", [DEV, "0x1" + "0" * 64]),
    Step("dev.setNonce", "anvil_setNonce", [DEV, "0x5"]),
    Step("dev.setNonce.hardhat", "hardhat_setNonce", [DEV, "0x6"]),
    Step("dev.setNonce.evm", "evm_setAccountNonce", [DEV, "0x7"]),
    Step("dev.nonce", "eth_getTransactionCount", [DEV, "latest"]),
    Step("dev.setCode", "anvil_setCode", [DEV, "0x6001"]),
    Step("dev.setCode.hardhat", "hardhat_setCode", [DEV, "0x6002"]),
    Step("dev.code", "eth_getCode", [DEV, "latest"]),
    Step("dev.setStorageAt", "anvil_setStorageAt", [DEV, "0x1", SLOT_VALUE]),
    Step("dev.setStorageAt.hardhat", "hardhat_setStorageAt", [DEV, "0x2", SLOT_VALUE]),
    Step("dev.storage", "eth_getStorageAt", [DEV, "0x2", "latest"]),
    Step("dev.dumpState", "anvil_dumpState", check="shape"),
    Step("dev.dumpState.hardhat", "hardhat_dumpState", check="shape"),
    Step("dev.loadState", "anvil_loadState", lambda r: [r.result("dev.dumpState")]),
    Step("dev.loadState.hardhat", "hardhat_loadState", lambda r: [r.result("dev.dumpState")]),
    Step("dev.loadState.bad", "anvil_loadState", ["0x1234"], check="shape"),
    Step("dev.storage.loaded", "eth_getStorageAt", [DEV, "0x2", "latest"]),
    Step("dev.dealERC20", "anvil_dealERC20", lambda r: [DEV, _token(r), "0x64"]),
    Step("dev.dealERC20.hardhat", "hardhat_dealERC20", lambda r: [DEV, _token(r), "0x65"]),
    Step("dev.setERC20Balance", "anvil_setERC20Balance", lambda r: [DEV, _token(r), "0x66"]),
    Step(
        "dev.erc20.balance",
        "eth_call",
        lambda r: [{"to": _token(r), "data": "0x70a08231" + "00" * 12 + DEV[2:]}, "latest"],
    ),
    Step(
        "dev.setERC20Allowance",
        "anvil_setERC20Allowance",
        lambda r: [DEV, SINK, _token(r), "0x67"],
    ),
    Step(
        "dev.erc20.allowance",
        "eth_call",
        lambda r: [
            {"to": _token(r), "data": "0xdd62ed3e" + "00" * 12 + DEV[2:] + "00" * 12 + SINK[2:]},
            "latest",
        ],
    ),
    Step("dev.dealERC20.notToken", "anvil_dealERC20", [DEV, SINK, "0x1"]),
    Step(
        "dev.impersonateSignature",
        "anvil_impersonateSignature",
        [["0x" + "11" * 32 + "22" * 32 + "1b", DEV]],  # anvil 1.7.1 takes only this form
    ),
    Step("dev.snapshot", "evm_snapshot"),
    Step("dev.mine", "anvil_mine", ["0x2"]),
    Step("dev.mine.hardhat", "hardhat_mine", ["0x2"]),
    Step("dev.mine.evm", "evm_mine"),
    Step("dev.mine.detailed", "anvil_mine_detailed", check="shape"),
    Step("dev.mine.detailed.evm", "evm_mine_detailed", check="shape"),
    Step("dev.blockNumber.mined", "eth_blockNumber"),
    Step("dev.balance.mined", "eth_getBalance", [DEV, "latest"]),
    Step("dev.revert", "evm_revert", lambda r: [r.result("dev.snapshot")]),
    Step("dev.revert.again", "anvil_revert", lambda r: [r.result("dev.snapshot")]),
    Step("dev.blockNumber.reverted", "eth_blockNumber"),
    Step("dev.balance.reverted", "eth_getBalance", [DEV, "latest"]),
    Step("dev.snapshot.anvil", "anvil_snapshot"),
    Step("dev.mine.one", "anvil_mine"),
    Step("dev.revert.anvil", "anvil_revert", lambda r: [r.result("dev.snapshot.anvil")]),
    Step("dev.revert.unknown", "evm_revert", ["0x99"]),
    Step("dev.automine.off", "evm_setAutomine", [False]),
    Step("dev.automine.get.off", "anvil_getAutomine"),
    Step("dev.automine.on", "anvil_setAutomine", [True]),
    Step("dev.interval.off", "anvil_setIntervalMining", [0]),
    Step("dev.interval.off.evm", "evm_setIntervalMining", [0]),
    Step("dev.automine.on.again", "anvil_setAutomine", [True]),
    Step("dev.increaseTime", "evm_increaseTime", ["0x10"], check="shape"),
    Step("dev.increaseTime.anvil", "anvil_increaseTime", [16], check="shape"),
    Step("dev.nextTimestamp", "evm_setNextBlockTimestamp", [FUTURE]),
    Step("dev.nextTimestamp.anvil", "anvil_setNextBlockTimestamp", [hex(FUTURE)]),
    Step("dev.mine.at.future", "evm_mine"),
    Step("dev.block.future", "eth_getBlockByNumber", ["latest", False]),
    Step("dev.nextTimestamp.past", "evm_setNextBlockTimestamp", [1], message="prefix"),
    Step("dev.setTime", "evm_setTime", [FUTURE + 100], check="shape"),
    Step("dev.setTime.anvil", "anvil_setTime", [FUTURE + 200], check="shape"),
    Step("dev.timestampInterval", "anvil_setBlockTimestampInterval", [1]),
    Step("dev.timestampInterval.remove", "anvil_removeBlockTimestampInterval"),
    Step("dev.timestampInterval.remove.again", "anvil_removeBlockTimestampInterval"),
    Step("dev.genesisTime", "anvil_getGenesisTime", check="shape"),
    Step("dev.impersonate", "anvil_impersonateAccount", [DEV]),
    Step("dev.impersonate.hardhat", "hardhat_impersonateAccount", [DEV]),
    Step("dev.impersonate.stop", "anvil_stopImpersonatingAccount", [DEV]),
    Step("dev.impersonate.stop.hardhat", "hardhat_stopImpersonatingAccount", [DEV]),
    Step("dev.impersonate.auto", "anvil_autoImpersonateAccount", [False]),
    Step("dev.impersonate.auto.hardhat", "hardhat_autoImpersonateAccount", [False]),
    Step("dev.fund", "anvil_setBalance", [DEV, hex(10**18)]),
    Step(
        "dev.sendUnsigned",
        "eth_sendUnsignedTransaction",
        [
            {
                "from": DEV,
                "to": SINK,
                "value": "0x1",
                "gas": "0x5208",
                "maxFeePerGas": hex(FEE),
                "maxPriorityFeePerGas": hex(FEE),
            }
        ],
        check="shape",
        wait=True,
    ),
    Step("dev.sendUnsigned.balance", "eth_getBalance", [SINK, "latest"]),
    Step("dev.drop", "anvil_dropTransaction", [UNKNOWN_HASH]),
    Step("dev.drop.hardhat", "hardhat_dropTransaction", [UNKNOWN_HASH]),
    Step("dev.dropAll", "anvil_dropAllTransactions"),
    Step("dev.dropAll.hardhat", "hardhat_dropAllTransactions"),
    Step("dev.removePool", "anvil_removePoolTransactions", [DEV]),
    Step("dev.coinbase", "anvil_setCoinbase", [SINK]),
    Step("dev.coinbase.hardhat", "hardhat_setCoinbase", ["0x" + "00" * 20]),
    Step("dev.gasLimit", "anvil_setBlockGasLimit", ["0x1c9c380"]),
    Step("dev.gasLimit.evm", "evm_setBlockGasLimit", ["0x3938700"]),
    Step("dev.baseFee", "anvil_setNextBlockBaseFeePerGas", ["0x3b9aca00"]),
    Step("dev.baseFee.hardhat", "hardhat_setNextBlockBaseFeePerGas", ["0x3b9aca00"]),
    Step("dev.prevRandao", "anvil_setNextBlockPrevRandao", [RANDAO]),
    Step("dev.prevRandao.hardhat", "hardhat_setPrevRandao", [RANDAO]),
    Step("dev.minGasPrice", "anvil_setMinGasPrice", ["0x1"]),
    Step("dev.minGasPrice.hardhat", "hardhat_setMinGasPrice", ["0x1"]),
    Step("dev.chainId", "anvil_setChainId", [CHAIN_ID]),
    Step("dev.logging", "anvil_setLoggingEnabled", [True]),
    Step("dev.logging.hardhat", "hardhat_setLoggingEnabled", [True]),
    Step("dev.rpcUrl", "anvil_setRpcUrl", ["http://127.0.0.1:1"], check="shape"),
    Step("dev.nodeInfo", "anvil_nodeInfo", check="shape"),
    Step("dev.metadata", "anvil_metadata", check="shape"),
    Step("dev.metadata.hardhat", "hardhat_metadata", check="shape"),
    Step("dev.mine.spaced", "anvil_mine", ["0x2", "0x3c"]),
    Step(
        "dev.reorg",
        "anvil_reorg",
        [  # anvil 1.7.1 takes [depth, pairs]; we also take [{depth, txBlockPairs}]
            2,
            [
                [
                    {
                        "from": A0,
                        "to": SINK,
                        "value": "0x5",
                        "maxFeePerGas": hex(FEE),
                        "maxPriorityFeePerGas": hex(FEE),
                    },
                    1,
                ]
            ],
        ],
    ),
    Step("dev.reorg.balance", "eth_getBalance", [SINK, "latest"]),
    Step("dev.reorg.tooDeep", "anvil_reorg", [10**6, []], check="shape"),
    Step("dev.rollback", "anvil_rollback", [1]),
    Step("dev.blockNumber.rolledBack", "eth_blockNumber"),
]


STEPS: Final[list[Step]] = [
    # ---------------------------------------------------------------- node info
    Step("web3_clientVersion", "web3_clientVersion", check="shape"),
    Step("web3_sha3", "web3_sha3", ["0x68656c6c6f"]),
    Step("net_version", "net_version"),
    Step("net_listening", "net_listening"),
    Step("net_peerCount", "net_peerCount"),
    Step("eth_chainId", "eth_chainId"),
    Step("eth_syncing", "eth_syncing"),
    Step("eth_mining", "eth_mining"),
    Step("eth_hashrate", "eth_hashrate"),
    Step("eth_coinbase", "eth_coinbase"),
    Step("eth_accounts", "eth_accounts"),
    Step("eth_requestAccounts", "eth_requestAccounts"),
    Step("eth_blockNumber.genesis", "eth_blockNumber"),
    Step("eth_gasPrice", "eth_gasPrice", check="shape"),
    Step("eth_maxPriorityFeePerGas", "eth_maxPriorityFeePerGas"),
    Step("eth_blobBaseFee", "eth_blobBaseFee"),
    Step("block.genesis", "eth_getBlockByNumber", ["0x0", False]),
    # ---------------------------------------------------------------- state, genesis
    Step("balance.A0.genesis", "eth_getBalance", [A0, "latest"]),
    Step("balance.checksummed", "eth_getBalance", [A0.upper().replace("0X", "0x"), "latest"]),
    Step("nonce.A0.genesis", "eth_getTransactionCount", [A0, "latest"]),
    Step("code.empty", "eth_getCode", [A0, "latest"]),
    Step("storage.empty", "eth_getStorageAt", [A0, "0x0", "latest"]),
    Step("account.eoa", "eth_getAccount", [A0, "latest"]),
    # ---------------------------------------------------------------- filters (installed early)
    Step("filter.blocks.new", "eth_newBlockFilter", check="shape"),
    Step("filter.pending.new", "eth_newPendingTransactionFilter", check="shape"),
    # ---------------------------------------------------------------- deploys
    Step("deploy.counter", "eth_sendTransaction", [send(A0, data=bytecode("Counter"))], wait=True),
    _receipt("deploy.counter.receipt", "deploy.counter"),
    Step(
        "deploy.token",
        "eth_sendTransaction",
        [send(A0, data=bytecode("Token") + encode(["uint256"], [10**24]).hex())],
        wait=True,
    ),
    _receipt("deploy.token.receipt", "deploy.token"),
    Step("deploy.emitter", "eth_sendTransaction", [send(A0, data=bytecode("Emitter"))], wait=True),
    _receipt("deploy.emitter.receipt", "deploy.emitter"),
    Step(
        "deploy.reverter", "eth_sendTransaction", [send(A0, data=bytecode("Reverter"))], wait=True
    ),
    _receipt("deploy.reverter.receipt", "deploy.reverter"),
    Step("code.counter", "eth_getCode", lambda r: [_counter(r), "latest"]),
    Step(
        "filter.logs.new",
        "eth_newFilter",
        lambda r: [{"address": _emitter(r), "fromBlock": "latest"}],
        check="shape",
    ),
    # ---------------------------------------------------------------- transfers
    Step(
        "send.default_fees",
        "eth_sendTransaction",
        [{"from": A2, "to": SINK, "value": "0x1"}],
        wait=True,
    ),
    Step(
        "receipt.default_fees",
        _RECEIPT,
        lambda r: [r.result("send.default_fees")],
        loose=frozenset({"effectiveGasPrice"}),
    ),
    Step(
        "tx.default_fees",
        "eth_getTransactionByHash",
        lambda r: [r.result("send.default_fees")],
        loose=frozenset({"maxFeePerGas", "gasPrice", "v", "r", "s", "yParity", "gas"}),
    ),
    Step("send.legacy", "eth_sendRawTransaction", [legacy(0, SINK, 1000)], wait=True),
    _receipt("receipt.legacy", "send.legacy"),
    Step("tx.legacy", "eth_getTransactionByHash", lambda r: [r.result("send.legacy")]),
    Step("raw.legacy", "eth_getRawTransactionByHash", lambda r: [r.result("send.legacy")]),
    Step(
        "send.type1",
        "eth_sendRawTransaction",
        lambda r: [
            signed(
                1,
                type=1,
                nonce=1,
                to=_counter(r),
                gas=100_000,
                gasPrice=FEE,
                data=calldata("increment()"),
                accessList=[{"address": _counter(r), "storageKeys": ["0x" + "00" * 32]}],
            )
        ],
        wait=True,
    ),
    _receipt("receipt.type1", "send.type1"),
    Step("tx.type1", "eth_getTransactionByHash", lambda r: [r.result("send.type1")]),
    Step("send.type2", "eth_sendRawTransaction", [eip1559(1, 2, SINK, 2000)], wait=True),
    _receipt("receipt.type2", "send.type2"),
    Step("tx.type2", "eth_getTransactionByHash", lambda r: [r.result("send.type2")]),
    Step(
        "send.sync_raw",
        "eth_sendRawTransactionSync",
        [eip1559(1, 3, SINK, 3000)],
    ),
    # MegaETH's name for the same handler; an undecodable transaction, so the two chains
    # stay the same (anvil lacks the method: tests/integration covers a real send).
    Step("send.realtime.bad", "realtime_sendRawTransaction", ["0x1234"]),
    Step(
        "send.sync",
        "eth_sendTransactionSync",
        [send(A0, to=SINK, value=4000, gas=21_000)],
    ),
    Step("balance.sink", "eth_getBalance", [SINK, "latest"]),
    Step("balance.A1", "eth_getBalance", [A1, "latest"]),
    Step("nonce.A1", "eth_getTransactionCount", [A1, "latest"]),
    Step("nonce.A1.pending", "eth_getTransactionCount", [A1, "pending"]),
    Step("balance.A1.at_genesis", "eth_getBalance", [A1, "0x0"]),
    Step("tx.unknown", "eth_getTransactionByHash", [UNKNOWN_HASH]),
    Step("receipt.unknown", _RECEIPT, [UNKNOWN_HASH]),
    Step("raw.unknown", "eth_getRawTransactionByHash", [UNKNOWN_HASH]),
    # ---------------------------------------------------------------- contract calls
    Step("call.counter", "eth_call", _call(_counter, calldata("counter()"))),
    Step("storage.counter", "eth_getStorageAt", lambda r: [_counter(r), "0x0", "latest"]),
    Step("account.contract", "eth_getAccount", lambda r: [_counter(r), "latest"]),
    Step("call.token.name", "eth_call", _call(_token, calldata("name()"))),
    Step("call.token.balance", "eth_call", _call(_token, calldata("balanceOf(address)", A0))),
    Step(
        "send.token.transfer",
        "eth_sendTransaction",
        lambda r: [send(A0, to=_token(r), data=calldata("transfer(address,uint256)", A1, 500))],
        wait=True,
    ),
    _receipt("receipt.token.transfer", "send.token.transfer"),
    Step("call.token.balance.after", "eth_call", _call(_token, calldata("balanceOf(address)", A1))),
    # ---------------------------------------------------------------- traces (issue 16)
    Step(
        "trace.tx.call",
        "debug_traceTransaction",
        lambda r: [r.result("send.token.transfer"), {"tracer": "callTracer"}],
    ),
    Step(
        "trace.tx.4byte",
        "debug_traceTransaction",
        lambda r: [r.result("send.token.transfer"), {"tracer": "4byteTracer"}],
    ),
    Step("trace.tx.unknown", "debug_traceTransaction", [UNKNOWN_HASH, {"tracer": "callTracer"}]),
    Step(
        "trace.block.number",
        "debug_traceBlockByNumber",
        lambda r: [
            r.block_of("receipt.token.transfer")[0],
            {"tracer": "callTracer", "tracerConfig": {"withLog": True}},
        ],
    ),
    Step(
        "trace.block.hash",
        "debug_traceBlockByHash",
        lambda r: [r.block_of("receipt.token.transfer")[1], {"tracer": "callTracer"}],
    ),
    Step(
        "debug.rawTransaction",
        "debug_getRawTransaction",
        lambda r: [r.result("send.token.transfer")],
    ),
    Step("debug.rawTransaction.unknown", "debug_getRawTransaction", [UNKNOWN_HASH]),
    Step("debug.codeByHash.unknown", "debug_codeByHash", [UNKNOWN_HASH]),
    Step(
        "debug.storageRange",
        "debug_storageRangeAt",
        lambda r: [r.block_of("receipt.token.transfer")[1], 0, _token(r), "0x00", 5],
    ),
    Step("debug.dbGet", "debug_dbGet", ["0x" + "ab" * 4]),
    Step(
        "debug.rawBlock",
        "debug_getRawBlock",
        lambda r: [r.block_of("receipt.token.transfer")[0]],
        check="shape",
    ),
    Step(
        "debug.rawHeader",
        "debug_getRawHeader",
        lambda r: [r.block_of("receipt.token.transfer")[0]],
        check="shape",
    ),
    Step(
        "debug.rawReceipts",
        "debug_getRawReceipts",
        lambda r: [r.block_of("receipt.token.transfer")[0]],
    ),
    Step("trace.parity.tx", "trace_transaction", lambda r: [r.result("send.token.transfer")]),
    Step("trace.parity.unknown", "trace_transaction", [UNKNOWN_HASH]),
    Step(
        "trace.parity.block",
        "trace_block",
        lambda r: [r.block_of("receipt.token.transfer")[0]],
        loose=frozenset({"blockHash"}),
    ),
    Step(
        "trace.parity.filter",
        "trace_filter",
        lambda r: [
            {
                "fromBlock": r.block_of("receipt.token.transfer")[0],
                "toBlock": r.block_of("receipt.token.transfer")[0],
                "fromAddress": [A0],
            }
        ],
        loose=frozenset({"blockHash"}),
    ),
    Step(
        "trace.parity.replayTx",
        "trace_replayTransaction",
        lambda r: [r.result("send.token.transfer"), ["trace", "stateDiff"]],
    ),
    Step("trace.parity.get", "trace_get", lambda r: [r.result("send.token.transfer"), [0]]),
    Step(
        "trace.parity.call",
        "trace_call",
        lambda r: [
            {"from": A0, "to": _token(r), "data": calldata("balanceOf(address)", A1)},
            ["trace"],
            "latest",
        ],
    ),
    Step(
        "trace.parity.callMany",
        "trace_callMany",
        lambda r: [
            [
                [
                    {"from": A0, "to": _token(r), "data": calldata("balanceOf(address)", A1)},
                    ["trace"],
                ],
                [
                    {"from": A0, "to": _token(r), "data": calldata("balanceOf(address)", A0)},
                    ["trace"],
                ],
            ],
            "latest",
        ],
    ),
    # An RLP that is not a block (the real flow needs debug_getRawBlock, which anvil lacks:
    # tests/unit/rpc/test_trace_rpc.py traces a block by its RLP).
    Step("trace.block.rlp", "debug_traceBlock", ["0xc0", {"tracer": "callTracer"}]),
    Step(
        "trace.parity.raw",
        "trace_rawTransaction",
        lambda r: [r.result("raw.legacy"), ["trace"]],
        check="shape",
    ),
    Step(
        "trace.parity.replay",
        "trace_replayBlockTransactions",
        lambda r: [r.block_of("receipt.token.transfer")[0], ["trace"]],
    ),
    Step(
        "trace.call",
        "debug_traceCall",
        lambda r: [
            {"from": A0, "to": _token(r), "data": calldata("balanceOf(address)", A1)},
            "latest",
            {"tracer": "callTracer"},
        ],
    ),
    Step(
        "call.at_block_hash",
        "eth_call",
        lambda r: [
            {"to": _token(r), "data": calldata("balanceOf(address)", A1)},
            {"blockHash": r.block_of("receipt.token.transfer")[1]},
        ],
    ),
    Step(
        "call.state_override",
        "eth_call",
        lambda r: [
            {"to": _counter(r), "data": calldata("counter()")},
            "latest",
            {_counter(r): {"stateDiff": {"0x" + "00" * 32: "0x" + "00" * 31 + "2a"}}},
        ],
    ),
    Step(
        "call.code_override",
        "eth_call",
        [{"to": SINK}, "latest", {SINK: {"code": RETURN_NUMBER}}],
        check="shape",
    ),
    Step(
        "call.block_override",
        "eth_call",
        [
            {"to": SINK},
            "latest",
            {SINK: {"code": RETURN_NUMBER}},
            {"number": "0x1234"},
        ],
    ),
    Step(
        "call.block_override.time",
        "eth_call",
        [
            {"to": SINK},
            "latest",
            {SINK: {"code": RETURN_TIMESTAMP}},
            {"time": "0x77777777"},
        ],
    ),
    Step(
        "call.balance_override",
        "eth_call",
        [{"to": SINK}, "latest", {SINK: {"code": RETURN_SELFBALANCE, "balance": "0x1234"}}],
    ),
    # ---------------------------------------------------------------- gas
    Step("estimate.transfer", "eth_estimateGas", [{"from": A0, "to": SINK, "value": "0x1"}]),
    Step("estimate.counter", "eth_estimateGas", _call(_counter, calldata("increment()"))),
    Step(
        "estimate.deploy",
        "eth_estimateGas",
        [{"from": A0, "data": bytecode("Counter")}],
    ),
    Step(
        "estimate.revert",
        "eth_estimateGas",
        _call(_reverter, calldata("revertWithReason()")),
    ),
    Step(
        "estimate.insufficient_funds",
        "eth_estimateGas",
        [{"from": SINK, "to": A0, "value": hex(10**30)}],
    ),
    Step("access_list.counter", "eth_createAccessList", _call(_counter, calldata("increment()"))),
    Step(
        "access_list.revert",
        "eth_createAccessList",
        _call(_reverter, calldata("revertWithReason()")),
    ),
    # ---------------------------------------------------------------- reverts
    Step("revert.reason", "eth_call", _revert_call(calldata("revertWithReason()"))),
    Step(
        "revert.custom",
        "eth_call",
        _revert_call(calldata("revertWithCustomError(uint256,uint256)", 1, 2)),
    ),
    Step("revert.panic_assert", "eth_call", _revert_call(calldata("panicAssert()"))),
    Step(
        "revert.panic_div",
        "eth_call",
        _revert_call(calldata("panicDivideByZero(uint256)", 0)),
    ),
    Step("revert.empty", "eth_call", _revert_call(calldata("revertEmpty()"))),
    Step("revert.view", "eth_call", _revert_call(calldata("viewReverts()"))),
    Step(
        "revert.out_of_gas",
        "eth_call",
        _call(_reverter, calldata("burn(uint256)", 100), gas="0x7530"),
    ),
    Step(
        "send.reverting",
        "eth_sendTransaction",
        lambda r: [send(A0, to=_reverter(r), data=calldata("revertWithReason()"), gas=100_000)],
        wait=True,
    ),
    _receipt("receipt.reverting", "send.reverting"),
    # ---------------------------------------------------------------- logs
    Step(
        "send.emit_all",
        "eth_sendTransaction",
        lambda r: [send(A0, to=_emitter(r), data=calldata("emitAll(uint256,string)", 7, "hi"))],
        wait=True,
    ),
    _receipt("receipt.emit_all", "send.emit_all"),
    Step("logs.address", "eth_getLogs", lambda r: [{"address": _emitter(r), "fromBlock": "0x0"}]),
    Step(
        "logs.topics",
        "eth_getLogs",
        lambda r: [
            {
                "fromBlock": "0x0",
                "toBlock": "latest",
                "topics": [topic("Indexed(address,uint256,bytes32)"), "0x" + A0[2:].rjust(64, "0")],
            }
        ],
    ),
    Step(
        "logs.topic_or",
        "eth_getLogs",
        lambda r: [
            {
                "fromBlock": "0x0",
                "topics": [
                    [topic("Transfer(address,address,uint256)"), topic("NoArgs()")],
                ],
            }
        ],
    ),
    Step(
        "logs.block_hash",
        "eth_getLogs",
        lambda r: [{"blockHash": r.block_of("receipt.emit_all")[1]}],
    ),
    Step(
        "logs.range",
        "eth_getLogs",
        lambda r: [
            {
                "fromBlock": r.block_of("deploy.token.receipt")[0],
                "toBlock": r.block_of("receipt.type1")[0],
            }
        ],
    ),
    Step("logs.none", "eth_getLogs", [{"address": SINK, "fromBlock": "earliest"}]),
    Step(
        "logs.bad_range",
        "eth_getLogs",
        [{"fromBlock": "0x5", "toBlock": "0x2"}],
    ),
    Step(
        "logs.hash_and_range",
        "eth_getLogs",
        [{"blockHash": UNKNOWN_HASH, "fromBlock": "0x1"}],
    ),
    Step("logs.unknown_block_hash", "eth_getLogs", [{"blockHash": UNKNOWN_HASH}]),
    Step(
        "filter.logs.changes",
        "eth_getFilterChanges",
        lambda r: [r.result("filter.logs.new")],
    ),
    Step(
        "filter.logs.all",
        "eth_getFilterLogs",
        lambda r: [r.result("filter.logs.new")],
    ),
    Step(
        "filter.logs.changes.again",
        "eth_getFilterChanges",
        lambda r: [r.result("filter.logs.new")],
    ),
    Step(
        "filter.blocks.changes",
        "eth_getFilterChanges",
        lambda r: [r.result("filter.blocks.new")],
    ),
    Step(
        "filter.pending.changes",
        "eth_getFilterChanges",
        lambda r: [r.result("filter.pending.new")],
    ),
    Step(
        "filter.uninstall",
        "eth_uninstallFilter",
        lambda r: [r.result("filter.logs.new")],
    ),
    Step(
        "filter.uninstall.again",
        "eth_uninstallFilter",
        lambda r: [r.result("filter.logs.new")],
    ),
    Step(
        "filter.changes.unknown",
        "eth_getFilterChanges",
        ["0x" + "12" * 16],
    ),
    # ---- dev methods (anvil_ / hardhat_ / evm_): every name each node answers
    *DEV_STEPS,
    Step("filter.logs.unknown", "eth_getFilterLogs", ["0x" + "12" * 16]),
    # ---------------------------------------------------------------- blocks
    Step("eth_blockNumber", "eth_blockNumber"),
    Step(
        "block.by_number",
        "eth_getBlockByNumber",
        lambda r: [r.block_of("receipt.emit_all")[0], False],
    ),
    Step(
        "block.by_number.full",
        "eth_getBlockByNumber",
        lambda r: [r.block_of("receipt.type1")[0], True],
    ),
    Step(
        "block.by_hash.full",
        "eth_getBlockByHash",
        lambda r: [r.block_of("receipt.type2")[1], True],
    ),
    Step(
        "block.by_hash",
        "eth_getBlockByHash",
        lambda r: [r.block_of("receipt.legacy")[1], False],
    ),
    Step("block.latest", "eth_getBlockByNumber", ["latest", False]),
    Step("block.pending", "eth_getBlockByNumber", ["pending", False], check="shape"),
    Step("block.earliest", "eth_getBlockByNumber", ["earliest", False]),
    Step("block.future", "eth_getBlockByNumber", ["0x9999", False]),
    Step("block.unknown_hash", "eth_getBlockByHash", [UNKNOWN_HASH, False]),
    Step(
        "block.receipts",
        "eth_getBlockReceipts",
        lambda r: [r.block_of("receipt.emit_all")[0]],
    ),
    Step(
        "block.receipts.by_hash",
        "eth_getBlockReceipts",
        lambda r: [r.block_of("receipt.legacy")[1]],
    ),
    Step("block.receipts.future", "eth_getBlockReceipts", ["0x9999"]),
    Step(
        "block.tx_count.hash",
        "eth_getBlockTransactionCountByHash",
        lambda r: [r.block_of("receipt.emit_all")[1]],
    ),
    Step(
        "block.tx_count.number",
        "eth_getBlockTransactionCountByNumber",
        lambda r: [r.block_of("receipt.emit_all")[0]],
    ),
    Step("block.tx_count.unknown", "eth_getBlockTransactionCountByHash", [UNKNOWN_HASH]),
    Step(
        "block.uncle_count.hash",
        "eth_getUncleCountByBlockHash",
        lambda r: [r.block_of("receipt.emit_all")[1]],
    ),
    Step("block.uncle_count.number", "eth_getUncleCountByBlockNumber", ["latest"]),
    Step(
        "block.uncle.hash",
        "eth_getUncleByBlockHashAndIndex",
        lambda r: [r.block_of("receipt.emit_all")[1], "0x0"],
    ),
    Step("block.uncle.number", "eth_getUncleByBlockNumberAndIndex", ["latest", "0x0"]),
    Step(
        "tx.by_block_hash_index",
        "eth_getTransactionByBlockHashAndIndex",
        lambda r: [r.block_of("receipt.emit_all")[1], "0x0"],
    ),
    Step(
        "tx.by_block_number_index",
        "eth_getTransactionByBlockNumberAndIndex",
        lambda r: [r.block_of("receipt.type2")[0], "0x0"],
    ),
    Step(
        "tx.by_block_index.out_of_range",
        "eth_getTransactionByBlockNumberAndIndex",
        lambda r: [r.block_of("receipt.type2")[0], "0x5"],
    ),
    Step(
        "fee_history",
        "eth_feeHistory",
        ["0x4", "latest", [25, 75]],
        loose=frozenset({"gasUsedRatio", "reward"}),
    ),
    Step(
        "fee_history.decimal_count",
        "eth_feeHistory",
        [3, "latest", []],
        loose=frozenset({"gasUsedRatio"}),
    ),
    Step("fee_history.bad_percentiles", "eth_feeHistory", ["0x2", "latest", [75, 25]]),
    # ---------------------------------------------------------------- signing
    Step("sign.eth_sign", "eth_sign", [A2, "0xdeadbeef"]),
    Step("sign.personal", "personal_sign", ["0x68656c6c6f", A2]),
    Step("sign.typed_v4", "eth_signTypedData_v4", [A2, TYPED_DATA]),
    Step("sign.typed_v4.string", "eth_signTypedData_v4", [A2, json.dumps(TYPED_DATA)]),
    Step("sign.typed", "eth_signTypedData", [A2, TYPED_DATA]),
    Step(
        "sign.transaction",
        "eth_signTransaction",
        [send(A2, to=SINK, value=5, gas=21_000, nonce=1)],
    ),
    Step("sign.unknown_account", "eth_sign", [SINK, "0xdeadbeef"]),
    # ---------------------------------------------------------------- pool rejections
    Step("pool.nonce_too_low", "eth_sendRawTransaction", [legacy(0, SINK, 1)], message="prefix"),
    Step(
        "pool.insufficient_funds",
        "eth_sendRawTransaction",
        [eip1559(1, 4, SINK, 10**30)],
        message="prefix",
    ),
    Step(
        "pool.intrinsic_gas_too_low",
        "eth_sendRawTransaction",
        [eip1559(1, 4, SINK, 1, gas=20_000)],
        message="prefix",
    ),
    Step(
        "pool.fee_cap_below_base_fee",
        "eth_sendRawTransaction",
        [eip1559(1, 4, SINK, 1, maxFeePerGas=1, maxPriorityFeePerGas=1)],
        message="prefix",
    ),
    Step("pool.queued", "eth_sendRawTransaction", [eip1559(9, 3, SINK, 1)]),
    Step(
        "pool.already_known",
        "eth_sendRawTransaction",
        [eip1559(9, 3, SINK, 1)],
        message="prefix",
    ),
    Step(
        "pool.replacement_underpriced",
        "eth_sendRawTransaction",
        [eip1559(9, 3, SINK, 2)],
        message="prefix",
    ),
    Step(
        "pool.send_tx_insufficient_funds",
        "eth_sendTransaction",
        [send(A0, to=SINK, value=10**30, gas=21_000)],
        message="prefix",
    ),
    Step("pool.undecodable", "eth_sendRawTransaction", ["0x1234"]),
    Step("txpool.status", "txpool_status"),
    Step("txpool.content", "txpool_content"),
    Step("txpool.content_from", "txpool_contentFrom", [A9]),
    Step("txpool.inspect", "txpool_inspect"),
    Step("pending_transactions", "eth_pendingTransactions"),
    Step(
        "tx.pending",
        "eth_getTransactionByHash",
        lambda r: [r.result("pool.queued")],
    ),
    Step("nonce.A9.pending", "eth_getTransactionCount", [A9, "pending"]),
    # ---------------------------------------------------------------- bad params
    Step("params.malformed_hex", "eth_getBalance", ["0xzz", "latest"]),
    Step("params.odd_address", "eth_getBalance", ["0x123", "latest"]),
    Step("params.wrong_type", "eth_getBalance", [1, "latest"]),
    Step("params.missing", "eth_getBalance", []),
    Step("params.bad_block_tag", "eth_getBalance", [A0, "latst"]),
    Step("params.bad_quantity", "eth_getBlockByNumber", ["0xzz", False]),
    Step("params.bad_bool", "eth_getBlockByNumber", ["latest", "yes"]),
    Step("params.bad_hash", "eth_getTransactionByHash", ["0x1234"]),
    Step("params.call_not_object", "eth_call", ["0x1234", "latest"]),
    Step("params.call_bad_field", "eth_call", [{"to": "0x12"}, "latest"]),
    Step("params.too_many", "eth_chainId", [1, 2, 3]),
    Step("params.named", "eth_getBalance", {"address": A0}),  # type: ignore[arg-type]
    Step("params.unknown_method", "eth_doesNotExist"),
    Step("params.unknown_namespace", "foo_bar"),
    # ---------------------------------------------------------------- envelope
    Step(
        "batch",
        "@batch",
        body=lambda r: [
            {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
            {"jsonrpc": "2.0", "id": 2, "method": "eth_getBalance", "params": [SINK, "latest"]},
            {"jsonrpc": "2.0", "id": 3, "method": "eth_doesNotExist", "params": []},
            {"jsonrpc": "2.0", "id": 4, "method": "eth_getBalance", "params": ["0xzz"]},
        ],
    ),
    Step("batch.empty", "@batch", body=lambda r: []),
    Step("envelope.parse_error", "@raw", body='{"jsonrpc": "2.0", "id": 1, "method": '),
    Step("envelope.not_an_object", "@raw", body="42"),
    Step("http.subscribe", "eth_subscribe", ["newHeads"]),
    # ---------------------------------------------------------------- WebSocket subscriptions
    Step("ws.chainId", "eth_chainId", ws=True),
    Step("ws.sub.heads", "eth_subscribe", ["newHeads"], ws=True, check="shape"),
    Step(
        "ws.sub.logs",
        "eth_subscribe",
        lambda r: ["logs", {"address": _emitter(r)}],
        ws=True,
        check="shape",
    ),
    Step("ws.sub.pending", "eth_subscribe", ["newPendingTransactions"], ws=True, check="shape"),
    Step("ws.sub.bogus", "eth_subscribe", ["bogus"], ws=True),
    Step(
        "ws.send.emit",
        "eth_sendRawTransaction",
        lambda r: [
            eip1559(
                1,
                4,
                _emitter(r),
                0,
                gas=100_000,
                data=calldata("emitIndexed(uint256,bytes32)", 9, b"\x01" * 32),
            )
        ],
        wait=True,
    ),
    Step("ws.notify.heads", "@notifications", ["ws.sub.heads"]),
    Step("ws.notify.logs", "@notifications", ["ws.sub.logs"]),
    Step("ws.notify.pending", "@notifications", ["ws.sub.pending"]),
    Step("ws.unsubscribe", "eth_unsubscribe", lambda r: [r.result("ws.sub.heads")], ws=True),
    Step(
        "ws.unsubscribe.again",
        "eth_unsubscribe",
        lambda r: [r.result("ws.sub.heads")],
        ws=True,
    ),
    # ---------------------------------------------------------------- final state
    Step("final.balance.A0", "eth_getBalance", [A0, "latest"]),
    Step("final.balance.A1", "eth_getBalance", [A1, "latest"]),
    Step("final.balance.sink", "eth_getBalance", [SINK, "latest"]),
    Step("final.nonce.A0", "eth_getTransactionCount", [A0, "latest"]),
    Step("final.blockNumber", "eth_blockNumber"),
    # Last: anvil accepts (and mines) a transaction signed for another chain.
    Step(
        "pool.wrong_chain",
        "eth_sendRawTransaction",
        [signed(3, nonce=0, to=SINK, gas=21_000, gasPrice=FEE, chainId=1)],
    ),
]


# ------------------------------------------------------------------ runner


class _WebSocket:
    """One WebSocket connection: requests by id, notifications by subscription id."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.waiting: dict[int, asyncio.Future[Json]] = {}
        self.notifications: dict[str, list[Json]] = {}
        self.next_id = 0
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                continue
            payload = json.loads(message.data)
            if payload.get("method") == "eth_subscription":
                params = payload["params"]
                self.notifications.setdefault(params["subscription"], []).append(params["result"])
            elif isinstance(payload.get("id"), int) and payload["id"] in self.waiting:
                self.waiting.pop(payload["id"]).set_result(payload)

    async def request(self, method: str, params: list[Any]) -> Json:
        self.next_id += 1
        future: asyncio.Future[Json] = asyncio.get_running_loop().create_future()
        self.waiting[self.next_id] = future
        body = {"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params}
        await self.ws.send_str(json.dumps(body))
        return await asyncio.wait_for(future, STEP_TIMEOUT)

    async def close(self) -> None:
        await self.ws.close()
        self.reader.cancel()


def _strip(response: Json) -> Json:
    """Drop the envelope (``jsonrpc``, ``id``) of a single response."""
    if isinstance(response, dict):
        return {k: v for k, v in response.items() if k not in ("jsonrpc", "id")}
    return response


class _Runner:
    def __init__(self, url: str, session: aiohttp.ClientSession) -> None:
        self.run = Run(url)
        self.session = session
        self.socket: _WebSocket | None = None

    async def post(self, body: Json | str) -> Json:
        text = body if isinstance(body, str) else json.dumps(body)
        headers = {"Content-Type": "application/json"}
        async with self.session.post(self.run.url, data=text, headers=headers) as response:
            raw = await response.text()
            try:
                return json.loads(raw)
            except json.JSONDecodeError:
                return {"http_status": response.status, "body": raw}

    async def call(self, method: str, params: Json) -> Json:
        return await self.post({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})

    async def wait_for_receipt(self, tx_hash: str) -> None:
        deadline = asyncio.get_running_loop().time() + STEP_TIMEOUT
        while asyncio.get_running_loop().time() < deadline:
            response = await self.call(_RECEIPT, [tx_hash])
            if response.get("result") is not None:
                return
            await asyncio.sleep(0.01)
        raise TimeoutError(f"{self.run.url}: no receipt for {tx_hash}")

    async def ws(self) -> _WebSocket:
        if self.socket is None:
            url = self.run.url.replace("http://", "ws://")
            self.socket = _WebSocket(await self.session.ws_connect(url))
        return self.socket

    async def notifications(self, subscribe_step: str) -> Json:
        """The first notification of the subscription ``subscribe_step`` made (None if none)."""
        socket = await self.ws()
        sub = self.run.result(subscribe_step)
        deadline = asyncio.get_running_loop().time() + 5.0
        while not socket.notifications.get(sub):
            if asyncio.get_running_loop().time() > deadline:
                return {"result": None}
            await asyncio.sleep(0.02)
        return {"result": socket.notifications[sub][0]}

    async def step(self, step: Step) -> Json:
        if step.method == "@batch":
            assert callable(step.body)
            response = await self.post(step.body(self.run))
            if isinstance(response, list):
                return sorted(
                    (_strip(r) | {"id": r.get("id")} for r in response), key=lambda r: r["id"]
                )
            return _strip(response)
        if step.method == "@raw":
            assert isinstance(step.body, str)
            return _strip(await self.post(step.body))
        if step.method == "@notifications":
            assert isinstance(step.params, list)
            return await self.notifications(step.params[0])
        params = step.params(self.run) if callable(step.params) else step.params
        if step.ws:
            response = await (await self.ws()).request(step.method, params)
        else:
            response = await self.call(step.method, params)
        if step.wait and isinstance(response.get("result"), str):
            await self.wait_for_receipt(response["result"])
        return _strip(response)

    async def label_chain(self) -> None:
        """Label every block and transaction hash by position: ``<block 3>``, ``<tx 3.0>``."""
        head = int((await self.call("eth_blockNumber", []))["result"], 16)
        for number in range(head + 1):
            block = (await self.call("eth_getBlockByNumber", [hex(number), False]))["result"]
            self.run.labels[block["hash"]] = f"<block {number}>"
            for index, tx_hash in enumerate(block["transactions"]):
                self.run.labels[tx_hash] = f"<tx {number}.{index}>"


async def run_scenario_async(url: str, steps: list[Step] | None = None) -> Run:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=STEP_TIMEOUT)) as session:
        runner = _Runner(url, session)
        try:
            for step in STEPS if steps is None else steps:
                try:
                    runner.run.responses[step.name] = await runner.step(step)
                except (KeyError, TypeError, TimeoutError) as error:
                    # an earlier step it needs failed, or a sent transaction was never mined
                    runner.run.responses[step.name] = {"scenario_error": repr(error)}
            await runner.label_chain()
        finally:
            if runner.socket is not None:
                await runner.socket.close()
    return runner.run


def run_scenario(url: str, steps: list[Step] | None = None) -> Run:
    """Run the scenario against the node at ``url`` (HTTP; WebSocket on the same port)."""
    return asyncio.run(run_scenario_async(url, steps))
