"""``--megaeth``'s defaults (sequencer.megaeth) and that every one yields to its own flag;
``--evm-block-time`` refused where it makes no sense."""

from __future__ import annotations

import pytest

from jit.forks import Fork
from rpc.cli import build_parser, config_from, transport_from
from sequencer.config import ConfigError


def _config(*argv: str):  # type: ignore[no-untyped-def]
    args = build_parser().parse_args(list(argv))
    return config_from(args), transport_from(args)


def test_megaeth_defaults() -> None:
    config, transport = _config("--megaeth")
    chain = config.chain
    assert (chain.chain_id, chain.gas_limit, chain.base_fee) == (4326, 10_000_000_000, 1_000_000)
    assert chain.fixed_base_fee and chain.fork == Fork.PRAGUE
    assert config.megaeth and config.evm_block_time == 1.0
    assert transport.max_subscriptions == 5


def test_plain_defaults_are_unchanged() -> None:
    config, transport = _config()
    chain = config.chain
    assert (chain.chain_id, chain.gas_limit, chain.base_fee) == (31337, 60_000_000, 10**9)
    assert not chain.fixed_base_fee and chain.fork == Fork.OSAKA
    assert not config.megaeth and config.evm_block_time is None
    assert transport.max_subscriptions > 5


def test_flags_override_megaeth_defaults() -> None:
    config, transport = _config(
        "--megaeth",
        "--chain-id",
        "6343",
        "--gas-limit",
        "30000000",
        "--base-fee",
        "7",
        "--hardfork",
        "osaka",
        "--evm-block-time",
        "250ms",
        "--max-subscriptions",
        "100",
    )
    chain = config.chain
    assert (chain.chain_id, chain.gas_limit, chain.base_fee) == (6343, 30_000_000, 7)
    assert chain.fixed_base_fee and chain.fork == Fork.OSAKA
    assert config.evm_block_time == 0.25 and transport.max_subscriptions == 100


def test_megaeth_with_interval_mining_has_one_tier() -> None:
    config, _ = _config("--megaeth", "--block-interval", "2")
    assert config.evm_block_time is None and config.block_interval == 2.0


@pytest.mark.parametrize(
    "argv",
    [
        ("--evm-block-time", "1s", "--block-interval", "1"),
        ("--evm-block-time", "5ms"),
        ("--evm-block-time", "20ms", "--block-time", "50ms"),
    ],
)
def test_bad_two_tier_combinations(argv: tuple[str, ...]) -> None:
    with pytest.raises(ConfigError):
        _config(*argv)


@pytest.mark.parametrize("value", ["0", "-1s", "soon", "1e9", "", "3601"])
def test_bad_evm_block_times_are_refused_by_the_parser(value: str) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--evm-block-time", value])


def test_megaeth_needs_prague_or_later() -> None:
    with pytest.raises(ConfigError, match="Prague or later"):
        _config("--megaeth", "--hardfork", "cancun")


def test_rules_round_trip_through_their_key() -> None:
    from jit.forks import megaeth_rules, rules_for, rules_named

    for rules in (rules_for(Fork.OSAKA), megaeth_rules(Fork.PRAGUE), megaeth_rules(Fork.OSAKA)):
        assert rules_named(rules.key) is rules
    for bad in ("osaka+optimism", "nofork", "cancun+megaeth"):
        with pytest.raises(ValueError):
            rules_named(bad)
