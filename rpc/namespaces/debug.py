"""geth's debug tracing methods and the JSON of their results (issue 16).

Owns ``debug_traceTransaction``, ``debug_traceCall``, ``debug_traceBlockByNumber`` and
``debug_traceBlockByHash``; ``parse_trace_options`` (geth's ``TraceConfig``:
``tracer``, ``tracerConfig`` with callTracer's ``onlyTopCall`` / ``withLog``, the struct
logger's ``disableStack`` / ``disableStorage`` / ``enableMemory`` / ``enableReturnData``
/ ``limit``, ``timeout``; debug_traceCall's ``stateOverrides`` / ``blockOverrides``),
and the result JSON:

- callTracer: ``{"from", "gas", "gasUsed", "to", "input", "output", "error",
  "revertReason", "calls", "logs", "value", "type"}`` as geth's native tracer prints it
  (empty fields left out; ``value`` absent for STATICCALL);
- the struct logger: ``{"gas", "failed", "returnValue", "structLogs": [{"pc", "op",
  "gas", "gasCost", "depth", "stack", "memory", "storage", "refund", "returnData",
  "error"}]}``: stack words as quantities, memory as 32-byte words and storage as
  32-byte hex without ``0x``, as geth;
- 4byteTracer: ``{"0xselector-size": count}``; noopTracer: ``{}``;
- prestateTracer: ``{address: {"balance", "nonce", "code", "storage"}}``, in
  ``diffMode`` ``{"pre": ..., "post": ...}``;
- muxTracer (``tracerConfig``: tracer name -> its config): ``{name: result}``.

Block traces are ``[{"txHash", "result"}]``, as geth's.
"""

from __future__ import annotations

import re
from typing import Any, Final, cast

from jit import rlp
from rpc.codecs import BlockId, data, invalid, json_type, quantity
from rpc.dispatch import (
    Address,
    BlockIdParam,
    BlockNumberParam,
    Data,
    Hash,
    RequestContext,
    method,
)
from rpc.namespaces.eth import LOCAL, block_number, node_of, sealed_block_number, upstream_block
from rpc.parity import flat_traces, located
from rpc.requests import parse_block_overrides, parse_call_request, parse_state_overrides
from sequencer.errors import NodeError, ResourceNotFound
from sequencer.tracing.call import CallFrame
from sequencer.tracing.prestate import AccountState, Prestate, PrestateDiff
from sequencer.tracing.simple import SelectorCounts
from sequencer.tracing.spec import (
    MUX_TRACER,
    TRACERS,
    FlatCalls,
    MuxResult,
    StateChanges,
    TraceOptions,
    TraceResult,
)
from sequencer.tracing.struct import StructConfig, StructTrace
from sequencer.tracing.vm import VmTrace
from sequencer.types.blocks import Header, MiniBlock

MAX_LIMIT: Final = 100_000_000
_DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$")
_STRUCT_FLAGS: Final = ("disableStack", "disableStorage", "enableMemory", "enableReturnData")
_CALL_FLAGS: Final = ("onlyTopCall", "withLog")
_PRESTATE_FLAGS: Final = ("diffMode", "disableCode", "disableStorage")
_FLAT_FLAGS: Final = ("includePrecompiles", "convertParityErrors")
Located = tuple[MiniBlock, bytes, int]
LATEST: Final = BlockId(tag="latest")


# --------------------------------------------------------------------------- options


