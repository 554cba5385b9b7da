"""Which covered regions are worth machine code.

Entering native code from Python costs a few microseconds (the stack is copied in and
out as 32-byte words), about what the Python JIT spends on 100-300 instructions. A
covered region pays for that only if execution stays in native code for a while: when
it lies on a cycle of covered regions (a loop that runs entirely natively), or when it
is long by itself. Short covered regions between storage accesses, calls and logs (an
ERC-20 transfer's) stay with the Python JIT, which runs them without a crossing.

A host call (``irgen``: SLOAD, SSTORE, KECCAK256, LOG...) costs more from machine code
than from the Python JIT: the C callback and the operand copies add ~3-5 µs to the handler,
while the Python JIT calls it directly. A region is worth it only if its inline
instructions (~0.08 µs each in the Python JIT, next to nothing natively) outweigh its
host calls (``HOST_CALL_WEIGHT`` instructions each, more for the ones that move memory
in and out): a loop of keccak rounds or an ERC-20 transfer's storage accesses stays
with the Python JIT, a sort that hashes its result once does not.

Compile time is bounded by a budget (``MAX_COST``, about two seconds of LLVM CPU time
on the machine of docs/benchmarks.md): ``cost`` weighs what was measured to dominate
it (each region's entry checks and exits, each memory instruction's resume point and
EXP's exponent loop); regions on cycles come first, then long ones, in code order,
until the budget is spent. The rest stays with the Python JIT.

In the node (``--engine native`` in the background) the program's first runs are
profiled (``jit.compiler.profile``) and ``chosen_by_profile`` decides from what they
did: the gain of each region's runs against the crossings into machine code and the
compile time, so code that runs each region once per transaction (an ERC-20 token's)
is not built at all, while a loop through Solidity's internal functions is. Without a
profile (tests, the conformance runner, benchmarks compile at once) ``worth_compiling``
decides from the bytecode alone, as follows.

Edges are the control flow the bytecode shows: a fall-through, a jump whose target is
pushed just before it, and for a jump whose target comes from further away (a Solidity
internal function's return), every covered JUMPDEST whose offset is pushed somewhere
in the code (a return address).
"""

from __future__ import annotations

from collections.abc import Sequence

from jit.compiler.analysis import JUMP, JUMPI, Region
from jit.compiler.profile import RegionProfile

LONG_REGION = 48  # instructions: worth a crossing on its own
# Measured (docs/benchmarks.md, "Native tier"): a host call costs about as much as this
# many inline instructions in the Python JIT; one that exports memory again, more.
HOST_CALL_WEIGHT = 50
HOST_MEMORY_CALL_WEIGHT = 80
# A call or create leaves machine code and comes back (two crossings, ~10 µs).
CALL_OUT_WEIGHT = 150
CALL_OUT_OPS = frozenset({0xF0, 0xF1, 0xF2, 0xF4, 0xF5, 0xFA})  # CREATE, CALL... (irgen)
# Compile cost in units of ~0.1 ms of LLVM time (measured, scripts in docs/benchmarks.md).
COST_INSTRUCTION = 2
COST_REGION = 50
COST_MEMORY = 100
COST_EXP = 30
# A host call: flush, call, reloads and a side exit; measured ~12 ms of LLVM each in
# one 3,000-call region when costed as a plain instruction (tests/.../test_bounds.py).
COST_HOST = 120
COST_KECCAK = 200  # the hash in machine code and the host call beside it
MAX_COST = 20_000
# With a profile (``chosen_by_profile``): a crossing from Python into machine code and
# back costs ~10 µs (``program.MIN_REGIONS_PER_CALL``), an inline instruction of the
# Python JIT ~0.08 µs, a cost unit ~0.1 ms of LLVM; machine code must earn its compile
# back within this many runs of the code like the profiled ones.
CROSSING_WEIGHT = 125
INSTRUCTION_US = 0.08
COMPILE_UNIT_US = 100
PAYBACK_RUNS = 10_000
MAX_REGIONS = 400  # LLVM's time grows faster than linearly with blocks beyond this


