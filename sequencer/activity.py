"""What the node log says about each sealed block (issue 21): the block and, for each of
its transactions, what anvil prints (hash, contract created, gas used, revert reason)
plus its console.log lines, as plain values built from the published ``BlockSealed``.

Owns ``BlockActivity`` / ``TxActivity`` and ``block_activity`` (the one place that
turns a sealed block into them). Formatting them (text or JSON lines) is the RPC
layer's (``rpc.activity_log``). Built on the event loop for every sealed block while a
node log listens, so it reads only what the event carries: the receipts, the
transactions' hashes, the outputs of failed transactions and the console.log calldata.
"""

from __future__ import annotations

from dataclasses import dataclass

from sequencer.console_log import console_log_lines
from sequencer.publication import BlockSealed
from sequencer.revert import decode_revert_reason
from statedb.types import Address, Hash32


@dataclass(frozen=True, slots=True)
class TxActivity:
    hash: Hash32
    sender: Address
    to: Address | None
    contract_address: Address | None
    gas_used: int
    success: bool
    # A failed transaction's revert data: the Error(string) / Panic(uint256) text, or
    # None with the raw ``output`` (custom errors, empty data, halts).
    revert_reason: str | None
    output: bytes
    console: tuple[str, ...]  # console.log lines, as anvil words them


@dataclass(frozen=True, slots=True)
class BlockActivity:
    number: int
    hash: Hash32
    timestamp: int
    gas_used: int
    transactions: tuple[TxActivity, ...]


def block_activity(event: BlockSealed, *, console: bool = True) -> BlockActivity:
    """The log's view of a sealed block; ``console`` False leaves console.log out
    (``--disable-console-log``)."""
    block = event.block
    transactions = []
    calls_per_tx = event.console if console and any(event.console) else ()
    for index, (tx, receipt) in enumerate(zip(block.transactions, block.receipts, strict=True)):
        success = receipt.status == 1
        output = b"" if success or index >= len(event.outputs) else event.outputs[index]
        lines: list[str] = []
        if index < len(calls_per_tx):
            for data in calls_per_tx[index]:
                lines += console_log_lines(data) or ()
        transactions.append(
            TxActivity(
                hash=tx.hash,
                sender=tx.sender,
                to=tx.to,
                contract_address=receipt.contract_address,
                gas_used=receipt.gas_used,
                success=success,
                revert_reason=None if success else decode_revert_reason(output),
                output=output,
                console=tuple(lines),
            )
        )
    header = block.header
    return BlockActivity(
        number=header.number,
        hash=block.hash,
        timestamp=header.timestamp,
        gas_used=header.gas_used,
        transactions=tuple(transactions),
    )
