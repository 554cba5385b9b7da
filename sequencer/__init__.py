"""sequencer: transaction types, pool, mini-block producer, executors and the Node facade.

Imports ``jit`` and ``statedb``; never ``rpc``.
"""
