"""``hummingbird replica``: the command that runs a replica node (issue 18).

Owns the replica's flags (``--follow`` the sequencer's WebSocket URL, ``--host``,
``--port``, ``--data-dir`` / ``--ephemeral``, ``--history-window``, ``--engine``,
``--verify-execution``, ``--workers``,
``--quiet`` / ``--verbose``), building its ``NodeConfig`` from the sequencer's identity
(chain id, hardfork, MegaETH mode: nothing to repeat on the command line), and the
lifecycle: bootstrap, serve, follow, stop on SIGINT/SIGTERM. The link, the forwarding
and the liveness rules are ``rpc.replica``'s.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

import aiohttp

from jit.compiler import ENGINE_MODES
from jit.forks import Fork
from rpc.errors import RpcError
from rpc.exposure import ExposurePolicy
from rpc.metrics import NodeMetrics
from rpc.namespaces import default_registry
from rpc.namespaces.filters import FilterLimits, install_filters
from rpc.replica import ReplicaLink, ReplicaRegistry, Sequencer, http_url_of
from rpc.server import create_app, serve
from sequencer.config import MAX_WORKERS, ChainConfig, ConfigError, NodeConfig
from sequencer.errors import NodeError
from sequencer.node import Node
from sequencer.types.wire import WireError

log = logging.getLogger("hummingbird.replica")

DEFAULT_REPLICA_PORT = 8546


def build_replica_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hummingbird replica",
        description="Follow a Hummingbird sequencer by its state diffs and serve reads; "
        "writes are forwarded to it.",
    )
    p.add_argument("--follow", required=True, metavar="WS_URL", help="e.g. ws://127.0.0.1:8545")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=DEFAULT_REPLICA_PORT)
    p.add_argument("--data-dir", default=".hummingbird-replica")
    p.add_argument("--ephemeral", action="store_true", help="keep the replica in memory only")
    p.add_argument("--history-window", type=int, default=10_000, metavar="BLOCKS")
    p.add_argument("--engine", choices=ENGINE_MODES, default="auto")
    p.add_argument(
        "--workers",
        type=int,
        default=0,
        metavar="N",
        help="worker processes that run eth_call, estimateGas and simulateV1 off the loop "
        "(default 0)",
    )
    p.add_argument(
        "--verify-execution",
        action="store_true",
        help="also execute each block again before applying it (in parallel on the --workers "
        "processes when there are any); a difference stops the replica",
    )
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--verbose", action="store_true")
    return p


def check_flags(args: argparse.Namespace) -> None:
    """The flags that need no sequencer to check (before connecting to it)."""
    http_url_of(args.follow)
    if not 0 <= args.history_window <= 10_000_000:
        raise ConfigError("--history-window must be in 0..10000000")
    if not 1 <= args.port <= 65_535:
        raise ConfigError("--port must be in 1..65535")
    if not 0 <= args.workers <= MAX_WORKERS:
        raise ConfigError(f"--workers must be in 0..{MAX_WORKERS}")


def replica_config(args: argparse.Namespace, info: dict[str, object]) -> NodeConfig:
    """The replica's configuration: the sequencer's chain, this command's flags."""
    chain_id, hardfork = info.get("chainId"), info.get("hardfork")
    if not isinstance(chain_id, int) or not isinstance(hardfork, str):
        raise ConfigError(f"{args.follow} is not a Hummingbird sequencer (GET / answered {info})")
    if info.get("replica"):
        raise ConfigError(f"{args.follow} is a replica itself: follow its sequencer")
    evm_block_time = info.get("evmBlockTime")
    return NodeConfig(
        chain=ChainConfig(chain_id=chain_id, fork=Fork.from_name(hardfork)),
        data_dir=None if args.ephemeral else args.data_dir,
        accounts=0,
        history_window=args.history_window,
        engine=args.engine,
        megaeth=bool(info.get("megaeth")),
        # Two tiers: the sequencer's mini-blocks are this replica's latest state too.
        evm_block_time=float(evm_block_time) if isinstance(evm_block_time, int | float) else None,
        replica=True,
        workers=args.workers,
    )


async def run_replica(args: argparse.Namespace) -> None:
    sequencer = Sequencer(args.follow)
    try:
        try:
            info = await sequencer.info()
            config = replica_config(args, info)
            snapshot = None
            try:
                genesis = await sequencer.genesis()
            except NodeError as error:
                # Block 0 left the sequencer's history window: start from its head.
                log.info("%s; bootstrapping from a snapshot of the sequencer's head", error)
                genesis = None
                snapshot = await sequencer.snapshot()
        except (aiohttp.ClientError, OSError, TimeoutError, RpcError, WireError) as error:
            raise ConfigError(f"cannot reach the sequencer at {args.follow}: {error}") from None
        node = Node(config, genesis=genesis, snapshot=snapshot)
        signer = info.get("sequencer")
        link = ReplicaLink(
            node,
            sequencer,
            verify=args.verify_execution,
            signer=bytes.fromhex(signer[2:]) if isinstance(signer, str) else None,
        )
        try:
            await node.start()
            install_filters(node, FilterLimits())
            registry = ReplicaRegistry(default_registry, link)
            metrics = NodeMetrics(node.runtime_stats, registry, replica_lag=link.lag)
            node.subscribe(metrics.on_event)
            app = create_app(
                node,
                registry,
                info=node.info,
                exposure=ExposurePolicy.build(args.host),
                health=link.health,
                metrics=metrics,
            )
            server = await serve(app, args.host, args.port)
            link.start()
            print(
                f"Hummingbird replica of {args.follow} (chain {config.chain.chain_id}, "
                f"{config.chain.fork.name.lower()}), head {node.head_number}; "
                f"listening on {server.url}",
                flush=True,
            )
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await stop.wait()
            await link.stop()
            await server.stop()
        finally:
            await node.stop()
    finally:
        await sequencer.close()


def replica_main(argv: Sequence[str]) -> int:
    parser = build_replica_parser()
    args = parser.parse_args(list(argv))
    try:
        check_flags(args)
    except ValueError as error:  # ConfigError is one
        parser.error(str(error))
    level = logging.WARNING if args.quiet else logging.DEBUG if args.verbose else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        asyncio.run(run_replica(args))
    except (ConfigError, NodeError) as error:
        print(f"hummingbird replica: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(
            f"hummingbird replica: cannot listen on {args.host}:{args.port}: {error}",
            file=sys.stderr,
        )
        return 1
    return 0
