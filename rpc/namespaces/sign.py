"""Signing with the node's dev accounts: eth_sign, personal_sign, eth_signTypedData_v4,
eth_signTransaction.

Owns only the key lookup and the wire shapes; message hashing is eth-account's
(EIP-191 personal messages, EIP-712 typed data) and transaction signing is
``Node.fill_transaction``.
"""

from __future__ import annotations

import orjson
from eth_account import Account
from eth_account.messages import encode_defunct, encode_typed_data

from rpc.codecs import data
from rpc.dispatch import Address, Data, RequestContext, method
from rpc.errors import InvalidParams
from rpc.namespaces.eth import node_of
from rpc.requests import parse_call_request
from sequencer.errors import NodeError

MAX_TYPED_DATA_BYTES = 1 << 20


def _key(ctx: RequestContext, address: bytes) -> bytes:
    key = node_of(ctx).dev_key(address)
    if key is None:
        raise NodeError(f"unknown account 0x{address.hex()}")
    return key


def _sign_message(key: bytes, message: bytes) -> str:
    signed = Account.sign_message(encode_defunct(primitive=message), key)
    return data(bytes(signed.signature))


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
    try:
        message = encode_typed_data(full_message=typed)
    except Exception as error:  # eth-account raises many kinds on malformed input
        raise InvalidParams(f"invalid argument 1: invalid typed data: {error}") from None
    signed = Account.sign_message(message, key)
    return data(bytes(signed.signature))


@method("eth_signTransaction")
async def sign_transaction(ctx: RequestContext, request: object) -> str:
    tx = await node_of(ctx).fill_transaction(parse_call_request(request, 0))
    return data(tx.encode())
