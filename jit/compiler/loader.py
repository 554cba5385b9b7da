"""Loading generated source: ``compile()`` into a fresh globals dict, with the
source registered in ``linecache`` so tracebacks through compiled code show
the generated lines."""

from __future__ import annotations

import linecache
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jit.compiler.codegen import GeneratedModule
from jit.compiler.runtime import base_namespace
from jit.evm.frame import Evm


@dataclass(frozen=True, slots=True)
class Program:
    """A contract's compiled code for one fork."""

    run: Callable[[Evm], None]
    jumpdests: frozenset[int]
    filename: str
    source: str
    regions: int
    compile_seconds: float


def load(module: GeneratedModule, filename: str, compile_seconds: float = 0.0) -> Program:
    namespace: dict[str, Any] = base_namespace()
    namespace.update(module.handlers)
    code_object = compile(module.source, filename, "exec")
    exec(code_object, namespace)  # our own generated source
    lines = module.source.splitlines(keepends=True)
    linecache.cache[filename] = (len(module.source), None, lines, filename)
    return Program(
        namespace["run"],
        module.jumpdests,
        filename,
        module.source,
        len(module.region_starts),
        compile_seconds,
    )


def unload(program: Program) -> None:
    """Forget the program's source in ``linecache`` (on cache eviction)."""
    linecache.cache.pop(program.filename, None)
