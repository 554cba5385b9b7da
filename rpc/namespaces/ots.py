"""Otterscan's ots_ namespace (API level 8), answered as anvil 1.7.1 answers it.

Owns every ots_ method Otterscan calls except ``ots_getTransactionBySenderAndNonce``
(``rpc.namespaces.compat``), and ``erigon_getHeaderByNumber``, which Otterscan sends
first to tell an Erigon node (without it Otterscan refuses the node). The shapes
(docs/custom-jsonrpc.md in otterscan/otterscan):

- ``erigon_getHeaderByNumber(block)``: eth_getBlockByNumber's block with transaction
  hashes, or null (anvil's answer);

- ``ots_getApiLevel``: ``8``;
- ``ots_hasCode(address, block = latest)``: bool;
- ``ots_getInternalOperations(txHash)``: ``[{type, from, to, value}]`` in execution
  order: ``0`` a CALL moving value (the top frame included), ``1`` a SELFDESTRUCT
  (``from`` the contract, ``to`` the beneficiary), ``2`` a CREATE, ``3`` a CREATE2
  (``to`` the new contract);
- ``ots_traceTransaction(txHash)``: ``[{type, depth, from, to, value, input, output}]``
  depth first: ``type`` CALL / STATICCALL / DELEGATECALL / CALLCODE / CREATE / CREATE2 /
  SELFDESTRUCT, ``value`` always a quantity, ``output`` the return data (the revert
  data of a frame that reverted, ``0x`` for one that halted); ``[]`` for an unknown hash;
- ``ots_getTransactionError(txHash)``: the revert data of a failed transaction, ``0x``
  for a successful, halted or unknown one;
- ``ots_getBlockDetails(block)`` / ``ots_getBlockDetailsByHash(hash)``:
  ``{block, issuance: {blockReward, uncleReward, issuance}, totalFees}``: ``block`` is
  eth_getBlockBy*'s object without ``transactions`` and with ``transactionCount``;
  issuance is zero (no block rewards after the merge); ``totalFees`` is the sum of
  gasUsed x effectiveGasPrice;
- ``ots_getBlockTransactions(block, page, pageSize)``: ``{fullblock, receipts}``:
  the block with the page's transactions (``input`` cut to the 4-byte selector) and
  ``transactionCount`` (the whole block's), and their receipts with ``timestamp``;
- ``ots_searchTransactionsBefore`` / ``ots_searchTransactionsAfter(address, block,
  pageSize)``: ``{txs, receipts, firstPage, lastPage}``, newest first; block 0 means
  from the head (before) / from genesis (after); the last block found is returned
  whole, so a page may hold more than ``pageSize``. The transactions are those
  ``Node.address_appearances`` indexes (sender, recipient, created contract, log
  emitter, and every address a frame called or ran as, a DELEGATECALL's code, a
  SELFDESTRUCT's beneficiary: the addresses of its call traces);
- ``ots_getContractCreator(address)``: ``{hash, creator}`` or null.

Like anvil, logs and logsBloom are kept in receipts and blocks (Otterscan's spec lets
a node send null), precompile calls are traced, a missing block is -32001 and
``pending`` is not a block (it is not sealed). Where we depart from anvil, on purpose:
traces also list CREATE, CREATE2 and SELFDESTRUCT entries (anvil's list only calls;
Erigon's and Otterscan's trace view have them); a CREATE2 whose contract self-destructs
is listed before the SELFDESTRUCT (anvil drops it); ``transactionCount`` is the block's,
not the page's (Otterscan pages with it); ``lastPage`` / ``firstPage`` are exact (anvil
says false for a page that is exactly full with nothing left); an unknown hash for
ots_getInternalOperations is -32001 (anvil: -32603); a self-destructed contract has no
creator (null, as any address without code).

Parameters: block numbers, pages and page sizes are JSON integers (what Otterscan
sends) or hex quantities, block ids also tags (and for ots_hasCode hashes); anything
else, a negative number, a search block past 2**64 - 1 or a page size past
``MAX_PAGE_SIZE`` is -32602 with the reason. A search from a block past the head
starts at the head, so no value makes it scan more than the index holds.
"""

