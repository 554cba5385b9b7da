"""Ordered tries against the reference ``trie`` package; block and receipt encodings;
EIP-1559 base fee; bloom."""

from __future__ import annotations

import os
import random
from dataclasses import replace

import rlp as pyrlp
from trie import HexaryTrie

from jit import rlp
from jit.forks import Fork, rules_for
from sequencer.producer import next_base_fee, next_excess_blob_gas, requests_hash
from sequencer.trie import EMPTY_TRIE_ROOT, ordered_trie_root, secure_trie_root
from sequencer.types.blocks import (
    EMPTY_REQUESTS_HASH,
    ChainLog,
    Header,
    MiniBlock,
    Receipt,
    block_size,
    bloom_may_contain,
    decode_stored_block,
    logs_bloom,
)
from sequencer.types.transactions import Transaction, sign_transaction
from statedb.types import keccak256

KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")


def test_ordered_trie_matches_reference() -> None:
    rng = random.Random(7)
    for count in (0, 1, 2, 16, 17, 128, 129, 500):
        items = [os.urandom(rng.randint(1, 120)) for _ in range(count)]
        reference = HexaryTrie({})
        for i, item in enumerate(items):
            reference[pyrlp.encode(i)] = item
        assert ordered_trie_root(items) == reference.root_hash


def test_tries_with_inline_nodes_match_reference() -> None:
    """Items and slot values of a few bytes make nodes under 32 bytes, embedded inline."""
    rng = random.Random(11)
    for count in (1, 2, 3, 16, 17, 40, 300):
        items = [bytes([rng.randrange(256)]) * rng.randint(1, 3) for _ in range(count)]
        reference = HexaryTrie({})
        for i, item in enumerate(items):
            reference[pyrlp.encode(i)] = item
        assert ordered_trie_root(items) == reference.root_hash
    storage = {rng.randrange(2**256): rng.randrange(1, 300) for _ in range(200)}
    reference = HexaryTrie({})
    for slot, value in storage.items():
        reference[keccak256(slot.to_bytes(32, "big"))] = pyrlp.encode(value)
    assert secure_trie_root(storage) == reference.root_hash


def test_secure_trie_root_skips_zero_slots() -> None:
    reference = HexaryTrie({})
    storage = {1: 5, 2: 0, 2**255: 9}
    for slot, value in storage.items():
        if value:
            reference[keccak256(slot.to_bytes(32, "big"))] = pyrlp.encode(value)
    assert secure_trie_root(storage) == reference.root_hash
    assert secure_trie_root({}) == EMPTY_TRIE_ROOT


def _header(**changes: int) -> Header:
    fields = dict(
        parent_hash=b"\x01" * 32,
        coinbase=b"\x00" * 20,
        state_root=b"\x02" * 32,
        transactions_root=EMPTY_TRIE_ROOT,
        receipts_root=EMPTY_TRIE_ROOT,
        logs_bloom=b"\x00" * 256,
        number=5,
        gas_limit=60_000_000,
        gas_used=0,
        timestamp=1_700_000_000,
        base_fee_per_gas=10**9,
        withdrawals_root=EMPTY_TRIE_ROOT,
        blob_gas_used=0,
        excess_blob_gas=0,
        parent_beacon_block_root=b"\x00" * 32,
        requests_hash=EMPTY_REQUESTS_HASH,
    )
    fields.update(changes)
    return Header(**fields)  # type: ignore[arg-type]


def test_base_fee_follows_eip1559() -> None:
    assert next_base_fee(_header(gas_used=30_000_000)) == 10**9
    assert next_base_fee(_header(gas_used=60_000_000)) == 1_125_000_000
    assert next_base_fee(_header(gas_used=0)) == 875_000_000
    assert next_base_fee(_header(gas_used=30_000_001, base_fee_per_gas=7)) == 8  # at least +1


