"""Raw-transaction fuzzer (issue 14): signed transactions of every type with hostile field
values, and byte-level damage to them, submitted to a running Node.

What must hold for every submission: it is refused with a ``NodeError`` that says why, or
it is acknowledged and then mined or kept waiting in the pool; it never hangs, and the
node never wedges: after each example a control transfer from another account is mined
within a few seconds (the bug this guards against: a transaction admitted by the pool but
refused by execution stopped every transaction of its batch).

``HUMMINGBIRD_FUZZ_EXAMPLES`` sets the number of examples (``make reliability``: more).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sequencer.config import NodeConfig
from sequencer.errors import NodeError
from sequencer.node import Node
from sequencer.types.transactions import AuthorizationTuple, Transaction, sign_transaction

EXAMPLES = int(os.environ.get("HUMMINGBIRD_FUZZ_EXAMPLES", "150"))
CHAIN_ID = 31337
SUBMIT_TIMEOUT = 10.0

small = st.integers(min_value=0, max_value=3)
wide = st.one_of(
    st.integers(min_value=0, max_value=2**64),
    st.sampled_from([0, 1, 21_000, 2**24, 2**63 - 1, 2**64 - 1, 2**256 - 1]),
)
addresses = st.one_of(st.none(), st.binary(min_size=20, max_size=20))
blob_hashes = st.lists(
    st.one_of(
        st.binary(min_size=32, max_size=32).map(lambda b: b"\x01" + b[1:]),
        st.binary(min_size=32, max_size=32),
    ),
    max_size=8,
).map(tuple)
authorizations = st.lists(
    st.builds(
        AuthorizationTuple,
        st.sampled_from([0, CHAIN_ID, 1]),
        st.binary(min_size=20, max_size=20),
        small,
        st.integers(min_value=0, max_value=2),
        st.integers(min_value=0, max_value=2**256 - 1),
        st.integers(min_value=0, max_value=2**256 - 1),
    ),
    max_size=2,
).map(tuple)
access_lists = st.lists(
    st.tuples(
        st.binary(min_size=20, max_size=20),
        st.lists(st.integers(min_value=0, max_value=2**256 - 1), max_size=2).map(tuple),
    ),
    max_size=2,
).map(tuple)


@st.composite
def transactions(draw: st.DrawFn) -> Transaction:
    tx_type = draw(st.sampled_from([0, 1, 2, 3, 4]))
    return Transaction(
        tx_type,
        draw(st.sampled_from([CHAIN_ID, CHAIN_ID, 1, 0]))
        if tx_type
        else draw(st.sampled_from([CHAIN_ID, None])),
        draw(st.one_of(small, wide)),
        draw(st.one_of(st.sampled_from([21_000, 100_000, 1_000_000]), wide)),
        draw(addresses) if tx_type not in (3, 4) else draw(st.binary(min_size=20, max_size=20)),
        draw(st.one_of(small, wide)),
        draw(st.binary(max_size=64)),
        gas_price=draw(st.one_of(st.just(10**10), wide)),
        max_fee_per_gas=draw(st.one_of(st.just(10**10), wide)),
        max_priority_fee_per_gas=draw(st.one_of(st.just(10**9), small, wide)),
        access_list=draw(access_lists) if tx_type else (),
        max_fee_per_blob_gas=draw(st.one_of(st.just(10**10), small, wide)) if tx_type == 3 else 0,
        blob_versioned_hashes=draw(blob_hashes) if tx_type == 3 else (),
        authorization_list=draw(authorizations) if tx_type == 4 else (),
    )


damage = st.one_of(
    st.none(),
    st.tuples(st.just("flip"), st.integers(min_value=0), st.integers(min_value=1, max_value=255)),
    st.tuples(st.just("cut"), st.integers(min_value=0), st.just(0)),
    st.tuples(st.just("append"), st.integers(min_value=1, max_value=40), st.just(0)),
)


def damaged(raw: bytes, how: tuple[str, int, int] | None) -> bytes:
    if how is None:
        return raw
    kind, where, value = how
    if kind == "flip":
        i = where % len(raw)
        return raw[:i] + bytes([raw[i] ^ value]) + raw[i + 1 :]
    if kind == "cut":
        return raw[: where % len(raw)]
    return raw + b"\x00" * where


@pytest.fixture
async def node() -> AsyncIterator[Node]:
    node = Node(NodeConfig(data_dir=None, accounts=3, sender_recovery="inline"))
    await node.start()
    try:
        yield node
    finally:
        await node.stop()


class Control:
    """Account 2's transfers: each must be mined promptly whatever came before it."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.nonce = 0

    async def transfer_is_mined(self) -> None:
        account = self.node.accounts[2]
        tx = Transaction(
            2,
            CHAIN_ID,
            self.nonce,
            21_000,
            b"\x77" * 20,
            1,
            b"",
            max_fee_per_gas=10**11,
            max_priority_fee_per_gas=10**9,
        )
        self.nonce += 1
        signed = sign_transaction(tx, account.private_key)
        await asyncio.wait_for(self.node.send_raw_transaction(signed.encode()), SUBMIT_TIMEOUT)
        assert self.node.chain.receipt(signed.hash) is not None


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)


@FUZZ
@given(tx=transactions(), how=damage, sender=st.sampled_from([0, 1]))
async def test_hostile_raw_transactions_are_refused_or_kept_and_never_wedge_the_node(
    node: Node, tx: Transaction, how: tuple[str, int, int] | None, sender: int
) -> None:
    control = getattr(node, "_fuzz_control", None)
    if control is None:
        control = Control(node)
        node._fuzz_control = control  # type: ignore[attr-defined]
    signed = sign_transaction(tx, node.accounts[sender].private_key)
    raw = damaged(signed.encode(), how)
    try:
        tx_hash = await asyncio.wait_for(node.send_raw_transaction(raw), SUBMIT_TIMEOUT)
    except NodeError as error:
        assert error.message  # refused, saying why
        event(f"type {tx.tx_type}: refused: {error.message.split(':')[0][:40]}")
    except TimeoutError:
        # acknowledged never: a wedge unless it is waiting on a nonce gap (answered at once)
        raise AssertionError(f"submission of a type-{tx.tx_type} transaction hung") from None
    else:
        event(f"type {tx.tx_type}: acknowledged")
        assert node.chain.receipt(tx_hash) is not None or node.pool_transaction(tx_hash) is not None
    await control.transfer_is_mined()