def cost(region: Region, host: frozenset[int] = frozenset()) -> int:
    """The region's estimated compile time (units of ~0.1 ms); ``host``: the bytes
    native code runs through the host call (KECCAK256 among them)."""
    total = COST_REGION
    for ins in region.instructions:
        op = ins.op
        if op in (0x51, 0x52, 0x53):
            total += COST_MEMORY
        elif op == 0x0A:
            total += COST_EXP
        elif op == 0x20 and op in host:
            total += COST_KECCAK
        elif op in host:
            total += COST_HOST
        else:
            total += COST_INSTRUCTION
    return total


def within_budget(regions: Sequence[Region], host: frozenset[int] = frozenset()) -> list[Region]:
    """The longest prefix of ``regions`` whose compile cost fits ``MAX_COST`` and
    ``MAX_REGIONS``, in code order."""
    spent = 0
    chosen: list[Region] = []
    for region in regions[:MAX_REGIONS]:
        spent += cost(region, host)
        if spent > MAX_COST:
            break
        chosen.append(region)
    return sorted(chosen, key=lambda region: region.start)


def balance(region: Region, host: frozenset[int], host_memory: frozenset[int]) -> int:
    """What one run of the region gains natively, in inline instructions of the Python
    JIT: its inline instructions less its host calls' and calls' weights (module doc)."""
    owed = 0
    inline = 0
    for ins in region.instructions:
        if ins.op in CALL_OUT_OPS and ins.op in host:
            owed += CALL_OUT_WEIGHT
        elif ins.op in host_memory:
            owed += HOST_MEMORY_CALL_WEIGHT
        elif ins.op in host:
            owed += HOST_CALL_WEIGHT
        else:
            inline += 1
    return inline - owed


def pays_for_host_calls(region: Region, host: frozenset[int], host_memory: frozenset[int]) -> bool:
    """Whether the region's inline instructions outweigh its host calls (module doc)."""
    return balance(region, host, host_memory) >= 0


def worth_compiling(
    covered: Sequence[Region],
    jumpdests: frozenset[int],
    host: frozenset[int] = frozenset(),
    host_memory: frozenset[int] = frozenset(),
    inline_host: frozenset[int] = frozenset(),
) -> list[Region]:
    """The regions of ``covered`` to compile natively (by priority within the budget),
    in code order: those that pay for their host calls (``host``: the bytes run through
    the host call, ``host_memory`` the ones of them that move memory), and of those,
    the ones on cycles and the long ones. ``inline_host``: host bytes machine code runs
    itself (KECCAK256), free for selection but not for the compile budget."""
    covered = [region for region in covered if pays_for_host_calls(region, host, host_memory)]
    starts = {region.start for region in covered}
    pushed = {
        ins.immediate
        for region in covered
        for ins in region.instructions
        if 0x60 <= ins.op <= 0x7F and ins.immediate in jumpdests and ins.immediate in starts
    }
    edges = {region.start: _successors(region, starts, pushed) for region in covered}
    looping = _on_cycles(edges)
    cycles = [region for region in covered if region.start in looping]
    long = [
        region
        for region in covered
        if region.start not in looping and len(region.instructions) >= LONG_REGION
    ]
    return within_budget(cycles + long, host | inline_host)


def _successors(region: Region, starts: set[int], pushed: set[int]) -> set[int]:
    out: set[int] = set()
    instructions = region.instructions
    for index, ins in enumerate(instructions):
        if ins.op not in (JUMP, JUMPI):
            continue
        previous = instructions[index - 1] if index else None
        if previous is not None and 0x5F <= previous.op <= 0x7F:
            if previous.immediate in starts:
                out.add(previous.immediate)
        else:
            out |= pushed
    if region.fallthrough is not None and region.fallthrough in starts:
        out.add(region.fallthrough)
    return out


