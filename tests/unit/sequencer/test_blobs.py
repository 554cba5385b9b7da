"""sequencer.types.blobs: blob transactions in their network forms (EIP-4844 wrapper with
blob proofs, EIP-7594 wrapper with cell proofs), accepted by the node as their canonical
form, and every malformed or mismatched sidecar rejected with a clear error."""

from __future__ import annotations

import hashlib
from functools import cache

import ckzg
import pytest

from jit import rlp
from jit.evm.precompiles.kzg import trusted_setup
from sequencer.config import NodeConfig
from sequencer.errors import TransactionRejected
from sequencer.node import Node
from sequencer.types.blobs import (
    BYTES_PER_BLOB,
    CELLS_PER_EXT_BLOB,
    BlobSidecarError,
    split_network_form,
    verify_sidecar,
    versioned_hash,
)
from sequencer.types.transactions import Transaction, sign_transaction

KEY = bytes.fromhex("ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80")


def blob(seed: int) -> bytes:
    # 4096 pseudo-random field elements, each below the BLS modulus (top byte zero). Not
    # an affine function of the seed: blobs differing by a constant share cell proofs.
    return b"".join(
        b"\x00" + hashlib.sha256(b"%d:%d" % (seed, i)).digest()[1:]
        for i in range(BYTES_PER_BLOB // 32)
    )


@cache
def sidecar_parts(seed: int) -> tuple[bytes, bytes, bytes, tuple[bytes, ...]]:
    """(blob, commitment, blob proof, cell proofs)."""
    setup = trusted_setup()
    data = blob(seed)
    commitment = bytes(ckzg.blob_to_kzg_commitment(data, setup))
    proof = bytes(ckzg.compute_blob_kzg_proof(data, commitment, setup))
    _, cell_proofs = ckzg.compute_cells_and_kzg_proofs(data, setup)
    return data, commitment, proof, tuple(bytes(p) for p in cell_proofs)


def blob_tx(seeds: list[int], nonce: int = 0, hashes: list[bytes] | None = None) -> Transaction:
    if hashes is None:
        hashes = [versioned_hash(sidecar_parts(seed)[1]) for seed in seeds]
    return sign_transaction(
        Transaction(
            3,
            31337,
            nonce,
            21_000,
            b"\x33" * 20,
            0,
            b"",
            max_fee_per_gas=10**11,
            max_priority_fee_per_gas=1,
            max_fee_per_blob_gas=10**9,
            blob_versioned_hashes=tuple(hashes),
        ),
        KEY,
    )


def network_form(
    tx: Transaction,
    seeds: list[int],
    version: int,
    *,
    blobs: list[object] | None = None,
    commitments: list[object] | None = None,
    proofs: list[object] | None = None,
) -> bytes:
    parts = [sidecar_parts(seed) for seed in seeds]
    if blobs is None:
        blobs = [p[0] for p in parts]
    if commitments is None:
        commitments = [p[1] for p in parts]
    if proofs is None:
        proofs = [p[2] for p in parts] if version == 0 else [q for p in parts for q in p[3]]
    body = rlp.decode(tx.encode()[1:])
    fields: list[object] = [body] + ([] if version == 0 else [version])
    return b"\x03" + rlp.encode([*fields, blobs, commitments, proofs])  # type: ignore[list-item]


@pytest.mark.parametrize("version", [0, 1])
def test_split_and_verify_both_wrapper_versions(version: int) -> None:
    tx = blob_tx([1, 2])
    canonical, sidecar = split_network_form(network_form(tx, [1, 2], version))
    assert canonical == tx.encode()
    assert sidecar is not None and sidecar.version == version
    assert len(sidecar.proofs) == 2 * (CELLS_PER_EXT_BLOB if version else 1)
    verify_sidecar(sidecar, tx.blob_versioned_hashes)


def test_other_bytes_pass_through_unchanged() -> None:
    tx = blob_tx([1])
    for raw in (tx.encode(), b"", b"\x02\xc0", b"\x03", b"\x03\xff", b"\x03\xc0", b"\x03\x80"):
        assert split_network_form(raw) == (raw, None)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda tx: network_form(tx, [1], 2), "unsupported wrapper version 02"),
        (
            lambda tx: b"\x03" + rlp.encode([rlp.decode(tx.encode()[1:]), [], []]),
            "expected 4 or 5 fields, got 3",
        ),
        (lambda tx: network_form(tx, [1], 0, blobs=[b"\x00" * 100]), "each of blobs must be"),
        (lambda tx: network_form(tx, [1], 0, blobs=b"x"), "blobs must be a list"),  # type: ignore[arg-type]
        (
            lambda tx: network_form(tx, [1], 0, commitments=[b"\x00" * 47]),
            "each of commitments must be 48 bytes",
        ),
        (lambda tx: network_form(tx, [1], 1, proofs=[[]]), "each of proofs must be 48 bytes"),
    ],
)
def test_malformed_wrappers_are_rejected(mutate: object, message: str) -> None:
    with pytest.raises(BlobSidecarError, match=message):
        split_network_form(mutate(blob_tx([1])))  # type: ignore[operator]


