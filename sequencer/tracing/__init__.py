"""Transaction tracers (issue 16): geth's built-in tracers over ``jit.evm.tracing``.

``call`` (callTracer, flatCallTracer's input), ``struct`` (the struct logger, geth's
default), ``simple`` (4byteTracer, noopTracer), ``errors`` (geth's wording for halts).
Each tracer is a ``jit.evm.tracing.Tracer`` that builds a typed result; the rpc layer
turns results into geth's JSON.
"""
