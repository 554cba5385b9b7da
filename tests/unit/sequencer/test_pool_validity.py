"""Pool admission and execution share one stateless check (``validate_stateless``), and a
transaction that still fails at execution is dropped alone: the rest of its batch is
mined and every sender gets an answer (issue 14)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence

import pytest
import pytest_asyncio

from jit.evm.exceptions import InvalidTransaction
from jit.evm.transaction import TxOutcome
from jit.forks import ForkRules
from sequencer.builder import OpenBlock
from sequencer.config import NodeConfig
from sequencer.errors import TransactionRejected
from sequencer.executor import SerialExecutor
from sequencer.node import Node
from sequencer.types.transactions import AuthorizationTuple, Transaction, sign_transaction
from statedb.types import Hash32

TO = b"\x42" * 20
BLOB_HASH = b"\x01" + b"\x00" * 31


def transfer(key: bytes, nonce: int, **fields: object) -> Transaction:
    base: dict[str, object] = {
        "max_fee_per_gas": 10**10,
        "max_priority_fee_per_gas": 10**9,
    }
    base.update(fields)
    tx_type = int(base.pop("tx_type", 2))  # type: ignore[call-overload]
    gas = int(base.pop("gas", 21_000))  # type: ignore[call-overload]
    value = int(base.pop("value", 1))  # type: ignore[call-overload]
    return sign_transaction(
        Transaction(tx_type, 31337, nonce, gas, TO, value, b"", **base),  # type: ignore[arg-type]
        key,
    )


# The six kinds that passed admission and failed execution before the pool ran
# execution's own check; each with the message admission answers now.
INVALID_KINDS: dict[str, tuple[dict[str, object], str]] = {
    "blob without hashes": (
        {"tx_type": 3, "max_fee_per_blob_gas": 10**9, "blob_versioned_hashes": ()},
        "blob transaction missing blob hashes",
    ),
    "blob hash version not 0x01": (
        {
            "tx_type": 3,
            "max_fee_per_blob_gas": 10**9,
            "blob_versioned_hashes": (b"\x02" + b"\x00" * 31,),
        },
        "blob versioned hash has an invalid version",
    ),
    "7 blobs (Osaka: 6 per transaction)": (
        {"tx_type": 3, "max_fee_per_blob_gas": 10**9, "blob_versioned_hashes": (BLOB_HASH,) * 7},
        "too many blobs in transaction: have 7, max 6",
    ),
    "1000 blobs": (
        {
            "tx_type": 3,
            "max_fee_per_blob_gas": 10**9,
            "blob_versioned_hashes": (BLOB_HASH,) * 1000,
        },
        "too many blobs in transaction: have 1000, max 6",
    ),
    "blob fee under the blob base fee": (
        {"tx_type": 3, "max_fee_per_blob_gas": 0, "blob_versioned_hashes": (BLOB_HASH,)},
        "max fee per blob gas less than block blob gas fee",
    ),
    "set-code without authorizations": (
        {"tx_type": 4, "authorization_list": ()},
        "EIP-7702 transaction with empty auth list",
    ),
}


def invalid(kind: str, key: bytes, nonce: int) -> Transaction:
    fields, _ = INVALID_KINDS[kind]
    return transfer(key, nonce, **fields)


@pytest_asyncio.fixture
async def node() -> AsyncIterator[Node]:
    node = Node(NodeConfig(data_dir=None, accounts=4, sender_recovery="inline"))
    await node.start()
    try:
        yield node
    finally:
        await node.stop()


@pytest.mark.parametrize("kind", sorted(INVALID_KINDS))
async def test_each_kind_is_rejected_at_admission_with_its_message(node: Node, kind: str) -> None:
    key = node.accounts[0].private_key
    bad = invalid(kind, key, 0)
    with pytest.raises(TransactionRejected) as raised:
        await node.send_raw_transaction(bad.encode())
    assert raised.value.message.startswith(INVALID_KINDS[kind][1]), raised.value.message
    assert len(node.pool) == 0
    # The sender is not stuck: its next transaction with the same nonce is mined.
    good = transfer(key, 0)
    assert await asyncio.wait_for(node.send_raw_transaction(good.encode()), 10) == good.hash
    assert node.locate_transaction(good.hash) is not None


async def test_batch_of_valid_and_invalid_answers_everyone_and_mines_the_valid(
    node: Node,
) -> None:
    keys = [account.private_key for account in node.accounts]
    txs = [transfer(keys[0], 0), invalid("set-code without authorizations", keys[1], 0)]
    txs += [transfer(keys[2], 0), invalid("blob without hashes", keys[3], 0)]
    answers = await asyncio.wait_for(
        asyncio.gather(
            *(node.send_raw_transaction(tx.encode()) for tx in txs), return_exceptions=True
        ),
        10,
    )
    assert answers[0] == txs[0].hash and answers[2] == txs[2].hash
    assert isinstance(answers[1], TransactionRejected) and isinstance(
        answers[3], TransactionRejected
    )
    assert node.locate_transaction(txs[0].hash) is not None
    assert node.locate_transaction(txs[2].hash) is not None


async def test_insufficient_funds_after_an_earlier_transaction_drops_only_that_one(
    node: Node,
) -> None:
    """Admission checks the balance against the head; the sender's first transaction
    spends it, so its second fails at execution, in the same batch as the others."""
    keys = [account.private_key for account in node.accounts]
    poor = node.accounts[1].address
    node.edit_state(poor, balance=10**18)
    spend_all = transfer(keys[1], 0, value=10**18 - 21_000 * 10**10)
    unaffordable = transfer(keys[1], 1, value=10**17)
    others = [transfer(keys[0], 0), transfer(keys[2], 0)]
    batch = [others[0], spend_all, unaffordable, others[1]]
    answers = await asyncio.wait_for(
        asyncio.gather(*(node.submit(tx, tx.encode()) for tx in batch), return_exceptions=True),
        10,
    )
    assert answers[0] == others[0].hash and answers[1] == spend_all.hash
    assert answers[3] == others[1].hash
    assert isinstance(answers[2], TransactionRejected)
    assert answers[2].message.startswith("insufficient funds for gas * price + value")
    block, _ = node.locate_transaction(spend_all.hash) or (None, 0)
    assert block is not None
    assert {tx.hash for tx in block.transactions} == {t.hash for t in (*others, spend_all)}
    assert len(node.pool) == 0
    assert node.pending_nonce(poor) == 1  # the sender can send nonce 1 again


async def test_balance_edit_between_admission_and_execution(node: Node) -> None:
    keys = [account.private_key for account in node.accounts]
    victim = transfer(keys[1], 0)
    bystander = transfer(keys[0], 0)
    tasks = [asyncio.ensure_future(node.submit(tx, tx.encode())) for tx in (bystander, victim)]
    await asyncio.sleep(0)  # both admitted and waiting; the producer has not run yet
    assert len(node.pool) == 2
    node.edit_state(node.accounts[1].address, balance=0)  # anvil_setBalance
    answers = await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 10)
    assert answers[0] == bystander.hash
    assert isinstance(answers[1], TransactionRejected)
    assert "insufficient funds" in answers[1].message
    assert node.locate_transaction(bystander.hash) is not None
    assert node.locate_transaction(victim.hash) is None and len(node.pool) == 0


async def test_nonce_lowered_by_a_dev_edit_answers_the_waiting_sender_as_queued(
    node: Node,
) -> None:
    key = node.accounts[1].private_key
    address = node.accounts[1].address
    node.edit_state(address, nonce=5)
    waiting = transfer(key, 5)
    task = asyncio.ensure_future(node.submit(waiting, waiting.encode()))
    await asyncio.sleep(0)
    node.edit_state(address, nonce=3)  # anvil_setNonce: a gap at 3 and 4 now
    assert await asyncio.wait_for(task, 10) == waiting.hash  # answered, now queued
    assert node.pool_transaction(waiting.hash) is not None
    assert node.locate_transaction(waiting.hash) is None
    for nonce in (3, 4):
        tx = transfer(key, nonce)
        await asyncio.wait_for(node.submit(tx, tx.encode()), 10)
    for _ in range(100):  # the queued one follows in the next block
        if node.locate_transaction(waiting.hash) is not None:
            break
        await asyncio.sleep(0.01)
    assert node.locate_transaction(waiting.hash) is not None


async def test_nonce_raised_by_a_dev_edit_answers_the_waiting_sender_with_an_error(
    node: Node,
) -> None:
    key = node.accounts[1].private_key
    waiting = transfer(key, 0)
    task = asyncio.ensure_future(node.submit(waiting, waiting.encode()))
    await asyncio.sleep(0)
    node.edit_state(node.accounts[1].address, nonce=1)
    with pytest.raises(TransactionRejected, match="nonce too low"):
        await asyncio.wait_for(task, 10)
    assert len(node.pool) == 0


class FailingExecutor(SerialExecutor):
    """Raises a non-``InvalidTransaction`` error (a bug) for the chosen hashes."""

    def __init__(self, fail: set[Hash32]) -> None:
        super().__init__()
        self.fail = fail

    def execute(
        self,
        block: OpenBlock,
        rules: ForkRules,
        batch: Sequence[Transaction],
        deadline: float,
    ) -> list[TxOutcome | InvalidTransaction]:
        import sequencer.executor.serial as serial

        original = serial.execute_transaction

        def execute(tx: Transaction, *args: object, **kwargs: object) -> TxOutcome:
            if tx.hash in self.fail:
                raise RuntimeError("simulated executor bug")
            return original(tx, *args, **kwargs)  # type: ignore[arg-type]

        serial.execute_transaction = execute  # type: ignore[assignment]
        try:
            return super().execute(block, rules, batch, float("inf"))
        finally:
            serial.execute_transaction = original


async def test_a_transaction_that_crashes_execution_is_dropped_alone(node: Node) -> None:
    keys = [account.private_key for account in node.accounts]
    txs = [transfer(key, 0) for key in keys]
    node.producer.executor = FailingExecutor({txs[1].hash})
    answers = await asyncio.wait_for(
        asyncio.gather(*(node.submit(tx, tx.encode()) for tx in txs), return_exceptions=True),
        10,
    )
    assert isinstance(answers[1], TransactionRejected)
    assert "internal error executing transaction" in answers[1].message
    for index in (0, 2, 3):
        assert answers[index] == txs[index].hash
        assert node.locate_transaction(txs[index].hash) is not None


async def test_a_block_that_fails_before_its_seal_gives_everything_back(node: Node) -> None:
    """Anything raised while building (here the post-block system calls, once) returns
    every taken transaction to the ready queue; the next attempt mines them all."""
    keys = [account.private_key for account in node.accounts]
    txs = [transfer(key, 0) for key in keys[:3]]
    post_block: Callable[..., bytes] = node.producer.builder._post_block
    failures = [RuntimeError("simulated failure before the seal")]

    def flaky(*args: object) -> bytes:
        if failures:
            raise failures.pop()
        return post_block(*args)

    node.producer.builder._post_block = flaky  # type: ignore[method-assign, assignment]
    answers = await asyncio.wait_for(
        asyncio.gather(*(node.submit(tx, tx.encode()) for tx in txs)), 10
    )
    assert answers == [tx.hash for tx in txs]
    assert not failures
    assert all(node.locate_transaction(tx.hash) is not None for tx in txs)


def test_transaction_over_a_lowered_block_gas_limit_is_dropped_not_spun_on() -> None:
    """Admitted under the old limit, it can never fit: the producer drops it (it used to
    push it back forever, sealing nothing) and mines what is behind it."""
    node = Node(NodeConfig(data_dir=None, accounts=2, no_mining=True))
    try:
        big = transfer(node.accounts[0].private_key, 0, gas=1_000_000)
        small = transfer(node.accounts[1].private_key, 0)
        node.pool.add(big, big.encode())
        node.pool.add(small, small.encode())
        node.set_block_gas_limit(500_000)
        (block,) = node.mine()
        assert [tx.hash for tx in block.transactions] == [small.hash]
        assert len(node.pool) == 0
    finally:
        node.close()


def test_admission_uses_the_next_blocks_blob_base_fee() -> None:
    node = Node(NodeConfig(data_dir=None, accounts=1, no_mining=True))
    try:
        assert node.next_blob_base_fee() == 1  # EIP-4844's minimum at excess 0
        node.pool._blob_base_fee = lambda: 7  # as if blob blocks had raised it
        key = node.accounts[0].private_key
        cheap = transfer(
            key, 0, tx_type=3, max_fee_per_blob_gas=6, blob_versioned_hashes=(BLOB_HASH,)
        )
        with pytest.raises(TransactionRejected, match="have 6, want 7"):
            node.pool.add(cheap, cheap.encode())
        enough = transfer(
            key, 0, tx_type=3, max_fee_per_blob_gas=7, blob_versioned_hashes=(BLOB_HASH,)
        )
        assert node.pool.add(enough, enough.encode()).ready
    finally:
        node.close()


def test_set_code_transaction_with_an_authorization_is_admitted() -> None:
    node = Node(NodeConfig(data_dir=None, accounts=1, no_mining=True))
    try:
        auth = AuthorizationTuple(31337, TO, 0, 0, 1, 1)
        tx = transfer(
            node.accounts[0].private_key, 0, tx_type=4, gas=46_000, authorization_list=(auth,)
        )
        assert node.pool.add(tx, tx.encode()).ready
    finally:
        node.close()
