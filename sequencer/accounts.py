"""``Accounts``: who the node sends for, and how a request becomes a transaction.

Owns the dev accounts' keys (from the mnemonic), impersonation
(``anvil_impersonateAccount`` / ``hardhat_impersonateAccount``, ``stopImpersonating``,
``autoImpersonateAccount``), and filling a request for eth_sendTransaction /
eth_signTransaction / eth_fillTransaction: every missing field gets a default (the
pending nonce, an exact gas estimate, the next base fee and anvil's suggested tip),
the transaction type follows geth's ``TransactionArgs`` rules, then it is signed with
the dev key or, for an impersonated sender, carries a placeholder signature and the
sender it claims (as anvil does: such a transaction is only valid on this node, and
its hash is that of its encoding).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Final

from sequencer.errors import NodeError
from sequencer.genesis import DevAccount
from sequencer.types.call import CallRequest
from sequencer.types.transactions import Transaction, sign_transaction
from statedb.types import Address, keccak256

DEFAULT_PRIORITY_FEE: Final = 1_000_000_000  # what anvil suggests


class Accounts:
    def __init__(self, accounts: tuple[DevAccount, ...]) -> None:
        self.dev = accounts
        self.keys: dict[Address, bytes] = {a.address: a.private_key for a in accounts}
        self.impersonated: set[Address] = set()
        self.auto_impersonate = False

    def can_send(self, sender: Address) -> bool:
        return sender in self.keys or self.auto_impersonate or sender in self.impersonated

    def impersonate(self, address: Address) -> None:
        self.impersonated.add(address)

    def stop_impersonating(self, address: Address) -> None:
        self.impersonated.discard(address)

    def fill(
        self,
        request: CallRequest,
        chain_id: int,
        pending_nonce: Callable[[Address], int],
        estimate_gas: Callable[[CallRequest], int],
        gas_price: Callable[[], int],
        next_base_fee: Callable[[], int],
        priority_fee: int = DEFAULT_PRIORITY_FEE,
    ) -> Transaction:
        """Every missing field of ``request`` filled in, unsigned (sender set)."""
        sender = request.sender
        if sender is None:
            raise NodeError("missing from address")
        if request.chain_id is not None and request.chain_id != chain_id:
            raise NodeError(f"invalid chain id: have {request.chain_id} want {chain_id}")
        nonce = request.nonce
        if nonce is None:
            nonce = pending_nonce(sender)
        gas = request.gas
        if gas is None:
            gas = estimate_gas(request)
        tx_type = infer_tx_type(request)
        if tx_type in (0, 1):
            price = request.gas_price
            if price is None:
                price = gas_price()
            return build_transaction(
                request, tx_type, chain_id, nonce, gas, gas_price=price, sender=sender
            )
        base_fee = next_base_fee()
        tip = request.max_priority_fee_per_gas
        if tip is None:
            tip = priority_fee
            if request.max_fee_per_gas is not None:
                tip = min(tip, request.max_fee_per_gas)
        max_fee = request.max_fee_per_gas
        if max_fee is None:
            max_fee = 2 * base_fee + tip
        return build_transaction(
            request, tx_type, chain_id, nonce, gas, max_fee=max_fee, tip=tip, sender=sender
        )

    def sign(self, unsigned: Transaction) -> Transaction:
        """Sign with the sender's dev key, or mark as impersonated; ``NodeError`` if the
        node may not send for the sender."""
        sender = unsigned.sender
        key = self.keys.get(sender)
        if key is not None:
            return sign_transaction(unsigned, key)
        if not (self.auto_impersonate or sender in self.impersonated):
            raise NodeError(f"unknown account 0x{sender.hex()}")
        return impersonated(unsigned)


def impersonated(unsigned: Transaction) -> Transaction:
    """``unsigned`` with a placeholder signature (r = 2**48 plus 6 bytes of keccak of the sender, s = 1, so two
    senders' otherwise equal transactions differ) and the sender it claims."""
    v = 27 if unsigned.tx_type == 0 and unsigned.chain_id is None else 0
    if unsigned.tx_type == 0 and unsigned.chain_id is not None:
        v = unsigned.chain_id * 2 + 35
    r = 1 << 48 | int.from_bytes(keccak256(unsigned.sender)[:6], "big")
    signed = replace(unsigned, v=v, r=r, s=1)
    return replace(signed, hash=keccak256(signed.encode()))


def infer_tx_type(request: CallRequest) -> int:
    """The transaction type a request without ``type`` means (as geth's TransactionArgs)."""
    if request.tx_type is not None:
        return request.tx_type
    if request.authorization_list:
        return 4
    if request.blob_versioned_hashes:
        return 3
    if request.gas_price is not None:
        return 1 if request.access_list is not None else 0
    return 2


def build_transaction(
    request: CallRequest,
    tx_type: int,
    chain_id: int,
    nonce: int,
    gas: int,
    *,
    gas_price: int = 0,
    max_fee: int = 0,
    tip: int = 0,
    sender: Address = b"",
) -> Transaction:
    """``request`` as an (unsigned) transaction of ``tx_type`` with the given fees;
    the fee fields the type lacks stay at their defaults."""
    common = (tx_type, chain_id, nonce, gas, request.to, request.value, request.data)
    access_list = request.access_list or ()
    if tx_type in (0, 1):
        return Transaction(*common, gas_price=gas_price, access_list=access_list, sender=sender)
    return Transaction(
        *common,
        max_fee_per_gas=max_fee,
        max_priority_fee_per_gas=tip,
        access_list=access_list,
        max_fee_per_blob_gas=request.max_fee_per_blob_gas or 0,
        blob_versioned_hashes=request.blob_versioned_hashes,
        authorization_list=request.authorization_list,
        sender=sender,
    )
