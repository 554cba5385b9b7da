"""Execution engines for the conformance harness, and what an execution observably did.

``runner(mode)`` is the ``engine=`` argument of ``execute_transaction`` /
``execute_system_call`` for a ``jit.compiler.Engine`` mode: None for the
interpreter, else the runner of one Engine per mode and process, compiling
synchronously (``background=False``), so every fixture runs through the
compiled code from its first execution ("jit", "native") or from its second
("auto"). "native" compiles every covered region to machine code
(``native_every_region``), not only those worth a crossing: the strictest check.

``observe_tx`` / ``observe_system_call`` reduce an execution to what the engines
must agree on exactly (issue 6): result kind, gas, output, state diff, logs,
and the read sets and out-of-gas count the node's eth_createAccessList and
eth_estimateGas rely on. ``first_difference`` names the first field where two
observations differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from jit.compiler import ENGINE_MODES, Engine
from jit.evm.exceptions import InvalidTransaction
from jit.evm.state import CodeRunner
from jit.evm.transaction import SystemCallResult, TxOutcome
from statedb.types import StateDiff

_ENGINES: dict[str, Engine] = {}

Observation = tuple[tuple[str, Any], ...]


def runner(mode: str) -> CodeRunner | None:
    """The code runner for ``mode`` (one Engine per mode in this process)."""
    if mode not in ENGINE_MODES:
        raise ValueError(f"unknown engine {mode!r}; choose one of {', '.join(ENGINE_MODES)}")
    if mode == "interpreter":
        return None
    engine = _ENGINES.get(mode)
    if engine is None:
        engine = _ENGINES[mode] = Engine(
            mode, background=False, native_every_region=mode == "native"
        )
    return engine.runner


def engine_stats() -> dict[str, Any]:
    """The stats of this process's engines, as plain dicts."""
    out = {}
    for mode, engine in _ENGINES.items():
        stats = engine.stats()
        out[mode] = {
            name: getattr(stats, name)
            for name in (
                "compiled",
                "failed",
                "cached",
                "compile_seconds",
                "compiled_runs",
                "interpreted_runs",
                "native_regions",
            )
        }
    return out


def _diff(diff: StateDiff) -> tuple[Any, ...]:
    return (
        ("accounts", dict(diff.accounts)),
        ("storage", {a: dict(s) for a, s in diff.storage.items()}),
        ("codes", dict(diff.codes)),
        ("storage_cleared", set(diff.storage_cleared)),
    )


def _logs(logs: Sequence[Any]) -> tuple[tuple[bytes, tuple[bytes, ...], bytes], ...]:
    return tuple((log.address, tuple(log.topics), log.data) for log in logs)


def observe_tx(result: TxOutcome | InvalidTransaction) -> Observation:
    if isinstance(result, InvalidTransaction):
        return (("result", f"invalid: {type(result).__name__}"),)
    return (
        ("result", f"{result.result.name} {result.error or ''}".strip()),
        ("gas_used", result.gas_used),
        ("output", result.output),
        ("state_diff", _diff(result.diff)),
        ("logs", _logs(result.logs)),
        ("fee_credit", result.fee_credit),
        ("contract_address", result.contract_address),
        ("out_of_gas_halts", result.out_of_gas_halts),
        ("account_reads", result.account_reads),
        ("storage_reads", result.storage_reads),
        ("has_storage_reads", result.reads.has_storage),
    )


def observe_system_call(name: str, result: SystemCallResult | None) -> Observation:
    if result is None:
        return (("system_call", name), ("result", "no code"))
    return (
        ("system_call", name),
        ("result", "SUCCESS" if result.success else "HALT"),
        ("output", result.output),
        ("state_diff", _diff(result.diff)),
    )


def _short(value: Any, limit: int = 160) -> str:
    text = value.hex() if isinstance(value, bytes) else repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _describe(left: Any, right: Any) -> str:
    if isinstance(left, dict) and isinstance(right, dict):
        keys = [k for k in {*left, *right} if left.get(k, "<none>") != right.get(k, "<none>")]
        keys.sort(key=repr)
        shown = [
            f"[{_short(k, 44)}] {_short(left.get(k, '<none>'))} != {_short(right.get(k, '<none>'))}"
            for k in keys[:3]
        ]
        return "; ".join(shown) + (f" (+{len(keys) - 3} more)" if len(keys) > 3 else "")
    if isinstance(left, (set, frozenset)) and isinstance(right, (set, frozenset)):
        only_left = sorted(left - right, key=repr)[:3]
        only_right = sorted(right - left, key=repr)[:3]
        return f"only first {_short(only_left)}, only second {_short(only_right)}"
    return f"{_short(left)} != {_short(right)}"


def first_difference(a: Sequence[Observation], b: Sequence[Observation]) -> str | None:
    """None if the two sequences of observations are equal, else where they first differ."""
    if len(a) != len(b):
        return f"{len(a)} executions vs {len(b)}"
    for index, (left, right) in enumerate(zip(a, b)):
        if left == right:
            continue
        where = f"execution {index}"
        fields_b = dict(right)
        for name, value in left:
            other = fields_b.get(name, "<missing>")
            if value == other:
                continue
            if name == "state_diff" and isinstance(other, tuple):
                parts_b = dict(other)
                for part, part_value in value:
                    if part_value != parts_b.get(part):
                        return f"{where}: state_diff.{part}: " + _describe(
                            part_value, parts_b.get(part)
                        )
            return f"{where}: {name}: " + _describe(value, other)
        return f"{where}: fields differ"
    return None
