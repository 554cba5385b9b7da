"""Valid and invalid transactions mixed in JSON-RPC batches and single requests from
concurrent clients (in-process server): every call is answered, every valid
transaction is mined, every invalid one is refused with its message (issue 14)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rpc.namespaces import default_registry
from rpc.server import create_app
from sequencer.config import NodeConfig
from sequencer.node import Node
from sequencer.types.transactions import Transaction
from tests.unit.sequencer.test_pool_validity import INVALID_KINDS, transfer

# Invalid at admission besides the six stateless kinds.
STATEFUL_KINDS: dict[str, tuple[dict[str, object], str]] = {
    "insufficient funds": ({"value": 10**30}, "insufficient funds for gas * price + value"),
    "fee under the base fee": (
        {"max_fee_per_gas": 1, "max_priority_fee_per_gas": 1},
        "max fee per gas less than block base fee",
    ),
}
KINDS = {**INVALID_KINDS, **STATEFUL_KINDS}
VALID = "valid"


def build(kind: str, key: bytes, nonce: int) -> tuple[Transaction, tuple[str, ...]]:
    """The transaction of ``kind`` at the client's next valid ``nonce``, and the messages
    its answer may start with (none: it must be mined)."""
    if kind == VALID:
        return transfer(key, nonce), ()
    if kind == "nonce too low" and nonce > 0:
        # The previous nonce, another value: refused as stale, or as an underpriced
        # replacement while the previous one still waits in the pool (same batch).
        stale = transfer(key, nonce - 1, value=2)
        return stale, ("nonce too low", "replacement transaction underpriced")
    if kind == "nonce too low":
        kind = "set-code without authorizations"  # nothing is stale before nonce 0
    fields, message = KINDS[kind]
    return transfer(key, nonce, **fields), (message,)


# One client: its transactions (kinds) cut into groups, each sent as one JSON batch or
# as single requests fired together.
client_plan = st.lists(
    st.tuples(
        st.lists(
            st.sampled_from([VALID, VALID, "nonce too low", *sorted(KINDS)]),
            min_size=1,
            max_size=5,
        ),
        st.booleans(),  # True: one JSON batch; False: concurrent single requests
    ),
    min_size=1,
    max_size=3,
)


Sent = tuple[tuple[str, ...], Transaction, dict[str, Any]]


async def run_client(
    client: TestClient[Any, Any], key: bytes, plan: list[tuple[list[str], bool]]
) -> list[Sent]:
    """Send ``plan``; return (expected messages, transaction, JSON-RPC response) each."""
    nonce = 0
    seen: list[Sent] = []
    for kinds, as_batch in plan:
        txs = []
        expected = []
        for kind in kinds:
            tx, messages = build(kind, key, nonce)
            txs.append(tx)
            expected.append(messages)
            if kind == VALID:
                nonce += 1
        calls = [
            {
                "jsonrpc": "2.0",
                "id": i,
                "method": "eth_sendRawTransaction",
                "params": ["0x" + tx.encode().hex()],
            }
            for i, tx in enumerate(txs)
        ]

        async def post(body: object) -> Any:
            response = await client.post(
                "/", data=orjson.dumps(body), headers={"Content-Type": "application/json"}
            )
            return orjson.loads(await response.read())

        if as_batch:
            answers = sorted(await post(calls), key=lambda a: a["id"])
        else:
            answers = list(await asyncio.gather(*(post(call) for call in calls)))
        assert len(answers) == len(txs)
        seen += list(zip(expected, txs, answers, strict=True))
    return seen


async def scenario(plans: list[list[tuple[list[str], bool]]]) -> None:
    node = Node(NodeConfig(data_dir=None, accounts=len(plans), sender_recovery="inline"))
    await node.start()
    try:
        app = create_app(node, default_registry, info=node.info)
        async with TestClient(TestServer(app)) as client:
            results = await asyncio.wait_for(
                asyncio.gather(
                    *(
                        run_client(client, account.private_key, plan)
                        for account, plan in zip(node.accounts, plans, strict=True)
                    )
                ),
                30,  # every call must be answered: a stuck one fails here
            )
        for messages, tx, answer in (item for result in results for item in result):
            if not messages:
                assert answer.get("result") == "0x" + tx.hash.hex(), answer
                assert node.locate_transaction(tx.hash) is not None
            else:
                assert answer["error"]["message"].startswith(messages), (messages, answer)
        assert len(node.pool) == 0
        for account, result in zip(node.accounts, results, strict=True):
            mined = sum(1 for messages, _, _ in result if not messages)
            assert node.pending_nonce(account.address) == mined
    finally:
        await node.stop()


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(plans=st.lists(client_plan, min_size=1, max_size=4))
def test_mixed_batches_from_concurrent_clients(plans: list[list[tuple[list[str], bool]]]) -> None:
    asyncio.run(scenario(plans))
