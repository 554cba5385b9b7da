"""The web3_ and net_ namespaces."""

from __future__ import annotations

import platform

from rpc.codecs import data
from rpc.dispatch import Data, RequestContext, method
from rpc.namespaces.eth import node_of
from sequencer.node import Node
from statedb.types import keccak256

VERSION = "0.1.0"
# Hardhat's network helpers and Ignition, and other tools, only use their dev-method
# paths for a client whose name starts with "hardhatnetwork", "zksync" or "anvil"; we
# answer anvil's methods under anvil's names, so the default names anvil first and
# Hummingbird after it (--client-version replaces it).
ANVIL_COMPATIBLE_VERSION = "1.7.1"
CLIENT_VERSION = (
    f"anvil/v{ANVIL_COMPATIBLE_VERSION}/hummingbird-v{VERSION}/python{platform.python_version()}"
)


def client_version_of(node: Node) -> str:
    return node.config.client_version or CLIENT_VERSION


@method("web3_clientVersion")
async def client_version(ctx: RequestContext) -> str:
    return client_version_of(node_of(ctx))


@method("web3_sha3")
async def sha3(ctx: RequestContext, payload: Data) -> str:
    return data(keccak256(payload))


@method("net_version")
async def net_version(ctx: RequestContext) -> str:
    return str(node_of(ctx).config.chain.chain_id)


@method("net_listening")
async def net_listening(ctx: RequestContext) -> bool:
    return True


@method("net_peerCount")
async def net_peer_count(ctx: RequestContext) -> str:
    return "0x0"
