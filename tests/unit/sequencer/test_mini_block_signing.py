"""Signed mini-blocks (sequencer.mini_block_signing): the digest is keccak256 of the RLP
of the eight fields in MegaETH's order, the signature recovers to the signer and to no one
else once any field changes, the sequencer key is apart from the dev accounts, and the
registry's code answers currentSequencer() / sequencerAt() from the seeded slots."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from jit import rlp
from sequencer.config import DEFAULT_MNEMONIC, NodeConfig
from sequencer.genesis import dev_accounts
from sequencer.mini_block_signing import (
    SEQUENCER_REGISTRY_ADDRESS,
    MiniBlockHeader,
    MiniBlockSignature,
    MiniBlockSigner,
    SignedMiniBlockHeader,
    recover_mini_block_signer,
    sequencer_key,
    verify_mini_block,
)
from sequencer.node import Node
from sequencer.types.call import CallRequest
from statedb.types import keccak256

HEADER = MiniBlockHeader(
    7, 1_700_000_000, 3, 701, 1_700_000_000_123_456, 42_000, b"\x11" * 32, b"\x22" * 32
)
SIGNER = MiniBlockSigner(sequencer_key(DEFAULT_MNEMONIC))


def test_digest_is_keccak_of_the_rlp_list_in_megaeths_order() -> None:
    expected = keccak256(
        rlp.encode(
            [7, 1_700_000_000, 3, 701, 1_700_000_000_123_456, 42_000, b"\x11" * 32, b"\x22" * 32]
        )
    )
    assert HEADER.digest() == expected
    # Zero is the empty string (minimal big-endian), not a zero byte.
    zero = replace(HEADER, index=0)
    assert rlp.encode([0]) == b"\xc1\x80"
    assert zero.digest() != HEADER.digest()


def test_signature_recovers_the_signer_and_only_for_this_header() -> None:
    signed = SIGNER.sign(HEADER)
    assert verify_mini_block(signed, SIGNER.address)
    assert signed.signature.y_parity in (0, 1)
    assert len(signed.signature.to_bytes()) == 65 and signed.signature.to_bytes()[64] in (27, 28)
    for field in ("block_number", "index", "mini_block_number", "mini_block_timestamp", "gas_used"):
        changed = replace(HEADER, **{field: getattr(HEADER, field) + 1})
        assert not verify_mini_block(
            SignedMiniBlockHeader(changed, signed.signature), SIGNER.address
        )
    other = MiniBlockSigner(b"\x01" * 32)
    assert not verify_mini_block(other.sign(HEADER), SIGNER.address)


@given(
    st.integers(min_value=0, max_value=2**256 + 5),
    st.integers(min_value=0, max_value=2**256 + 5),
    st.integers(min_value=-1, max_value=3),
)
def test_hostile_signatures_recover_no_one_or_someone_else(r: int, s: int, parity: int) -> None:
    found = recover_mini_block_signer(HEADER, MiniBlockSignature(r, s, parity))
    assert found != SIGNER.address


def test_sequencer_key_is_not_a_dev_account() -> None:
    accounts = {a.address for a in dev_accounts(DEFAULT_MNEMONIC, 20)}
    assert SIGNER.address not in accounts
    assert MiniBlockSigner(sequencer_key("abandon " * 11 + "about")).address != SIGNER.address


def test_registry_answers_from_the_seeded_slots() -> None:
    node = Node(NodeConfig(data_dir=None, accounts=1, evm_block_time=1.0))
    try:
        registry = SEQUENCER_REGISTRY_ADDRESS

        def call(data: bytes) -> bytes:
            request = CallRequest(to=registry, data=data)
            result = node.simulate(request, node.resolve(None, None, "latest", for_state=True))
            assert result.outcome.success, result
            return result.outcome.output

        word = SIGNER.address.rjust(32, b"\x00")
        assert call(bytes.fromhex("e8129030")) == word  # currentSequencer()
        assert call(bytes.fromhex("129c8240") + (0).to_bytes(32, "big")) == word  # sequencerAt(0)
        # sequencerAt(a future block) reverts FutureBlock().
        future = CallRequest(
            to=registry, data=bytes.fromhex("129c8240") + (10**6).to_bytes(32, "big")
        )
        assert not node.simulate(future, 1).outcome.success
    finally:
        node.close()
