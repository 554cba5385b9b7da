"""The published MiniBlock: it carries the block's whole state change, and its bytes
round-trip. Applying the published diffs, block after block, to a copy of the genesis
state must reproduce the sequencer's state exactly (what workers and replicas rely on)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jit import rlp
from sequencer.access_list import BlockAccessList
from sequencer.access_list import decode as decode_access_list
from sequencer.access_list import encode as encode_access_list
from sequencer.config import NodeConfig
from sequencer.errors import NodeError
from sequencer.node import Node
from sequencer.types.blocks import IndexKeys, MiniBlock
from sequencer.types.transactions import Transaction, sign_transaction
from sequencer.types.wire import (
    WireError,
    decode_block,
    decode_diff,
    decode_index,
    encode_block,
    encode_diff,
    encode_index,
)
from statedb.types import EMPTY_CODE_HASH, Account, DictState, StateDiff, keccak256

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
            assert block.index is not None and decoded.index is not None
            assert set(decoded.index.logs) == set(block.index.logs)
            assert decoded.index.addresses == block.index.addresses
            # Decoded lazily: the same transactions and receipts, field for field.
            assert [tx.encode() for tx in decoded.transactions] == list(block.encoded)
            assert [tx.sender for tx in decoded.transactions] == list(block.senders)
            assert decoded.receipts == block.receipts
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


def _check_access_list_matches_diff(block: MiniBlock, bal: BlockAccessList) -> None:
    """The last change of every balance, nonce and slot in the EIP-7928 list is the
    block's final value (the list is replayed per index; the diff is the whole block)."""
    diff = block.diff
    assert diff is not None
    assert decode_access_list(encode_access_list(bal)) == bal
    by_address = {entry.address: entry for entry in bal.accounts}
    for address, account in diff.accounts.items():
        entry = by_address[address]
        if account is None:
            continue
        if entry.balance_changes:
            assert entry.balance_changes[-1].balance == account.balance
        if entry.nonce_changes:
            assert entry.nonce_changes[-1].nonce == account.nonce
    for address, slots in diff.storage.items():
        entry = by_address[address]
        changed = {change.slot: change.changes[-1].value for change in entry.storage_changes}
        for slot, value in slots.items():
            assert changed[slot] == value
            assert slot not in entry.storage_reads


def test_every_block_in_the_window_has_its_access_list(tmp_path: Path) -> None:
    config = NodeConfig(data_dir=str(tmp_path / "chain"), accounts=3, no_mining=True)
    node = Node(config)
    published: list[MiniBlock] = []
    try:
        node.subscribe_blocks(published.append)
        keys = [account.private_key for account in node.accounts]
        token = json.loads((CONTRACTS / "Token.json").read_text())
        txs = [
            _tx(keys[0], 0, SINK, value=5),
            _tx(
                keys[1], 0, None, bytes.fromhex(token["bytecode"][2:]) + (10**6).to_bytes(32, "big")
            ),
            _tx(keys[0], 1, None, CREATE_AND_DESTROY),
            _tx(keys[2], 0, keys[0][:20], value=0),  # a zero-value transfer: touched only
        ]
        for tx in txs:
            node.pool.add(tx, tx.encode())
        node.mine()
        node.edit_state(SINK, storage=(1, 2))
        node.mine()
        bals = [asyncio.run(node.block_access_list(b.number, None, None)) for b in published]
        for block, bal in zip(published, bals, strict=True):
            assert bal is not None
            _check_access_list_matches_diff(block, bal)
            # Index 0 is the edits and pre-block system calls (EIP-4788 and EIP-2935
            # always write); n + 1 the post-block ones, which only read while the request
            # queues are empty, and system calls report no reads yet: no entry at n + 1.
            indices = {
                change.index
                for entry in bal.accounts
                for changes in entry.storage_changes
                for change in changes.changes
            }
            assert 0 in indices
            assert bal.max_index() <= len(block.transactions) + 1
        first, edited = bals
        assert first is not None and edited is not None
        addresses = {entry.address for entry in first.accounts}
        assert {tx.sender for tx in txs} <= addresses
        assert SINK in addresses and keys[0][:20] in addresses
        # The second block carried a dev edit of SINK's slot 1: index 0 of its list.
        (sink,) = [entry for entry in edited.accounts if entry.address == SINK]
        assert [(c.slot, c.changes[0].index, c.changes[0].value) for c in sink.storage_changes] == [
            (1, 0, 2)
        ]
    finally:
        node.close()
    reopened = Node(config)
    try:
        for block, bal in zip(published, bals, strict=True):
            assert asyncio.run(reopened.block_access_list(block.number, None, None)) == bal
            assert asyncio.run(reopened.block_access_list(None, block.hash, None)) == bal
        genesis = asyncio.run(reopened.block_access_list(None, None, "earliest"))
        assert genesis is not None and genesis.accounts == ()
        assert asyncio.run(reopened.block_access_list(None, None, "pending")) is None
        assert asyncio.run(reopened.block_access_list(10**6, None, None)) is None
        assert asyncio.run(reopened.block_access_list(None, b"\x01" * 32, None)) is None
    finally:
        reopened.close()


