"""jit: EVM semantics. The interpreter (reference) and, later, the bytecode-to-Python compiler.

Imports ``statedb`` only.
"""
