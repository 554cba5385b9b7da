"""Parity-style (OpenEthereum) traces, as anvil and reth serve them (issue 16).

Owns ``trace_transaction``, ``trace_block``, ``trace_filter`` and
``trace_replayBlockTransactions``, and the conversion of a call tree
(``sequencer.tracing.call.CallFrame``, taken as the frames ran: the top frame's
``gasUsed`` without intrinsic gas or refunds) into Parity's flat list:

``{"action", "blockHash", "blockNumber", "result", "subtraces", "traceAddress",
"transactionHash", "transactionPosition", "type"}`` per frame, depth first;
``type`` is ``call`` (``action``: ``from``, ``callType``, ``gas``, ``input``, ``to``,
``value``; ``result``: ``gasUsed``, ``output``), ``create`` (``from``, ``gas``,
``init``, ``value``, ``creationMethod``; ``address``, ``code``, ``gasUsed``) or
``suicide`` (``address``, ``balance``, ``refundAddress``; no result). A frame that
failed has Parity's ``error`` words; a revert keeps its result (gas used and the revert
data), any other failure has none. ``trace_replayBlockTransactions`` adds each
transaction's ``stateDiff`` (``"="`` unchanged, ``{"*": {"from", "to"}}`` changed,
``{"+": v}`` created, ``{"-": v}`` deleted) and, when asked for, ``vmTrace``
(OpenEthereum's per-instruction trace, ``rpc.parity.vm_trace_json``).
``trace_replayTransaction``, ``trace_call`` and ``trace_rawTransaction`` answer the same
``{output, stateDiff, trace, vmTrace}`` for one transaction (mined, a call object, signed
bytes run as a call from its sender); ``trace_get`` one entry of a transaction's list.
"""

from __future__ import annotations

from typing import Any, Final

from rpc.codecs import BlockId, data, invalid, json_type, parse_quantity
from rpc.dispatch import BlockIdParam, BlockNumberParam, Data, Hash, RequestContext, method
from rpc.namespaces.eth import block_number, node_of, sealed_block_number
from rpc.parity import flat_traces, located, state_diff_json, vm_trace_json
from rpc.requests import parse_call_request
from sequencer.tracing.call import CallFrame
from sequencer.tracing.spec import (
    CALL_TRACER,
    MUX_TRACER,
    STATE_CHANGES,
    VM_TRACE,
    MuxResult,
    StateChanges,
    TraceOptions,
)
from sequencer.tracing.vm import VmTrace
from sequencer.types.call import CallRequest
from sequencer.types.transactions import InvalidTransactionEncoding, decode_transaction
from statedb.types import Address

MAX_FILTER_BLOCKS: Final = 1000
MAX_FILTER_TRACES: Final = 100_000
_AS_EXECUTED: Final = TraceOptions(CALL_TRACER, as_executed=True)
_WITH_CHANGES: Final = TraceOptions(
    MUX_TRACER,
    mux=(("trace", _AS_EXECUTED), ("stateDiff", TraceOptions(STATE_CHANGES))),
)
_WITH_VM: Final = TraceOptions(
    MUX_TRACER,
    mux=(
        ("trace", _AS_EXECUTED),
        ("stateDiff", TraceOptions(STATE_CHANGES)),
        ("vmTrace", TraceOptions(VM_TRACE)),
    ),
)


def _replay_options(types: frozenset[str]) -> TraceOptions:
    """The tracers a replay needs: the per-instruction one only when asked for."""
    return _WITH_VM if "vmTrace" in types else _WITH_CHANGES


_TRACE_TYPES: Final = frozenset({"trace", "stateDiff", "vmTrace"})
LATEST: Final = BlockId(tag="latest")


async def _block_traces(ctx: RequestContext, number: int) -> list[dict[str, Any]]:
    node = node_of(ctx)
    block = node.block(number)
    if block is None:
        return []
    traced = await node.trace_block(number, _AS_EXECUTED)
    out: list[dict[str, Any]] = []
    for position, (tx_hash, frame) in enumerate(traced):
        assert isinstance(frame, CallFrame)
        out += located(flat_traces(frame), block, tx_hash, position)
    return out


@method("trace_transaction")
async def trace_transaction(ctx: RequestContext, tx_hash: Hash) -> list[dict[str, Any]]:
    node = node_of(ctx)
    found = node.locate_transaction(tx_hash)
    if found is None:
        return []  # anvil's answer (reth and OpenEthereum answer null)
    block, position = found
    frame = await node.trace_transaction(tx_hash, _AS_EXECUTED)
    assert isinstance(frame, CallFrame)
    return located(flat_traces(frame), block, tx_hash, position)