def test_an_access_list_outside_the_history_window_is_a_clear_error() -> None:
    node = Node(NodeConfig(data_dir=None, accounts=1, no_mining=True, history_window=2))
    try:
        node.mine(6)
        assert asyncio.run(node.block_access_list(6, None, None)) is not None
        with pytest.raises(NodeError, match="no longer available to replay block 1"):
            asyncio.run(node.block_access_list(1, None, None))
    finally:
        node.close()


def test_a_change_with_wipes_round_trips_and_refuses_garbage() -> None:
    from sequencer.types.wire import decode_change, encode_change

    change = StateDiff(
        accounts={b"\x01" * 20: None, b"\x02" * 20: Account(1, 2, EMPTY_CODE_HASH)},
        storage={b"\x02" * 20: {1: 2}},
        storage_cleared={b"\x01" * 20, b"\x03" * 20},
    )
    back = decode_change(encode_change(change))
    assert back.accounts == change.accounts and back.storage == change.storage
    assert back.storage_cleared == change.storage_cleared
    encoded = encode_change(change)
    for bad in (encoded[:-1], encoded + b"\x00", b"\x00\x00\x00\x05" + encoded[4:], b""):
        with pytest.raises(WireError):
            decode_change(bad)


def _index_key(prefix: bytes, number: int, position: int) -> bytes:
    return prefix + number.to_bytes(8, "big") + position.to_bytes(4, "big")


def test_an_index_round_trips_and_hostile_indexes_are_refused() -> None:
    number = 7
    index = IndexKeys(
        (_index_key(b"\x01" * 20, number, 0), _index_key(b"\x02" * 32, number, 0)),
        (_index_key(b"\x01" * 20, number, 0), _index_key(b"\x03" * 20, number, 1)),
    )
    data = encode_index(index)
    assert decode_index(data, number) == index
    assert decode_index(encode_index(IndexKeys((), ())), number) == IndexKeys((), ())
    for cut in range(len(data)):
        with pytest.raises(WireError, match="truncated index"):
            decode_index(data[:cut], number)
    with pytest.raises(WireError, match="after the index"):
        decode_index(data + b"\x00", number)
    with pytest.raises(WireError, match="does not name block 8"):
        decode_index(data, 8)  # another block's keys
    with pytest.raises(WireError, match="expected bytes"):
        decode_index(data.hex(), number)  # type: ignore[arg-type]
    with pytest.raises(WireError, match="truncated index"):
        decode_index(b"\xff" * 4, number)  # four billion keys claimed, none there
    for bad in (
        IndexKeys((), (b"\x01" * 31,)),
        IndexKeys((b"\x01" * 33,), ()),
        IndexKeys((b"",), ()),
    ):
        with pytest.raises(WireError, match="bytes"):
            encode_index(bad)


def test_a_block_with_a_hostile_index_is_refused() -> None:
    node = Node(NodeConfig(data_dir=None, accounts=1, no_mining=True))
    try:
        tx = _tx(node.accounts[0].private_key, 0, SINK, value=1)
        node.pool.add(tx, tx.encode())
        (block,) = node.mine()
        assert block.diff is not None and block.index is not None
        data = encode_block(block)
        assert decode_block(data).index is not None
        items = rlp.decode(data)
        assert isinstance(items, list) and len(items) == 4
        other = encode_index(
            IndexKeys((), tuple(_index_key(SINK, block.number + 1, 0) for _ in range(2)))
        )
        for hostile in (
            [*items[:3], other],  # keys of another block
            [*items[:3], items[3] + b"\x00"],
            [*items[:3], [items[3]]],  # a list where the index bytes go
            [*items, b""],  # five items
        ):
            with pytest.raises(WireError):
                decode_block(rlp.encode(hostile))
        # Three items: a block without its index (an older sequencer's) still decodes.
        assert decode_block(rlp.encode(items[:3])).index is None
    finally:
        node.close()
