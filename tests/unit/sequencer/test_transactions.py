"""Typed transactions 0-4: sign/encode/decode round trips, sender recovery once,
and rejection of malformed or badly signed input."""

from __future__ import annotations

from dataclasses import replace

import pytest

from jit import rlp
from sequencer.types.transactions import (
    InvalidTransactionEncoding,
    Transaction,
    decode_transaction,
    sign_authorization,
    sign_transaction,
)
from statedb.types import keccak256

KEY = bytes.fromhex("45a915e4d060149eb4365960e6a7a45f334393093061116b197e3240065ff2d8")
ADDRESS = bytes.fromhex("a94f5374fce5edbc8e2a8697c15331677e6ebf0b")
TO = bytes.fromhex("095e7baea6a6c7c4c2dfeb977efac326af552d87")

UNSIGNED = [
    Transaction(0, None, 0, 21000, TO, 1, b"", gas_price=10),
    Transaction(0, 31337, 5, 50000, None, 0, b"\x60\x00", gas_price=10),
    Transaction(1, 1, 1, 30000, TO, 0, b"\x01", gas_price=7, access_list=((TO, (1, 2)),)),
    Transaction(2, 1, 2, 30000, TO, 9, b"", max_fee_per_gas=10, max_priority_fee_per_gas=2),
    Transaction(
        3,
        1,
        3,
        30000,
        TO,
        0,
        b"",
        max_fee_per_gas=10,
        max_priority_fee_per_gas=2,
        max_fee_per_blob_gas=5,
        blob_versioned_hashes=(b"\x01" + b"\x00" * 31,),
    ),
    Transaction(
        4,
        1,
        4,
        60000,
        TO,
        0,
        b"",
        max_fee_per_gas=10,
        max_priority_fee_per_gas=2,
        authorization_list=(sign_authorization(1, TO, 0, KEY),),
    ),
]


@pytest.mark.parametrize("unsigned", UNSIGNED, ids=lambda t: f"type{t.tx_type}-{t.chain_id}")
def test_sign_encode_decode_round_trip(unsigned: Transaction) -> None:
    signed = sign_transaction(unsigned, KEY)
    assert signed.sender == ADDRESS
    raw = signed.encode()
    decoded = decode_transaction(raw)
    assert decoded == signed
    assert decoded.sender == ADDRESS
    assert decoded.hash == keccak256(raw)


@pytest.mark.parametrize("data_size", [0, 1, 20, 30, 55, 56, 57, 200, 70_000])
@pytest.mark.parametrize("unsigned", UNSIGNED, ids=lambda t: f"type{t.tx_type}-{t.chain_id}")
def test_signing_hash_cut_from_raw_bytes_matches_the_encoded_one(
    unsigned: Transaction, data_size: int
) -> None:
    """Decoding recovers the sender from a signing hash sliced out of the raw bytes; the
    list headers of the signed and unsigned payloads differ in size around 56 bytes."""
    big = replace(
        unsigned, data=bytes(range(256)) * (data_size // 256) + b"\x07" * (data_size % 256)
    )
    signed = sign_transaction(big, KEY)
    decoded = decode_transaction(signed.encode())
    assert decoded.sender == ADDRESS
    assert decoded.signing_hash() == signed.signing_hash()


def test_known_legacy_transaction_from_the_fixtures() -> None:
    raw = bytes.fromhex(
        "f863800a83061a8094095e7baea6a6c7c4c2dfeb977efac326af552d87830186a0801ba0ffb600e63115a7362e"
        "7811894a91d8ba4330e526f22121c994c4692035dfdfd5a06198379fcac8de3dbfac48b165df4bf88e2088f294b6"
        "1efb9a65fe2281c76e16"
    )
    tx = decode_transaction(raw)
    assert tx.sender == ADDRESS and tx.value == 100_000 and tx.chain_id is None


def _signed_fields(tx: Transaction) -> list[rlp.Item]:
    item = rlp.decode(tx.encode()[1:])
    assert isinstance(item, list)
    return item


@pytest.mark.parametrize(
    "bad",
    [
        b"",
        b"\x05\xc0",  # unknown type
        b"\x02",  # type byte only
        b"\x02\xc0",  # no fields
        b"\x02" + rlp.encode([b""] * 11),  # too few fields
        b"\xc0",
        b"\x02\xff" + b"\x00" * 10,  # garbage
    ],
)
def test_malformed_input_is_rejected(bad: bytes) -> None:
    with pytest.raises(InvalidTransactionEncoding):
        decode_transaction(bad)


def test_bad_signatures_are_rejected() -> None:
    signed = sign_transaction(UNSIGNED[3], KEY)
    for change in ({"r": 0}, {"s": 0}, {"v": 2}, {"s": (1 << 256) - 1}):
        with pytest.raises(InvalidTransactionEncoding):
            decode_transaction(replace(signed, **change).encode())  # type: ignore[arg-type]


def test_high_s_is_rejected() -> None:
    from jit.evm.precompiles.ecrecover import SECP256K1N

    signed = sign_transaction(UNSIGNED[3], KEY)
    flipped = replace(signed, s=SECP256K1N - signed.s, v=1 - signed.v)
    with pytest.raises(InvalidTransactionEncoding, match="out of range"):
        decode_transaction(flipped.encode())


def test_oversized_fields_are_rejected() -> None:
    signed = sign_transaction(UNSIGNED[3], KEY)
    fields = _signed_fields(signed)
    fields[1] = (1 << 64).to_bytes(9, "big")  # nonce beyond 64 bits
    with pytest.raises(InvalidTransactionEncoding, match="nonce"):
        decode_transaction(b"\x02" + rlp.encode(fields))
    fields = _signed_fields(signed)
    fields[5] = b"\x01" * 19  # short address
    with pytest.raises(InvalidTransactionEncoding, match="to"):
        decode_transaction(b"\x02" + rlp.encode(fields))


def test_blob_and_setcode_transactions_cannot_create() -> None:
    for index in (4, 5):
        fields = _signed_fields(sign_transaction(UNSIGNED[index], KEY))
        fields[5] = b""
        with pytest.raises(InvalidTransactionEncoding, match="cannot create"):
            decode_transaction(bytes((UNSIGNED[index].tx_type,)) + rlp.encode(fields))
