"""The ``hummingbird`` command: parse flags, open the node, serve JSON-RPC, print a banner.

Owns the command line (every flag is validated here with a clear message and
exit status 2), the start-up banner (accounts, keys, mnemonic, chain id,
address, data directory, block time, execution engine, like anvil's) and clean
shutdown on SIGINT/SIGTERM (the database is closed, so the next start resumes
the chain).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import re
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

from jit.compiler import ENGINE_MODES
from jit.compiler.engine import NATIVE_HOT_RUNS
from jit.forks import Fork
from jit.native import default_cache_directory
from jit.native import unavailable_reason as native_unavailable_reason
from rpc.errors import SERVER_ERROR
from rpc.exposure import ExposurePolicy, PolicyError, is_loopback_bind, parse_host_names
from rpc.exposure import parse_origins as parse_cors_origins
from rpc.metrics import NodeMetrics
from rpc.namespaces import default_registry
from rpc.namespaces.filters import (
    DEFAULT_FILTER_BACKLOG_BYTES,
    DEFAULT_MAX_FILTERS,
    FilterLimits,
    install_filters,
)
from rpc.namespaces.web3 import VERSION
from rpc.node_log import LOG_FORMATS, ActivityLog, configure_logging
from rpc.server import DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_SUBSCRIPTIONS, create_app, serve
from sequencer.config import (
    DEFAULT_ENGINE,
    DEFAULT_HOT_THRESHOLD,
    DEFAULT_MAX_TRACE_BYTES,
    DEFAULT_MNEMONIC,
    DEFAULT_RPC_GAS_CAP,
    DEFAULT_RPC_TIMEOUT,
    DEFAULT_TXSYNC_TIMEOUT,
    MAX_HOT_THRESHOLD,
    MAX_RPC_GAS_CAP,
    MAX_RPC_TIMEOUT,
    MAX_TRACE_BYTES,
    MAX_TXSYNC_TIMEOUT,
    MAX_WORKERS,
    SENDER_RECOVERY_MODES,
    ChainConfig,
    ConfigError,
    ForkConfig,
    NodeConfig,
)
from sequencer.errors import NodeError
from sequencer.fork.upstream import (
    DEFAULT_COMPUTE_UNITS_PER_SECOND,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    UpstreamConfig,
    parse_header,
)
from sequencer.gc_tuning import tune_gc
from sequencer.hd_wallet import MnemonicError, check_mnemonic, normalised
from sequencer.megaeth import (
    MEGAETH_BASE_FEE,
    MEGAETH_CHAIN_ID,
    MEGAETH_EVM_BLOCK_TIME,
    MEGAETH_GAS_LIMIT,
    MEGAETH_MAX_SUBSCRIPTIONS,
    SUBSCRIPTION_LIMIT_CODE,
)
from sequencer.node import Node
from sequencer.state_dump import StateDumpError, decode_dump, encode_dump

log = logging.getLogger("hummingbird.cli")

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s)?$")
MAX_PORT = 65535


def _shown(text: str, limit: int = 40) -> str:
    """A flag's value for an error message: quoted, escaped, and cut if it is long."""
    if len(text) <= limit:
        return repr(text)
    return repr(text[:limit]) + f"... ({len(text)} characters)"


def _int_arg(name: str, low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text, 0)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{name} must be an integer, got {_shown(text)}"
            ) from None
        if not low <= value <= high:
            shown = str(value) if len(text) <= 40 else _shown(text)
            raise argparse.ArgumentTypeError(f"{name} must be in {low}..{high}, got {shown}")
        return value

    return parse


def default_workers() -> int:
    """One worker process per core the node's own processes leave free: DESIGN §7 says
    cores - 1, but the sender-recovery process takes a core too, and on the two-core
    machine we measure on a worker that shares a core with them halved burst throughput
    (docs/benchmarks.md, "Parallel execution"). So cores - 2: none below three cores."""
    return max(0, (os.cpu_count() or 1) - 2)


def _workers(text: str) -> int:
    return _int_arg("workers", 0, MAX_WORKERS)(text)


def _seconds(text: str) -> float | None:
    """``10ms``, ``0.5s``, ``2`` (seconds) in seconds; None when it has another form."""
    match = _DURATION.match(text.strip())
    if match is None:
        return None
    value = float(match.group(1))
    return value / 1000 if match.group(2) == "ms" else value


def _duration(text: str) -> float:
    """``10ms``, ``0.5s``, ``2`` (seconds, like anvil's --block-time)."""
    seconds = _seconds(text)
    if seconds is None:
        raise argparse.ArgumentTypeError(
            f"block time must look like 10ms, 0.5s or 2 (seconds), got {text!r}"
        )
    if not 0 < seconds <= 3600:
        raise argparse.ArgumentTypeError(f"block time must be in (0, 3600] seconds, got {text!r}")
    return seconds


