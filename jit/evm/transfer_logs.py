"""EIP-7708 (Amsterdam): ETH transfers and burns emit logs.

Owns the two system logs, both emitted from ``SYSTEM_ADDRESS`` (EIP-4788's):

- ``transfer_log``: a LOG3 ``Transfer(address,address,uint256)`` (the ERC-20 event)
  for every non-zero value moved to a *different* account: a transaction's or a
  CALL/CALLCODE/CREATE's value when the frame starts (so it is the frame's first log
  and goes with the frame if it reverts), and a SELFDESTRUCT's balance when it moves.
- ``burn_log``: a LOG2 ``Burn(address,uint256)`` when a contract created in the
  transaction self-destructs to itself holding ether (burned at once, as before), and
  for each account the transaction deletes (EIP-6780: created and self-destructed in
  it) that holds ether again when it is removed, after the priority fee is paid, in
  address order (``finalisation_burn_logs``).

The topics follow the execution-specs Amsterdam snapshot the devnet fixtures were made
from (``tests-bal@v5.7.0``): ``Burn``, where the EIP's earlier text had
``Selfdestruct(address,uint256)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from jit.evm.state import Log
from statedb.types import Address, keccak256

SYSTEM_ADDRESS = bytes.fromhex("fffffffffffffffffffffffffffffffffffffffe")
TRANSFER_TOPIC = keccak256(b"Transfer(address,address,uint256)")
BURN_TOPIC = keccak256(b"Burn(address,uint256)")


def _word(address: Address) -> bytes:
    return address.rjust(32, b"\x00")


def transfer_log(sender: Address, recipient: Address, amount: int) -> Log:
    """The LOG3 for ``amount`` wei moved from ``sender`` to ``recipient``."""
    return Log(
        SYSTEM_ADDRESS,
        (TRANSFER_TOPIC, _word(sender), _word(recipient)),
        amount.to_bytes(32, "big"),
    )


def burn_log(account: Address, amount: int) -> Log:
    """The LOG2 for ``amount`` wei destroyed with ``account``."""
    return Log(SYSTEM_ADDRESS, (BURN_TOPIC, _word(account)), amount.to_bytes(32, "big"))


def finalisation_burn_logs(
    deleted: Iterable[Address], balance_at_removal: Callable[[Address], int]
) -> list[Log]:
    """One burn log per deleted account holding ether when removed, in address order."""
    logs = []
    for address in sorted(deleted):
        amount = balance_at_removal(address)
        if amount:
            logs.append(burn_log(address, amount))
    return logs
