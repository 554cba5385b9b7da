"""Signing with the node's dev accounts: eth_sign, personal_sign, eth_signTypedData_v4,
eth_signTransaction.

Owns only the key lookup and the wire shapes; message hashing is eth-account's
(EIP-191 personal messages, EIP-712 typed data) and transaction signing is
``Node.fill_transaction``. eth-account is imported on the first signing call, not at
start-up: its import takes about a second (issue 21's start-up budget).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from rpc.codecs import data
from rpc.dispatch import Address, Data, RequestContext, method
from rpc.errors import InvalidParams
from rpc.namespaces.eth import node_of
from rpc.requests import parse_call_request
from sequencer.errors import NodeError

if TYPE_CHECKING:
    from eth_account.messages import SignableMessage

MAX_TYPED_DATA_BYTES = 1 << 20


def _signed(message: SignableMessage, key: bytes) -> str:
    from eth_account import Account

    return data(bytes(Account.sign_message(message, key).signature))


def _key(ctx: RequestContext, address: bytes) -> bytes:
    key = node_of(ctx).dev_key(address)
    if key is None:
        raise NodeError(f"unknown account 0x{address.hex()}")
    return key


def _sign_message(key: bytes, message: bytes) -> str:
    from eth_account.messages import encode_defunct

    return _signed(encode_defunct(primitive=message), key)


@method("eth_sign")
async def eth_sign(ctx: RequestContext, address: Address, message: Data) -> str:
    return _sign_message(_key(ctx, address), message)


@method("personal_sign")
async def personal_sign(ctx: RequestContext, message: Data, address: Address) -> str:
    return _sign_message(_key(ctx, address), message)


@method("eth_signTypedData_v4", "eth_signTypedData")
async def sign_typed_data(ctx: RequestContext, address: Address, typed: object) -> str:
    key = _key(ctx, address)
    if isinstance(typed, str):
        if len(typed) > MAX_TYPED_DATA_BYTES:
            raise InvalidParams("invalid argument 1: typed data too large")
        try:
            typed = orjson.loads(typed)
        except orjson.JSONDecodeError:
            raise InvalidParams("invalid argument 1: typed data is not valid JSON") from None
    if not isinstance(typed, dict):
        raise InvalidParams("invalid argument 1: typed data must be an object")
    from eth_account.messages import encode_typed_data

    full_message: Any = typed
    try:
        message = encode_typed_data(full_message=full_message)
    except Exception as error:  # eth-account raises many kinds on malformed input
        raise InvalidParams(f"invalid argument 1: invalid typed data: {error}") from None
    return _signed(message, key)


@method("eth_signTransaction")
async def sign_transaction(ctx: RequestContext, request: object) -> str:
    tx = await node_of(ctx).fill_transaction(parse_call_request(request, 0))
    return data(tx.encode())
