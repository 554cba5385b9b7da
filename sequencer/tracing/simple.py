"""geth's ``4byteTracer`` and ``noopTracer``.

``FourByteTracer`` counts, for the transaction's top call and every message call
(not creates), the 4-byte selector and the size of the arguments after it
(``eth/tracers/native/4byte.go``): ``"0xa9059cbb-64": 1``. Calls to precompiles count
too, as anvil counts them (geth leaves them out).
``NoopTracer`` observes nothing and answers ``{}``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from jit.evm.frame import Evm
from jit.evm.tracing import Tracer


@dataclass(frozen=True, slots=True)
class SelectorCounts:
    """``"0x<selector>-<argument bytes>"`` -> how many calls (noopTracer: none)."""

    counts: dict[str, int]


class FourByteTracer(Tracer):
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def enter(self, evm: Evm) -> None:
        msg = evm.msg
        if msg.target is None or len(msg.data) < 4:
            return  # a create, or no selector
        self.counts[f"0x{msg.data[:4].hex()}-{len(msg.data) - 4}"] += 1

    def result(self) -> SelectorCounts:
        return SelectorCounts(dict(self.counts))


class NoopTracer(Tracer):
    def result(self) -> SelectorCounts:
        return SelectorCounts({})
