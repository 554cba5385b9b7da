"""Which covered regions are worth machine code.

Entering native code from Python costs a few microseconds (the stack is copied in and
out as 32-byte words), about what the Python JIT spends on 100-300 instructions. A
covered region pays for that only if execution stays in native code for a while: when
it lies on a cycle of covered regions (a loop that runs entirely natively), or when it
is long by itself. Short covered regions between storage accesses, calls and logs (an
ERC-20 transfer's) stay with the Python JIT, which runs them without a crossing.

Edges are the control flow the bytecode shows: a fall-through, a jump whose target is
pushed just before it, and for a jump whose target comes from further away (a Solidity
internal function's return), every covered JUMPDEST whose offset is pushed somewhere
in the code (a return address).
"""

from __future__ import annotations

from collections.abc import Sequence

from jit.compiler.analysis import JUMP, JUMPI, Region

LONG_REGION = 48  # instructions: worth a crossing on its own


def worth_compiling(covered: Sequence[Region], jumpdests: frozenset[int]) -> list[Region]:
    """The regions of ``covered`` to compile natively, in their order."""
    starts = {region.start for region in covered}
    pushed = {
        ins.immediate
        for region in covered
        for ins in region.instructions
        if 0x60 <= ins.op <= 0x7F and ins.immediate in jumpdests and ins.immediate in starts
    }
    edges = {region.start: _successors(region, starts, pushed) for region in covered}
    looping = _on_cycles(edges)
    return [
        region
        for region in covered
        if region.start in looping or len(region.instructions) >= LONG_REGION
    ]


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
