"""Parity (OpenEthereum) trace JSON, as anvil and reth print it (issue 16).

Owns the conversion of a call tree (``sequencer.tracing.call.CallFrame``, taken as the
frames ran) into Parity's flat list (``flat_traces``; ``located`` adds the block and
transaction fields), Parity's error words, and ``stateDiff`` (``state_diff_json``).
Shared by ``trace_*`` (rpc.namespaces.trace) and geth's ``flatCallTracer``
(rpc.namespaces.debug).
"""

from __future__ import annotations

from typing import Any, Final

from rpc.codecs import data, quantity
from sequencer.tracing.call import CallFrame
from sequencer.tracing.prestate import AccountChange
from sequencer.tracing.vm import VmTrace
from sequencer.types.blocks import MiniBlock
from statedb.types import Account, Address

# geth's words (CallFrame.error) -> Parity's, as anvil prints them.
_PARITY_ERRORS: Final = {
    "execution reverted": "Reverted",
    "out of gas": "Out of gas",
    "invalid jump destination": "Bad jump destination",
    "stack underflow": "Stack underflow",
    "stack limit reached 1024": "Out of stack",
    "write protection": "Mutable Call In Static Context",
    "return data out of bounds": "Out of bounds",
    "precompiled contract failed": "Built-in failed",
    "contract address collision": "Contract address collision",
}


def _parity_error(error: str) -> str:
    if error.startswith("invalid opcode"):
        return "Bad instruction"
    return _PARITY_ERRORS.get(error, error)


def _action_and_result(frame: CallFrame) -> tuple[str, dict[str, Any], dict[str, Any] | None]:
    value = quantity(frame.value or 0)
    if frame.kind == "SELFDESTRUCT":
        action = {
            "address": data(frame.sender),
            "balance": value,
            "refundAddress": data(frame.to or b""),
        }
        return "suicide", action, None
    if frame.kind in ("CREATE", "CREATE2"):
        action = {
            "from": data(frame.sender),
            "gas": quantity(frame.gas),
            "init": data(frame.input),
            "value": value,
            "creationMethod": frame.kind.lower(),
        }
        result: dict[str, Any] | None = {
            "address": data(frame.to or b""),
            "code": data(frame.output),
            "gasUsed": quantity(frame.gas_used),
        }
    else:
        action = {
            "from": data(frame.sender),
            "callType": frame.kind.lower(),
            "gas": quantity(frame.gas),
            "input": data(frame.input),
            "to": data(frame.to or b""),
            "value": value,
        }
        result = {"gasUsed": quantity(frame.gas_used), "output": data(frame.output)}
    if frame.error is not None:
        if frame.error == "execution reverted":
            result = {"gasUsed": quantity(frame.gas_used), "output": data(frame.output)}
        else:
            result = None
    return ("create" if frame.kind in ("CREATE", "CREATE2") else "call"), action, result


def flat_traces(
    frame: CallFrame, *, include_precompiles: bool = True, parity_errors: bool = True
) -> list[dict[str, Any]]:
    """The call tree as Parity's flat list (without the block and transaction fields).
    ``include_precompiles`` False drops calls into precompiles (geth's flatCallTracer
    default); ``parity_errors`` False keeps geth's error words."""
    out: list[dict[str, Any]] = []

    def visit(node: CallFrame, path: list[int]) -> None:
        kind, action, result = _action_and_result(node)
        entry: dict[str, Any] = {"action": action}
        if node.error is not None:
            entry["error"] = _parity_error(node.error) if parity_errors else node.error
        entry["result"] = result
        children = [c for c in node.calls if include_precompiles or not c.precompile]
        entry["subtraces"] = len(children)
        entry["traceAddress"] = path
        entry["type"] = kind
        out.append(entry)
        for index, child in enumerate(children):
            visit(child, [*path, index])

    visit(frame, [])
    return out


def located(
    traces: list[dict[str, Any]], block: MiniBlock, tx_hash: bytes, position: int
) -> list[dict[str, Any]]:
    located = []
    for trace in traces:
        entry = {"action": trace["action"], "blockHash": data(block.hash)}
        entry["blockNumber"] = block.number
        if "error" in trace:
            entry["error"] = trace["error"]
        entry["result"] = trace["result"]
        entry["subtraces"] = trace["subtraces"]
        entry["traceAddress"] = trace["traceAddress"]
        entry["transactionHash"] = data(tx_hash)
        entry["transactionPosition"] = position
        entry["type"] = trace["type"]
        located.append(entry)
    return located


def _change(before: object, after: object) -> Any:
    if before == after:
        return "="
    return {"*": {"from": before, "to": after}}


def state_diff_json(changes: dict[Address, AccountChange]) -> dict[str, Any]:
    """Parity's stateDiff, as anvil prints it: ``+`` for a contract the transaction
    created, ``-`` for an account it deleted, else each field ``=`` or ``*`` (an account
    that merely did not exist before, e.g. a transfer's new recipient, counts as an
    empty one that changed)."""
    out: dict[str, Any] = {}
    for address, change in changes.items():
        old, new = change.before, change.after
        if (old is None and change.created) or new is None:
            mark = "+" if new is not None else "-"
            account = new if new is not None else old
            code = change.code_after if new is not None else change.code_before
            side = 1 if new is not None else 0
            entry: dict[str, Any] = {
                "balance": {mark: quantity(account.balance if account else 0)},
                "code": {mark: data(code)},
                "nonce": {mark: quantity(account.nonce if account else 0)},
                "storage": {
                    f"0x{slot:064x}": {mark: f"0x{values[side]:064x}"}
                    for slot, values in change.storage.items()
                },
            }
        else:
            before = old or Account()
            entry = {
                "balance": _change(quantity(before.balance), quantity(new.balance)),
                "code": _change(data(change.code_before), data(change.code_after)),
                "nonce": _change(quantity(before.nonce), quantity(new.nonce)),
                "storage": {
                    f"0x{slot:064x}": {"*": {"from": f"0x{a:064x}", "to": f"0x{b:064x}"}}
                    for slot, (a, b) in change.storage.items()
                },
            }
        out[data(address)] = entry
    return out


def vm_trace_json(trace: VmTrace) -> dict[str, Any]:
    """OpenEthereum's vmTrace: ``{code, ops: [{cost, ex: {mem, push, store, used}, pc,
    sub}]}`` (``ex`` null for an instruction that failed)."""
    ops = []
    for op in trace.ops:
        ex: dict[str, Any] | None = None
        if op.used is not None:
            ex = {
                "mem": None if op.mem is None else {"data": data(op.mem[1]), "off": op.mem[0]},
                "push": [hex(word) for word in op.push],
                "store": None
                if op.store is None
                else {"key": hex(op.store[0]), "val": hex(op.store[1])},
                "used": op.used,
            }
        ops.append(
            {
                "cost": op.cost,
                "ex": ex,
                "pc": op.pc,
                "sub": None if op.sub is None else vm_trace_json(op.sub),
                "op": op.op,
            }
        )
    return {"code": data(trace.code), "ops": ops}