def _on_cycles(edges: dict[int, set[int]]) -> set[int]:
    """The nodes on some cycle: members of strongly connected components of two or more
    nodes, or with an edge to themselves (Tarjan's algorithm, iterative)."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    out: set[int] = set()
    counter = 0
    for root in edges:
        if root in index:
            continue
        work: list[tuple[int, list[int]]] = [(root, sorted(edges[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, pending = work[-1]
            if pending:
                successor = pending.pop()
                if successor not in index:
                    index[successor] = low[successor] = counter
                    counter += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, sorted(edges[successor])))
                elif successor in on_stack:
                    low[node] = min(low[node], index[successor])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in edges[node]:
                    out.update(component)
    return out


def chosen_by_profile(
    covered: Sequence[Region],
    profile: RegionProfile,
    host: frozenset[int] = frozenset(),
    host_memory: frozenset[int] = frozenset(),
    inline_host: frozenset[int] = frozenset(),
) -> list[Region]:
    """The regions of ``covered`` to compile natively, in code order, as ``profile``
    (the program's first runs) says they pay.

    A set S of regions gains, per profiled run, what each of its regions' runs gains
    (``balance``) less ``CROSSING_WEIGHT`` for each step into S from outside it (a
    frame's entry included): every such step is a call from Python into machine code.
    Each region's compile time (``cost``), spread over ``PAYBACK_RUNS`` runs, is set
    against its gain. S starts as every covered region that ran; a region whose removal
    raises the gain is removed, until none is (a region run once between two storage
    accesses goes, a loop stays, and so does a loop's costly region when leaving it out
    would cost a crossing each iteration). Then each part of S that execution moves
    between (connected by steps) is kept only if its gain repays its compile time;
    parts in order of gain, within the budget."""
    by_start = {region.start: region for region in covered}
    ran = profile.counts()
    gain = {start: balance(by_start[start], host, host_memory) for start in by_start}
    into: dict[int, list[tuple[int | None, int]]] = {}
    out_of: dict[int, list[tuple[int, int]]] = {}
    for (before, start), times in profile.transitions.items():
        if start in by_start:
            into.setdefault(start, []).append((before, times))
        if before is not None and before in by_start and start != before:
            out_of.setdefault(before, []).append((start, times))
    runs = max(profile.runs, 1)
    # A region's compile time, spread over PAYBACK_RUNS runs: what it costs per run.
    compile_per_run = {
        start: cost(region, host | inline_host) * COMPILE_UNIT_US / (INSTRUCTION_US * PAYBACK_RUNS)
        for start, region in by_start.items()
    }
    chosen = {start for start in by_start if ran.get(start)}
    removed = True
    while removed:
        removed = False
        for start in sorted(chosen):
            entries_saved = sum(
                times for before, times in into.get(start, ()) if before not in chosen
            )
            entries_made = sum(times for after, times in out_of.get(start, ()) if after in chosen)
            change = (
                CROSSING_WEIGHT * (entries_saved - entries_made) - ran[start] * gain[start]
            ) / runs + compile_per_run[start]
            if change > 0:
                chosen.discard(start)
                removed = True
    parts: list[tuple[float, list[Region]]] = []
    for part in _parts(chosen, profile):
        entries = sum(
            times
            for start in part
            for before, times in into.get(start, ())
            if before not in part  # None (a frame's entry) included
        )
        total = sum(ran[start] * gain[start] for start in part) - CROSSING_WEIGHT * entries
        per_run = total / runs
        if per_run >= sum(compile_per_run[start] for start in part):
            parts.append((per_run, [by_start[start] for start in sorted(part)]))
    parts.sort(key=lambda item: -item[0])
    return within_budget([region for _, regions in parts for region in regions], host | inline_host)


def _parts(chosen: set[int], profile: RegionProfile) -> list[set[int]]:
    """``chosen`` split into the sets execution steps between (union-find)."""
    parent = {start: start for start in chosen}

    def root(start: int) -> int:
        while parent[start] != start:
            parent[start] = parent[parent[start]]
            start = parent[start]
        return start

    for before, start in profile.transitions:
        if before in parent and start in parent:
            parent[root(before)] = root(start)
    out: dict[int, set[int]] = {}
    for start in chosen:
        out.setdefault(root(start), set()).add(start)
    return list(out.values())
