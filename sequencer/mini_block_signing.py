"""Signed mini-blocks (MegaETH's Rex5 upgrade) and the sequencer registry.

Owns the eight-field mini-block header MegaETH signs, its digest (keccak256 of the RLP
list ``[block_number, block_timestamp, index, mini_block_number, mini_block_timestamp,
gas_used, transaction_root, receipt_root]``: integers minimal big-endian, the roots as
32-byte strings, no prefix, no chain id; megaeth-labs/documentation, "Mini-blocks",
"Sequencer signatures"), signing it with the dev sequencer key (secp256k1, recoverable:
``r``, ``s``, ``yParity``), recovering and verifying the signer (the one verifier: RPC
tests, clients' helpers and replicas use ``verify_mini_block``), the dev sequencer key
(derived from the node's mnemonic on its own path, so it is never a funded dev account),
and the SequencerRegistry predeploy: its address, code (our own contract,
``sequencer/contracts/SequencerRegistry.sol``, with MegaETH's v1.0.0 storage layout and
read functions) and the slots MegaETH's node seeds without a constructor.

No EIP: MegaETH's Rex5 spec.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Final

from coincurve import PrivateKey

from jit import rlp
from jit.evm.precompiles.ecrecover import recover_address
from sequencer.hd_wallet import derive_key, seed_from_mnemonic
from sequencer.types.blocks import MiniBlock
from sequencer.types.transactions import private_key_to_address
from statedb.types import Address, keccak256

SEQUENCER_REGISTRY_ADDRESS: Final = bytes.fromhex("6342000000000000000000000000000000000006")
# MegaETH's system address (MEGA_SYSTEM_ADDRESS), the registry's seeded system address.
MEGA_SYSTEM_ADDRESS: Final = bytes.fromhex("a887dcb9d5f39ef79272801d05abdf707cfbbd1d")
# The dev sequencer key's path: the mnemonic's "change" branch, apart from the dev
# accounts (m/44'/60'/0'/0/i), so signing mini-blocks never shares a funded key.
SEQUENCER_KEY_PATH: Final = "m/44'/60'/0'/1/0"

# The registry's storage layout (MegaETH's spec, v1.0.0): what the node seeds.
SLOT_CURRENT_SYSTEM_ADDRESS: Final = 0
SLOT_CURRENT_SEQUENCER: Final = 1
SLOT_ADMIN: Final = 2
SLOT_INITIAL_SYSTEM_ADDRESS: Final = 4
SLOT_INITIAL_SEQUENCER: Final = 5
SLOT_INITIAL_FROM_BLOCK: Final = 6

_REGISTRY_BUILD: Final = Path(__file__).parent / "contracts" / "build" / "SequencerRegistry.json"
# The blocks family (keyed by 8-byte numbers) also keeps each one-tier block's mini-block
# signature, under this prefix + its 8-byte number.
SIGNATURE_PREFIX: Final = b"mini-sig/"


@dataclass(frozen=True, slots=True)
class MiniBlockHeader:
    """The fields of a mini-block that its signature covers."""

    block_number: int
    block_timestamp: int
    index: int
    mini_block_number: int
    mini_block_timestamp: int  # Unix microseconds
    gas_used: int
    transaction_root: bytes
    receipt_root: bytes

    def digest(self) -> bytes:
        return keccak256(
            rlp.encode(
                [
                    self.block_number,
                    self.block_timestamp,
                    self.index,
                    self.mini_block_number,
                    self.mini_block_timestamp,
                    self.gas_used,
                    self.transaction_root,
                    self.receipt_root,
                ]
            )
        )


@dataclass(frozen=True, slots=True)
class MiniBlockSignature:
    """A recoverable secp256k1 signature: ``y_parity`` is 0 or 1."""

    r: int
    s: int
    y_parity: int

    def to_bytes(self) -> bytes:
        """65 bytes r || s || v with v = 27 + yParity (what ``ecrecover`` takes)."""
        return (
            self.r.to_bytes(32, "big") + self.s.to_bytes(32, "big") + bytes((27 + self.y_parity,))
        )


@dataclass(frozen=True, slots=True)
class SignedMiniBlockHeader:
    header: MiniBlockHeader
    signature: MiniBlockSignature


class MiniBlockSigner:
    """Signs mini-block headers with one key (the node's sequencer key)."""

    def __init__(self, private_key: bytes) -> None:
        self._key = PrivateKey(private_key)
        self.private_key = private_key  # a dev key: the banner prints it
        self.address: Address = private_key_to_address(private_key)

    def sign(self, header: MiniBlockHeader) -> SignedMiniBlockHeader:
        raw = self._key.sign_recoverable(header.digest(), hasher=None)
        signature = MiniBlockSignature(
            int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:64], "big"), raw[64]
        )
        return SignedMiniBlockHeader(header, signature)


def sequencer_key(mnemonic: str) -> bytes:
    """The dev sequencer's private key, from the node's mnemonic."""
    return derive_key(seed_from_mnemonic(mnemonic), SEQUENCER_KEY_PATH)


def recover_mini_block_signer(
    header: MiniBlockHeader, signature: MiniBlockSignature
) -> Address | None:
    """Who signed ``header``; None for a signature that recovers no key."""
    return recover_address(header.digest(), signature.y_parity, signature.r, signature.s)


def verify_mini_block(signed: SignedMiniBlockHeader, sequencer: Address) -> bool:
    """True when ``sequencer`` signed the header (the registry's ``sequencerAt``)."""
    return recover_mini_block_signer(signed.header, signed.signature) == sequencer


@cache
def registry_code() -> bytes:
    build = json.loads(_REGISTRY_BUILD.read_text())
    return bytes.fromhex(build["deployedBytecode"].removeprefix("0x"))


def registry_storage(sequencer: Address) -> dict[int, int]:
    """The slots MegaETH's node writes when it installs the registry (no constructor):
    system address, sequencer and admin (the sequencer here) from block 0."""
    system = int.from_bytes(MEGA_SYSTEM_ADDRESS, "big")
    key = int.from_bytes(sequencer, "big")
    return {
        SLOT_CURRENT_SYSTEM_ADDRESS: system,
        SLOT_CURRENT_SEQUENCER: key,
        SLOT_ADMIN: key,
        SLOT_INITIAL_SYSTEM_ADDRESS: system,
        SLOT_INITIAL_SEQUENCER: key,
        SLOT_INITIAL_FROM_BLOCK: 0,
    }


def signature_key(number: int) -> bytes:
    return SIGNATURE_PREFIX + number.to_bytes(8, "big")


def encode_signature_record(timestamp_us: int, signature: MiniBlockSignature) -> bytes:
    """A one-tier block's mini-block signature as the chain keeps it: the header's only
    field not in the block (its publication time) and the signature."""
    return rlp.encode([timestamp_us, signature.r, signature.s, signature.y_parity])


def decode_signature_record(raw: bytes) -> tuple[int, MiniBlockSignature]:
    item = rlp.decode(raw)
    if not isinstance(item, list) or len(item) != 4:
        raise ValueError("bad mini-block signature record")
    stamp, r, s, y = (rlp.decode_uint(field) for field in item)
    return stamp, MiniBlockSignature(r, s, y)


def one_tier_header(block: MiniBlock, timestamp_us: int) -> MiniBlockHeader:
    """The mini-block header of a one-tier block (it is its own mini-block, index 0,
    numbered as the block), published at ``timestamp_us``."""
    header = block.header
    return MiniBlockHeader(
        block.number,
        header.timestamp,
        0,
        block.number,
        timestamp_us,
        header.gas_used,
        header.transactions_root,
        header.receipts_root,
    )