def _flag(obj: dict[str, Any], name: str, arg: int) -> bool:
    value = obj.get(name, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise invalid(arg, f"{name}: cannot unmarshal {json_type(value)} into bool")
    return value


def parse_trace_options(value: object, arg: int) -> TraceOptions:
    """geth's ``TraceConfig`` (unknown keys ignored, as Go's decoder does)."""
    if value is None:
        return TraceOptions()
    if not isinstance(value, dict):
        raise invalid(arg, f"cannot unmarshal {json_type(value)} into TraceConfig")
    tracer = value.get("tracer")
    if tracer is not None:
        if not isinstance(tracer, str):
            raise invalid(arg, f"tracer: cannot unmarshal {json_type(tracer)} into string")
        if tracer == "":
            tracer = None
        elif tracer not in TRACERS:
            # geth's words for a name it has no tracer for.
            raise invalid(
                arg,
                f"tracer {tracer[:64]!r} is not served (use one of {', '.join(TRACERS)}, "
                "or none for the struct logger)",
            )
    timeout = value.get("timeout")
    if timeout is not None and (not isinstance(timeout, str) or not _DURATION.match(timeout)):
        raise invalid(arg, f"timeout: not a duration: {str(timeout)[:32]!r}")
    limit = value.get("limit", 0)
    if limit is None:
        limit = 0
    if isinstance(limit, bool) or not isinstance(limit, int) or not 0 <= limit <= MAX_LIMIT:
        raise invalid(arg, f"limit must be an integer in 0..{MAX_LIMIT}")
    disable_stack, disable_storage, enable_memory, enable_return_data = (
        _flag(value, name, arg) for name in _STRUCT_FLAGS
    )
    struct = StructConfig(disable_stack, disable_storage, enable_memory, enable_return_data, limit)
    config = value.get("tracerConfig")
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise invalid(arg, f"tracerConfig: cannot unmarshal {json_type(config)} into object")
    if tracer == MUX_TRACER:
        if len(config) > len(TRACERS):
            raise invalid(arg, "muxTracer: too many tracers")
        inner = []
        for name, inner_config in config.items():
            if name == MUX_TRACER:
                raise invalid(arg, "muxTracer: a muxTracer cannot hold a muxTracer")
            options = parse_trace_options({"tracer": name, "tracerConfig": inner_config}, arg)
            inner.append((name, options))
        return TraceOptions(tracer, struct, mux=tuple(inner))
    return _tracer_options(tracer, struct, config, arg)


def _tracer_options(
    tracer: str | None, struct: StructConfig, config: dict[str, Any], arg: int
) -> TraceOptions:
    only_top_call, with_log = (_flag(config, name, arg) for name in _CALL_FLAGS)
    diff_mode, disable_code, disable_storage = (
        _flag(config, name, arg) for name in _PRESTATE_FLAGS
    )
    include_precompiles, convert_parity_errors = (_flag(config, name, arg) for name in _FLAT_FLAGS)
    return TraceOptions(
        tracer,
        struct,
        only_top_call,
        with_log,
        diff_mode,
        disable_code,
        disable_storage,
        include_precompiles=include_precompiles,
        convert_parity_errors=convert_parity_errors,
    )


# --------------------------------------------------------------------------- JSON


def call_frame_json(frame: CallFrame) -> dict[str, Any]:
    out: dict[str, Any] = {
        "from": data(frame.sender),
        "gas": quantity(frame.gas),
        "gasUsed": quantity(frame.gas_used),
    }
    if frame.to is not None:
        out["to"] = data(frame.to)
    out["input"] = data(frame.input)
    if frame.output:
        out["output"] = data(frame.output)
    if frame.error is not None:
        out["error"] = frame.error
    if frame.revert_reason is not None:
        out["revertReason"] = frame.revert_reason
    if frame.calls:
        out["calls"] = [call_frame_json(c) for c in frame.calls]
    if frame.logs:
        out["logs"] = [
            {
                "address": data(log.address),
                "topics": [data(t) for t in log.topics],
                "data": data(log.data),
                "position": quantity(log.position),
                "index": quantity(log.index),
            }
            for log in frame.logs
        ]
    if frame.value is not None:
        out["value"] = quantity(frame.value)
    out["type"] = frame.kind
    return out


def struct_trace_json(trace: StructTrace) -> dict[str, Any]:
    logs = []
    for log in trace.logs:
        entry: dict[str, Any] = {
            "pc": log.pc,
            "op": log.op,
            "gas": log.gas,
            "gasCost": log.gas_cost,
            "depth": log.depth,
        }
        if log.error is not None:
            entry["error"] = log.error
        if log.stack is not None:
            entry["stack"] = [hex(word) for word in log.stack]
        if log.return_data:
            entry["returnData"] = data(log.return_data)
        if log.memory is not None:
            memory = log.memory
            entry["memory"] = [data(memory[i : i + 32]) for i in range(0, len(memory), 32)]
        if log.storage is not None:
            entry["storage"] = {
                f"0x{slot:064x}": f"0x{value:064x}" for slot, value in log.storage.items()
            }
        entry["refund"] = log.refund
        logs.append(entry)
    return {
        "gas": trace.gas,
        "failed": trace.failed,
        "returnValue": data(trace.return_value),
        "structLogs": logs,
    }


def _account_json(account: AccountState) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if account.balance is not None:
        out["balance"] = quantity(account.balance)
    if account.nonce is not None:
        out["nonce"] = account.nonce
    if account.code is not None:
        out["code"] = data(account.code)
    if account.storage:
        out["storage"] = {
            f"0x{slot:064x}": f"0x{value:064x}" for slot, value in account.storage.items()
        }
    return out


def prestate_json(accounts: Prestate) -> dict[str, Any]:
    return {data(address): _account_json(account) for address, account in accounts.items()}


def trace_json(result: TraceResult, where: Located | None = None) -> Any:
    """The result's geth JSON; ``where`` (block, transaction hash, position) places a
    flatCallTracer's entries as geth does (absent for debug_traceCall)."""
    if isinstance(result, FlatCalls):
        flat = flat_traces(
            result.frame,
            include_precompiles=result.include_precompiles,
            parity_errors=result.parity_errors,
        )
        return flat if where is None else located(flat, *where)
    if isinstance(result, CallFrame):
        return call_frame_json(result)
    if isinstance(result, StructTrace):
        return struct_trace_json(result)
    if isinstance(result, PrestateDiff):
        return {"post": prestate_json(result.post), "pre": prestate_json(result.pre)}
    if isinstance(result, SelectorCounts):
        return dict(result.counts)
    if isinstance(result, MuxResult):
        return {name: trace_json(inner, where) for name, inner in result.results.items()}
    if isinstance(result, StateChanges | VmTrace):
        raise TypeError("Parity-only results have no geth JSON (trace_replay* shows them)")
    return prestate_json(result)


# --------------------------------------------------------------------------- methods


@method("debug_traceTransaction")
async def trace_transaction(
    ctx: RequestContext, tx_hash: Hash, options: object = None
) -> dict[str, Any]:
    node = node_of(ctx)
    trace = await node.trace_transaction(tx_hash, parse_trace_options(options, 1))
    found = node.locate_transaction(tx_hash)
    return trace_json(trace, None if found is None else (found[0], tx_hash, found[1]))


async def _trace_block(ctx: RequestContext, block: BlockId, options: object) -> list[Any]:
    node = node_of(ctx)
    parsed = parse_trace_options(options, 1)
    number = sealed_block_number(node, block)
    if number > node.head_number:
        raise invalid(0, "the pending block cannot be traced")
    traces = await node.trace_block(number, parsed)
    sealed = node.block(number)
    return [
        {
            "txHash": data(tx_hash),
            "result": trace_json(t, None if sealed is None else (sealed, tx_hash, position)),
        }
        for position, (tx_hash, t) in enumerate(traces)
    ]


@method("debug_traceBlockByNumber")
async def trace_block_by_number(
    ctx: RequestContext, block: BlockNumberParam, options: object = None
) -> list[Any]:
    return await _trace_block(ctx, block, options)


@method("debug_traceBlockByHash")
async def trace_block_by_hash(
    ctx: RequestContext, block_hash: Hash, options: object = None
) -> list[Any]:
    return await _trace_block(ctx, BlockId(hash=block_hash), options)


@method("debug_traceCall")
async def trace_call(
    ctx: RequestContext, request: object, block: BlockIdParam = LATEST, options: object = None
) -> dict[str, Any]:
    node = node_of(ctx)
    parsed = parse_trace_options(options, 2)
    extra = options if isinstance(options, dict) else {}
    trace = await node.trace_call(
        parse_call_request(request, 0),
        block_number(node, block),
        parse_state_overrides(extra.get("stateOverrides"), 2),
        parse_block_overrides(extra.get("blockOverrides"), 2),
        parsed,
    )
    return trace_json(trace)


# --------------------------------------------------------------------------- raw data


@method("debug_getRawTransaction")
async def get_raw_transaction(ctx: RequestContext, tx_hash: Hash) -> str | None:
    """A mined or pooled transaction's signed bytes; null for an unknown hash (anvil)."""
    node = node_of(ctx)
    found = node.locate_transaction(tx_hash)
    tx = found[0].transactions[found[1]] if found is not None else node.pool_transaction(tx_hash)
    return None if tx is None else data(tx.encode())


@method("debug_codeByHash")
async def code_by_hash(ctx: RequestContext, code_hash: Hash) -> str:
    """Code by its hash; ``0x`` when none is stored under it (anvil)."""
    return data(node_of(ctx).code_by_hash(code_hash))


def _sealed(ctx: RequestContext, block: BlockId) -> MiniBlock:
    node = node_of(ctx)
    if block.tag == "pending":
        raise invalid(0, "the pending block is not sealed")
    sealed = node.block(sealed_block_number(node, block))
    if sealed is None:
        raise ResourceNotFound("header not found")
    return sealed


@method("debug_getRawBlock")
async def get_raw_block(ctx: RequestContext, block: BlockIdParam) -> str:
    upstream = await upstream_block(node_of(ctx), "debug_getRawBlock", block, [])
    if upstream is not LOCAL:
        return cast(str, upstream)
    return data(_sealed(ctx, block).encode_consensus())


@method("debug_getRawHeader")
async def get_raw_header(ctx: RequestContext, block: BlockIdParam) -> str:
    upstream = await upstream_block(node_of(ctx), "debug_getRawHeader", block, [])
    if upstream is not LOCAL:
        return cast(str, upstream)
    return data(_sealed(ctx, block).header.encode())


@method("debug_getRawReceipts")
async def get_raw_receipts(ctx: RequestContext, block: BlockIdParam) -> list[str]:
    upstream = await upstream_block(node_of(ctx), "debug_getRawReceipts", block, [])
    if upstream is not LOCAL:
        return cast("list[str]", upstream)
    return [data(r.consensus_encoding()) for r in _sealed(ctx, block).receipts]


MAX_STORAGE_RANGE: Final = 10_000


@method("debug_storageRangeAt")
async def storage_range_at(
    ctx: RequestContext,
    block_hash: Hash,
    tx_index: int,
    address: Address,
    key_start: object,
    max_result: int,
) -> dict[str, Any]:
    """geth's: the contract's storage as transaction ``tx_index`` of the block found it,
    in hashed-slot order from ``key_start`` (a hashed slot, short hex allowed), at most
    ``max_result`` entries: ``{"storage": {hashed: {"key", "value"}}, "nextKey"}``."""
    if not 0 <= tx_index <= 2**32:
        raise invalid(1, "transaction index out of range")
    if not 0 <= max_result <= MAX_STORAGE_RANGE:
        raise invalid(4, f"maxResult must be in 0..{MAX_STORAGE_RANGE}")
    if not isinstance(key_start, str) or not key_start.startswith("0x") or len(key_start) > 66:
        raise invalid(3, "keyStart must be hex of at most 32 bytes")
    try:
        start = bytes.fromhex(key_start[2:].rjust(64, "0"))
    except ValueError:
        raise invalid(3, "keyStart must be hex of at most 32 bytes") from None
    entries, next_key = await node_of(ctx).storage_range_at(
        block_hash, tx_index, address, start, max_result
    )
    return {
        "storage": {
            data(hashed): {"key": f"0x{slot:064x}", "value": f"0x{value:064x}"}
            for hashed, slot, value in entries
        },
        "nextKey": None if next_key is None else data(next_key),
    }


@method("debug_dbGet")
async def db_get(ctx: RequestContext, key: Data) -> str:
    """geth's raw database read, over this node's own keys: the chain-meta records
    (e.g. ``0x6465765f73746174655f6564697473``, ``dev_state_edits``: the pending dev
    edits); -32000 ``not found`` for any other key (geth's answer for a missing one)."""
    if len(key) > 1024:
        raise invalid(0, "key longer than 1024 bytes")
    value = node_of(ctx).chain_meta(key)
    if value is None:
        raise NodeError("not found")
    return data(value)


@method("debug_traceBlock")
async def trace_block_rlp(
    ctx: RequestContext, raw_block: Data, options: object = None
) -> list[Any]:
    """geth's debug_traceBlock: a block given as its RLP. A devnet traces its own
    blocks: the block must be one of this chain's (found by its header's hash);
    another chain's block is refused (its parent state is not here)."""
    try:
        decoded = rlp.decode(raw_block)
        if not isinstance(decoded, list) or not decoded or not isinstance(decoded[0], list):
            raise ValueError("not [header, transactions, ommers, withdrawals]")
        block_hash = Header.from_fields(decoded[0]).hash()
    except (rlp.RLPDecodingError, ValueError) as error:
        raise invalid(0, f"not a block RLP: {error}") from None
    if node_of(ctx).block_by_hash(block_hash) is None:
        raise ResourceNotFound(f"block 0x{block_hash.hex()} is not in this chain")
    return await _trace_block(ctx, BlockId(hash=block_hash), options)
