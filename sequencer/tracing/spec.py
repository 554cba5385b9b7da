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
from sequencer.tracing.simple import FourByteTracer, NoopTracer
from sequencer.tracing.struct import StructConfig, StructLogger, StructTrace

CALL_TRACER: Final = "callTracer"
FOUR_BYTE_TRACER: Final = "4byteTracer"
NOOP_TRACER: Final = "noopTracer"
TRACERS: Final = (CALL_TRACER, FOUR_BYTE_TRACER, NOOP_TRACER)

TraceResult = CallFrame | StructTrace | dict[str, int]


@dataclass(frozen=True, slots=True)
class TraceOptions:
    tracer: str | None = None  # None: the struct logger
    struct: StructConfig = field(default_factory=StructConfig)
    only_top_call: bool = False  # callTracer
    with_log: bool = False  # callTracer

    def __post_init__(self) -> None:
        if self.tracer is not None and self.tracer not in TRACERS:
            raise ValueError(f"unknown tracer {self.tracer!r}")


def new_tracer(options: TraceOptions, max_bytes: int) -> Tracer:
    if options.tracer is None:
        return StructLogger(options.struct, max_bytes)
    if options.tracer == CALL_TRACER:
        return CallTracer(options.only_top_call, options.with_log)
    if options.tracer == FOUR_BYTE_TRACER:
        return FourByteTracer()
    return NoopTracer()


def trace_result(tracer: Tracer, tx: TransactionLike, outcome: TxOutcome) -> TraceResult:
    if isinstance(tracer, StructLogger):
        return tracer.result(outcome)
    if isinstance(tracer, CallTracer):
        return tracer.result(tx, outcome)
    if isinstance(tracer, FourByteTracer | NoopTracer):
        return tracer.result()
    raise TypeError(f"not a tracer of this module: {type(tracer).__name__}")
