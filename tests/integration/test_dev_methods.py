"""The dev methods over JSON-RPC with wrong, missing, huge and hostile params: each gets a
clear -32602 / -32000 (or anvil's false), and nothing the node held is lost; edits and
the chain id survive a restart of a node with a data directory."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest

from tests.integration.node_process import hummingbird, rpc

ADDR = "0x000000000000000000000000000000000000d0d0"
WORD = "0x" + "00" * 31 + "2a"


def call(url: str, method: str, params: list[Any] | None = None) -> Any:
    response = rpc(url, method, params)
    assert isinstance(response, dict)
    return response


HOSTILE: list[tuple[str, list[Any], int]] = [
    ("anvil_setBalance", [ADDR, "0x1" + "0" * 64], -32602),  # 2**256
    ("anvil_setBalance", [ADDR, -1], -32602),
    ("anvil_setBalance", [ADDR, "lots"], -32602),
    ("anvil_setBalance", [ADDR, "9" * 100_000], -32602),
    ("anvil_setBalance", [ADDR], -32602),
    ("anvil_setBalance", ["0x1234", "0x1"], -32602),
    ("anvil_setBalance", [ADDR, True], -32602),
    ("anvil_addBalance", [ADDR, "0x" + "f" * 64], -32602),  # overflows what is there
    ("anvil_setNonce", [ADDR, hex(2**64)], -32602),
    ("anvil_setCode", [ADDR, "0x" + "00" * ((1 << 20) + 1)], -32602),
    ("anvil_setCode", [ADDR, "0x123"], -32602),
    ("anvil_setStorageAt", [ADDR, "0x0", "0x2a"], -32602),  # value not 32 bytes
    ("anvil_setStorageAt", [ADDR, "0x1" + "0" * 64, WORD], -32602),  # slot >= 2**256
    ("anvil_mine", [hex(2**64)], -32602),
    ("anvil_mine", ["0x186a1"], -32602),  # 100,001
    ("hardhat_mine", [hex(2**64), "0x1"], -32602),
    ("evm_mine", [{"blocks": hex(2**64)}], -32602),
    ("evm_mine", [{"bogus": 1}], -32602),
    ("evm_setNextBlockTimestamp", [1], -32602),  # behind the head
    ("evm_setNextBlockTimestamp", [hex(2**64)], -32602),
    ("evm_increaseTime", ["-5"], -32602),
    ("evm_setIntervalMining", [[5000, 1000]], -32602),
    ("evm_setIntervalMining", [[1, 2, 3]], -32602),
    ("anvil_setBlockGasLimit", ["0x1"], -32602),
    ("anvil_setNextBlockBaseFeePerGas", [hex(2**64)], -32602),
    ("anvil_setNextBlockPrevRandao", ["0x01"], -32602),
    ("anvil_setChainId", ["0x0"], -32602),
    ("anvil_rollback", [hex(10**6)], -32602),
    ("anvil_loadState", ["0x1234"], -32602),
    ("anvil_loadState", ["not hex at all"], -32602),
    ("anvil_loadState", [5], -32602),
    ("anvil_loadState", ["0x" + gzip.compress(b"{" * 1000).hex()], -32602),
    ("anvil_loadState", ["0x" + gzip.compress(b'{"accounts": 5}').hex()], -32602),
    ("anvil_reset", [{"forking": {"jsonRpcUrl": "http://127.0.0.1:1"}}], -32000),
    ("anvil_reset", ["now"], -32602),
    ("anvil_impersonateAccount", ["0xzz"], -32602),
    ("anvil_setAutomine", ["yes"], -32602),
    ("eth_sendUnsignedTransaction", [{"to": ADDR}], -32602),
]


def test_hostile_params_are_refused_and_lose_nothing(tmp_path: Path) -> None:
    with hummingbird(tmp_path) as node:
        url = node.url
        assert call(url, "anvil_setBalance", [ADDR, "0x64"]) == {
            "jsonrpc": "2.0",
            "id": 1,
            "result": None,
        }
        call(url, "anvil_setStorageAt", [ADDR, "0x1", WORD])
        call(url, "anvil_mine", ["0x2"])
        head = call(url, "eth_blockNumber")["result"]
        snap = call(url, "evm_snapshot")["result"]
        for method, params, code in HOSTILE:
            response = call(url, method, params)
            assert "error" in response, (method, params, response)
            assert response["error"]["code"] == code, (method, params, response)
            assert response["error"]["message"], (method, params)
        # Unknown and used snapshot ids: anvil's false, not an error.
        assert call(url, "evm_revert", ["0x99"])["result"] is False
        assert call(url, "evm_revert", [hex(2**256 - 1)])["result"] is False
        assert call(url, "evm_revert", ["0x" + "1" * 65])["error"]["code"] == -32602
        # Nothing was lost or half-applied.
        assert call(url, "eth_blockNumber")["result"] == head
        assert call(url, "eth_getBalance", [ADDR, "latest"])["result"] == "0x64"
        assert call(url, "eth_getStorageAt", [ADDR, "0x1", "latest"])["result"] == WORD
        assert call(url, "eth_getCode", [ADDR, "latest"])["result"] == "0x"
        assert call(url, "eth_chainId")["result"] == "0x7a69"
        assert call(url, "evm_revert", [snap])["result"] is True
        assert call(url, "evm_revert", [snap])["result"] is False
        assert "Traceback" not in node.log()


def test_edits_and_chain_id_survive_a_restart(tmp_path: Path) -> None:
    with hummingbird(tmp_path, ephemeral=False) as node:
        call(node.url, "anvil_setBalance", [ADDR, "0x1234"])
        call(node.url, "anvil_setCode", [ADDR, "0x6001"])
        call(node.url, "anvil_setChainId", ["0x309"])
    with hummingbird(tmp_path, "--chain-id", "777", ephemeral=False) as node:
        assert call(node.url, "eth_getBalance", [ADDR, "latest"])["result"] == "0x1234"
        assert call(node.url, "eth_getCode", [ADDR, "latest"])["result"] == "0x6001"
        assert call(node.url, "eth_chainId")["result"] == "0x309"


@pytest.mark.parametrize("params", [[], [{}], [{"forking": {"blockNumber": None}}]])
def test_reset_forms_viem_and_hardhat_send(tmp_path: Path, params: list[Any]) -> None:
    with hummingbird(tmp_path) as node:
        call(node.url, "anvil_mine", ["0x3"])
        call(node.url, "anvil_setBalance", [ADDR, "0x5"])
        assert call(node.url, "hardhat_reset", params)["result"] is None
        assert call(node.url, "eth_blockNumber")["result"] == "0x0"
        assert call(node.url, "eth_getBalance", [ADDR, "latest"])["result"] == "0x0"


def test_state_file_round_trip_and_bad_files(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    state = tmp_path / "state.json"
    with hummingbird(tmp_path, "--state", str(state)) as node:
        call(node.url, "anvil_setBalance", [ADDR, "0x4242"])
        call(node.url, "anvil_setStorageAt", [ADDR, "0x7", WORD])
    dumped = json.loads(state.read_text())  # written on the clean exit, anvil's shape
    assert dumped["accounts"][ADDR]["balance"] == "0x4242"
    with hummingbird(tmp_path, "--load-state", str(state)) as node:  # a fresh chain
        assert call(node.url, "eth_getBalance", [ADDR, "latest"])["result"] == "0x4242"
        assert call(node.url, "eth_getStorageAt", [ADDR, "0x7", "latest"])["result"] == WORD
    bad = tmp_path / "bad.json"
    for content in (b"{not json", b'{"accounts": 7}', b"\x1f\x8b\x08garbage"):
        bad.write_bytes(content)
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "rpc.cli",
                "--ephemeral",
                "--port",
                "0",
                "--load-state",
                str(bad),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 2, result.stderr
        assert "not an anvil state dump" in result.stderr
    missing = subprocess.run(
        [
            sys.executable,
            "-m",
            "rpc.cli",
            "--ephemeral",
            "--port",
            "0",
            "--load-state",
            str(tmp_path / "nope.json"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2 and "cannot read state file" in missing.stderr


async def _removed_logs(url: str, ws_url: str) -> list[dict[str, Any]]:
    import asyncio

    import aiohttp

    emitter = "0x00000000000000000000000000000000000e0e0e"
    sender = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"
    call(url, "anvil_setCode", [emitter, "0x60006000a000"])  # LOG0 of nothing
    snap = call(url, "evm_snapshot")["result"]
    got: list[dict[str, Any]] = []
    async with aiohttp.ClientSession() as session, session.ws_connect(ws_url) as ws:
        await ws.send_json(
            {"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": ["logs", {}]}
        )
        await ws.receive_json(timeout=10)
        await asyncio.to_thread(
            call, url, "eth_sendTransaction", [{"from": sender, "to": emitter, "gas": "0x7530"}]
        )
        got.append((await ws.receive_json(timeout=10))["params"]["result"])
        assert (await asyncio.to_thread(call, url, "evm_revert", [snap]))["result"] is True
        got.append((await ws.receive_json(timeout=10))["params"]["result"])
    return got


def test_a_revert_takes_back_subscribed_logs(tmp_path: Path) -> None:
    import asyncio

    with hummingbird(tmp_path) as node:
        sent, removed = asyncio.run(_removed_logs(node.url, node.ws_url))
    assert sent["removed"] is False and removed["removed"] is True
    assert {k: v for k, v in removed.items() if k != "removed"} == {
        k: v for k, v in sent.items() if k != "removed"
    }
