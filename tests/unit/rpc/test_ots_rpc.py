"""rpc.namespaces.ots: Otterscan's methods on a real in-process node (deploys, a CREATE2
factory, a self-destruct, a revert, value transfers, three transactions in one block
for paging), and hostile parameters: wrong types, huge and negative numbers and page
sizes, unknown hashes, blocks and addresses; each answered with a short -32602 (or
-32001 for a block that does not exist), never an internal error."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Final

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rpc.namespaces.ots  # noqa: F401  (registers the ots_ methods)
from rpc.dispatch import RequestContext, default_registry
from rpc.errors import error_object
from sequencer.config import NodeConfig
from sequencer.node import Node
from sequencer.types.transactions import Transaction, sign_transaction
from statedb.types import keccak256
from tests.helpers.asm import Asm, create2_factory, initcode_for

# CREATE2 (salt 7) of the calldata as init code.
FACTORY: Final = create2_factory(7, store_address=False)
REVERTER: Final = Asm().mstore(0, 0xDEADBEEF).revert(28, 4).build()
DESTROY_INIT: Final = Asm().op("CALLER").op("SELFDESTRUCT").build()
CHILD_INIT: Final = initcode_for(b"\x00")
UNKNOWN_HASH: Final = "0x" + "ab" * 32
NOBODY: Final = "0x" + "12" * 20


def hexa(value: bytes) -> str:
    return "0x" + value.hex()


def create2_address(factory: bytes, init: bytes) -> bytes:
    return keccak256(b"\xff" + factory + (7).to_bytes(32, "big") + keccak256(init))[12:]


def call(node: Node, method: str, params: Any) -> Any:
    return asyncio.run(default_registry.call(RequestContext(node), method, params))


def error(node: Node, method: str, params: Any) -> dict[str, object]:
    """The JSON-RPC error ``method`` answers (fails if it answers a result)."""
    try:
        result = call(node, method, params)
    except Exception as exc:  # every exception, mapped as the server maps it
        return error_object(exc)
    raise AssertionError(f"{method}{params} answered {str(result)[:200]}")


@dataclass
class Chain:
    node: Node
    a: bytes
    b: bytes
    factory: bytes
    reverter: bytes
    child: bytes
    destroyed: bytes
    tx: dict[str, str]  # name -> hash


@pytest.fixture(scope="module")
def chain() -> Chain:
    """Block 1: deploy the factory, deploy the reverter, A sends B 5 wei. Block 2: A
    calls the factory (CREATE2 of a child), A calls the reverter (reverts with
    0xdeadbeef), B sends A 7 wei. Block 3: A calls the factory with init code that
    self-destructs."""
    node = Node(NodeConfig(data_dir=None, accounts=2))
    key_a, key_b = node.accounts[0].private_key, node.accounts[1].private_key
    a, b = node.accounts[0].address, node.accounts[1].address
    nonces = {a: 0, b: 0}
    hashes: dict[str, str] = {}

    def send(
        name: str, key: bytes, sender: bytes, to: bytes | None, data: bytes, value: int = 0
    ) -> None:
        tx = sign_transaction(
            Transaction(
                2,
                31337,
                nonces[sender],
                1_000_000,
                to,
                value,
                data,
                max_fee_per_gas=10**10,
                max_priority_fee_per_gas=10**9,
            ),
            key,
        )
        nonces[sender] += 1
        node.pool.add(tx, tx.encode())
        hashes[name] = hexa(tx.hash)

    send("deploy.factory", key_a, a, None, initcode_for(FACTORY))
    send("deploy.reverter", key_a, a, None, initcode_for(REVERTER))
    send("transfer.ab", key_a, a, b, b"", 5)
    (block1,) = node.mine()
    assert len(block1.transactions) == 3
    factory, reverter = (r.contract_address for r in block1.receipts[:2])
    assert factory is not None and reverter is not None
    send("create2", key_a, a, factory, CHILD_INIT)
    send("revert", key_a, a, reverter, b"\x01\x02\x03\x04\x05")
    send("transfer.ba", key_b, b, a, b"", 7)
    (block2,) = node.mine()
    assert len(block2.transactions) == 3
    send("selfdestruct", key_a, a, factory, DESTROY_INIT)
    (block3,) = node.mine()
    assert [r.status for r in block3.receipts] == [1]
    return Chain(
        node,
        a,
        b,
        factory,
        reverter,
        create2_address(factory, CHILD_INIT),
        create2_address(factory, DESTROY_INIT),
        hashes,
    )


# --------------------------------------------------------------------------- answers


def test_api_level(chain: Chain) -> None:
    assert call(chain.node, "ots_getApiLevel", []) == 8


def test_erigon_header_by_number(chain: Chain) -> None:
    node = chain.node
    for number in (0, 1, 3):
        plain = call(node, "eth_getBlockByNumber", [hex(number), False])
        assert call(node, "erigon_getHeaderByNumber", [number]) == plain
        assert call(node, "erigon_getHeaderByNumber", [hex(number)]) == plain
    assert call(node, "erigon_getHeaderByNumber", ["latest"])["number"] == "0x3"
    for missing in (4, "0x64", "pending", 2**63 - 1):
        assert call(node, "erigon_getHeaderByNumber", [missing]) is None


def test_has_code(chain: Chain) -> None:
    node, factory = chain.node, hexa(chain.factory)
    block1 = call(node, "eth_getBlockByNumber", ["0x1", False])["hash"]
    assert call(node, "ots_hasCode", [factory]) is True
    assert call(node, "ots_hasCode", [factory, "latest"]) is True
    assert call(node, "ots_hasCode", [factory, 1]) is True
    assert call(node, "ots_hasCode", [factory, "0x1"]) is True
    assert call(node, "ots_hasCode", [factory, block1]) is True
    assert call(node, "ots_hasCode", [factory, 0]) is False
    assert call(node, "ots_hasCode", [factory, "earliest"]) is False
    assert call(node, "ots_hasCode", [hexa(chain.child), "latest"]) is True
    assert call(node, "ots_hasCode", [hexa(chain.destroyed), "latest"]) is False
    assert call(node, "ots_hasCode", [hexa(chain.a), "latest"]) is False


def test_block_details(chain: Chain) -> None:
    node = chain.node
    details = call(node, "ots_getBlockDetails", [1])
    plain = call(node, "eth_getBlockByNumber", ["0x1", False])
    block = node.block(1)
    assert block is not None
    assert set(details) == {"block", "issuance", "totalFees"}
    assert details["block"] == {
        **{k: v for k, v in plain.items() if k != "transactions"},
        "transactionCount": 3,
    }
    assert details["issuance"] == {"blockReward": "0x0", "uncleReward": "0x0", "issuance": "0x0"}
    fees = sum(r.gas_used * r.effective_gas_price for r in block.receipts)
    assert details["totalFees"] == hex(fees) and fees > 0
    assert call(node, "ots_getBlockDetails", ["0x1"]) == details
    assert call(node, "ots_getBlockDetailsByHash", [plain["hash"]]) == details
    genesis = call(node, "ots_getBlockDetails", ["earliest"])
    assert genesis["block"]["transactionCount"] == 0 and genesis["totalFees"] == "0x0"
    assert call(node, "ots_getBlockDetails", ["latest"])["block"]["number"] == "0x3"


def test_block_transactions_pages(chain: Chain) -> None:
    node = chain.node
    full = call(node, "eth_getBlockByNumber", ["0x1", True])["transactions"]
    first = call(node, "ots_getBlockTransactions", [1, 0, 2])
    assert set(first) == {"fullblock", "receipts"}
    assert first["fullblock"]["transactionCount"] == 3
    assert [t["hash"] for t in first["fullblock"]["transactions"]] == [t["hash"] for t in full[:2]]
    for tx, whole in zip(first["fullblock"]["transactions"], full, strict=False):
        assert tx == {**whole, "input": whole["input"][:10]}  # the 4-byte selector only
    receipts = first["receipts"]
    assert [r["transactionHash"] for r in receipts] == [t["hash"] for t in full[:2]]
    for receipt in receipts:
        plain = call(node, "eth_getTransactionReceipt", [receipt["transactionHash"]])
        timestamp = plain.pop("blockTimestamp")
        assert receipt == {**plain, "timestamp": timestamp}
    second = call(node, "ots_getBlockTransactions", ["0x1", "0x1", 2])
    assert [t["hash"] for t in second["fullblock"]["transactions"]] == [full[2]["hash"]]
    assert second["fullblock"]["transactionCount"] == 3
    assert len(second["receipts"]) == 1
    for page, size in ((5, 2), (0, 0), (2**64 - 1, 1000)):
        past = call(node, "ots_getBlockTransactions", [1, page, size])
        assert past["fullblock"]["transactions"] == [] and past["receipts"] == []
        assert past["fullblock"]["transactionCount"] == 3
    latest = call(node, "ots_getBlockTransactions", ["latest", 0, 25])
    assert latest["fullblock"]["number"] == "0x3"


def _where(page: dict[str, Any]) -> list[tuple[int, int]]:
    txs = page["txs"]
    assert [t["hash"] for t in txs] == [r["transactionHash"] for r in page["receipts"]]
    return [(int(t["blockNumber"], 16), int(t["transactionIndex"], 16)) for t in txs]


def test_search_before(chain: Chain) -> None:
    node, a = chain.node, hexa(chain.a)
    everything = call(node, "ots_searchTransactionsBefore", [a, 0, 25])
    # A sent 6 and received 1: newest first, the latest index first within a block.
    assert _where(everything) == [(3, 0), (2, 2), (2, 1), (2, 0), (1, 2), (1, 1), (1, 0)]
    assert everything["firstPage"] is True and everything["lastPage"] is True
    assert everything["receipts"][0]["timestamp"] == everything["txs"][0]["blockTimestamp"]
    # Page size 2 stops in block 2, which is returned whole.
    page = call(node, "ots_searchTransactionsBefore", [a, 0, 2])
    assert _where(page) == [(3, 0), (2, 2), (2, 1), (2, 0)]
    assert page["firstPage"] is True and page["lastPage"] is False
    rest = call(node, "ots_searchTransactionsBefore", [a, 2, 2])
    assert _where(rest) == [(1, 2), (1, 1), (1, 0)]
    assert rest["firstPage"] is False and rest["lastPage"] is True
    exact = call(node, "ots_searchTransactionsBefore", [a, 3, 6])  # exactly what is left
    assert len(exact["txs"]) == 6 and exact["lastPage"] is True
    assert _where(call(node, "ots_searchTransactionsBefore", [hexa(chain.b), 0, 25])) == [
        (2, 2),
        (1, 2),
    ]
    for block in (4, 10**6, 2**64 - 1):  # past the head: from the head
        assert _where(call(node, "ots_searchTransactionsBefore", [a, block, 1])) == [(3, 0)]
    empty = call(node, "ots_searchTransactionsBefore", [a, 0, 0])
    assert empty == {"txs": [], "receipts": [], "firstPage": True, "lastPage": False}
    nobody = call(node, "ots_searchTransactionsBefore", [NOBODY, 0, 25])
    assert nobody == {"txs": [], "receipts": [], "firstPage": True, "lastPage": True}


def test_search_after(chain: Chain) -> None:
    node, a = chain.node, hexa(chain.a)
    oldest = call(node, "ots_searchTransactionsAfter", [a, 0, 2])
    assert _where(oldest) == [(1, 2), (1, 1), (1, 0)]  # block 1 whole, newest first
    assert oldest["firstPage"] is False and oldest["lastPage"] is True
    newer = call(node, "ots_searchTransactionsAfter", [a, 1, 25])
    assert _where(newer) == [(3, 0), (2, 2), (2, 1), (2, 0)]
    assert newer["firstPage"] is True and newer["lastPage"] is False
    everything = call(node, "ots_searchTransactionsAfter", [a, 0, 25])
    assert everything["firstPage"] is True and everything["lastPage"] is True
    assert everything == call(node, "ots_searchTransactionsBefore", [a, 0, 25])
    for block in (3, 4, 2**64 - 1):
        past = call(node, "ots_searchTransactionsAfter", [a, block, 25])
        assert past == {"txs": [], "receipts": [], "firstPage": True, "lastPage": False}
    nobody = call(node, "ots_searchTransactionsAfter", [NOBODY, 0, 25])
    assert nobody == {"txs": [], "receipts": [], "firstPage": True, "lastPage": True}


def test_internal_operations(chain: Chain) -> None:
    node, a, b = chain.node, hexa(chain.a), hexa(chain.b)
    factory, tx = hexa(chain.factory), chain.tx

    def ops(name: str) -> Any:
        return call(node, "ots_getInternalOperations", [tx[name]])

    assert ops("deploy.factory") == [{"type": 2, "from": a, "to": factory, "value": "0x0"}]
    assert ops("transfer.ab") == [{"type": 0, "from": a, "to": b, "value": "0x5"}]
    assert ops("revert") == []
    assert ops("create2") == [{"type": 3, "from": factory, "to": hexa(chain.child), "value": "0x0"}]
    destroyed = hexa(chain.destroyed)
    assert ops("selfdestruct") == [
        {"type": 3, "from": factory, "to": destroyed, "value": "0x0"},
        {"type": 1, "from": destroyed, "to": factory, "value": "0x0"},
    ]


def test_trace_transaction(chain: Chain) -> None:
    node, a, tx = chain.node, hexa(chain.a), chain.tx
    factory, destroyed = hexa(chain.factory), hexa(chain.destroyed)
    deploy = call(node, "ots_traceTransaction", [tx["deploy.factory"]])
    assert deploy == [
        {
            "type": "CREATE",
            "depth": 0,
            "from": a,
            "to": factory,
            "value": "0x0",
            "input": hexa(initcode_for(FACTORY)),
            "output": hexa(FACTORY),
        }
    ]
    reverted = call(node, "ots_traceTransaction", [tx["revert"]])
    assert reverted == [
        {
            "type": "CALL",
            "depth": 0,
            "from": a,
            "to": hexa(chain.reverter),
            "value": "0x0",
            "input": "0x0102030405",
            "output": "0xdeadbeef",
        }
    ]
    destroy = call(node, "ots_traceTransaction", [tx["selfdestruct"]])
    assert [(e["type"], e["depth"], e["from"], e["to"]) for e in destroy] == [
        ("CALL", 0, a, factory),
        ("CREATE2", 1, factory, destroyed),
        ("SELFDESTRUCT", 2, destroyed, factory),
    ]
    assert destroy[1]["input"] == hexa(DESTROY_INIT) and destroy[1]["output"] == "0x"
    assert destroy[2]["input"] == "0x" and destroy[2]["output"] == "0x"
    assert call(node, "ots_traceTransaction", [UNKNOWN_HASH]) == []


def test_transaction_error(chain: Chain) -> None:
    node, tx = chain.node, chain.tx
    assert call(node, "ots_getTransactionError", [tx["revert"]]) == "0xdeadbeef"
    assert call(node, "ots_getTransactionError", [tx["transfer.ab"]]) == "0x"
    assert call(node, "ots_getTransactionError", [tx["create2"]]) == "0x"
    assert call(node, "ots_getTransactionError", [UNKNOWN_HASH]) == "0x"


def test_contract_creator(chain: Chain) -> None:
    node, tx = chain.node, chain.tx
    assert call(node, "ots_getContractCreator", [hexa(chain.factory)]) == {
        "hash": tx["deploy.factory"],
        "creator": hexa(chain.a),
    }
    assert call(node, "ots_getContractCreator", [hexa(chain.child)]) == {
        "hash": tx["create2"],
        "creator": hexa(chain.factory),
    }
    for address in (chain.a, chain.destroyed, bytes.fromhex(NOBODY[2:])):
        assert call(node, "ots_getContractCreator", [hexa(address)]) is None


# --------------------------------------------------------------------------- hostile

A0: Final = "0x" + "00" * 20
HOSTILE: Final[list[tuple[str, Any]]] = [
    ("ots_getApiLevel", [1]),
    ("erigon_getHeaderByNumber", []),
    ("erigon_getHeaderByNumber", [None]),
    ("erigon_getHeaderByNumber", [True]),
    ("erigon_getHeaderByNumber", [-1]),
    ("erigon_getHeaderByNumber", [2**63]),
    ("erigon_getHeaderByNumber", ["0x1", "0x2"]),
    ("ots_hasCode", []),
    ("ots_hasCode", ["0x12", "latest"]),
    ("ots_hasCode", [A0, True]),
    ("ots_hasCode", [A0, -1]),
    ("ots_hasCode", [A0, 1.5]),
    ("ots_hasCode", [A0, 2**64]),
    ("ots_hasCode", [A0, "next"]),
    ("ots_hasCode", [A0, "0x" + "f" * 10_000]),
    ("ots_hasCode", [A0, "latest", 1]),
    ("ots_getInternalOperations", ["0x12"]),
    ("ots_getInternalOperations", [5]),
    ("ots_getInternalOperations", [None]),
    ("ots_traceTransaction", ["0x" + "zz" * 32]),
    ("ots_traceTransaction", [{"hash": UNKNOWN_HASH}]),
    ("ots_getTransactionError", [["0x00"]]),
    ("ots_getBlockDetails", []),
    ("ots_getBlockDetails", [None]),
    ("ots_getBlockDetails", [-1]),
    ("ots_getBlockDetails", [1.5]),
    ("ots_getBlockDetails", [True]),
    ("ots_getBlockDetails", [2**63]),
    ("ots_getBlockDetails", ["1"]),
    ("ots_getBlockDetails", [{"blockNumber": "0x1"}]),
    ("ots_getBlockDetails", ["0x" + "1" * 100]),
    ("ots_getBlockDetailsByHash", ["0x1234"]),
    ("ots_getBlockDetailsByHash", [1]),
    ("ots_getBlockTransactions", [1, 0]),
    ("ots_getBlockTransactions", [1, -1, 10]),
    ("ots_getBlockTransactions", [1, 0, -1]),
    ("ots_getBlockTransactions", [1, 0, 1001]),
    ("ots_getBlockTransactions", [1, 0, 2**63]),
    ("ots_getBlockTransactions", [1, 0, 1e30]),
    ("ots_getBlockTransactions", [1, 2**64, 10]),
    ("ots_getBlockTransactions", [1, "0", 10]),
    ("ots_getBlockTransactions", [1, 0, "ten"]),
    ("ots_getBlockTransactions", [1, 0, [10]]),
    ("ots_getBlockTransactions", [1, 0, False]),
    ("ots_getBlockTransactions", [1, 0, "0x" + "f" * 5000]),
    ("ots_searchTransactionsBefore", [A0, 0]),
    ("ots_searchTransactionsBefore", [A0, -1, 10]),
    ("ots_searchTransactionsBefore", [A0, 2**64, 10]),
    ("ots_searchTransactionsBefore", [A0, 1e20, 10]),
    ("ots_searchTransactionsBefore", [A0, 0, 10**9]),
    ("ots_searchTransactionsBefore", [A0, 0, None]),
    ("ots_searchTransactionsBefore", ["0x12", 0, 10]),
    ("ots_searchTransactionsBefore", [A0, "latest", 10]),
    ("ots_searchTransactionsAfter", [A0, 0, 1001]),
    ("ots_searchTransactionsAfter", [A0, {"n": 1}, 10]),
    ("ots_searchTransactionsAfter", [A0, 0, 10, 1]),
    ("ots_getContractCreator", ["0x" + "00" * 21]),
    ("ots_getContractCreator", [None]),
    ("ots_getContractCreator", {"address": A0}),
]


@pytest.mark.parametrize(("method", "params"), HOSTILE, ids=[f"{m}{p}"[:80] for m, p in HOSTILE])
def test_bad_params_are_invalid_params(chain: Chain, method: str, params: Any) -> None:
    answer = error(chain.node, method, params)
    assert answer["code"] == -32602, answer
    assert isinstance(answer["message"], str) and len(answer["message"]) < 200


NOT_FOUND: Final[list[tuple[str, list[Any]]]] = [
    ("ots_getBlockDetails", [4]),
    ("ots_getBlockDetails", ["0x64"]),
    ("ots_getBlockDetails", ["pending"]),
    ("ots_getBlockDetails", [2**63 - 1]),
    ("ots_getBlockDetailsByHash", [UNKNOWN_HASH]),
    ("ots_getBlockTransactions", [4, 0, 25]),
    ("ots_getBlockTransactions", ["pending", 0, 25]),
    ("ots_getInternalOperations", [UNKNOWN_HASH]),
    ("ots_hasCode", [A0, 4]),
    ("ots_hasCode", [A0, UNKNOWN_HASH]),
]


@pytest.mark.parametrize(("method", "params"), NOT_FOUND, ids=[f"{m}{p}" for m, p in NOT_FOUND])
def test_missing_things_are_not_found(chain: Chain, method: str, params: list[Any]) -> None:
    assert error(chain.node, method, params)["code"] == -32001


def test_unknown_addresses_and_hashes_answer_empty(chain: Chain) -> None:
    node = chain.node
    assert call(node, "ots_traceTransaction", [UNKNOWN_HASH]) == []
    assert call(node, "ots_getTransactionError", [UNKNOWN_HASH]) == "0x"
    assert call(node, "ots_getContractCreator", [NOBODY]) is None
    assert call(node, "ots_hasCode", [NOBODY, "latest"]) is False


def test_pending_has_code(chain: Chain) -> None:
    assert call(chain.node, "ots_hasCode", [hexa(chain.factory), "pending"]) is True


OTS_METHODS: Final = sorted(
    n for n in default_registry.names() if n.startswith("ots_") or n == "erigon_getHeaderByNumber"
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["latest", "pending", "earliest", "0x", "0x0", "0x01", "", "x" * 300]),
    st.sampled_from([A0, NOBODY, UNKNOWN_HASH, "0x" + "f" * 64, "0x" + "f" * 17]),
    st.integers(min_value=0, max_value=2**70).map(hex),
    st.text(max_size=12),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None, database=None)
@given(method=st.sampled_from(OTS_METHODS), params=st.lists(_values, max_size=4) | _values)
def test_hostile_params_never_crash(chain: Chain, method: str, params: Any) -> None:
    """Whatever arrives, an answer or a JSON-RPC error of the node's own; never the
    -32603 an unexpected exception becomes."""
    node = chain.node
    try:
        call(node, method, params)
    except Exception as exc:  # every exception, mapped as the server maps it
        answer = error_object(exc)
        assert answer["code"] in (-32602, -32001), answer
        assert isinstance(answer["message"], str) and len(answer["message"]) < 300