from __future__ import annotations

from typing import Annotated, Any, Final

from rpc.codecs import (
    MAX_INT64,
    BlockId,
    Codec,
    data,
    invalid,
    json_type,
    parse_block_id,
    parse_block_number,
    parse_quantity,
    quantity,
)
from rpc.dispatch import Address, Hash, RequestContext, method
from rpc.namespaces.eth import block_number, node_of, receipt_of
from rpc.serialize import block_json, transaction_json
from sequencer.errors import ResourceNotFound
from sequencer.node import Node
from sequencer.tracing.call import CallFrame
from sequencer.tracing.spec import CALL_TRACER, TraceOptions
from sequencer.types.blocks import MiniBlock

API_LEVEL: Final = 8
MAX_PAGE_SIZE: Final = 1000
MAX_U64: Final = (1 << 64) - 1
_TRACE: Final = TraceOptions(CALL_TRACER, as_executed=True)
_ZERO_ADDRESS: Final = bytes(20)
_REVERTED: Final = "execution reverted"
_OPERATION_TYPES: Final = {"SELFDESTRUCT": 1, "CREATE": 2, "CREATE2": 3}

Json = dict[str, Any]


# --------------------------------------------------------------------------- params


def _integer(value: object, arg: int | None, name: str, maximum: int) -> int:
    """A JSON integer or a hex quantity in ``0..maximum``."""
    if isinstance(value, float):  # also what a JSON integer past 64 bits is read as
        raise invalid(arg, f"{name} must be an integer in 0..{maximum}")
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise invalid(arg, f"{name}: cannot unmarshal {json_type(value)} into an integer")
    n = value if isinstance(value, int) else parse_quantity(value, arg)
    if not 0 <= n <= maximum:
        raise invalid(arg, f"{name} must be in 0..{maximum}, got {str(n)[:40]}")
    return n


def _parse_search_block(value: object, arg: int | None = None) -> int:
    return _integer(value, arg, "blockNumber", MAX_U64)


def _parse_page(value: object, arg: int | None = None) -> int:
    return _integer(value, arg, "pageNumber", MAX_U64)


def _parse_page_size(value: object, arg: int | None = None) -> int:
    return _integer(value, arg, "pageSize", MAX_PAGE_SIZE)


def _parse_block(value: object, arg: int | None = None) -> BlockId:
    """A block number as a JSON integer (what Otterscan sends), a hex quantity or a tag."""
    if isinstance(value, int) and not isinstance(value, bool):
        return BlockId(number=_integer(value, arg, "block number", MAX_INT64))
    return parse_block_number(value, arg)


def _parse_block_or_hash(value: object, arg: int | None = None) -> BlockId:
    """``_parse_block`` or a block hash / EIP-1898 object."""
    if isinstance(value, int) and not isinstance(value, bool):
        return BlockId(number=_integer(value, arg, "block number", MAX_INT64))
    return parse_block_id(value, arg)


SearchBlock = Annotated[int, Codec(_parse_search_block)]
Page = Annotated[int, Codec(_parse_page)]
PageSize = Annotated[int, Codec(_parse_page_size)]
BlockParam = Annotated[BlockId, Codec(_parse_block)]
BlockOrHashParam = Annotated[BlockId, Codec(_parse_block_or_hash)]

LATEST: Final = BlockId(tag="latest")


# --------------------------------------------------------------------------- helpers


def _lookup(node: Node, block: BlockId) -> tuple[MiniBlock | None, str]:
    """The sealed block ``block`` names (None if there is none) and how to name it.
    ``pending`` is not sealed, so it is not found, as on anvil."""
    if block.hash is not None:
        return node.block_by_hash(block.hash), f"block 0x{block.hash.hex()}"
    if block.number is not None:
        in_chain = block.number <= node.head_number
        return node.block(block.number) if in_chain else None, f"block {block.number}"
    if block.tag == "pending":
        return None, "block pending (it is not sealed yet)"
    return node.block(0 if block.tag == "earliest" else node.head_number), f"block {block.tag}"


