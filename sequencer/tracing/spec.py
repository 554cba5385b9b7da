"""Which tracer a trace request asked for, and its result.

Owns ``TraceOptions`` (geth's ``TraceConfig``: the tracer's name and its settings,
already validated by the rpc layer), ``new_tracer`` (a fresh tracer for one
transaction) and ``trace_result`` (the tracer's typed result once the transaction
ran). ``TRACERS`` lists the names served; the struct logger has none (``tracer``
absent).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from jit.evm.tracing import Tracer
from jit.evm.transaction import TransactionLike, TxOutcome
from sequencer.tracing.call import CallFrame, CallTracer
from sequencer.tracing.mux import MuxTracer
from sequencer.tracing.prestate import AccountChange, Prestate, PrestateDiff, PrestateTracer
from sequencer.tracing.simple import FourByteTracer, NoopTracer, SelectorCounts
from sequencer.tracing.struct import StructConfig, StructLogger, StructTrace
from sequencer.tracing.vm import VmTrace, VmTracer
from statedb.types import Address

CALL_TRACER: Final = "callTracer"
FOUR_BYTE_TRACER: Final = "4byteTracer"
NOOP_TRACER: Final = "noopTracer"
PRESTATE_TRACER: Final = "prestateTracer"
MUX_TRACER: Final = "muxTracer"
FLAT_CALL_TRACER: Final = "flatCallTracer"
# What a client may name (geth's built-in tracers served here).
TRACERS: Final = (
    CALL_TRACER,
    FLAT_CALL_TRACER,
    FOUR_BYTE_TRACER,
    NOOP_TRACER,
    PRESTATE_TRACER,
    MUX_TRACER,
)
# Internal: the accounts changed, before and after (Parity's stateDiff), and Parity's
# per-instruction vmTrace.
STATE_CHANGES: Final = "stateChanges"
VM_TRACE: Final = "vmTrace"


@dataclass(frozen=True, slots=True)
class StateChanges:
    changes: dict[Address, AccountChange]


@dataclass(frozen=True, slots=True)
class FlatCalls:
    """flatCallTracer: the call tree as executed, shown as Parity's flat list."""

    frame: CallFrame
    include_precompiles: bool
    parity_errors: bool


@dataclass(frozen=True, slots=True)
class MuxResult:
    results: dict[str, TraceResult]


TraceResult = (
    CallFrame
    | StructTrace
    | SelectorCounts
    | Prestate
    | PrestateDiff
    | StateChanges
    | FlatCalls
    | VmTrace
    | MuxResult
)


@dataclass(frozen=True, slots=True)
class TraceOptions:
    tracer: str | None = None  # None: the struct logger
    struct: StructConfig = field(default_factory=StructConfig)
    only_top_call: bool = False  # callTracer
    with_log: bool = False  # callTracer
    diff_mode: bool = False  # prestateTracer
    disable_code: bool = False  # prestateTracer
    disable_storage: bool = False  # prestateTracer
    # callTracer as Parity-style traces need it: the top frame's gasUsed as executed.
    as_executed: bool = False
    include_precompiles: bool = False  # flatCallTracer
    convert_parity_errors: bool = False  # flatCallTracer
    # muxTracer: (name, options) of each tracer it runs.
    mux: tuple[tuple[str, TraceOptions], ...] = ()

    def __post_init__(self) -> None:
        if self.tracer is not None and self.tracer not in (*TRACERS, STATE_CHANGES, VM_TRACE):
            raise ValueError(f"unknown tracer {self.tracer!r}")
        if any(name == MUX_TRACER for name, _ in self.mux):
            raise ValueError("a muxTracer cannot hold a muxTracer")


def new_tracer(options: TraceOptions, max_bytes: int, coinbase: Address) -> Tracer:
    """A fresh tracer for one transaction in a block whose coinbase is ``coinbase``."""
    if options.tracer is None:
        return StructLogger(options.struct, max_bytes)
    if options.tracer == CALL_TRACER:
        return CallTracer(options.only_top_call, options.with_log)
    if options.tracer == FLAT_CALL_TRACER:
        return CallTracer()
    if options.tracer == FOUR_BYTE_TRACER:
        return FourByteTracer()
    if options.tracer == PRESTATE_TRACER:
        return PrestateTracer(
            coinbase, options.diff_mode, options.disable_code, options.disable_storage
        )
    if options.tracer == STATE_CHANGES:
        return PrestateTracer(coinbase, diff_mode=True)
    if options.tracer == VM_TRACE:
        return VmTracer(max_bytes)
    if options.tracer == MUX_TRACER:
        return MuxTracer(
            [(name, new_tracer(inner, max_bytes, coinbase)) for name, inner in options.mux]
        )
    return NoopTracer()


def trace_result(
    tracer: Tracer, options: TraceOptions, tx: TransactionLike, outcome: TxOutcome
) -> TraceResult:
    if isinstance(tracer, StructLogger):
        return tracer.result(outcome)
    if isinstance(tracer, CallTracer):
        if options.tracer == FLAT_CALL_TRACER:
            return FlatCalls(
                tracer.frames(tx, outcome),
                options.include_precompiles,
                options.convert_parity_errors,
            )
        if options.as_executed:
            return tracer.frames(tx, outcome)
        return tracer.result(tx, outcome)
    if isinstance(tracer, PrestateTracer):
        if options.tracer == STATE_CHANGES:
            return StateChanges(tracer.changes(outcome))
        return tracer.result(outcome)
    if isinstance(tracer, MuxTracer):
        return MuxResult(
            {
                name: trace_result(inner, inner_options, tx, outcome)
                for (name, inner), (_, inner_options) in zip(
                    tracer.tracers, options.mux, strict=True
                )
            }
        )
    if isinstance(tracer, VmTracer):
        return tracer.result()
    if isinstance(tracer, FourByteTracer | NoopTracer):
        return tracer.result()
    raise TypeError(f"not a tracer of this module: {type(tracer).__name__}")
