"""JSON-RPC namespaces. Importing this package registers every method in
``rpc.dispatch.default_registry``."""

from rpc.dispatch import default_registry
from rpc.namespaces import dev, eth, filters, sign, txpool, web3

__all__ = ["default_registry", "dev", "eth", "filters", "sign", "txpool", "web3"]
