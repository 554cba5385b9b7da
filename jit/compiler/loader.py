"""Loading generated code into a fresh globals dict, with the source
registered in ``linecache`` so tracebacks through compiled code show the
generated lines.

Two ways: ``load_eager`` compiles every region at once (the background
compiler, ``scripts/dump_jit.py``); ``load_lazy`` installs a stub per region
that generates and compiles the region the first time execution enters it,
so a call pays only for the code it runs (most of a contract's regions, such
as the other functions' bodies, never run in a given call).
"""

from __future__ import annotations

import linecache
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jit.compiler.codegen import Translation, generate, handler_names
from jit.compiler.runtime import base_namespace, profiled_trampoline, trampoline
from jit.evm.frame import Evm

Region = Callable[[Evm], Any]


class CompileClock:
    """CPU seconds spent compiling, shared by an engine and its programs."""

    __slots__ = ("native_regions", "regions", "seconds")

    def __init__(self) -> None:
        self.seconds = 0.0
        self.regions = 0
        self.native_regions = 0


@dataclass(frozen=True, slots=True)
class Program:
    """A contract's compiled code for one fork."""

    namespace: dict[str, Any]
    jumpdests: frozenset[int]
    filename: str
    regions: int
    compile_seconds: float  # eager: the whole compile; lazy: the set-up only

    def run(self, evm: Evm) -> None:
        trampoline(self.namespace["r_0"], evm)

    def run_profiled(self, evm: Evm, transitions: dict[tuple[Any, Any], int]) -> None:
        """``run``, counting its steps between regions (``jit.compiler.profile``)."""
        profiled_trampoline(self.namespace["r_0"], evm, transitions)

    def source(self) -> str:
        """The generated source of the regions compiled so far (all, if eager)."""
        entry = linecache.cache.get(self.filename)
        return "".join(entry[2]) if entry is not None and len(entry) == 4 else ""


def _namespace(translation: Translation) -> dict[str, Any]:
    namespace = base_namespace()
    namespace.update(handler_names(translation.rules))
    namespace["JUMP_TABLE"] = {}
    return namespace


def load_eager(translation: Translation, filename: str) -> Program:
    started = time.thread_time()
    module = generate(translation.code, translation.rules)
    namespace = _namespace(translation)
    exec(compile(module.source, filename, "exec"), namespace)  # our own generated source
    jump_table = namespace["JUMP_TABLE"]
    for start in module.region_starts:
        if start in translation.jumpdests:
            jump_table[start] = namespace[f"r_{start}"]
    linecache.cache[filename] = (
        len(module.source),
        None,
        module.source.splitlines(keepends=True),
        filename,
    )
    return Program(
        namespace,
        translation.jumpdests,
        filename,
        len(module.region_starts),
        time.thread_time() - started,
    )


def load_lazy(translation: Translation, filename: str, clock: CompileClock) -> Program:
    started = time.thread_time()
    namespace = _namespace(translation)
    jump_table = namespace["JUMP_TABLE"]
    lines: list[str] = [translation.header()]
    linecache.cache[filename] = (0, None, lines, filename)

    def stub_for(start: int) -> Region:
        name = f"r_{start}"

        def stub(evm: Evm) -> Any:
            region = namespace[name]
            if region is stub:
                began = time.thread_time()
                text = translation.region_source(start)
                code_object = compile(text, filename, "exec")
                # Number the region's lines as they appear in the linecache text.
                first_line = len(lines) + 2
                lines.append("\n")
                lines.extend(text.splitlines(keepends=True))
                exec(code_object, namespace)
                region = namespace[name]
                region.__code__ = region.__code__.replace(
                    co_firstlineno=region.__code__.co_firstlineno + first_line - 1
                )
                if start in translation.jumpdests:
                    jump_table[start] = region
                clock.seconds += time.thread_time() - began
                clock.regions += 1
            return region(evm)

        stub.__name__ = stub.__qualname__ = name  # a profile counts it as its region
        return stub

    for region in translation.regions:
        stub = stub_for(region.start)
        namespace[f"r_{region.start}"] = stub
        if region.start in translation.jumpdests:
            jump_table[region.start] = stub
    return Program(
        namespace,
        translation.jumpdests,
        filename,
        len(translation.regions),
        time.thread_time() - started,
    )


def unload(program: Program) -> None:
    """Forget the program's source in ``linecache`` (on cache eviction)."""
    linecache.cache.pop(program.filename, None)
