"""Amsterdam headers: the EIP-7928 block access list hash and the EIP-7843 slot number as
fields 22 and 23 (RLP, hash, stored block, JSON), checked against a devnet fixture's
header; and what a node started on Amsterdam seals, stores and serves."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from jit import rlp
from jit.evm.block_hashes import BlockHashes
from jit.forks import Fork, rules_for
from rpc.serialize import header_json
from sequencer.access_list import EMPTY_BAL_HASH, bal_hash, record_key
from sequencer.access_list import decode as decode_bal
from sequencer.builder import sealed_env
from sequencer.config import ChainConfig, NodeConfig
from sequencer.errors import NodeError
from sequencer.fork.source import header_of
from sequencer.node import Node
from sequencer.types.blocks import EMPTY_REQUESTS_HASH, Header, MiniBlock, decode_stored_block
from sequencer.types.transactions import Transaction, sign_transaction
from statedb.keys import CF_CHAIN_META
from statedb.types import keccak256

FIXTURE = (
    Path(__file__).resolve().parents[4]
    / "shared/conformance/eest-devnet/amsterdam/eip7928_block_level_access_lists"
    / "block_access_lists/bal_self_transfer.json"
)


def _header(**changes: Any) -> Header:
    base = Header(
        parent_hash=b"\x01" * 32,
        coinbase=b"\x02" * 20,
        state_root=b"\x03" * 32,
        transactions_root=b"\x04" * 32,
        receipts_root=b"\x05" * 32,
        logs_bloom=b"\x00" * 256,
        number=7,
        gas_limit=30_000_000,
        gas_used=21_000,
        timestamp=1_700_000_000,
        base_fee_per_gas=7,
        withdrawals_root=b"\x06" * 32,
        blob_gas_used=0,
        excess_blob_gas=0,
        parent_beacon_block_root=b"\x00" * 32,
        requests_hash=EMPTY_REQUESTS_HASH,
        block_access_list_hash=b"\x08" * 32,
        slot_number=141_666_666,
    )
    return replace(base, **changes)


def test_amsterdam_header_round_trip_and_hash() -> None:
    header = _header()
    fields = header.fields()
    assert len(fields) == 23
    assert fields[21] == header.block_access_list_hash and fields[22] == header.slot_number
    decoded = rlp.decode(header.encode())
    assert isinstance(decoded, list)
    assert Header.from_fields(decoded) == header
    assert header.hash() == keccak256(header.encode())
    # Each field moves the hash; without them the header is Osaka's 21 fields.
    assert _header(block_access_list_hash=b"\x09" * 32).hash() != header.hash()
    assert _header(slot_number=0).hash() != header.hash()
    osaka = _header(block_access_list_hash=None, slot_number=None)
    assert len(osaka.fields()) == 21
    osaka_decoded = rlp.decode(osaka.encode())
    assert isinstance(osaka_decoded, list)
    assert Header.from_fields(osaka_decoded) == osaka


def test_a_devnet_fixture_header_hashes_to_its_block_hash() -> None:
    if not FIXTURE.exists():
        pytest.skip("shared fixtures not present")
    test = next(iter(json.loads(FIXTURE.read_text()).values()))
    block = test["blocks"][0]
    item = rlp.decode(bytes.fromhex(block["rlp"][2:]))
    assert isinstance(item, list) and isinstance(item[0], list)
    header = Header.from_fields(item[0])
    fixture = block["blockHeader"]
    assert header.block_access_list_hash == bytes.fromhex(fixture["blockAccessListHash"][2:])
    assert header.slot_number == int(fixture["slotNumber"], 16)
    assert header.hash() == bytes.fromhex(fixture["hash"][2:])
    assert header.encode() == rlp.encode(item[0])


@pytest.mark.parametrize(
    ("index", "value", "message"),
    [
        (21, b"\x08" * 31, "32 bytes"),
        (22, b"\x00\x01", "leading zero"),
        (22, b"\x01" * 9, "64 bits"),
        (22, [b"\x01"], "byte-string"),
    ],
)
def test_hostile_amsterdam_fields_are_refused(index: int, value: object, message: str) -> None:
    decoded = rlp.decode(_header().encode())
    assert isinstance(decoded, list)
    decoded[index] = value  # type: ignore[call-overload]
    with pytest.raises((ValueError, rlp.RLPDecodingError), match=message):
        Header.from_fields(decoded)


def test_header_field_counts_and_pairs() -> None:
    decoded = rlp.decode(_header().encode())
    assert isinstance(decoded, list)
    with pytest.raises(ValueError, match="21 \\(23 from Amsterdam\\)"):
        Header.from_fields(decoded[:22])
    with pytest.raises(ValueError, match="both"):
        _header(slot_number=None)


def test_header_json_names_the_amsterdam_fields() -> None:
    header = _header()
    block = MiniBlock(header, header.hash(), (), (), 0, ())
    shown = header_json(block)
    assert shown["blockAccessListHash"] == "0x" + "08" * 32
    assert shown["slotNumber"] == hex(141_666_666)
    osaka = _header(block_access_list_hash=None, slot_number=None)
    shown = header_json(MiniBlock(osaka, osaka.hash(), (), (), 0, ()))
    assert "blockAccessListHash" not in shown and "slotNumber" not in shown


def test_sealed_env_reads_the_slot_number() -> None:
    env = sealed_env(_header(), 1, rules_for(Fork.AMSTERDAM), BlockHashes.of({}, 7))
    assert env.slot_number == 141_666_666


def test_an_amsterdam_node_seals_stores_and_serves_its_access_list() -> None:
    node = Node(
        NodeConfig(
            data_dir=None, accounts=2, no_mining=True, chain=ChainConfig(fork=Fork.AMSTERDAM)
        )
    )
    try:
        genesis = node.chain.block_by_number(0)
        assert genesis is not None
        assert genesis.header.block_access_list_hash == EMPTY_BAL_HASH
        assert genesis.header.slot_number == 0
        sender, recipient = node.accounts
        tx = sign_transaction(
            Transaction(2, 31337, 0, 21_000, recipient.address, 5, b"", 10**10, 10**9),
            sender.private_key,
        )
        node.pool.add(tx, tx.encode())
        (block,) = node.mine()
        header = block.header
        assert header.block_access_list_hash is not None
        assert header.slot_number == (header.timestamp - genesis.header.timestamp) // 12
        stored = node.chain.meta(record_key(block.number))
        assert stored is not None
        bal = decode_bal(stored)
        assert bal_hash(bal) == header.block_access_list_hash
        touched = {a.address for a in bal.accounts}
        assert {sender.address, recipient.address} <= touched
        # The stored block decodes with its 23 header fields.
        again = decode_stored_block(block.encode_for_storage(), block.encode_receipts())
        assert again.hash == block.hash and again.header == header
    finally:
        node.close()


async def test_the_stored_list_is_served_and_equals_a_replay_and_corruption_is_an_error() -> None:
    node = Node(
        NodeConfig(
            data_dir=None, accounts=3, no_mining=True, chain=ChainConfig(fork=Fork.AMSTERDAM)
        )
    )
    try:
        for nonce in range(2):
            for sender in node.accounts:
                tx = sign_transaction(
                    Transaction(2, 31337, nonce, 50_000, b"\xcd" * 20, 1, b"", 10**10, 10**9),
                    sender.private_key,
                )
                node.pool.add(tx, tx.encode())
        (block,) = node.mine()
        stored = node.chain.meta(record_key(block.number))
        assert stored is not None
        served = await node.block_access_list(block.number, None, None)
        assert served == decode_bal(stored)
        # Without the record the node replays the block: the same list (and a replayed
        # list must hash to the header's field).
        node.db.put_records({CF_CHAIN_META: {record_key(block.number): None}})
        assert await node.block_access_list(block.number, None, None) == served
        node.db.put_records({CF_CHAIN_META: {record_key(block.number): b"\xc1\x80junk"}})
        with pytest.raises(NodeError, match="stored access list is corrupt"):
            await node.block_access_list(block.number, None, None)
    finally:
        node.close()


@pytest.mark.parametrize("engine", ["interpreter", "jit"])
def test_slotnum_on_the_node_reads_the_sealed_headers_slot(engine: str) -> None:
    """SLOTNUM in a mined transaction reads the slot the header commits to (the devnet's:
    12-second slots from the genesis timestamp), on both engines."""
    node = Node(
        NodeConfig(
            data_dir=None,
            accounts=1,
            no_mining=True,
            engine=engine,
            chain=ChainConfig(fork=Fork.AMSTERDAM),
        )
    )
    try:
        genesis = node.chain.block_by_number(0)
        assert genesis is not None
        recorder = b"\x5e" * 20
        node.edit_state(recorder, code=bytes.fromhex("4b5f5500"))  # SSTORE(0, SLOTNUM)
        node.set_next_block_timestamp(genesis.header.timestamp + 12 * 1234 + 5)
        (sender,) = node.accounts
        tx = sign_transaction(
            Transaction(2, 31337, 0, 100_000, recorder, 0, b"", 10**10, 10**9),
            sender.private_key,
        )
        node.pool.add(tx, tx.encode())
        (block,) = node.mine()
        assert block.receipts[0].status == 1
        assert block.header.slot_number == 1234
        assert node.storage(recorder, 0, block.number) == 1234
    finally:
        node.close()


@pytest.mark.parametrize("amsterdam", [True, False])
def test_an_upstream_block_object_gives_back_the_same_header(amsterdam: bool) -> None:
    """Fork mode reads an upstream's block JSON into a ``Header``: the Amsterdam fields
    are kept (and the hash with them) when the upstream sends both."""
    header = _header() if amsterdam else _header(block_access_list_hash=None, slot_number=None)
    shown = header_json(MiniBlock(header, header.hash(), (), (), 0, ()))
    again = header_of(shown)
    assert again == header and again.hash() == header.hash()
