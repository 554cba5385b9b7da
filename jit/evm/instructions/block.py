"""Block instructions: BLOCKHASH, COINBASE, TIMESTAMP, NUMBER, PREVRANDAO
(EIP-4399), GASLIMIT, CHAINID (EIP-1344), BASEFEE (EIP-3198), SLOTNUM (EIP-7843,
Amsterdam)."""

from __future__ import annotations

from jit.evm.frame import Evm, push


def blockhash(evm: Evm) -> None:
    stack = evm.stack
    number = stack.pop()
    current = evm.block.number
    if number < current <= number + 256:
        block_hash = evm.block.block_hashes.get(number)
        stack.append(int.from_bytes(block_hash, "big") if block_hash else 0)
    else:
        stack.append(0)


def coinbase(evm: Evm) -> None:
    push(evm, int.from_bytes(evm.block.coinbase, "big"))


def timestamp(evm: Evm) -> None:
    push(evm, evm.block.timestamp)


def number(evm: Evm) -> None:
    push(evm, evm.block.number)


def prevrandao(evm: Evm) -> None:
    push(evm, int.from_bytes(evm.block.prev_randao, "big"))


def gaslimit(evm: Evm) -> None:
    push(evm, evm.block.gas_limit)


def chainid(evm: Evm) -> None:
    push(evm, evm.block.chain_id)


def basefee(evm: Evm) -> None:
    push(evm, evm.block.base_fee)


def slotnum(evm: Evm) -> None:
    push(evm, evm.block.slot_number)
