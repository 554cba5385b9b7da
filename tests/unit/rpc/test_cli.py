"""The hummingbird command line: every flag validated with a clear message (exit 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from jit.forks import Fork
from jit.native import unavailable_reason
from rpc import cli
from rpc.cli import build_parser, config_from, main
from rpc.namespaces.web3 import VERSION
from sequencer.config import ConfigError, NodeConfig


def parse(*argv: str) -> NodeConfig:
    return config_from(build_parser().parse_args(list(argv)))


def test_defaults() -> None:
    config = parse()
    assert config.chain.chain_id == 31337
    assert config.chain.fork is Fork.OSAKA
    assert config.chain.gas_limit == 60_000_000
    assert config.block_time == 0.010
    assert config.data_dir == ".hummingbird"
    assert config.engine == "auto"
    assert config.hot_threshold == 2


def test_flags() -> None:
    config = parse(
        "--chain-id",
        "1337",
        "--block-time",
        "250ms",
        "--balance",
        "1.5",
        "--hardfork",
        "prague",
        "--ephemeral",
        "--accounts",
        "3",
        "--base-fee",
        "7",
    )
    assert config.chain.chain_id == 1337
    assert config.block_time == 0.25
    assert config.balance == 15 * 10**17
    assert config.chain.fork is Fork.PRAGUE
    assert config.data_dir is None
    assert parse("--block-time", "2").block_time == 2.0


@pytest.mark.parametrize(
    "argv",
    [
        ["--port", "70000"],
        ["--port", "http"],
        ["--chain-id", "0"],
        ["--chain-id", str(2**64)],
        ["--accounts", "-1"],
        ["--accounts", "1" + "0" * 50],
        ["--balance", "lots"],
        ["--balance", "-1"],
        ["--balance", "nan"],
        ["--gas-limit", "100"],
        ["--hardfork", "frontier"],
        ["--block-time", "0"],
        ["--block-time", "5m"],
        ["--block-time", "9" * 400],
        ["--base-fee", str(2**256)],
        ["--port"],
        ["--no-such-flag"],
        ["--block-interval", "0"],
        ["--block-interval", "-1"],
        ["--block-interval", "nan"],
        ["--block-interval", "inf"],
        ["--block-interval", "1e30"],
        ["--block-interval", "two"],
        ["--client-version", ""],
        ["--client-version", "x" * 257],
        ["--client-version", "anvil\nInjected: header"],
        ["--engine", "llvm"],
        ["--engine", ""],
        ["--engine", "jit; rm -rf /"],
        ["--engine", "interpreter\x00"],
        ["--engine"],
        ["--jit-threshold"],
        ["--jit-threshold", "-1"],
        ["--jit-threshold", "1.5"],
        ["--jit-threshold", "hot"],
        ["--jit-threshold", ""],
        ["--jit-threshold", "1" + "0" * 50],
        ["--jit-threshold", "9" * 5000],  # beyond int()'s digit limit: still a clean error
        ["--jit-threshold", "1000000001"],
        ["--sender-recovery"],
        ["--sender-recovery", ""],
        ["--sender-recovery", "threads"],
        ["--sender-recovery", "worker\x00"],
        ["--sender-recovery", "x" * 10_000],
        ["--rpc-timeout"],
        ["--rpc-timeout", "0"],
        ["--rpc-timeout", "0s"],
        ["--rpc-timeout", "-1"],
        ["--rpc-timeout", "5m"],
        ["--rpc-timeout", "nan"],
        ["--rpc-timeout", "inf"],
        ["--rpc-timeout", "3601"],
        ["--rpc-timeout", "9" * 5000],
        ["--rpc-timeout", "5s\x00"],
        ["--rpc-gas-cap"],
        ["--rpc-gas-cap", "-1"],
        ["--rpc-gas-cap", "20999"],
        ["--rpc-gas-cap", "1.5"],
        ["--rpc-gas-cap", "lots"],
        ["--rpc-gas-cap", str(2**63)],
        ["--rpc-gas-cap", "9" * 5000],
        ["--max-trace-bytes"],
        ["--max-trace-bytes", "1023"],
        ["--max-trace-bytes", "-1"],
        ["--max-trace-bytes", "1MB"],
        ["--max-trace-bytes", str(2**64)],
        ["--max-trace-bytes", "9" * 5000],
        ["--workers"],
        ["--workers", "-1"],
        ["--workers", "65"],
        ["--workers", "two"],
        ["--workers", "1.5"],
        ["--workers", "9" * 5000],
        ["--allow-host"],
        ["--allow-host", ""],
        ["--allow-host", ","],
        ["--allow-host", "host:8545"],
        ["--allow-host", "http://devbox.lan"],
        ["--allow-host", "a b"],
        ["--allow-host", "devbox.lan\x00"],
        ["--allow-host", "x" * 10_000],
        ["--allow-host", "good.example,<script>"],
        ["--cors"],
        ["--cors", ""],
        ["--cors", "localhost:3000"],
        ["--cors", "http://"],
        ["--cors", "http://app.example/path"],
        ["--cors", "javascript:alert(1)"],
        ["--cors", "http://ok.example,evil"],
        ["--cors", "x" * 10_000],
        ["--allow-origin", "nope"],
        ["--max-connections"],
        ["--max-connections", "0"],
        ["--max-connections", "-1"],
        ["--max-connections", "lots"],
        ["--max-connections", "1.5"],
        ["--max-connections", str(10**9)],
        ["--max-connections", "9" * 5000],
        ["--max-subscriptions", "0"],
        ["--max-subscriptions", "-5"],
        ["--max-subscriptions", "many"],
        ["--max-subscriptions", "1" + "0" * 50],
        ["--max-filters", "0"],
        ["--max-filters", ""],
        ["--max-filters", "1e3"],
        ["--max-filters", "9" * 5000],
        ["--filter-backlog"],
        ["--filter-backlog", "0"],
        ["--filter-backlog", "-1"],
        ["--filter-backlog", "1KiB"],
        ["--filter-backlog", "65GiB"],
        ["--filter-backlog", "1TB"],
        ["--filter-backlog", "lots"],
        ["--filter-backlog", "64 MiB extra"],
        ["--filter-backlog", "9" * 5000],
        ["--filter-backlog", "nan"],
        ["--log-format"],
        ["--log-format", "xml"],
        ["--log-format", "JSON lines"],
        ["--log-format", "x" * 5000],
        ["--verbose=2"],
    ],
)
def test_bad_flags_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(argv)
    assert exited.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_rpc_limit_flags() -> None:
    default = config_from(build_parser().parse_args([]))
    assert (default.rpc_timeout, default.rpc_gas_cap) == (5.0, 50_000_000)  # geth's
    config = config_from(
        build_parser().parse_args(["--rpc-timeout", "250ms", "--rpc-gas-cap", "21000"])
    )
    assert (config.rpc_timeout, config.rpc_gas_cap) == (0.25, 21_000)
    assert config_from(build_parser().parse_args(["--rpc-timeout", "2"])).rpc_timeout == 2.0
    assert config_from(build_parser().parse_args(["--rpc-gas-cap", "0"])).rpc_gas_cap == 2**63 - 1
    assert default.max_trace_bytes == 256 * 1024 * 1024
    assert default.console_log
    assert not config_from(build_parser().parse_args(["--disable-console-log"])).console_log
    traced = config_from(build_parser().parse_args(["--max-trace-bytes", "0x10000"]))
    assert traced.max_trace_bytes == 65536


def test_mining_and_identity_flags() -> None:
    config = config_from(
        build_parser().parse_args(
            ["--block-interval", "2.5", "--no-mining", "--client-version", "anvil/custom"]
        )
    )
    assert config.block_interval == 2.5 and config.no_mining
    assert config.client_version == "anvil/custom"
    assert not config.hardhat_compat
    assert config_from(build_parser().parse_args(["--hardhat-compat"])).hardhat_compat
    default = config_from(build_parser().parse_args([]))
    assert default.block_interval is None and not default.no_mining
    assert default.client_version is None


def test_workers_default_to_the_cores_the_sequencer_does_not_use() -> None:
    from rpc.cli import default_workers

    assert config_from(build_parser().parse_args([])).workers == default_workers()
    assert default_workers() == max(0, (os.cpu_count() or 1) - 2)
    assert config_from(build_parser().parse_args(["--workers", "0"])).workers == 0
    assert config_from(build_parser().parse_args(["--workers", "3"])).workers == 3


def test_bad_mnemonic_is_refused() -> None:
    from sequencer.config import ConfigError

    with pytest.raises(ConfigError, match="mnemonic"):
        parse("--mnemonic", "not a mnemonic")


@pytest.mark.parametrize("mode", ["interpreter", "jit", "auto", "JIT", " auto "])
def test_engine_flag(mode: str) -> None:
    config = parse("--engine", mode)
    assert config.engine == mode.strip().lower()


@pytest.mark.parametrize("mode", ["auto", "worker", "inline", " Worker "])
def test_sender_recovery_flag(mode: str) -> None:
    assert parse("--sender-recovery", mode).sender_recovery == mode.strip().lower()
    assert parse().sender_recovery == "auto"


def test_jit_threshold_flag() -> None:
    assert parse("--jit-threshold", "0").hot_threshold == 0
    assert parse("--jit-threshold", "1").hot_threshold == 1
    assert parse("--jit-threshold", "0x10").hot_threshold == 16
    big = parse("--engine", "auto", "--jit-threshold", "1000000000")
    assert big.hot_threshold == 10**9


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--engine", "llvm"], "unknown engine 'llvm'; choose one of interpreter, jit, auto"),
        (["--jit-threshold", "-1"], "JIT threshold must be in 0..1000000000, got -1"),
        (["--jit-threshold", "lots"], "JIT threshold must be an integer, got 'lots'"),
        (["--jit-threshold", "9" * 5000], "got '" + "9" * 40 + "'... (5000 characters)"),
        (["--jit-threshold", "1" * 100], "must be in 0..1000000000, got '" + "1" * 40 + "'..."),
        (["--engine", "x" * 10_000], "unknown engine '" + "x" * 40 + "'... (10000 characters)"),
    ],
)
def test_engine_errors_name_the_flag(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(argv)
    assert message in capsys.readouterr().err


def test_banner_and_info_show_the_engine() -> None:
    from rpc.cli import banner
    from sequencer.node import Node

    node = Node(parse("--ephemeral", "--accounts", "1", "--engine", "auto", "--jit-threshold", "5"))
    try:
        text = banner(node, "http://127.0.0.1:8545")
        assert (
            "Engine:            auto (a code is interpreted for its first 5 runs, then compiled"
            in text
        )
        if unavailable_reason() is None:
            assert "; then after 16 runs, machine code for the regions" in text
        info = node.info()
        assert info["engine"]["mode"] == "auto"
        assert info["engine"]["hotThreshold"] == 5
    finally:
        node.close()
    node = Node(parse("--ephemeral", "--accounts", "0", "--engine", "interpreter"))
    try:
        assert "Engine:            interpreter\n" in banner(node, "http://x")
        assert node.info()["engine"]["mode"] == "interpreter"
    finally:
        node.close()


def test_tune_gc_freezes_start_up_objects_and_sets_thresholds() -> None:
    """Process-wide, so checked in a child interpreter; a cycle made afterwards is still
    collected (the collector is tuned, not off)."""
    script = (
        "import gc, weakref\n"
        "from sequencer.gc_tuning import tune_gc, GC_YOUNG_THRESHOLD, GC_OLDER_THRESHOLDS\n"
        "tune_gc()\n"
        "assert gc.get_threshold() == (GC_YOUNG_THRESHOLD, *GC_OLDER_THRESHOLDS)\n"
        "assert gc.get_freeze_count() > 1000\n"
        "class Node: pass\n"
        "a = Node(); a.me = a; ref = weakref.ref(a); del a\n"
        "gc.collect(0)\n"
        "assert ref() is None\n"
        "print('ok')\n"
    )
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_main_tunes_gc_only_once_the_node_is_up(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}

    async def fake_run(config: NodeConfig, host: str, port: int, **kwargs: object) -> None:
        seen.update(kwargs)

    monkeypatch.setattr(cli, "run", fake_run)
    assert cli.main(["--ephemeral", "-q"]) == 0
    assert seen["on_ready"] is cli.tune_gc


def test_exposure_and_limit_flags_defaults() -> None:
    transport = cli.transport_from(build_parser().parse_args([]))
    assert transport == cli.TransportOptions()
    assert (transport.allow_hosts, transport.cors) == ((), ())
    assert (transport.max_connections, transport.max_subscriptions) == (1000, 1000)
    assert transport.filters.max_filters == 10_000
    assert transport.filters.backlog_bytes == 64 * 1024 * 1024
    assert transport.filters.timeout == 300.0


def test_exposure_and_limit_flags() -> None:
    args = build_parser().parse_args(
        [
            "--allow-host",
            "DevBox.lan,node.example",
            "--allow-host",
            "*",
            "--cors",
            "https://App.example",
            "--allow-origin",
            "null,http://localhost:3000",
            "--max-connections",
            "5000",
            "--max-subscriptions",
            "10",
            "--max-filters",
            "0x10",
            "--filter-backlog",
            "512KiB",
        ]
    )
    transport = cli.transport_from(args)
    assert transport.allow_hosts == ("devbox.lan", "node.example", "*")
    assert transport.cors == ("https://app.example", "null", "http://localhost:3000")
    assert (transport.max_connections, transport.max_subscriptions) == (5000, 10)
    assert transport.filters.max_filters == 16
    assert transport.filters.backlog_bytes == 512 * 1024


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("65536", 65536),
        ("64MiB", 64 * 1024**2),
        ("64mib", 64 * 1024**2),
        ("64MB", 64 * 10**6),
        ("64M", 64 * 10**6),
        ("512k", 512_000),
        ("1GiB", 1024**3),
        ("64GiB", 64 * 1024**3),
        (" 2 GB ", 2 * 10**9),
    ],
)
def test_filter_backlog_sizes(text: str, size: int) -> None:
    assert build_parser().parse_args(["--filter-backlog", text]).filter_backlog == size


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--allow-host", "host:8545"], "--allow-host: 'host:8545' is not a host name"),
        (["--cors", "localhost:3000"], "--cors: 'localhost:3000' is not an origin"),
        (["--cors", "x" * 10_000], "... (10000 characters)"),
        (["--max-connections", "0"], "max connections must be in 1..1000000, got 0"),
        (["--filter-backlog", "1KiB"], "filter backlog must be in 64KiB..64GiB, got '1KiB'"),
    ],
)
def test_exposure_flag_errors_name_the_flag(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(argv)
    assert message in capsys.readouterr().err


def test_main_passes_the_transport_options(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, object] = {}

    async def fake_run(config: NodeConfig, host: str, port: int, **kwargs: object) -> None:
        seen.update(kwargs)

    monkeypatch.setattr(cli, "run", fake_run)
    assert cli.main(["--ephemeral", "-q", "--cors", "*", "--max-subscriptions", "7"]) == 0
    transport = seen["transport"]
    assert isinstance(transport, cli.TransportOptions)
    assert transport.cors == ("*",) and transport.max_subscriptions == 7


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "devbox.lan"])
def test_listening_beyond_loopback_warns(host: str) -> None:
    warning = cli.exposure_warning(host)
    assert warning is not None
    assert warning.startswith(f"WARNING: listening on {host}, reachable from other machines")
    assert "private keys" in warning


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_does_not_warn(host: str) -> None:
    assert cli.exposure_warning(host) is None


async def test_run_prints_the_warning_to_stderr_and_the_log(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """A real run on 0.0.0.0 (port 0), stopped by SIGTERM once ready."""
    import asyncio
    import os
    import signal

    def ready() -> None:
        # later: run() installs its SIGTERM handler after on_ready returns
        asyncio.get_running_loop().call_later(0.05, os.kill, os.getpid(), signal.SIGTERM)

    config = parse("--ephemeral", "--accounts", "1", "--sender-recovery", "inline")
    with caplog.at_level("WARNING", logger="hummingbird.cli"):
        await cli.run(config, "0.0.0.0", 0, print_banner=False, on_ready=ready)
    assert "WARNING: listening on 0.0.0.0" in capsys.readouterr().err
    assert any("listening on 0.0.0.0" in r.getMessage() for r in caplog.records)


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    for flag in ("--version", "-V"):
        with pytest.raises(SystemExit) as stop:
            main([flag])
        assert stop.value.code == 0
        assert capsys.readouterr().out.strip() == f"hummingbird {VERSION}"


def test_reset_flag_and_its_conflict_with_ephemeral() -> None:
    from sequencer.config import ConfigError

    assert parse("--reset").reset is True
    assert parse().reset is False
    with pytest.raises(ConfigError, match="--ephemeral has none"):
        parse("--reset", "--ephemeral")


def test_a_pasted_mnemonics_stray_spaces_are_dropped() -> None:
    words = "test test test test test test test test test test test junk"
    assert parse("--mnemonic", "  " + words.replace(" ", "   ") + "\n").mnemonic == words


def test_banner_shows_the_balances_the_chain_holds_and_where_it_lives(tmp_path: Path) -> None:
    from rpc.cli import banner
    from sequencer.node import Node

    node = Node(parse("--data-dir", str(tmp_path / "chain"), "--accounts", "2"))
    try:
        node.edit_state(node.accounts[1].address, balance=1_500_000_000_000_000_000)
        text = banner(node, "http://127.0.0.1:8545")
        assert f"(1) 0x{node.accounts[1].address.hex()} (1.500000 ETH)" in text
        assert f"(0) 0x{node.accounts[0].address.hex()} (10000.000000 ETH)" in text
        assert f"Data directory:    {tmp_path / 'chain'}\n" in text
        assert "--reset starts a new one there, --ephemeral keeps none" in text
    finally:
        node.close()
    node = Node(parse("--ephemeral", "--accounts", "0"))
    try:
        assert "(ephemeral, in memory: nothing is kept when the node stops)" in banner(node, "x")
    finally:
        node.close()


def test_log_flags() -> None:
    args = build_parser().parse_args([])
    assert (args.verbose, args.quiet, args.log_format) == (0, False, "text")
    args = build_parser().parse_args(["-vv", "--log-format", "json"])
    assert (args.verbose, args.log_format) == (2, "json")
    assert build_parser().parse_args(["-v", "--verbose"]).verbose == 2


def test_the_native_cache_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """--engine native keeps machine code in the user's cache directory unless told
    otherwise; the other engines keep none; contradictory or empty flags are refused."""
    pytest.importorskip("llvmlite")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    default = str(tmp_path / "xdg/hummingbird/native")
    assert parse().native_cache_dir == default  # auto goes on to machine code
    assert parse("--native-runs", "0").native_cache_dir is None  # ... unless told not to
    assert parse("--engine", "jit").native_cache_dir is None
    assert parse("--engine", "native").native_cache_dir == default
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert parse("--engine", "native").native_cache_dir == str(
        tmp_path / "home/.cache/hummingbird/native"
    )
    chosen = str(tmp_path / "mine")
    assert parse("--engine", "native", "--native-cache", chosen).native_cache_dir == chosen
    assert parse("--engine", "native", "--no-native-cache").native_cache_dir is None
    for argv, message in [
        (["--engine", "native", "--native-cache", chosen, "--no-native-cache"], "do not go"),
        (["--engine", "native", "--native-cache", ""], "not a directory path"),
        (["--engine", "native", "--native-cache", "a\0b"], "not a directory path"),
        (["--engine", "interpreter", "--native-cache", chosen], "needs --engine auto or native"),
        (["--native-runs", "0", "--native-cache", chosen], "needs --engine auto or native"),
        (["--engine", "native", "--native-runs", "0"], "at least one run"),
    ]:
        with pytest.raises(ConfigError, match=message):
            parse(*argv)
    with pytest.raises(ConfigError, match="must be a path"):
        NodeConfig(data_dir=None, native_cache_dir="")


def test_the_native_runs_flag() -> None:
    assert parse().native_runs == 16
    assert parse("--native-runs", "0").native_runs == 0
    assert parse("--engine", "native", "--native-runs", "3").native_runs == 3
    for bad in (["--native-runs", "-1"], ["--native-runs", "x"], ["--native-runs", "1e99"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(bad)
    for value in (-1, 10**10, True, 1.5):
        with pytest.raises(ConfigError, match="native runs must be"):
            NodeConfig(data_dir=None, native_runs=value)  # type: ignore[arg-type]