def _find_block(node: Node, block: BlockId) -> MiniBlock:
    """``_lookup``'s block; ``ResourceNotFound`` (anvil's -32001) if there is none."""
    found, name = _lookup(node, block)
    if found is None:
        raise ResourceNotFound(f"{name} not found")
    return found


async def _trace(node: Node, tx_hash: bytes) -> CallFrame | None:
    if node.locate_transaction(tx_hash) is None:
        return None
    frame = await node.trace_transaction(tx_hash, _TRACE)
    assert isinstance(frame, CallFrame)
    return frame


def _frames(frame: CallFrame, depth: int = 0) -> list[tuple[CallFrame, int]]:
    """Every frame of the tree with its depth, depth first (a frame before its calls)."""
    out = [(frame, depth)]
    for child in frame.calls:
        out += _frames(child, depth + 1)
    return out


def _output(frame: CallFrame) -> bytes:
    """What a frame returned: its return data, or its revert data; nothing if it halted."""
    if frame.error is None or frame.error == _REVERTED:
        return frame.output
    return b""


def _trace_entry(frame: CallFrame, depth: int) -> Json:
    selfdestruct = frame.kind == "SELFDESTRUCT"
    return {
        "type": frame.kind,
        "depth": depth,
        "from": data(frame.sender),
        "to": data(frame.to or _ZERO_ADDRESS),
        "value": quantity(frame.value or 0),
        "input": "0x" if selfdestruct else data(frame.input),
        "output": "0x" if selfdestruct else data(_output(frame)),
    }


def _internal_operation(frame: CallFrame) -> Json | None:
    if frame.kind == "CALL" and frame.value:
        kind = 0
    elif frame.kind in _OPERATION_TYPES:
        kind = _OPERATION_TYPES[frame.kind]
    else:
        return None
    return {
        "type": kind,
        "from": data(frame.sender),
        "to": data(frame.to or _ZERO_ADDRESS),
        "value": quantity(frame.value or 0),
    }


def _receipt(node: Node, block: MiniBlock, index: int) -> Json:
    """A receipt as Otterscan's methods send it: with ``timestamp`` (the block's), not
    ``blockTimestamp``."""
    out = receipt_of(node, block, index)
    del out["blockTimestamp"]
    out["timestamp"] = quantity(block.header.timestamp)
    return out


def _block_details(block: MiniBlock) -> Json:
    body = block_json(block, False)
    del body["transactions"]
    body["transactionCount"] = len(block.transactions)
    fees = sum(r.gas_used * r.effective_gas_price for r in block.receipts)
    return {
        "block": body,
        "issuance": {"blockReward": "0x0", "uncleReward": "0x0", "issuance": "0x0"},
        "totalFees": quantity(fees),
    }


# --------------------------------------------------------------------------- methods


@method("erigon_getHeaderByNumber")
async def erigon_get_header_by_number(ctx: RequestContext, block: BlockParam) -> Json | None:
    """Otterscan's probe for an Erigon node before it asks ots_getApiLevel: anvil's
    answer, eth_getBlockByNumber's (with transaction hashes), null for no block."""
    found, _ = _lookup(node_of(ctx), block)
    return None if found is None else block_json(found, False)


@method("ots_getApiLevel")
async def get_api_level(ctx: RequestContext) -> int:
    return API_LEVEL


@method("ots_hasCode")
async def has_code(ctx: RequestContext, address: Address, block: BlockOrHashParam = LATEST) -> bool:
    node = node_of(ctx)
    return node.code(address, block_number(node, block)) != b""


@method("ots_getInternalOperations")
async def get_internal_operations(ctx: RequestContext, tx_hash: Hash) -> list[Json]:
    frame = await _trace(node_of(ctx), tx_hash)
    if frame is None:
        raise ResourceNotFound(f"transaction 0x{tx_hash.hex()} not found")
    found = (_internal_operation(f) for f, _ in _frames(frame))
    return [operation for operation in found if operation is not None]