def _balance(text: str) -> int:
    """Whole or fractional ether per dev account."""
    try:
        from decimal import Decimal, InvalidOperation

        ether = Decimal(text)
    except (InvalidOperation, ValueError):
        raise argparse.ArgumentTypeError(
            f"balance must be a number of ether, got {text!r}"
        ) from None
    if not ether.is_finite() or ether < 0 or ether >= Decimal(2**256) / 10**18:
        raise argparse.ArgumentTypeError(f"balance out of range: {text!r}")
    return int(ether * 10**18)


def _hardfork(text: str) -> Fork:
    try:
        return Fork[text.strip().upper()]
    except KeyError:
        names = ", ".join(f.name.lower() for f in Fork)
        raise argparse.ArgumentTypeError(
            f"unknown hardfork {text!r}; choose one of {names}"
        ) from None


def _choice(name: str, options: tuple[str, ...]) -> Callable[[str], str]:
    """A case-insensitive choice among ``options``, with an error naming them."""

    def parse(text: str) -> str:
        mode = text.strip().lower()
        if mode not in options:
            raise argparse.ArgumentTypeError(
                f"unknown {name} {_shown(text)}; choose one of {', '.join(options)}"
            )
        return mode

    return parse


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hummingbird",
        description="A local Ethereum devnet: 10 ms mini-blocks, JSON-RPC over HTTP and WebSocket.",
    )
    p.add_argument("--version", "-V", action="version", version=f"hummingbird {VERSION}")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", "-p", type=_int_arg("port", 0, MAX_PORT), default=8545)
    p.add_argument(
        "--chain-id",
        type=_int_arg("chain id", 1, 2**64 - 1),
        default=None,
        help="default 31337 (4326, MegaETH mainnet's, with --megaeth)",
    )
    p.add_argument("--accounts", "-a", type=_int_arg("accounts", 0, 10_000), default=10)
    p.add_argument("--balance", type=_balance, default=10_000 * 10**18, help="ether per account")
    p.add_argument("--mnemonic", "-m", default=DEFAULT_MNEMONIC)
    p.add_argument(
        "--gas-limit",
        type=_int_arg("gas limit", 21_000, 2**63 - 1),
        default=None,
        help="block gas limit (default 60000000; 10000000000 with --megaeth)",
    )
    p.add_argument(
        "--base-fee",
        type=_int_arg("base fee", 0, 2**256 - 1),
        default=None,
        help="initial base fee in wei, default 1 gwei (EIP-1559 moves it after genesis); "
        "with --megaeth 0.001 gwei, fixed",
    )
    p.add_argument(
        "--megaeth",
        action="store_true",
        help="MegaETH mode: its chain id, fees, gas limit, two-tier blocks (1s unless "
        "--evm-block-time), pending block, receipt fields, WebSocket limits and errors "
        "(docs/rpc.md lists each rule and what is not followed)",
    )
    p.add_argument(
        "--megaeth-extras",
        action="store_true",
        help="serve MegaETH's eth_callAfter and eth_getLogsWithCursor (its public RPC no "
        "longer does; any mode)",
    )
    p.add_argument(
        "--hardfork",
        type=_hardfork,
        default=None,
        help="default osaka (prague with --megaeth: MegaETH's EVM is Prague's, without "
        "Osaka's transaction gas cap)",
    )
    p.add_argument(
        "--block-time",
        "-b",
        type=_duration,
        default=0.010,
        help="longest a mini-block stays open (default 10ms)",
    )
    p.add_argument("--data-dir", default=".hummingbird", help="chain data (default ./.hummingbird)")
    p.add_argument("--ephemeral", action="store_true", help="keep the chain in memory only")
    p.add_argument(
        "--reset",
        action="store_true",
        help="delete the chain in --data-dir first and start a new one (refused while "
        "another node uses it, and for a directory that is not a Hummingbird one)",
    )
    p.add_argument(
        "--history-window",
        type=_int_arg("history window", 0, 10_000_000),
        default=10_000,
        help="blocks of historical state kept",
    )
    p.add_argument(
        "--engine",
        type=_choice("engine", ENGINE_MODES),
        default=DEFAULT_ENGINE,
        metavar="{" + ",".join(ENGINE_MODES) + "}",
        help="how contract code runs: interpreter; jit (compile every contract on its first "
        "run); auto (interpret until a code is hot, then compile it in the background; default); "
        "native (jit, then machine code through LLVM for hot contracts' loops, built in the "
        "background; needs the native extra, llvmlite)",
    )
    p.add_argument(
        "--native-runs",
        type=_int_arg("native runs", 0, MAX_HOT_THRESHOLD),
        default=NATIVE_HOT_RUNS,
        metavar="N",
        help="runs of a contract profiled before its machine code is built (--engine auto "
        f"with llvmlite, and native; 0: auto stays in Python; default {NATIVE_HOT_RUNS})",
    )
    p.add_argument(
        "--native-cache",
        metavar="DIR",
        help="keep machine code here, for the worker processes and later starts (default "
        "$XDG_CACHE_HOME/hummingbird/native or ~/.cache/hummingbird/native)",
    )
    p.add_argument(
        "--no-native-cache",
        action="store_true",
        help="build machine code in each process and keep none",
    )
    p.add_argument(
        "--jit-threshold",
        type=_int_arg("JIT threshold", 0, MAX_HOT_THRESHOLD),
        default=DEFAULT_HOT_THRESHOLD,
        metavar="N",
        help="interpreted runs of a code before --engine auto compiles it "
        f"(0: at once; default {DEFAULT_HOT_THRESHOLD})",
    )
    p.add_argument(
        "--sender-recovery",
        type=_choice("sender recovery", SENDER_RECOVERY_MODES),
        default="auto",
        metavar="{" + ",".join(SENDER_RECOVERY_MODES) + "}",
        help="where raw transactions' signatures are recovered: worker (a second process), "
        "inline (on the event loop), auto (worker when there is more than one CPU; default)",
    )
    p.add_argument(
        "--block-interval",
        type=_interval,
        default=None,
        metavar="SECONDS",
        help="interval mining: seal a block every SECONDS, empty or not, instead of on each "
        "transaction (anvil's --block-time; evm_setIntervalMining changes it at run time)",
    )
    p.add_argument(
        "--evm-block-time",
        type=_evm_block_time,
        default=None,
        metavar="DURATION",
        help="two-tier blocks (MegaETH's): mini-blocks preconfirm transactions every "
        "--block-time and an EVM block seals them every DURATION, e.g. 1s (off by default: "
        "every mini-block is an EVM block)",
    )
    p.add_argument(
        "--no-mining",
        action="store_true",
        help="seal nothing until evm_mine / anvil_mine (anvil's --no-mining)",
    )
    p.add_argument(
        "--disable-console-log",
        action="store_true",
        help="do not print console.log calls of mined transactions and eth_call in the "
        "node log (anvil's flag)",
    )
    p.add_argument(
        "--client-version",
        type=_client_version,
        default=None,
        metavar="TEXT",
        help="what web3_clientVersion answers (default anvil/v1.7.1/hummingbird-v...: tools "
        "such as Hardhat's network helpers only use dev methods on clients named anvil)",
    )
    p.add_argument(
        "--hardhat-compat",
        action="store_true",
        help="Hardhat node semantics: a send whose automined transaction reverts is answered "
        "with the revert (code 3, the revert data) instead of the hash (anvil's default)",
    )
    p.add_argument(
        "--load-state",
        type=Path,
        metavar="FILE",
        help="at start, load accounts from FILE, anvil's state JSON (as --dump-state writes)",
    )
    p.add_argument(
        "--dump-state",
        type=Path,
        metavar="FILE",
        help="on exit, write every account to FILE in anvil's state JSON",
    )
    p.add_argument(
        "--state",
        type=Path,
        metavar="FILE",
        help="--load-state FILE if it exists, and --dump-state FILE on exit (anvil's --state)",
    )
    p.add_argument(
        "--workers",
        type=_workers,
        default=None,
        metavar="N",
        help="worker processes for optimistic parallel execution of large blocks "
        f"(default: CPU cores - 2, here {default_workers()}; 0: execute serially)",
    )
    p.add_argument(
        "--rpc-timeout",
        type=_rpc_timeout,
        default=DEFAULT_RPC_TIMEOUT,
        metavar="DURATION",
        help="stop eth_call, estimateGas, createAccessList, simulateV1 and getLogs after this "
        "long, e.g. 5s or 500ms (default 5s, geth's --rpc.evmtimeout)",
    )
    p.add_argument(
        "--rpc-gas-cap",
        type=_rpc_gas_cap,
        default=DEFAULT_RPC_GAS_CAP,
        metavar="GAS",
        help="most gas any simulated call gets, whatever the request or its overrides ask "
        "(default 50000000, geth's --rpc.gascap; 0: no cap)",
    )
    p.add_argument(
        "--txsync-timeout",
        type=_txsync,
        default=None,
        metavar="DURATION",
        help="how long eth_sendRawTransactionSync / realtime_sendRawTransaction wait for the "
        "receipt when the request names no timeout (default 2s, or --txsync-max if less)",
    )
    p.add_argument(
        "--txsync-max",
        type=_txsync,
        default=MAX_TXSYNC_TIMEOUT,
        metavar="DURATION",
        help="the longest wait a request may ask for (default 600s)",
    )
    p.add_argument(
        "--max-trace-bytes",
        type=_int_arg("max trace bytes", 1024, MAX_TRACE_BYTES),
        default=DEFAULT_MAX_TRACE_BYTES,
        metavar="BYTES",
        help="refuse a struct-log trace (debug_traceTransaction without a tracer) larger "
        f"than this (default {DEFAULT_MAX_TRACE_BYTES}, 256 MiB; the trace stops there)",
    )
    p.add_argument(
        "--allow-host",
        dest="allow_hosts",
        action="append",
        type=_host_names,
        default=[],
        metavar="NAME[,NAME...]",
        help="host names the node answers besides localhost names, IP addresses and the "
        "--host name (a Host header naming anything else is refused: DNS rebinding); "
        "repeatable; * accepts every name",
    )
    p.add_argument(
        "--cors",
        "--allow-origin",
        dest="cors",
        action="append",
        type=_cors_origins,
        default=[],
        metavar="ORIGIN[,ORIGIN...]",
        help="web origins (scheme://host[:port], or null) allowed besides localhost pages "
        "and browser extensions; requests from other origins are refused (403); "
        "repeatable; * allows every origin (anvil's default)",
    )
    p.add_argument(
        "--max-connections",
        type=_int_arg("max connections", 1, 1_000_000),
        default=DEFAULT_MAX_CONNECTIONS,
        metavar="N",
        help=f"open WebSocket connections; more are refused with 503 "
        f"(default {DEFAULT_MAX_CONNECTIONS})",
    )
    p.add_argument(
        "--max-subscriptions",
        type=_int_arg("max subscriptions", 1, 1_000_000),
        default=None,
        metavar="N",
        help=f"eth_subscribe subscriptions per WebSocket connection "
        f"(default {DEFAULT_MAX_SUBSCRIPTIONS}; {MEGAETH_MAX_SUBSCRIPTIONS} with --megaeth)",
    )
    p.add_argument(
        "--max-filters",
        type=_int_arg("max filters", 1, 1_000_000),
        default=DEFAULT_MAX_FILTERS,
        metavar="N",
        help=f"installed polling filters (eth_newFilter & co.; default {DEFAULT_MAX_FILTERS})",
    )
    p.add_argument(
        "--filter-backlog",
        type=_byte_size,
        default=DEFAULT_FILTER_BACKLOG_BYTES,
        metavar="SIZE",
        help="most unread change (estimated memory) a polling filter may fall behind by, "
        "e.g. 64MiB; past it the filter is uninstalled and told so on its next poll "
        "(default 64MiB)",
    )
    p.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="log nothing per request or block (console.log lines and warnings are still printed)",
    )
    p.add_argument(
        "--verbose",
        "-v",
        action="count",
        default=0,
        help="-v logs request parameters too; -vv logs everything at debug level",
    )
    p.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default="text",
        help="text (anvil-style block and transaction lines) or json (one JSON object per "
        "line, the block and transaction values as fields)",
    )
    fork = p.add_argument_group("fork mode (run on top of another chain's state)")
    fork.add_argument(
        "--fork-url",
        "-f",
        type=_fork_url,
        default=None,
        metavar="URL",
        help="an http(s) JSON-RPC endpoint: state not written here is read from it, at the "
        "fork block, on first use (and kept in the data directory)",
    )
    fork.add_argument(
        "--fork-block-number",
        type=_int_arg("fork block number", 0, 2**63 - 1),
        default=None,
        metavar="N",
        help="the upstream block to fork from (default: its latest block at the first start)",
    )
    fork.add_argument(
        "--fork-chain-id",
        type=_int_arg("fork chain id", 1, 2**63 - 1),
        default=None,
        metavar="ID",
        help="refuse an upstream whose chain id is not this one",
    )
    fork.add_argument(
        "--fork-header",
        "--fork-headers",
        dest="fork_headers",
        action="append",
        type=_fork_header,
        default=[],
        metavar="'NAME: VALUE'",
        help="a header sent with every upstream request (repeatable)",
    )
    fork.add_argument(
        "--fork-retries",
        type=_int_arg("fork retries", 0, 100),
        default=DEFAULT_RETRIES,
        metavar="N",
        help=f"retries of a failed or rate-limited upstream request (default {DEFAULT_RETRIES})",
    )
    fork.add_argument(
        "--fork-timeout",
        type=_fork_timeout,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"per upstream request, e.g. 45s or 500ms (default {DEFAULT_TIMEOUT:g}s)",
    )
    fork.add_argument(
        "--compute-units-per-second",
        type=_int_arg("compute units per second", 1, 10**9),
        default=DEFAULT_COMPUTE_UNITS_PER_SECOND,
        metavar="CUPS",
        help="the upstream's request budget, 17 units a call, as anvil counts "
        f"(default {DEFAULT_COMPUTE_UNITS_PER_SECOND})",
    )
    fork.add_argument(
        "--no-rate-limit",
        "--no-rpc-rate-limit",
        dest="no_rate_limit",
        action="store_true",
        help="no request budget (a local upstream)",
    )
    return p


