"""The hummingbird command line: every flag validated with a clear message (exit 2)."""

from __future__ import annotations

import pytest

from jit.forks import Fork
from rpc.cli import build_parser, config_from


def parse(*argv: str) -> object:
    return config_from(build_parser().parse_args(list(argv)))


def test_defaults() -> None:
    config = parse()
    assert config.chain.chain_id == 31337  # type: ignore[attr-defined]
    assert config.chain.fork is Fork.OSAKA  # type: ignore[attr-defined]
    assert config.chain.gas_limit == 60_000_000  # type: ignore[attr-defined]
    assert config.block_time == 0.010  # type: ignore[attr-defined]
    assert config.data_dir == ".hummingbird"  # type: ignore[attr-defined]


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
    assert config.chain.chain_id == 1337  # type: ignore[attr-defined]
    assert config.block_time == 0.25  # type: ignore[attr-defined]
    assert config.balance == 15 * 10**17  # type: ignore[attr-defined]
    assert config.chain.fork is Fork.PRAGUE  # type: ignore[attr-defined]
    assert config.data_dir is None  # type: ignore[attr-defined]
    assert parse("--block-time", "2").block_time == 2.0  # type: ignore[attr-defined]


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
    ],
)
def test_bad_flags_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(argv)
    assert exited.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_bad_mnemonic_is_refused() -> None:
    from sequencer.config import ConfigError

    with pytest.raises(ConfigError, match="mnemonic"):
        parse("--mnemonic", "not a mnemonic")