@pytest.mark.parametrize(
    ("seeds_in_sidecar", "version", "proof_from", "message"),
    [
        ([1, 2], 0, None, "invalid number of 2 blobs compared to 1 blob hashes"),
        ([], 0, None, "invalid number of 0 blobs compared to 1 blob hashes"),
        ([2], 0, None, "blob 0: computed hash 0x01"),
        ([1], 0, 2, "KZG proof verification failed"),
        ([1], 1, 2, "KZG proof verification failed"),
    ],
)
def test_mismatched_sidecars_are_rejected(
    seeds_in_sidecar: list[int], version: int, proof_from: int | None, message: str
) -> None:
    tx = blob_tx([1])
    proofs = None
    if proof_from is not None:
        other = sidecar_parts(proof_from)
        proofs = [other[2]] if version == 0 else list(other[3])
    raw = network_form(tx, seeds_in_sidecar, version, proofs=proofs)  # type: ignore[arg-type]
    _, sidecar = split_network_form(raw)
    assert sidecar is not None
    with pytest.raises(BlobSidecarError, match=message):
        verify_sidecar(sidecar, tx.blob_versioned_hashes)


def test_wrong_proof_counts_and_garbage_points_are_rejected() -> None:
    tx = blob_tx([1])
    _, sidecar = split_network_form(network_form(tx, [1], 1, proofs=[sidecar_parts(1)[2]]))
    assert sidecar is not None
    with pytest.raises(BlobSidecarError, match="1 blob proofs compared to 128 expected"):
        verify_sidecar(sidecar, tx.blob_versioned_hashes)
    _, sidecar = split_network_form(network_form(tx, [1], 0, proofs=[b"\xff" * 48]))
    assert sidecar is not None
    with pytest.raises(BlobSidecarError, match="invalid blob sidecar"):
        verify_sidecar(sidecar, tx.blob_versioned_hashes)


@pytest.mark.parametrize("version", [0, 1])
async def test_node_accepts_the_network_form_and_keeps_the_canonical_one(version: int) -> None:
    node = Node(NodeConfig(data_dir=None, accounts=1, sender_recovery="worker"))
    await node.start()
    try:
        tx = blob_tx([1, 2])
        tx_hash = await node.send_raw_transaction(network_form(tx, [1, 2], version))
        assert tx_hash == tx.hash
        found = node.chain.locate(tx.hash)
        assert found is not None
        block, index = found
        assert block.encoded[index] == tx.encode()
        assert block.receipts[index].blob_gas_used == 2 * 131_072
        bad = blob_tx([1], nonce=1, hashes=[versioned_hash(sidecar_parts(2)[1])])
        with pytest.raises(TransactionRejected, match="blob 0: computed hash"):
            await node.send_raw_transaction(network_form(bad, [1], version))
        with pytest.raises(TransactionRejected, match="unsupported wrapper version"):
            await node.send_raw_transaction(network_form(bad, [1], 7))
    finally:
        await node.stop()