def _fork_url(text: str) -> str:
    try:
        UpstreamConfig(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _fork_header(text: str) -> tuple[str, str]:
    try:
        return parse_header(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def fork_config_from(args: argparse.Namespace) -> ForkConfig | None:
    """The ``--fork-*`` flags (None without ``--fork-url``); the others need it."""
    if args.fork_url is None:
        for flag, value in (
            ("--fork-block-number", args.fork_block_number),
            ("--fork-chain-id", args.fork_chain_id),
            ("--fork-header", args.fork_headers or None),
        ):
            if value is not None:
                raise ConfigError(f"{flag} needs --fork-url")
        return None
    try:
        upstream = UpstreamConfig(
            args.fork_url,
            headers=dict(args.fork_headers),
            timeout=args.fork_timeout,
            retries=args.fork_retries,
            compute_units_per_second=None if args.no_rate_limit else args.compute_units_per_second,
        )
    except ValueError as error:
        raise ConfigError(str(error)) from None
    return ForkConfig(
        upstream,
        block_number=args.fork_block_number,
        chain_id=args.fork_chain_id,
        adopt_chain_id=args.chain_id is None,
    )


MAX_STATE_FILE: Final = 1 << 30


def load_state_file(node: Node, path: Path) -> None:
    """--load-state: anvil's JSON (gzip too) into the node as pending edits."""
    try:
        size = path.stat().st_size
        if size > MAX_STATE_FILE:
            raise ConfigError(f"state file {path} is {size} bytes; at most 1 GiB is read")
        dump = decode_dump(path.read_bytes())
    except OSError as error:
        raise ConfigError(f"cannot read state file {path}: {error.strerror or error}") from None
    except StateDumpError as error:
        raise ConfigError(f"state file {path} is not an anvil state dump: {error}") from None
    try:
        node.load_state(dump)
    except NodeError as error:
        raise ConfigError(f"state file {path}: {error.message}") from None


def dump_state_file(node: Node, path: Path) -> None:
    """--dump-state: written to a temporary file beside ``path`` and renamed over it, so a
    crash mid-write never leaves half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(encode_dump(node.dump_state()))
    os.replace(tmp, path)


def _interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"block interval must be a number, got {_shown(text)}"
        ) from None
    if not 0.001 <= value <= 31_536_000:
        raise argparse.ArgumentTypeError(
            f"block interval must be in 0.001..31536000 seconds, got {_shown(text)}"
        )
    return value


def _duration_arg(name: str, example: str, most: float) -> Callable[[str], float]:
    """A parser of ``5s``, ``500ms``, ``2`` (seconds) in 1 ms .. ``most`` seconds."""

    def parse(text: str) -> float:
        seconds = _seconds(text)
        if seconds is None:
            raise argparse.ArgumentTypeError(
                f"{name} must look like {example}, 500ms or 2 (seconds), got {_shown(text)}"
            )
        if not 0.001 <= seconds <= most:
            raise argparse.ArgumentTypeError(
                f"{name} must be in 1ms..{most:g}s, got {_shown(text)}"
            )
        return seconds

    return parse


# geth's --rpc.evmtimeout forms.
_rpc_timeout = _duration_arg("RPC timeout", "5s", MAX_RPC_TIMEOUT)
# Two-tier mode's EVM block interval.
_evm_block_time = _duration_arg("EVM block time", "1s", 3600.0)
# An EIP-7966 wait.
_txsync = _duration_arg("txsync duration", "2s", MAX_TXSYNC_TIMEOUT)
# One round trip to a fork's upstream.
_fork_timeout = _duration_arg("fork timeout", "45s", 3600.0)


def _rpc_gas_cap(text: str) -> int:
    """A gas amount; 0 means no cap (geth's --rpc.gascap 0)."""
    cap = _int_arg("RPC gas cap", 0, MAX_RPC_GAS_CAP)(text)
    if cap == 0:
        return MAX_RPC_GAS_CAP
    if cap < 21_000:
        raise argparse.ArgumentTypeError(
            f"RPC gas cap must be 0 (no cap) or at least 21000, got {cap}"
        )
    return cap


def _host_names(text: str) -> tuple[str, ...]:
    try:
        return parse_host_names([text])
    except PolicyError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _cors_origins(text: str) -> tuple[str, ...]:
    try:
        return parse_cors_origins([text])
    except PolicyError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


_BYTE_SIZE = re.compile(r"^(\d{1,15})\s*([kmg]i?b?|b)?$")
_BYTE_UNITS: Final = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3}
MIN_FILTER_BACKLOG: Final = 64 * 1024
MAX_FILTER_BACKLOG: Final = 64 * 1024**3


def _byte_size(text: str) -> int:
    """``67108864``, ``64MiB``, ``64MB`` (10**6), ``512k``: bytes, 64KiB..64GiB."""
    match = _BYTE_SIZE.match(text.strip().lower())
    if match is None:
        raise argparse.ArgumentTypeError(
            f"filter backlog must be a size such as 64MiB, 500MB or 1048576, got {_shown(text)}"
        )
    unit = match.group(2) or ""
    scale = 1024 ** "bkmg".index(unit[0]) if "i" in unit else _BYTE_UNITS[unit[:1]]
    size = int(match.group(1)) * scale
    if not MIN_FILTER_BACKLOG <= size <= MAX_FILTER_BACKLOG:
        raise argparse.ArgumentTypeError(
            f"filter backlog must be in 64KiB..64GiB, got {_shown(text)}"
        )
    return size


def _client_version(text: str) -> str:
    if not text or len(text) > 256 or not text.isprintable():
        raise argparse.ArgumentTypeError("client version must be 1..256 printable characters")
    return text


def config_from(args: argparse.Namespace) -> NodeConfig:
    try:
        check_mnemonic(args.mnemonic)
    except MnemonicError as error:
        raise ConfigError(str(error)) from None
    if args.reset and args.ephemeral:
        raise ConfigError("--reset deletes a data directory's chain; --ephemeral has none")
    megaeth: bool = args.megaeth
    fork = fork_config_from(args)
    return NodeConfig(
        chain=ChainConfig(
            chain_id=_or(args.chain_id, MEGAETH_CHAIN_ID if megaeth else 31337),
            fork=_or(args.hardfork, Fork.PRAGUE if megaeth else Fork.OSAKA),
            gas_limit=_or(args.gas_limit, MEGAETH_GAS_LIMIT if megaeth else 60_000_000),
            base_fee=_or(args.base_fee, MEGAETH_BASE_FEE if megaeth else 10**9),
            fixed_base_fee=megaeth,
        ),
        data_dir=None if args.ephemeral else args.data_dir,
        reset=args.reset,
        block_time=args.block_time,
        accounts=args.accounts,
        balance=args.balance,
        mnemonic=normalised(args.mnemonic),  # a pasted mnemonic's stray spaces are not words
        history_window=args.history_window,
        engine=args.engine,
        hot_threshold=args.jit_threshold,
        native_runs=args.native_runs,
        native_cache_dir=native_cache_dir_from(args),
        sender_recovery=args.sender_recovery,
        rpc_timeout=args.rpc_timeout,
        rpc_gas_cap=args.rpc_gas_cap,
        max_trace_bytes=args.max_trace_bytes,
        txsync_timeout=(
            min(DEFAULT_TXSYNC_TIMEOUT, args.txsync_max)
            if args.txsync_timeout is None
            else args.txsync_timeout
        ),
        txsync_max=args.txsync_max,
        # Fork mode reads state the resident dicts do not hold: no worker processes yet.
        workers=(0 if fork is not None else default_workers())
        if args.workers is None
        else args.workers,
        block_interval=args.block_interval,
        evm_block_time=(
            MEGAETH_EVM_BLOCK_TIME
            if megaeth and args.evm_block_time is None and args.block_interval is None
            else args.evm_block_time
        ),
        megaeth=megaeth,
        megaeth_extras=args.megaeth_extras,
        no_mining=args.no_mining,
        console_log=not args.disable_console_log,
        client_version=args.client_version,
        hardhat_compat=args.hardhat_compat,
        fork=fork,
    )


def native_cache_dir_from(args: argparse.Namespace) -> str | None:
    """The machine-code cache's directory: ``--native-cache``, else the user's cache
    directory; None when the engine builds no machine code, or with
    ``--no-native-cache``."""
    if args.no_native_cache:
        if args.native_cache is not None:
            raise ConfigError("--native-cache and --no-native-cache do not go together")
        return None
    machine_code = args.engine == "native" or (args.engine == "auto" and args.native_runs > 0)
    if args.native_cache is not None:
        if not args.native_cache or "\0" in args.native_cache:
            raise ConfigError(f"--native-cache: not a directory path: {args.native_cache!r}")
        if not machine_code:
            raise ConfigError(
                "--native-cache keeps machine code: it needs --engine auto or native "
                "(and --native-runs above 0)"
            )
        return str(args.native_cache)
    if not machine_code:
        return None
    return str(default_cache_directory())


def workers_description(node: Node) -> str:
    wanted = node.config.workers
    if not wanted:
        return "none (blocks execute serially)"
    pool = node.workers
    if pool is None or pool.broken:
        return f"none ({wanted} asked; they did not start: blocks execute serially)"
    return f"{pool.count} process{'es' if pool.count > 1 else ''} (optimistic execution)"


def banner(node: Node, url: str) -> str:
    cfg = node.config
    lines = [
        "",
        f"Hummingbird v{VERSION}: a local Ethereum devnet",
        "",
        "Available Accounts",
        "==================",
    ]
    for i, account in enumerate(node.accounts):
        # What the chain holds, not the configured figure: a resumed chain's accounts
        # have spent and received since genesis.
        held = node.account(account.address, node.head_number)
        ether = (held.balance if held is not None else 0) / 10**18
        lines.append(f"({i}) 0x{account.address.hex()} ({ether:.6f} ETH)")
    lines += ["", "Private Keys", "=================="]
    for i, account in enumerate(node.accounts):
        lines.append(f"({i}) 0x{account.private_key.hex()}")
    lines += [
        "",
        "Wallet",
        "==================",
        f"Mnemonic:          {cfg.mnemonic}",
        "Derivation path:   m/44'/60'/0'/0/",
        "",
        f"Chain ID:          {cfg.chain.chain_id}",
        f"Hardfork:          {cfg.chain.fork.name.lower()}",
        f"Gas limit:         {cfg.chain.gas_limit}",
        f"Base fee:          {node.pending_env().base_fee} wei (next block)",
        f"Block time:        {cfg.block_time * 1000:g} ms (sealed sooner when the queue drains)",
        *(
            [f"EVM block time:    {cfg.evm_block_time:g} s (two tiers: mini-blocks preconfirm)"]
            if cfg.evm_block_time is not None
            else []
        ),
        *(
            ["Mode:              MegaETH (chain id, fees, receipts, limits: docs/rpc.md)"]
            if cfg.megaeth
            else []
        ),
        f"Sequencer:         0x{node.sequencer.address.hex()} (signs every mini-block)",
        f"Sequencer key:     0x{node.sequencer.private_key.hex()} (m/44'/60'/0'/1/0)",
        f"Data directory:    {data_directory_description(cfg)}",
        f"Engine:            {engine_description(cfg)}",
        f"Sender recovery:   {recovery_description(node)}",
        f"Parallel workers:  {workers_description(node)}",
        *(
            []
            if node.fork is None
            else [
                f"Fork:              {node.fork.config.upstream.redacted_url} at block "
                f"{node.fork.point.number} (0x{node.fork.point.hash.hex()}), chain id "
                f"{node.fork.point.chain_id}"
            ]
        ),
        f"Head block:        {node.head_number}",
        "",
        f"Listening on {url} (HTTP and WebSocket)",
        "",
    ]
    return "\n".join(lines)


def data_directory_description(cfg: NodeConfig) -> str:
    if cfg.data_dir is None:
        return "(ephemeral, in memory: nothing is kept when the node stops)"
    where = os.path.abspath(cfg.data_dir)
    return (
        f"{where}\n                   (the chain is kept across restarts: --reset "
        "starts a new one there, --ephemeral keeps none)"
    )


def engine_description(cfg: NodeConfig) -> str:
    if cfg.engine == "auto":
        if cfg.hot_threshold == 0:
            python = "auto (every code compiled in the background on its first run"
        else:
            runs = "run" if cfg.hot_threshold == 1 else f"{cfg.hot_threshold} runs"
            python = (
                f"auto (a code is interpreted for its first {runs}, then compiled in the background"
            )
        if cfg.native_runs == 0:
            return python + "; no machine code: --native-runs 0)"
        if native_unavailable_reason() is not None:
            return python + "; no machine code: llvmlite is not installed)"
        return python + f"; then {machine_code_description(cfg)})"
    if cfg.engine == "jit":
        return "jit (every contract compiled on its first run)"
    if cfg.engine == "native":
        return f"native (compiled on the first run; then {machine_code_description(cfg)})"
    return cfg.engine


def machine_code_description(cfg: NodeConfig) -> str:
    kept = (
        "not kept"
        if cfg.native_cache_dir is None
        else f"kept in {os.path.abspath(cfg.native_cache_dir)}"
    )
    runs = "run" if cfg.native_runs == 1 else f"{cfg.native_runs} runs"
    return (
        f"after {runs}, machine code for the regions their profile says pay, built in "
        f"the background, {kept}"
    )


def recovery_description(node: Node) -> str:
    if node.recovery.running:
        return "worker process (signatures recovered on another core)"
    if node.config.uses_recovery_worker():
        return "inline (the worker process did not start)"
    return "inline (on the event loop)"


@dataclass(frozen=True, slots=True)
class TransportOptions:
    """The JSON-RPC transport's flags (the node's own are ``NodeConfig``)."""

    allow_hosts: tuple[str, ...] = ()
    cors: tuple[str, ...] = ()
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    max_subscriptions: int = DEFAULT_MAX_SUBSCRIPTIONS
    filters: FilterLimits = field(default_factory=FilterLimits)


T = TypeVar("T")


def _or(value: T | None, default: T) -> T:
    return default if value is None else value


def transport_from(args: argparse.Namespace) -> TransportOptions:
    return TransportOptions(
        allow_hosts=tuple(name for names in args.allow_hosts for name in names),
        cors=tuple(origin for origins in args.cors for origin in origins),
        max_connections=args.max_connections,
        max_subscriptions=_or(
            args.max_subscriptions,
            MEGAETH_MAX_SUBSCRIPTIONS if args.megaeth else DEFAULT_MAX_SUBSCRIPTIONS,
        ),
        filters=FilterLimits(max_filters=args.max_filters, backlog_bytes=args.filter_backlog),
    )


def exposure_warning(host: str) -> str | None:
    """What is printed when the node listens beyond this machine, or None."""
    if is_loopback_bind(host):
        return None
    return (
        f"WARNING: listening on {host}, reachable from other machines. Anyone who can "
        "connect controls this node and its dev accounts, whose private keys are printed "
        "below and publicly known. Listen on 127.0.0.1 unless this network is trusted."
    )


async def run(
    config: NodeConfig,
    host: str,
    port: int,
    *,
    print_banner: bool = True,
    on_ready: Callable[[], None] | None = None,
    load_state: Path | None = None,
    dump_state: Path | None = None,
    transport: TransportOptions | None = None,
    activity: ActivityLog | None = None,
) -> None:
    options = TransportOptions() if transport is None else transport
    exposure = ExposurePolicy.build(host, options.allow_hosts, options.cors)
    node = Node(config)
    loop_probe: asyncio.Task[None] | None = None
    try:
        if load_state is not None:
            load_state_file(node, load_state)
        await node.start()
        if activity is not None:
            activity.attach(node.subscribe_activity)
        metrics = NodeMetrics(node.runtime_stats, default_registry)
        node.subscribe(metrics.on_event)
        loop_probe = asyncio.create_task(metrics.run_loop_probe())
        install_filters(node, options.filters)
        app = create_app(
            node,
            default_registry,
            info=node.info,
            exposure=exposure,
            max_connections=options.max_connections,
            max_subscriptions=options.max_subscriptions,
            subscription_limit_code=SUBSCRIPTION_LIMIT_CODE if config.megaeth else SERVER_ERROR,
            metrics=metrics,
        )
        server = await serve(app, host, port)
        if on_ready is not None:
            on_ready()
        warning = exposure_warning(host)
        if warning is not None:
            log.warning("%s", warning.removeprefix("WARNING: "))
            print(f"\n{warning}\n", file=sys.stderr, flush=True)
        if print_banner:
            print(banner(node, server.url), flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await server.stop()
        if dump_state is not None:
            try:
                dump_state_file(node, dump_state)
            except OSError as error:
                log.error("cannot write state file %s: %s", dump_state, error)
    finally:
        if loop_probe is not None:
            loop_probe.cancel()
        filters_table = getattr(node, "_rpc_filters", None)
        if filters_table is not None:
            filters_table.close()
        await node.stop()


def _event_loop_runner() -> Callable[[Coroutine[Any, Any, None]], None]:
    """uvloop where it is installed (Linux, macOS), asyncio's loop otherwise."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run
    return uvloop.run


def main(argv: Sequence[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words[:1] == ["replica"]:
        from rpc.replica_command import replica_main  # the replica's own flags

        return replica_main(words[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    verbosity = -1 if args.quiet else args.verbose
    configure_logging(verbosity, args.log_format)
    try:
        config = config_from(args)
    except ConfigError as error:
        parser.error(str(error))
    try:
        load = args.load_state
        dump = args.dump_state
        if args.state is not None:
            dump = dump or args.state
            if load is None and args.state.exists():
                load = args.state
        _event_loop_runner()(
            run(
                config,
                args.host,
                args.port,
                on_ready=tune_gc,
                load_state=load,
                dump_state=dump,
                transport=transport_from(args),
                activity=None if args.quiet else ActivityLog(args.log_format),
            )
        )
    except ConfigError as error:
        print(f"hummingbird: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"hummingbird: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
