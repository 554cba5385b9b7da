"""The txpool_ namespace (geth's): status, content, contentFrom, inspect."""

from __future__ import annotations

from typing import Any

from rpc.codecs import data, quantity
from rpc.dispatch import Address, RequestContext, method
from rpc.namespaces.eth import node_of
from rpc.serialize import transaction_json
from sequencer.types.transactions import Transaction


def _by_nonce(groups: dict[bytes, list[Transaction]], shape: Any) -> dict[str, Any]:
    return {
        data(address): {str(tx.nonce): shape(tx) for tx in txs} for address, txs in groups.items()
    }


@method("txpool_status")
async def status(ctx: RequestContext) -> dict[str, str]:
    pending, queued = node_of(ctx).pool.content()
    return {
        "pending": quantity(sum(len(v) for v in pending.values())),
        "queued": quantity(sum(len(v) for v in queued.values())),
    }


def _json(tx: Transaction) -> dict[str, Any]:
    return transaction_json(tx, None, None)


@method("txpool_content")
async def content(ctx: RequestContext) -> dict[str, Any]:
    pending, queued = node_of(ctx).pool.content()
    return {"pending": _by_nonce(pending, _json), "queued": _by_nonce(queued, _json)}


@method("txpool_contentFrom")
async def content_from(ctx: RequestContext, address: Address) -> dict[str, Any]:
    pending, queued = node_of(ctx).pool.content()
    return {
        "pending": {str(tx.nonce): _json(tx) for tx in pending.get(address, [])},
        "queued": {str(tx.nonce): _json(tx) for tx in queued.get(address, [])},
    }


def _summary(tx: Transaction) -> str:
    to = "contract creation" if tx.to is None else data(tx.to)
    price = tx.gas_price if tx.tx_type in (0, 1) else tx.max_fee_per_gas
    return f"{to}: {tx.value} wei + {tx.gas_limit} gas × {price} wei"


@method("txpool_inspect")
async def inspect(ctx: RequestContext) -> dict[str, Any]:
    pending, queued = node_of(ctx).pool.content()
    return {"pending": _by_nonce(pending, _summary), "queued": _by_nonce(queued, _summary)}
