"""Address arithmetic: stack word <-> address, CREATE (RLP of sender and nonce)
and CREATE2 (EIP-1014) addresses, EIP-7702 delegation designators."""

from __future__ import annotations

from statedb.types import Address, keccak256

_ADDRESS_MASK = (1 << 160) - 1
DELEGATION_PREFIX = b"\xef\x01\x00"  # EIP-7702
# Hardhat's console.sol / forge-std's console.log target: calls to it are recorded
# (TxState.console_calls) for the node to print; it has no code, so they do nothing else.
CONSOLE_ADDRESS = bytes.fromhex("000000000000000000636f6e736f6c652e6c6f67")
DELEGATION_LENGTH = 23


def to_address(word: int) -> Address:
    return (word & _ADDRESS_MASK).to_bytes(20, "big")


def _rlp_uint(value: int) -> bytes:
    if value == 0:
        return b"\x80"
    if value < 0x80:
        return bytes((value,))
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return bytes((0x80 + len(raw),)) + raw


def compute_contract_address(sender: Address, nonce: int) -> Address:
    """keccak256(rlp([sender, nonce]))[12:]."""
    payload = b"\x94" + sender + _rlp_uint(nonce)
    return keccak256(bytes((0xC0 + len(payload),)) + payload)[12:]


def compute_create2_address(sender: Address, salt: bytes, init_code: bytes) -> Address:
    return keccak256(b"\xff" + sender + salt + keccak256(init_code))[12:]


def delegation_target(code: bytes) -> Address | None:
    """The address an EIP-7702 designator points to, or None for other code."""
    if len(code) == DELEGATION_LENGTH and code[:3] == DELEGATION_PREFIX:
        return code[3:]
    return None
