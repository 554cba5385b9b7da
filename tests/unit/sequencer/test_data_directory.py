"""A data directory across restarts (issue 21, "first ten minutes"): a restart with
another mnemonic, hardfork or chain id is refused with the ways out, and ``--reset``
(``NodeConfig.reset``) deletes only a Hummingbird chain that no running node holds."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from jit.forks import Fork
from sequencer.config import ConfigError, NodeConfig
from sequencer.genesis import mnemonic_id
from sequencer.node import Node
from statedb import StateDBError, remove_database

OTHER_MNEMONIC = "abandon " * 11 + "about"


def config(tmp_path: Path, **fields: object) -> NodeConfig:
    return replace(NodeConfig(data_dir=str(tmp_path / "chain"), accounts=2), **fields)  # type: ignore[arg-type]


def first_balance(node: Node) -> int:
    held = node.account(node.accounts[0].address, node.head_number)
    return 0 if held is None else held.balance


def test_mnemonic_id_ignores_spacing_but_not_words() -> None:
    assert mnemonic_id("a  b c") == mnemonic_id(" a b c ")
    assert mnemonic_id("a b c") != mnemonic_id("a b d")
    assert len(mnemonic_id("a b c")) == 8


def test_a_restart_with_another_mnemonic_is_refused(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    Node(cfg).close()
    with pytest.raises(ConfigError, match=r"another mnemonic.*--reset"):
        Node(replace(cfg, mnemonic=OTHER_MNEMONIC))
    Node(cfg).close()  # the chain is untouched


def test_a_restart_on_another_hardfork_is_refused(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    Node(cfg).close()
    amsterdam = replace(cfg, chain=replace(cfg.chain, fork=Fork.AMSTERDAM))
    with pytest.raises(
        ConfigError, match=r"on the osaka hardfork, not amsterdam.*--hardfork osaka"
    ):
        Node(amsterdam)
    Node(cfg).close()  # the chain is untouched


def test_a_restart_with_another_chain_id_names_the_stored_one(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    Node(cfg).close()
    with pytest.raises(ConfigError, match="--chain-id 31337 to continue it, --reset"):
        Node(replace(cfg, chain=replace(cfg.chain, chain_id=5)))


def test_reset_starts_a_new_chain_with_the_new_settings(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    node = Node(cfg)
    node.edit_state(node.accounts[0].address, balance=1)
    node.close()
    node = Node(replace(cfg, mnemonic=OTHER_MNEMONIC, reset=True))
    try:
        assert node.head_number == 0
        assert first_balance(node) == cfg.balance  # the new mnemonic's accounts are funded
    finally:
        node.close()
    # A plain restart after the reset continues the new chain (its mnemonic recorded).
    Node(replace(cfg, mnemonic=OTHER_MNEMONIC)).close()
    with pytest.raises(ConfigError, match="another mnemonic"):
        Node(cfg)


def test_reset_of_a_missing_directory_just_starts(tmp_path: Path) -> None:
    assert remove_database(tmp_path / "none") is False
    node = Node(config(tmp_path, reset=True))
    node.close()


def test_reset_refuses_what_is_not_a_hummingbird_directory(tmp_path: Path) -> None:
    folder = tmp_path / "chain"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(
        ConfigError, match=r"only a Hummingbird data directory.*nothing was deleted"
    ):
        Node(config(tmp_path, reset=True))
    assert (folder / "notes.txt").read_text() == "mine"
    plain_file = tmp_path / "file"
    plain_file.write_text("x")
    with pytest.raises(Exception, match="not a directory"):
        remove_database(plain_file)
    assert plain_file.exists()


def test_reset_refuses_a_directory_another_process_holds(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    Node(cfg).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys
                from sequencer.config import NodeConfig
                from sequencer.node import Node
                node = Node(NodeConfig(data_dir={cfg.data_dir!r}, accounts=2))
                print("open", flush=True)
                sys.stdin.read()
                node.close()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[3],
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(StateDBError, match="in use"):
            remove_database(cfg.data_dir)  # type: ignore[arg-type]
        with pytest.raises(ConfigError, match=r"--reset: .*in use.*nothing was deleted"):
            Node(replace(cfg, reset=True))
    finally:
        holder.communicate("", timeout=30)
    assert Path(cfg.data_dir).is_dir()  # type: ignore[arg-type]
    assert remove_database(cfg.data_dir) is True  # type: ignore[arg-type]
    assert not Path(cfg.data_dir).exists()  # type: ignore[arg-type]
