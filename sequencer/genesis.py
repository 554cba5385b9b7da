"""Genesis: dev accounts, system contracts and the genesis header.

Owns the dev accounts (BIP-39/BIP-44 ``m/44'/60'/0'/0/i``, ``sequencer.hd_wallet``,
like anvil and Hardhat) and the genesis allocation:

- EIP-4788 beacon roots contract and EIP-2935 history storage contract (called
  by the producer before each block), EIP-7002 withdrawal-request and EIP-7251
  consolidation-request contracts (called after each block, EIP-7685), with the
  runtime code the EIPs specify and nonce 1;
- the deterministic CREATE2 deployer at 0x4e59b448...956c (Arachnid's
  deterministic-deployment-proxy; Foundry scripts rely on it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sequencer.hd_wallet import derive_key, normalised, seed_from_mnemonic
from sequencer.system_contracts import (
    BEACON_ROOTS_CODE,
    CONSOLIDATION_REQUEST_CODE,
    CREATE2_DEPLOYER_CODE,
    HISTORY_STORAGE_CODE,
    WITHDRAWAL_REQUEST_CODE,
)
from sequencer.types.transactions import private_key_to_address
from statedb.types import Account, Address, StateDiff, keccak256

BEACON_ROOTS_ADDRESS: Final = bytes.fromhex("000f3df6d732807ef1319fb7b8bb8522d0beac02")
HISTORY_STORAGE_ADDRESS: Final = bytes.fromhex("0000f90827f1c53a10cb7a02335b175320002935")
WITHDRAWAL_REQUEST_ADDRESS: Final = bytes.fromhex("00000961ef480eb55e80d19ad83579a64c007002")
CONSOLIDATION_REQUEST_ADDRESS: Final = bytes.fromhex("0000bbddc7ce488642fb579f8b00f3a590007251")
CREATE2_DEPLOYER_ADDRESS: Final = bytes.fromhex("4e59b44847b379578588920ca78fbf26c0b4956c")
SYSTEM_ADDRESS: Final = bytes.fromhex("fffffffffffffffffffffffffffffffffffffffe")


@dataclass(frozen=True, slots=True)
class DevAccount:
    address: Address
    private_key: bytes


def dev_accounts(mnemonic: str, count: int) -> tuple[DevAccount, ...]:
    """The first ``count`` accounts of ``mnemonic`` on path m/44'/60'/0'/0/i."""
    if count == 0:
        return ()
    seed = seed_from_mnemonic(mnemonic)
    out = []
    for i in range(count):
        key = derive_key(seed, f"m/44'/60'/0'/0/{i}")
        out.append(DevAccount(private_key_to_address(key), key))
    return tuple(out)


def mnemonic_id(mnemonic: str) -> bytes:
    """What a data directory records of the mnemonic its dev accounts came from: the
    first 8 bytes of its hash (enough to tell two apart; the words are not stored)."""
    return keccak256(normalised(mnemonic).encode())[:8]


def _contract(diff: StateDiff, address: Address, code: bytes, nonce: int = 1) -> None:
    code_hash = keccak256(code)
    diff.codes[code_hash] = code
    diff.accounts[address] = Account(nonce, 0, code_hash)


def genesis_alloc(accounts: tuple[DevAccount, ...], balance: int) -> StateDiff:
    """The genesis state as a diff onto the empty state."""
    diff = StateDiff()
    for account in accounts:
        diff.accounts[account.address] = Account(0, balance)
    _contract(diff, BEACON_ROOTS_ADDRESS, BEACON_ROOTS_CODE)
    _contract(diff, HISTORY_STORAGE_ADDRESS, HISTORY_STORAGE_CODE)
    _contract(diff, CREATE2_DEPLOYER_ADDRESS, CREATE2_DEPLOYER_CODE, nonce=0)
    _contract(diff, WITHDRAWAL_REQUEST_ADDRESS, WITHDRAWAL_REQUEST_CODE)
    _contract(diff, CONSOLIDATION_REQUEST_ADDRESS, CONSOLIDATION_REQUEST_CODE)
    return diff
