"""The published MiniBlock: it carries the block's whole state change, and its bytes
round-trip. Applying the published diffs, block after block, to a copy of the genesis
state must reproduce the sequencer's state exactly (what workers and replicas rely on)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sequencer.config import NodeConfig
from sequencer.node import Node
from sequencer.types.blocks import MiniBlock
from sequencer.types.transactions import Transaction, sign_transaction
from sequencer.types.wire import WireError, decode_block, decode_diff, encode_block, encode_diff
from statedb.types import Account, DictState, StateDiff, keccak256

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts" / "build"
SINK = b"\x42" * 20


def _tx(key: bytes, nonce: int, to: bytes | None, data: bytes = b"", value: int = 0) -> Transaction:
    return sign_transaction(
        Transaction(
            2,
            31337,
            nonce,
            3_000_000,
            to,
            value,
            data,
            max_fee_per_gas=10**10,
            max_priority_fee_per_gas=10**9,
        ),
        key,
    )


def _copy(state: DictState) -> DictState:
    out = DictState()
    out.accounts = dict(state.accounts)
    out.storage = {address: dict(slots) for address, slots in state.storage.items()}
    out.codes = dict(state.codes)
    return out


def _assert_same_state(a: DictState, b: DictState) -> None:
    assert a.accounts == b.accounts
    assert {k: v for k, v in a.storage.items() if v} == {k: v for k, v in b.storage.items() if v}
    assert a.codes == b.codes


# Initcode that writes a slot, then self-destructs in the creating transaction
# (EIP-6780: the account and its storage never survive the transaction).
CREATE_AND_DESTROY = bytes.fromhex("6001600055" + "33ff")
# Initcode storing two slots and returning empty runtime code.
STORE_TWO = bytes.fromhex("600160005560026001556000f3")


def test_applying_published_diffs_reproduces_the_sequencer_state() -> None:
    node = Node(NodeConfig(data_dir=None, accounts=3, no_mining=True))
    try:
        published: list[MiniBlock] = []
        node.subscribe_blocks(published.append)
        replica = _copy(node.db.resident)
        keys = [account.private_key for account in node.accounts]
        counter = json.loads((CONTRACTS / "Counter.json").read_text())
        token = json.loads((CONTRACTS / "Token.json").read_text())
        sends = [
            _tx(keys[0], 0, SINK, value=5),
            _tx(keys[1], 0, None, bytes.fromhex(counter["bytecode"][2:])),
            _tx(keys[2], 0, None, bytes.fromhex(token["bytecode"][2:])),
            _tx(keys[0], 1, None, CREATE_AND_DESTROY),
            _tx(keys[0], 2, None, STORE_TWO),
        ]
        for tx in sends:
            node.pool.add(tx, tx.encode())
        node.mine()
        located = node.locate_transaction(sends[1].hash)
        assert located is not None
        counter_address = located[0].receipts[located[1]].contract_address
        assert counter_address is not None
        increment = keccak256(b"increment()")[:4]
        for nonce in (1, 2, 3):
            tx = _tx(keys[1], nonce, counter_address, increment)
            node.pool.add(tx, tx.encode())
        node.mine()
        # Dev edits travel in the next block's diff.
        node.edit_state(SINK, balance=10**18, nonce=7, code=b"\x60\x00", storage=(3, 9))
        node.edit_state(counter_address, storage=(0, 0))
        node.mine()
        node.edit_state(SINK, storage=(3, 0))
        node.mine(2)
        assert len(published) == 5
        for block in published:
            assert block.diff is not None
            decoded = decode_block(encode_block(block))
            assert decoded == block
            assert decoded.diff == block.diff
            replica.apply(decoded.diff)
        _assert_same_state(replica, node.db.resident)
    finally:
        node.close()


def test_a_block_read_back_from_the_chain_records_has_no_diff() -> None:
    node = Node(NodeConfig(data_dir=None, accounts=1, no_mining=True))
    try:
        (block,) = node.mine()
        assert block.diff is not None
        stored = node.chain.block_by_number(block.number)
        assert stored == block
        if stored is not block:  # an evicted or re-read block
            assert stored.diff is None
        with pytest.raises(WireError, match="carries no diff"):
            encode_block(MiniBlock(block.header, block.hash, (), (), block.size, ()))
    finally:
        node.close()


def _sample_diff() -> StateDiff:
    diff = StateDiff()
    diff.accounts[b"\x01" * 20] = Account(3, 10**30, keccak256(b"\x60\x00"))
    diff.accounts[b"\x02" * 20] = None
    diff.storage[b"\x01" * 20] = {0: 1, 2**256 - 1: 2**255}
    diff.storage[b"\x02" * 20] = {5: 0}
    diff.codes[keccak256(b"\x60\x00")] = b"\x60\x00"
    return diff


def test_every_truncation_and_every_trailing_byte_is_refused() -> None:
    data = encode_diff(_sample_diff())
    assert decode_diff(data) == _sample_diff()
    for cut in range(len(data)):
        with pytest.raises(WireError):
            decode_diff(data[:cut])
    with pytest.raises(WireError, match="after the diff"):
        decode_diff(data + b"\x00")


def _account_record(address: bytes, flag: int, tail: bytes) -> bytes:
    return address + bytes((flag,)) + tail


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\x00\x00\x01" + _account_record(b"\x01" * 20, 2, b"\x00" * 72), "bad account flag"),
        (b"\x00\x00\x00\x01" + _account_record(b"\x01" * 20, 0, b"\x01" * 72), "carries fields"),
        (
            b"\x00\x00\x00\x02" + _account_record(b"\x01" * 20, 0, b"\x00" * 72) * 2,
            "appears twice",
        ),
        (
            b"\x00\x00\x00\x00\x00\x00\x00\x01"
            + b"\x01" * 20
            + b"\x00\x00\x00\x02"
            + (b"\x00" * 31 + b"\x01" + b"\x00" * 32) * 2,
            "repeats a slot",
        ),
        (b"\x00" * 8 + b"\x00\x00\x00\x01" + b"\x00\x00\x00\x00", "empty code"),
        (b"\xff\xff\xff\xff", "truncated"),  # four billion accounts claimed, none there
        (b"\x00" * 4 + b"\x00\x00\x00\x01" + b"\x01" * 20 + b"\xff\xff\xff\xff", "truncated"),
    ],
)
def test_hostile_diffs_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(WireError, match=message):
        decode_diff(data)


@pytest.mark.parametrize(
    "data",
    [b"", b"\x80", b"\xc0", b"\xc3\x80\x80\x80", b"\xc2\x80\x80", b"\xc3\xc0\x80\x80", b"\xff"],
)
def test_hostile_blocks_are_refused(data: bytes) -> None:
    with pytest.raises(WireError):
        decode_block(data)


def test_non_bytes_and_wipes_are_refused() -> None:
    with pytest.raises(WireError, match="expected bytes"):
        decode_diff("00")  # type: ignore[arg-type]
    wiped = StateDiff()
    wiped.storage_cleared.add(b"\x01" * 20)
    with pytest.raises(WireError, match="no wipes"):
        encode_diff(wiped)


_addresses = st.binary(min_size=20, max_size=20)
_words = st.integers(min_value=0, max_value=2**256 - 1)
_accounts = st.one_of(
    st.none(),
    st.builds(
        Account,
        st.integers(min_value=0, max_value=2**64 - 1),
        _words,
        st.binary(min_size=32, max_size=32),
    ),
)


@settings(max_examples=200, deadline=None)
@given(
    accounts=st.dictionaries(_addresses, _accounts, max_size=8),
    storage=st.dictionaries(_addresses, st.dictionaries(_words, _words, max_size=6), max_size=5),
    codes=st.lists(st.binary(min_size=1, max_size=64), max_size=4),
)
def test_random_diffs_round_trip(
    accounts: dict[bytes, Account | None], storage: dict[bytes, dict[int, int]], codes: list[bytes]
) -> None:
    diff = StateDiff(accounts, storage, {keccak256(code): code for code in codes})
    assert decode_diff(encode_diff(diff)) == diff
