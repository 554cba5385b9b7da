"""The web3_ and net_ namespaces."""

from __future__ import annotations

import platform

from rpc.codecs import data
from rpc.dispatch import Data, RequestContext, method
from rpc.namespaces.eth import node_of
from statedb.types import keccak256

VERSION = "0.1.0"
CLIENT_VERSION = f"hummingbird/v{VERSION}/python{platform.python_version()}"


@method("web3_clientVersion")
async def client_version(ctx: RequestContext) -> str:
    return CLIENT_VERSION


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
