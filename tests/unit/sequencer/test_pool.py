"""TxPool: readiness, nonce gaps, replacement, limits, geth wording."""

from __future__ import annotations

import pytest

from jit.forks import Fork, rules_for
from sequencer.config import PoolLimits
from sequencer.errors import TransactionRejected
from sequencer.pool import TxPool
from sequencer.types.transactions import Transaction, private_key_to_address, sign_transaction
from statedb.types import Account

KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")
KEY2 = bytes.fromhex("59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d")
SENDER = private_key_to_address(KEY)
RULES = rules_for(Fork.OSAKA)


def tx(
    nonce: int,
    *,
    fee: int = 10**10,
    tip: int = 10**9,
    value: int = 0,
    key: bytes = KEY,
    gas: int = 21000,
    chain_id: int = 31337,
) -> Transaction:
    return sign_transaction(
        Transaction(
            2,
            chain_id,
            nonce,
            gas,
            b"\x11" * 20,
            value,
            b"",
            max_fee_per_gas=fee,
            max_priority_fee_per_gas=tip,
        ),
        key,
    )


@pytest.fixture
def pool() -> TxPool:
    state = {SENDER: Account(5, 10**20), private_key_to_address(KEY2): Account(0, 10**20)}
    return TxPool(
        PoolLimits(per_account=4, total=6),
        state.get,
        lambda: 10**9,
        lambda: 15_000_000,
        lambda: RULES,
        31337,
    )


def test_ready_and_queued(pool: TxPool) -> None:
    assert pool.add(tx(6), tx(6).encode()).ready is False  # gap at 5
    assert pool.pending_nonce(SENDER, 5) == 5
    assert pool.add(tx(5), tx(5).encode()).ready is True
    assert pool.pending_nonce(SENDER, 5) == 7
    first, second = pool.next_ready(), pool.next_ready()
    assert first is not None and second is not None
    assert (first.tx.nonce, second.tx.nonce) == (5, 6)
    assert pool.next_ready() is None and not pool.has_ready


def test_rejections(pool: TxPool) -> None:
    pool.add(tx(5), tx(5).encode())
    cases = [
        (tx(5), "already known"),
        (tx(4), "nonce too low: next nonce 5, tx nonce 4"),
        (tx(5, fee=10**10 + 1, value=1), "replacement transaction underpriced"),
        (tx(7, value=10**21), "insufficient funds for gas * price + value"),
        (tx(7, fee=10**8, tip=10**8), "max fee per gas less than block base fee"),
        (tx(7, gas=20_000), "intrinsic gas too low"),
        (tx(7, gas=16_000_000), "exceeds block gas limit"),
        (tx(7, gas=40_000_000), "transaction gas limit too high"),  # EIP-7825
        (tx(7, chain_id=1), "invalid chain id for signer: have 1 want 31337"),
    ]
    for bad, message in cases:
        with pytest.raises(TransactionRejected) as raised:
            pool.add(bad, bad.encode())
        assert raised.value.message.startswith(message), raised.value.message
    with pytest.raises(TransactionRejected, match="oversized data"):
        pool.add(tx(7), b"\xc0" * 10**6)
    assert len(pool) == 1


def test_replacement_with_bump_replaces_and_keeps_position(pool: TxPool) -> None:
    settled: list[tuple[bytes, Exception | None]] = []
    pool._on_settled = lambda tx_hash, result: settled.append((tx_hash, result))
    old = pool.add(tx(5), tx(5).encode()).entry
    new = pool.add(
        tx(5, fee=11 * 10**9, tip=11 * 10**8), tx(5, fee=11 * 10**9, tip=11 * 10**8).encode()
    )
    assert new.ready is True
    ((hash_, error),) = settled
    assert hash_ == old.tx.hash
    assert isinstance(error, TransactionRejected) and "replaced" in error.message
    taken = pool.next_ready()
    assert taken is not None and taken.tx.max_fee_per_gas == 11 * 10**9
    assert pool.next_ready() is None


def test_limits(pool: TxPool) -> None:
    for nonce in range(5, 9):
        pool.add(tx(nonce), tx(nonce).encode())
    with pytest.raises(TransactionRejected, match="account limit exceeded"):
        pool.add(tx(9), tx(9).encode())
    pool.add(tx(0, key=KEY2), tx(0, key=KEY2).encode())
    pool.add(tx(1, key=KEY2), tx(1, key=KEY2).encode())
    with pytest.raises(TransactionRejected, match="txpool is full"):
        pool.add(tx(2, key=KEY2), tx(2, key=KEY2).encode())


def test_drop_demotes_later_nonces(pool: TxPool) -> None:
    for nonce in (5, 6, 7):
        pool.add(tx(nonce), tx(nonce).encode())
    first = pool.next_ready()
    assert first is not None
    pool.drop(first, TransactionRejected("boom"))
    assert pool.next_ready() is None  # 6 and 7 wait for nonce 5 again
    assert pool.pending_nonce(SENDER, 5) == 5
    pool.add(tx(5), tx(5).encode())
    assert [pool.next_ready().tx.nonce for _ in range(3)] == [5, 6, 7]  # type: ignore[union-attr]
