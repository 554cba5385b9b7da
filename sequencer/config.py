"""Node and chain configuration: what the ``hummingbird`` flags set.

Owns ``ChainConfig`` (consensus-relevant: chain id, fork, gas limit, initial base
fee, coinbase) and ``NodeConfig`` (process-level: data directory, block time,
dev accounts, pool limits, execution engine and its JIT hotness threshold, where
senders are recovered, the timeout and gas cap of simulated execution).
Values are validated here so a bad flag fails at start-up with a clear message,
not deep inside the producer.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Final, Protocol

from jit.compiler.engine import (
    DEFAULT_HOT_THRESHOLD,
    ENGINE_MODES,
    MAX_HOT_THRESHOLD,
    NATIVE_HOT_RUNS,
    Engine,
)
from jit.forks import Fork
from jit.native import unavailable_reason as native_unavailable_reason
from sequencer.fork.upstream import UpstreamConfig

DEFAULT_MNEMONIC: Final = "test test test test test test test test test test test junk"
DEFAULT_BALANCE_WEI: Final = 10_000 * 10**18
MAX_BLOCK_GAS_LIMIT: Final = 2**63 - 1
DEFAULT_ENGINE: Final = "auto"
SENDER_RECOVERY_MODES: Final = ("auto", "worker", "inline")
DEFAULT_RPC_TIMEOUT: Final = 5.0  # geth's --rpc.evmtimeout
MAX_RPC_TIMEOUT: Final = 3600.0
DEFAULT_RPC_GAS_CAP: Final = 50_000_000  # geth's --rpc.gascap
MAX_RPC_GAS_CAP: Final = 2**63 - 1


class ConfigError(ValueError):
    """A configuration value is out of range; the message names it."""


DEFAULT_MAX_TRACE_BYTES: Final = 256 * 1024 * 1024
DEFAULT_TXSYNC_TIMEOUT: Final = 2.0  # seconds
MAX_TXSYNC_TIMEOUT: Final = 600.0
MAX_TRACE_BYTES: Final = 16 * 1024 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ChainConfig:
    chain_id: int = 31337
    fork: Fork = Fork.OSAKA
    gas_limit: int = 60_000_000
    base_fee: int = 1_000_000_000  # of the genesis block; EIP-1559 moves it after
    coinbase: bytes = b"\x00" * 20
    fixed_base_fee: bool = False  # MegaETH mode: every block keeps base_fee (no EIP-1559)

    def __post_init__(self) -> None:
        if not 1 <= self.chain_id < 2**64:
            raise ConfigError(f"chain id must be in 1..2**64-1, got {self.chain_id}")
        if not 21_000 <= self.gas_limit <= MAX_BLOCK_GAS_LIMIT:
            raise ConfigError(f"gas limit must be in 21000..2**63-1, got {self.gas_limit}")
        if not 0 <= self.base_fee < 2**256:
            raise ConfigError(f"base fee must be in 0..2**256-1, got {self.base_fee}")
        if len(self.coinbase) != 20:
            raise ConfigError("coinbase must be 20 bytes")


@dataclass(frozen=True, slots=True)
class PoolLimits:
    per_account: int = 4096
    total: int = 100_000
    max_tx_bytes: int = 128 * 1024  # geth's txMaxSize


MAX_WORKERS: Final = 64


@dataclass(frozen=True, slots=True)
class ForkConfig:
    """``--fork-url`` and its companions (fork mode, ``sequencer.fork``)."""

    upstream: UpstreamConfig
    block_number: int | None = None  # None: the upstream's head at the first start
    chain_id: int | None = None  # --fork-chain-id: the upstream must have it
    # The node takes the upstream's chain id (anvil's default) unless --chain-id is given.
    adopt_chain_id: bool = True

    def __post_init__(self) -> None:
        if self.block_number is not None and not 0 <= self.block_number < 1 << 63:
            raise ConfigError(f"--fork-block-number must be in 0..2^63-1, got {self.block_number}")
        if self.chain_id is not None and not 1 <= self.chain_id < 1 << 63:
            raise ConfigError(f"--fork-chain-id must be in 1..2^63-1, got {self.chain_id}")


@dataclass(frozen=True, slots=True)
class NodeConfig:
    chain: ChainConfig = field(default_factory=ChainConfig)
    data_dir: str | None = ".hummingbird"  # None: ephemeral (in memory)
    reset: bool = False  # delete the data directory's chain first (hummingbird --reset)
    block_time: float = 0.010  # seconds a mini-block may stay open (DESIGN §4)
    accounts: int = 10
    balance: int = DEFAULT_BALANCE_WEI
    mnemonic: str = DEFAULT_MNEMONIC
    history_window: int = 10_000
    pool: PoolLimits = field(default_factory=PoolLimits)
    # jit.compiler.Engine mode: "interpreter", "jit" (compile on first run) or "auto"
    # (interpret a code hot_threshold times, then compile it off the block path; 0: at once).
    engine: str = DEFAULT_ENGINE
    hot_threshold: int = DEFAULT_HOT_THRESHOLD
    # --engine auto (with llvmlite) and native: a contract's runs profiled before its
    # machine code is built (jit.compiler.profile); 0: auto stops at the Python JIT.
    native_runs: int = NATIVE_HOT_RUNS
    # Where machine code is kept for the workers, the simulation threads and later
    # starts (jit.native.cache); None: built by each and not kept.
    native_cache_dir: str | None = None
    # Where raw transactions' senders are recovered: "worker" (a second process, so the
    # ECDSA work leaves the event loop's core), "inline", or "auto" (worker when the
    # machine has more than one CPU).
    sender_recovery: str = "auto"
    # Interval mining (anvil --block-time / -b, evm_setIntervalMining): a block every this
    # many seconds, empty or not; None: only automine (or manual with no_mining).
    block_interval: float | None = None
    no_mining: bool = False  # anvil --no-mining: nothing is sealed until evm_mine
    # Two-tier blocks (MegaETH's model, sequencer.two_tier): mini-blocks preconfirm every
    # block_time into an EVM block sealed every this many seconds; None: one tier, every
    # mini-block is an EVM block.
    evm_block_time: float | None = None
    # MegaETH mode (sequencer.megaeth): MegaETH's answer shapes, fees and limits.
    megaeth: bool = False
    # MegaETH's eth_callAfter and eth_getLogsWithCursor (rpc.namespaces.megaeth); off: -32601.
    megaeth_extras: bool = False
    # A replica (rpc.replica): its blocks come from a sequencer's replication stream;
    # it seals nothing and forwards writes.
    replica: bool = False
    # Hardhat's node: a send whose automined transaction reverts is answered with the
    # revert (code 3 and the data) instead of the hash; without it, anvil's behaviour.
    hardhat_compat: bool = False
    client_version: str | None = None  # web3_clientVersion; None: the default (rpc.namespaces.web3)
    # Read-only verbs (eth_call, estimateGas, createAccessList, simulateV1, getLogs) run
    # off the event loop and are stopped after rpc_timeout seconds (geth's
    # --rpc.evmtimeout); no simulated execution gets more than rpc_gas_cap gas, whatever
    # its request or block overrides say (geth's --rpc.gascap).
    rpc_timeout: float = DEFAULT_RPC_TIMEOUT
    rpc_gas_cap: int = DEFAULT_RPC_GAS_CAP
    # A struct-log trace (debug_traceTransaction without a tracer) larger than this many
    # JSON bytes is refused; the traced execution stops when it passes the limit.
    max_trace_bytes: int = DEFAULT_MAX_TRACE_BYTES
    # eth_sendRawTransactionSync / realtime_sendRawTransaction (EIP-7966): how long a send
    # waits for its receipt when the request names no timeout, and the most it may name.
    txsync_timeout: float = DEFAULT_TXSYNC_TIMEOUT
    txsync_max: float = MAX_TXSYNC_TIMEOUT
    # Print console.log calls (Hardhat's console.sol, forge-std) of mined transactions
    # and eth_call in the node log, as anvil does (anvil --disable-console-log: False).
    console_log: bool = True
    # Worker processes for the optimistic parallel executor (sequencer.workers), started
    # by Node.start(); 0: none (every batch serial). The command's default is cores - 2.
    workers: int = 0
    # Fork mode: run on top of an upstream chain's state (sequencer.fork); None: a new chain.
    fork: ForkConfig | None = None

    def fork_conflict(self) -> str | None:
        """The setting, if any, fork mode cannot run with (at start, or on a reset that
        makes the node a fork): each reads or seeds the whole state from the resident
        dicts, which in fork mode hold only what was written locally."""
        for setting, on in (
            ("--workers", self.workers > 0),
            ("a replica", self.replica),
            ("--megaeth", self.megaeth),
            ("--evm-block-time", self.evm_block_time is not None),
        ):
            if on:
                return setting
        return None

    def uses_recovery_worker(self) -> bool:
        if self.sender_recovery == "auto":
            return (os.cpu_count() or 1) > 1
        return self.sender_recovery == "worker"

    def __post_init__(self) -> None:
        if not 0 < self.block_time <= 3600:
            raise ConfigError(f"block time must be in (0, 3600] seconds, got {self.block_time}")
        if not 0 <= self.accounts <= 10_000:
            raise ConfigError(f"accounts must be in 0..10000, got {self.accounts}")
        if not 0 <= self.balance < 2**256:
            raise ConfigError(f"balance must be in 0..2**256-1 wei, got {self.balance}")
        if not 0 <= self.history_window <= 10_000_000:
            raise ConfigError(f"history window must be in 0..10000000, got {self.history_window}")
        if self.fork is not None:
            conflict = self.fork_conflict()
            if conflict is not None:
                raise ConfigError(f"{conflict} is not supported with --fork-url yet")
        if self.megaeth and self.chain.fork < Fork.PRAGUE:
            raise ConfigError(
                f"MegaETH mode runs on Prague or later (MegaETH's EVM is Prague's), not "
                f"{self.chain.fork.name.lower()}"
            )
        if self.evm_block_time is not None:
            if not 0.001 <= self.evm_block_time <= 3600:
                raise ConfigError(
                    f"EVM block time must be in 0.001..3600 seconds, got {self.evm_block_time}"
                )
            if self.evm_block_time < self.block_time:
                raise ConfigError(
                    f"EVM block time ({self.evm_block_time:g} s) must not be shorter than the "
                    f"mini-block time ({self.block_time:g} s)"
                )
            if self.block_interval is not None:
                raise ConfigError(
                    "--evm-block-time and --block-interval both set when EVM blocks are "
                    "sealed: pass one"
                )
        if self.block_interval is not None and not 0.001 <= self.block_interval <= 31_536_000:
            raise ConfigError(
                f"block interval must be in 0.001..31536000 seconds, got {self.block_interval}"
            )
        _check_int(self.max_trace_bytes, "max trace bytes", 1024, MAX_TRACE_BYTES)
        if not 0.001 <= self.txsync_max <= MAX_TXSYNC_TIMEOUT:
            raise ConfigError(
                f"txsync max must be in 0.001..{MAX_TXSYNC_TIMEOUT:g} seconds, got {self.txsync_max}"
            )
        if not 0.001 <= self.txsync_timeout <= self.txsync_max:
            raise ConfigError(
                f"txsync timeout must be in 0.001..{self.txsync_max:g} seconds (the txsync "
                f"max), got {self.txsync_timeout}"
            )
        if not 0.001 <= self.rpc_timeout <= MAX_RPC_TIMEOUT:
            raise ConfigError(
                f"RPC timeout must be in 0.001..{MAX_RPC_TIMEOUT:g} seconds, got {self.rpc_timeout}"
            )
        _check_int(self.rpc_gas_cap, "RPC gas cap", 21_000, MAX_RPC_GAS_CAP)
        _check_int(self.workers, "workers", 0, MAX_WORKERS)
        if self.sender_recovery not in SENDER_RECOVERY_MODES:
            raise ConfigError(
                f"sender recovery must be one of {', '.join(SENDER_RECOVERY_MODES)}, "
                f"got {self.sender_recovery!r}"
            )
        if self.engine not in ENGINE_MODES:
            raise ConfigError(
                f"engine must be one of {', '.join(ENGINE_MODES)}, got {self.engine!r}"
            )
        if self.engine == "native" and (reason := native_unavailable_reason()) is not None:
            raise ConfigError(reason)
        _check_int(self.native_runs, "native runs", 0, MAX_HOT_THRESHOLD)
        if self.engine == "native" and self.native_runs == 0:
            raise ConfigError("--engine native profiles at least one run: --native-runs 1 or more")
        if self.native_cache_dir is not None and (
            not isinstance(self.native_cache_dir, str)
            or not self.native_cache_dir
            or "\0" in self.native_cache_dir
        ):
            raise ConfigError(
                f"the native cache directory must be a path, got {self.native_cache_dir!r}"
            )
        _check_int(self.hot_threshold, "JIT threshold", 0, MAX_HOT_THRESHOLD)


class EngineSettings(Protocol):
    """What an engine is made from: ``NodeConfig`` and the workers' ``WorkerConfig``."""

    @property
    def engine(self) -> str: ...
    @property
    def hot_threshold(self) -> int: ...
    @property
    def native_runs(self) -> int: ...
    @property
    def native_cache_dir(self) -> str | None: ...


def engine_from(settings: EngineSettings, *, background: bool) -> Engine:
    """The ``jit.compiler.Engine`` ``settings`` describe (ValueError if it cannot run)."""
    return Engine(
        settings.engine,
        hot_threshold=settings.hot_threshold,
        background=background,
        native_profile_runs=settings.native_runs,
        native_cache_dir=settings.native_cache_dir,
    )


def _check_int(value: object, name: str, low: int, high: int) -> None:
    """An integer (not a bool) in ``low..high``, else a ConfigError saying so."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{name} must be an integer in {low}..{high}, got {value!r}")