@method("ots_traceTransaction")
async def trace_transaction(ctx: RequestContext, tx_hash: Hash) -> list[Json]:
    frame = await _trace(node_of(ctx), tx_hash)
    if frame is None:
        return []  # anvil's answer for an unknown hash
    return [_trace_entry(f, depth) for f, depth in _frames(frame)]


@method("ots_getTransactionError")
async def get_transaction_error(ctx: RequestContext, tx_hash: Hash) -> str:
    node = node_of(ctx)
    found = node.locate_transaction(tx_hash)
    if found is None or found[0].receipts[found[1]].status:
        return "0x"
    frame = await _trace(node, tx_hash)
    return "0x" if frame is None else data(_output(frame))


@method("ots_getBlockDetails")
async def get_block_details(ctx: RequestContext, block: BlockParam) -> Json:
    return _block_details(_find_block(node_of(ctx), block))


@method("ots_getBlockDetailsByHash")
async def get_block_details_by_hash(ctx: RequestContext, block_hash: Hash) -> Json:
    return _block_details(_find_block(node_of(ctx), BlockId(hash=block_hash)))


@method("ots_getBlockTransactions")
async def get_block_transactions(
    ctx: RequestContext, block: BlockParam, page: Page, page_size: PageSize
) -> Json:
    node = node_of(ctx)
    found = _find_block(node, block)
    total = len(found.transactions)
    first = min(page * page_size, total)
    indexes = range(first, min(first + page_size, total))
    transactions = []
    for index in indexes:
        tx = transaction_json(found.transactions[index], found, index)
        tx["input"] = data(found.transactions[index].data[:4])
        transactions.append(tx)
    fullblock = block_json(found, False)
    fullblock["transactions"] = transactions
    fullblock["transactionCount"] = total
    return {"fullblock": fullblock, "receipts": [_receipt(node, found, i) for i in indexes]}


def _search(node: Node, address: bytes, block: int, page_size: int, before: bool) -> Json:
    """(block, index) pairs of ``address``'s transactions strictly before / after
    ``block``, newest first, as Otterscan pages them."""
    head = node.head_number
    if before:
        start = head + 1 if block == 0 else min(block, head + 1)
    else:
        start = min(block, head)
    found = node.address_appearances(address, start, before, page_size + 1)
    page = found[:page_size]
    more = len(found) > page_size
    last = page[-1][0] if more and page else None
    sealed = None if last is None else node.block(last)
    if last is not None and sealed is not None:
        # Otterscan's rule: the last block found is returned whole.
        pivot = last + 1 if before else last - 1
        size = max(1, len(sealed.transactions))
        whole = [e for e in node.address_appearances(address, pivot, before, size) if e[0] == last]
        page = [e for e in page if e[0] != last] + whole
        more = bool(node.address_appearances(address, last, before, 1))
    if not before:
        page.reverse()
    txs, receipts = [], []
    for number, index in page:
        sealed = node.block(number)
        if sealed is None or index >= len(sealed.transactions):
            continue  # not in the history this node keeps
        txs.append(transaction_json(sealed.transactions[index], sealed, index))
        receipts.append(_receipt(node, sealed, index))
    if before:
        first_page, last_page = block == 0 or block > head, not more
    else:
        first_page, last_page = not more, block == 0
    return {"txs": txs, "receipts": receipts, "firstPage": first_page, "lastPage": last_page}


@method("ots_searchTransactionsBefore")
async def search_transactions_before(
    ctx: RequestContext, address: Address, block: SearchBlock, page_size: PageSize
) -> Json:
    return _search(node_of(ctx), address, block, page_size, before=True)


@method("ots_searchTransactionsAfter")
async def search_transactions_after(
    ctx: RequestContext, address: Address, block: SearchBlock, page_size: PageSize
) -> Json:
    return _search(node_of(ctx), address, block, page_size, before=False)


@method("ots_getContractCreator")
async def get_contract_creator(ctx: RequestContext, address: Address) -> Json | None:
    found = await node_of(ctx).contract_creator(address)
    if found is None:
        return None
    tx_hash, creator = found
    return {"hash": data(tx_hash), "creator": data(creator)}
