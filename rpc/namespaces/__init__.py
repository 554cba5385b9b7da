"""JSON-RPC namespaces. Importing this package registers every method in
``rpc.dispatch.default_registry``."""

from rpc.dispatch import default_registry
from rpc.namespaces import (
    access_list,
    compat,
    debug,
    dev,
    eth,
    filters,
    megaeth,
    ots,
    sign,
    simulate,
    trace,
    txpool,
    web3,
)

__all__ = [
    "access_list",
    "compat",
    "debug",
    "default_registry",
    "dev",
    "eth",
    "filters",
    "megaeth",
    "ots",
    "sign",
    "simulate",
    "trace",
    "txpool",
    "web3",
]
