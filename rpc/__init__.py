"""rpc: the JSON-RPC server (aiohttp, HTTP and WebSocket) and the `hummingbird` command.

Top layer: may import ``sequencer``, ``jit`` and ``statedb``; nothing imports it.
"""
