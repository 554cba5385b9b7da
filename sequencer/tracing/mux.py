"""geth's ``muxTracer``: several tracers over one execution, each result by name.

``MuxTracer`` forwards every hook to each of its tracers in order; its result maps
each tracer's name to that tracer's result. The Parity-style ``trace_replay*``
methods use it to take a call tree and a state diff from one re-execution.
"""

from __future__ import annotations

from collections.abc import Sequence

from jit.evm.frame import Evm
from jit.evm.state import Log, TxState
from jit.evm.tracing import Tracer
from statedb.types import Address


class MuxTracer(Tracer):
    def __init__(self, tracers: Sequence[tuple[str, Tracer]]) -> None:
        self.tracers = tuple(tracers)
        self._all = tuple(tracer for _, tracer in self.tracers)

    def enter(self, evm: Evm) -> None:
        for tracer in self._all:
            tracer.enter(evm)

    def exit(self, evm: Evm) -> None:
        for tracer in self._all:
            tracer.exit(evm)

    def step(self, evm: Evm, pc: int, op: int) -> None:
        for tracer in self._all:
            tracer.step(evm, pc, op)

    def step_end(self, evm: Evm, op: int, error: BaseException | None) -> None:
        for tracer in self._all:
            tracer.step_end(evm, op, error)

    def precompile(self, evm: Evm, gas_used: int) -> None:
        for tracer in self._all:
            tracer.precompile(evm, gas_used)

    def log(self, evm: Evm, log: Log) -> None:
        for tracer in self._all:
            tracer.log(evm, log)

    def selfdestruct(self, evm: Evm, beneficiary: Address, value: int) -> None:
        for tracer in self._all:
            tracer.selfdestruct(evm, beneficiary, value)

    def done(self, state: TxState) -> None:
        for tracer in self._all:
            tracer.done(state)
