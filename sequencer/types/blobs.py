"""The network form of blob transactions: split off and verify the sidecar.

Owns EIP-4844's network wrapper ``0x03 || rlp([tx_payload_body, blobs, commitments,
proofs])`` (one blob proof per blob) and EIP-7594's ``0x03 || rlp([tx_payload_body,
1, blobs, commitments, cell_proofs])`` (128 cell proofs per blob, Osaka). What wallets
and libraries (viem, ethers, web3.py) send to ``eth_sendRawTransaction`` is this form;
blocks carry only the canonical ``0x03 || rlp(tx_payload_body)``, whose keccak is the
transaction hash. The sidecar is checked the way geth's pool checks it: as many blobs,
commitments and proofs as versioned hashes, each versioned hash ``0x01 ||
sha256(commitment)[1:]``, and the KZG proofs valid (ckzg, mainnet setup). Both wrapper
versions are accepted at every fork: a dev node has no peers to keep in step with.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Final

import ckzg

from jit import rlp
from jit.evm.precompiles.kzg import VERSIONED_HASH_VERSION_KZG, trusted_setup
from sequencer.types.transactions import BLOB, InvalidTransactionEncoding

BYTES_PER_BLOB: Final = 131_072
BYTES_PER_COMMITMENT: Final = 48
BYTES_PER_PROOF: Final = 48
CELLS_PER_EXT_BLOB: Final = 128
WRAPPER_VERSION_CELL_PROOFS: Final = 1  # EIP-7594


class BlobSidecarError(InvalidTransactionEncoding):
    """The network form is malformed or its blobs do not match the transaction."""


@dataclass(frozen=True, slots=True)
class BlobSidecar:
    version: int  # 0: a blob proof per blob (EIP-4844); 1: cell proofs (EIP-7594)
    blobs: tuple[bytes, ...]
    commitments: tuple[bytes, ...]
    proofs: tuple[bytes, ...]


def _byte_strings(item: rlp.Item, name: str, size: int) -> tuple[bytes, ...]:
    if not isinstance(item, list):
        raise BlobSidecarError(f"blob transaction network form: {name} must be a list")
    for element in item:
        if not isinstance(element, bytes) or len(element) != size:
            raise BlobSidecarError(
                f"blob transaction network form: each of {name} must be {size} bytes"
            )
    return tuple(item)  # type: ignore[arg-type]


def split_network_form(raw: bytes) -> tuple[bytes, BlobSidecar | None]:
    """(canonical encoding, sidecar) of a network-form blob transaction; any other
    bytes come back unchanged with no sidecar (decoding them reports their errors)."""
    if not raw or raw[0] != BLOB:
        return raw, None
    try:
        decoded = rlp.decode(raw[1:])
    except rlp.RLPDecodingError:
        return raw, None
    if not isinstance(decoded, list) or not decoded or not isinstance(decoded[0], list):
        return raw, None  # canonical form: its first field is the chain id, a string
    body = decoded[0]
    if len(decoded) == 4:
        version = 0
        blobs_item, commitments_item, proofs_item = decoded[1:]
    elif len(decoded) == 5:
        version_item = decoded[1]
        if version_item != bytes((WRAPPER_VERSION_CELL_PROOFS,)):
            raise BlobSidecarError(
                "blob transaction network form: unsupported wrapper version "
                f"{version_item.hex() if isinstance(version_item, bytes) else 'list'}"
            )
        version = WRAPPER_VERSION_CELL_PROOFS
        blobs_item, commitments_item, proofs_item = decoded[2:]
    else:
        raise BlobSidecarError(
            f"blob transaction network form: expected 4 or 5 fields, got {len(decoded)}"
        )
    sidecar = BlobSidecar(
        version,
        _byte_strings(blobs_item, "blobs", BYTES_PER_BLOB),
        _byte_strings(commitments_item, "commitments", BYTES_PER_COMMITMENT),
        _byte_strings(proofs_item, "proofs", BYTES_PER_PROOF),
    )
    # The strict decoder took only canonical RLP, so re-encoding gives the exact bytes.
    return bytes((BLOB,)) + rlp.encode(body), sidecar


def versioned_hash(commitment: bytes) -> bytes:
    return bytes((VERSIONED_HASH_VERSION_KZG,)) + hashlib.sha256(commitment).digest()[1:]


def verify_sidecar(sidecar: BlobSidecar, versioned_hashes: tuple[bytes, ...]) -> None:
    """Raise ``BlobSidecarError`` unless ``sidecar`` carries exactly the blobs whose
    versioned hashes the transaction commits to, with valid KZG proofs."""
    count = len(versioned_hashes)
    if len(sidecar.blobs) != count:
        raise BlobSidecarError(
            f"invalid number of {len(sidecar.blobs)} blobs compared to {count} blob hashes"
        )
    if len(sidecar.commitments) != count:
        raise BlobSidecarError(
            f"invalid number of {len(sidecar.commitments)} blob commitments compared to "
            f"{count} blob hashes"
        )
    per_blob = CELLS_PER_EXT_BLOB if sidecar.version == WRAPPER_VERSION_CELL_PROOFS else 1
    if len(sidecar.proofs) != count * per_blob:
        raise BlobSidecarError(
            f"invalid number of {len(sidecar.proofs)} blob proofs compared to "
            f"{count * per_blob} expected for {count} blobs"
        )
    for index, (commitment, wanted) in enumerate(
        zip(sidecar.commitments, versioned_hashes, strict=True)
    ):
        computed = versioned_hash(commitment)
        if computed != wanted:
            raise BlobSidecarError(
                f"blob {index}: computed hash 0x{computed.hex()} mismatches transaction "
                f"one 0x{wanted.hex()}"
            )
    if count == 0:
        return
    setup = trusted_setup()
    try:
        if sidecar.version == WRAPPER_VERSION_CELL_PROOFS:
            cells: list[bytes] = []
            for blob in sidecar.blobs:
                cells.extend(ckzg.compute_cells(blob, setup))
            valid = ckzg.verify_cell_kzg_proof_batch(
                [c for c in sidecar.commitments for _ in range(CELLS_PER_EXT_BLOB)],
                list(range(CELLS_PER_EXT_BLOB)) * count,
                cells,
                list(sidecar.proofs),
                setup,
            )
        else:
            valid = ckzg.verify_blob_kzg_proof_batch(
                b"".join(sidecar.blobs),
                b"".join(sidecar.commitments),
                b"".join(sidecar.proofs),
                setup,
            )
    except Exception as error:  # ckzg raises plain RuntimeError/ValueError on bad points
        raise BlobSidecarError(f"invalid blob sidecar: {error}") from None
    if not valid:
        raise BlobSidecarError("invalid blob sidecar: KZG proof verification failed")
