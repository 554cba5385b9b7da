"""The bytecode-to-Python compiler (DESIGN.md §6): analysis, code generation,
loading, a cache keyed by (code hash, fork), and ``Engine``, the one switch
between the interpreter and compiled code."""

from jit.compiler.engine import ENGINE_MODES, Engine, EngineStats

__all__ = ["ENGINE_MODES", "Engine", "EngineStats"]
