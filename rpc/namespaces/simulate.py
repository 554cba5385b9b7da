"""eth_simulateV1: the request object in, simulated blocks with their call results out.

Owns decoding ``{blockStateCalls, validation, traceTransfers, returnFullTransactions}``
into ``sequencer.simulate_v1`` specs (bad shapes are -32602) and shaping the answer:
each block as eth_getBlockByNumber shows it, plus ``calls`` (status, returnData,
gasUsed, logs, error). The engine is ``sequencer.simulate_v1``.
"""

from __future__ import annotations

from typing import Any

from rpc.codecs import data, invalid, json_type, quantity
from rpc.dispatch import BlockIdParam, RequestContext, method
from rpc.namespaces.eth import LATEST, block_number, node_of
from rpc.requests import parse_block_overrides, parse_call_request, parse_state_overrides
from rpc.serialize import block_json, log_json
from sequencer.chain import LogEntry
from sequencer.simulate_v1 import (
    MAX_CALLS_PER_REQUEST,
    MAX_SIMULATED_BLOCKS,
    SimulatedBlock,
    SimulatedBlockSpec,
)

_OPTIONS = ("validation", "traceTransfers", "returnFullTransactions")


def _flag(obj: dict[str, Any], name: str) -> bool:
    value = obj.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise invalid(0, f"{name}: cannot unmarshal {json_type(value)} into bool")
    return value


def _hex_numbers(value: object) -> object:
    """JSON integers in an object as hex quantities (anvil takes both; web3.py's
    ``simulate_v1`` passes fields its formatters do not know, like ``time``, as numbers)."""
    if not isinstance(value, dict):
        return value
    return {
        key: hex(item)
        if isinstance(item, int) and not isinstance(item, bool) and item >= 0
        else item
        for key, item in value.items()
    }


def _state_overrides(value: object) -> object:
    if not isinstance(value, dict):
        return value
    return {address: _hex_numbers(spec) for address, spec in value.items()}


def parse_simulation(value: object) -> tuple[list[SimulatedBlockSpec], dict[str, bool]]:
    """The first parameter: (block specs, options)."""
    if not isinstance(value, dict):
        raise invalid(0, f"cannot unmarshal {json_type(value)} into SimOpts")
    raw_blocks = value.get("blockStateCalls")
    if raw_blocks is None:
        raise invalid(0, "blockStateCalls: missing")
    if not isinstance(raw_blocks, list):
        raise invalid(0, f"blockStateCalls: cannot unmarshal {json_type(raw_blocks)} into array")
    if not raw_blocks:
        raise invalid(0, "blockStateCalls: empty input")
    if len(raw_blocks) > MAX_SIMULATED_BLOCKS:
        raise invalid(
            0, f"blockStateCalls: too many blocks ({len(raw_blocks)}, limit {MAX_SIMULATED_BLOCKS})"
        )
    specs = []
    total_calls = 0
    for index, raw in enumerate(raw_blocks):
        where = f"blockStateCalls[{index}]"
        if not isinstance(raw, dict):
            raise invalid(0, f"{where}: cannot unmarshal {json_type(raw)} into SimBlock")
        calls = raw.get("calls")
        if calls is None:
            calls = []
        if not isinstance(calls, list):
            raise invalid(0, f"{where}.calls: cannot unmarshal {json_type(calls)} into array")
        total_calls += len(calls)
        if total_calls > MAX_CALLS_PER_REQUEST:
            raise invalid(0, f"too many calls (limit {MAX_CALLS_PER_REQUEST})")
        specs.append(
            SimulatedBlockSpec(
                block_override=parse_block_overrides(_hex_numbers(raw.get("blockOverrides")), 0),
                state_overrides=parse_state_overrides(
                    _state_overrides(raw.get("stateOverrides")), 0
                ),
                calls=tuple(parse_call_request(_hex_numbers(call), 0) for call in calls),
            )
        )
    return specs, {name: _flag(value, name) for name in _OPTIONS}


def simulated_block_json(simulated: SimulatedBlock, full: bool) -> dict[str, Any]:
    block = simulated.block
    out = block_json(block, full)
    calls = []
    log_index = 0
    for index, call in enumerate(simulated.calls):
        tx_hash = block.transactions[index].hash
        logs = []
        for log in call.logs:
            entry = LogEntry(log, block.number, block.hash, index, tx_hash, log_index)
            logs.append(log_json(entry, block.header.timestamp))
            log_index += 1
        result: dict[str, Any] = {
            "status": quantity(call.status),
            "returnData": data(call.return_data),
            "gasUsed": quantity(call.gas_used),
            "logs": logs,
        }
        if call.error is not None:
            error: dict[str, Any] = {"code": call.error.code, "message": call.error.message}
            if call.error.data is not None:
                error["data"] = data(call.error.data)
            result["error"] = error
        calls.append(result)
    out["calls"] = calls
    return out


@method("eth_simulateV1")
async def simulate_v1(
    ctx: RequestContext, options: object, block: BlockIdParam = LATEST
) -> list[dict[str, Any]]:
    node = node_of(ctx)
    specs, flags = parse_simulation(options)
    blocks = await node.simulate_v1(
        specs,
        block_number(node, block),
        validation=flags["validation"],
        trace_transfers=flags["traceTransfers"],
    )
    return [simulated_block_json(b, flags["returnFullTransactions"]) for b in blocks]
