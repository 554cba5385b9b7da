"""What a program's runs did, region by region: the native tier's selection reads it.

Under ``--engine native`` in the node, a program's first ``NATIVE_HOT_RUNS`` runs go
through ``runtime.profiled_trampoline``, which counts every step from one region
function to the next. ``RegionProfile`` is that count keyed by region starts: how often
each region ran and from where, so ``jit.native.selection`` compiles what execution
actually stays in (a loop's regions) and leaves to the Python JIT what it only passes
through (an ERC-20 transfer's regions, each run once between storage accesses).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# (the function run before, or None at a frame's entry; the function run) -> times.
Transitions = dict[tuple[Any, Any], int]


@dataclass(frozen=True, slots=True)
class RegionProfile:
    """Counted steps between regions over ``runs`` runs of a program: (the region run
    before, or None at a frame's entry; the region run) -> times, by region start."""

    runs: int
    transitions: Mapping[tuple[int | None, int], int]

    def counts(self) -> dict[int, int]:
        """How often each region ran."""
        out: dict[int, int] = {}
        for (_, start), times in self.transitions.items():
            out[start] = out.get(start, 0) + times
        return out


def region_start(function: Any) -> int:
    """The start of the region a generated function (or its lazy stub) runs: both are
    named ``r_<start>``, a native entry point ``native_r_<start>``."""
    return int(function.__name__.rpartition("r_")[2])


def profile_from(transitions: Transitions, runs: int) -> RegionProfile:
    """The profile of ``runs`` runs whose steps ``profiled_trampoline`` counted. A lazy
    stub and the function it compiles are the same region, so their counts add up."""
    out: dict[tuple[int | None, int], int] = {}
    for (before, function), times in transitions.items():
        key = (None if before is None else region_start(before), region_start(function))
        out[key] = out.get(key, 0) + times
    return RegionProfile(runs, out)