@method("trace_block")
async def trace_block(ctx: RequestContext, block: BlockNumberParam) -> list[dict[str, Any]] | None:
    node = node_of(ctx)
    number = sealed_block_number(node, block)
    if number > node.head_number:
        return None
    return await _block_traces(ctx, number)


def _addresses(value: object, name: str) -> frozenset[Address] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > 1000:
        raise invalid(0, f"{name}: expected a list of at most 1000 addresses")
    out = set()
    for item in value:
        if not isinstance(item, str) or len(item) != 42 or not item.startswith("0x"):
            raise invalid(0, f"{name}: not an address: {str(item)[:50]!r}")
        try:
            out.add(bytes.fromhex(item[2:]))
        except ValueError:
            raise invalid(0, f"{name}: not an address: {item!r}") from None
    return frozenset(out)


def _filter_block(node: Any, value: object, default: int) -> int:
    if value is None:
        return default
    if value in ("latest", "pending", "safe", "finalized"):
        return int(node.head_number)
    if value == "earliest":
        return 0
    number = parse_quantity(value, 0)
    if number > node.head_number:
        raise invalid(0, f"block {number} is after the head ({node.head_number})")
    return number


def _count(value: object, name: str, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 2**32:
        raise invalid(0, f"{name}: cannot unmarshal {json_type(value)} into a count")
    return value


@method("trace_filter")
async def trace_filter(ctx: RequestContext, filter_: object) -> list[dict[str, Any]]:
    """Traces in a block range whose ``from`` is one of ``fromAddress`` or whose ``to``
    is one of ``toAddress`` (either list absent: no condition from it; both: either
    matches, reth's default ``union`` mode), after skipping ``after``, at most
    ``count``."""
    if not isinstance(filter_, dict):
        raise invalid(0, f"cannot unmarshal {json_type(filter_)} into TraceFilter")
    node = node_of(ctx)
    first = _filter_block(node, filter_.get("fromBlock"), node.head_number)
    last = _filter_block(node, filter_.get("toBlock"), node.head_number)
    if first > last:
        raise invalid(0, "fromBlock is after toBlock")
    if last - first + 1 > MAX_FILTER_BLOCKS:
        raise invalid(0, f"block range too large (at most {MAX_FILTER_BLOCKS} blocks)")
    senders = _addresses(filter_.get("fromAddress"), "fromAddress")
    receivers = _addresses(filter_.get("toAddress"), "toAddress")
    after = _count(filter_.get("after"), "after", 0)
    count = _count(filter_.get("count"), "count", MAX_FILTER_TRACES)
    matched: list[dict[str, Any]] = []
    for number in range(first, last + 1):
        for trace in await _block_traces(ctx, number):
            action = trace["action"]
            source = action.get("from") or action.get("address")
            target = action.get("to") or action.get("refundAddress")
            if senders is None and receivers is None:
                keep = True
            else:
                keep = (senders is not None and _address(source) in senders) or (
                    receivers is not None and _address(target) in receivers
                )
            if keep:
                matched.append(trace)
            if len(matched) >= after + count:
                return matched[after:]
    return matched[after : after + count]


def _address(text: object) -> bytes | None:
    return bytes.fromhex(text[2:]) if isinstance(text, str) else None


def _trace_types(value: object, arg: int) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise invalid(arg, "trace types must be a list of strings")
    unknown = set(value) - _TRACE_TYPES
    if unknown:
        raise invalid(arg, f"unknown trace type {sorted(unknown)[0][:32]!r}")
    return frozenset(value)


def _replayed(result: object, types: frozenset[str]) -> dict[str, Any]:
    """``{output, stateDiff, trace, vmTrace}`` of one traced transaction."""
    assert isinstance(result, MuxResult)
    frame = result.results["trace"]
    changes = result.results["stateDiff"]
    assert isinstance(frame, CallFrame) and isinstance(changes, StateChanges)
    vm = result.results.get("vmTrace")
    return {
        "output": data(frame.output),
        "stateDiff": state_diff_json(changes.changes) if "stateDiff" in types else None,
        "trace": flat_traces(frame) if "trace" in types else [],
        "vmTrace": vm_trace_json(vm) if isinstance(vm, VmTrace) else None,
    }


@method("trace_replayBlockTransactions")
async def trace_replay_block_transactions(
    ctx: RequestContext, block: BlockNumberParam, trace_types: object
) -> list[dict[str, Any]] | None:
    types = _trace_types(trace_types, 1)
    node = node_of(ctx)
    number = sealed_block_number(node, block)
    if number > node.head_number or node.block(number) is None:
        return None
    traced = await node.trace_block(number, _replay_options(types))
    return [
        {**_replayed(result, types), "transactionHash": data(tx_hash)} for tx_hash, result in traced
    ]


@method("trace_replayTransaction")
async def trace_replay_transaction(
    ctx: RequestContext, tx_hash: Hash, trace_types: object
) -> dict[str, Any] | None:
    types = _trace_types(trace_types, 1)
    node = node_of(ctx)
    if node.locate_transaction(tx_hash) is None:
        return None
    return _replayed(await node.trace_transaction(tx_hash, _replay_options(types)), types)


@method("trace_call")
async def trace_call(
    ctx: RequestContext, request: object, trace_types: object, block: BlockIdParam = LATEST
) -> dict[str, Any]:
    types = _trace_types(trace_types, 1)
    node = node_of(ctx)
    call = parse_call_request(request, 0)
    return _replayed(
        await node.trace_call(call, block_number(node, block), None, None, _replay_options(types)),
        types,
    )


@method("trace_callMany")
async def trace_call_many(
    ctx: RequestContext, calls: object, block: BlockIdParam = LATEST
) -> list[dict[str, Any]]:
    """``[[call, traceTypes], ...]`` run in order on ``block``, each on the state the
    earlier ones left (OpenEthereum's), at most 256."""
    if not isinstance(calls, list):
        raise invalid(0, "expected a list of [call, traceTypes] pairs")
    parsed = []
    for index, item in enumerate(calls[:257]):
        if not isinstance(item, list) or len(item) != 2:
            raise invalid(0, f"call {index}: expected [call, traceTypes]")
        parsed.append((parse_call_request(item[0], 0), _trace_types(item[1], 0)))
    node = node_of(ctx)
    wanted = frozenset().union(*(types for _, types in parsed)) if parsed else frozenset()
    results = await node.trace_call_many(
        [request for request, _ in parsed], block_number(node, block), _replay_options(wanted)
    )
    return [_replayed(result, types) for result, (_, types) in zip(results, parsed, strict=True)]


@method("trace_rawTransaction")
async def trace_raw_transaction(
    ctx: RequestContext, raw: Data, trace_types: object, block: BlockIdParam = LATEST
) -> dict[str, Any]:
    """A signed transaction run (not sent) on ``block``'s state as a call from its sender
    with its own fields."""
    types = _trace_types(trace_types, 1)
    try:
        tx = decode_transaction(raw)
    except InvalidTransactionEncoding as error:
        raise invalid(0, f"not a signed transaction: {error}") from None
    fees = (
        {"gas_price": tx.gas_price}
        if tx.tx_type in (0, 1)
        else {
            "max_fee_per_gas": tx.max_fee_per_gas,
            "max_priority_fee_per_gas": tx.max_priority_fee_per_gas,
        }
    )
    call = CallRequest(
        sender=tx.sender,
        to=tx.to,
        gas=tx.gas_limit,
        value=tx.value,
        data=tx.data,
        nonce=tx.nonce,
        tx_type=tx.tx_type,
        access_list=tuple(tx.access_list) or None,
        max_fee_per_blob_gas=tx.max_fee_per_blob_gas if tx.tx_type == 3 else None,
        blob_versioned_hashes=tuple(tx.blob_versioned_hashes),
        authorization_list=tuple(tx.authorization_list),
        **fees,
    )
    node = node_of(ctx)
    return _replayed(
        await node.trace_call(call, block_number(node, block), None, None, _replay_options(types)),
        types,
    )


@method("trace_get")
async def trace_get(ctx: RequestContext, tx_hash: Hash, indices: object) -> dict[str, Any] | None:
    """The entry at position ``indices[0]`` of the transaction's flat trace list (reth's
    reading; more than one index is refused), null past its end or for an unknown hash."""
    if (
        not isinstance(indices, list)
        or len(indices) != 1
        or isinstance(indices[0], bool)
        or not isinstance(indices[0], int | str)
    ):
        raise invalid(1, "expected a list of one index")
    index = indices[0] if isinstance(indices[0], int) else parse_quantity(indices[0], 1)
    if index < 0:
        raise invalid(1, "index must not be negative")
    traces = await trace_transaction(ctx, tx_hash)
    return traces[index] if index < len(traces) else None


__all__ = ["flat_traces", "state_diff_json"]