def test_excess_blob_gas_and_requests_hash() -> None:
    rules = rules_for(Fork.PRAGUE)
    assert next_excess_blob_gas(_header(), rules) == 0
    full = _header(blob_gas_used=rules.max_blob_gas_per_block, excess_blob_gas=10**6)
    assert next_excess_blob_gas(full, rules) > 10**6
    assert requests_hash([b"\x00", b"\x01", b"\x02"]) == EMPTY_REQUESTS_HASH


def test_header_round_trip_and_hash() -> None:
    header = _header(number=9, gas_used=21000)
    assert Header.from_fields(pyrlp.decode(header.encode())) == header  # type: ignore[arg-type]
    assert header.hash() == keccak256(header.encode())


def test_bloom() -> None:
    log = ChainLog(b"\x11" * 20, (b"\x22" * 32,), b"data")
    bloom = logs_bloom([log])
    assert bloom_may_contain(bloom, b"\x11" * 20)
    assert bloom_may_contain(bloom, b"\x22" * 32)
    assert not bloom_may_contain(bloom, b"\x33" * 20)


def test_stored_block_round_trip_keeps_senders_and_receipts() -> None:
    fees = [
        {"gas_price": 10**9},
        {"gas_price": 10**9},
        {"max_fee_per_gas": 10**10, "max_priority_fee_per_gas": 1},
    ]
    txs = tuple(
        sign_transaction(Transaction(t, 31337, t, 21000, b"\x09" * 20, 1, b"", **fees[t]), KEY)
        for t in (0, 1, 2)
    )
    log = ChainLog(b"\x11" * 20, (b"\x22" * 32,), b"x")
    receipts = tuple(
        Receipt(
            tx.tx_type,
            1,
            21000 * (i + 1),
            21000,
            10**9,
            None,
            0,
            (log,) if i == 1 else (),
            logs_bloom([log]) if i == 1 else b"\x00" * 256,
        )
        for i, tx in enumerate(txs)
    )
    header = _header(transactions_root=ordered_trie_root([tx.encode() for tx in txs]))
    encoded = tuple(tx.encode() for tx in txs)
    block = MiniBlock(header, header.hash(), txs, receipts, block_size(header, encoded), encoded)
    back = decode_stored_block(block.encode_for_storage(), block.encode_receipts())
    assert back == block
    assert [tx.sender for tx in back.transactions] == [tx.sender for tx in txs]


def test_receipt_encodings_are_the_same_with_the_shared_logs_encoding() -> None:
    """The producer encodes a receipt's logs once (``logs_rlp``) for both encodings."""
    logs = (
        ChainLog(b"\x01" * 20, (b"\x02" * 32, b"\x03" * 32), b"data" * 20),
        ChainLog(b"\x04" * 20, (), b""),
    )
    for tx_type, some_logs in ((0, ()), (2, logs), (3, logs[:1])):
        plain = Receipt(
            tx_type, 1, 50_000, 21_000, 10**9, None, 0, some_logs, logs_bloom(some_logs)
        )
        shared = replace(plain, logs_rlp=rlp.encode([log.fields() for log in some_logs]))  # type: ignore[misc]
        assert shared == plain
        assert shared.consensus_encoding() == plain.consensus_encoding()
        assert rlp.encode(shared.storage_fields()) == rlp.encode(plain.storage_fields())  # type: ignore[arg-type]
        expected = pyrlp.encode(
            [
                1,
                50_000,
                plain.logs_bloom,
                [[log.address, list(log.topics), log.data] for log in some_logs],
            ]
        )
        assert plain.consensus_encoding() == (bytes([tx_type]) if tx_type else b"") + expected


def test_encoded_items_are_inserted_verbatim() -> None:
    inner = rlp.encode([b"a", 1, [b"b"]])
    assert rlp.encode([rlp.Encoded(inner), b"c"]) == rlp.encode([[b"a", 1, [b"b"]], b"c"])
    assert rlp.encode(rlp.Encoded(b"\xc0")) == b"\xc0"
