"""A real node started with ``--hardfork amsterdam``: its blocks commit to their EIP-7928
access list and slot number, and ``eth_getBlockAccessList`` (read from the list stored
at the seal) hashes to the header's ``blockAccessListHash``, in both JSON and raw form."""

from __future__ import annotations

from pathlib import Path

import pytest

from rpc.namespaces.access_list import from_json
from sequencer.access_list import EMPTY_BAL_HASH, bal_hash, decode
from statedb.types import keccak256
from tests.integration.node_process import hummingbird, rpc

SENDER = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266"  # the first dev account
RECIPIENT = "0x" + "ab" * 20


def _result(url: str, method: str, params: list[object]) -> object:
    answer = rpc(url, method, params)
    assert isinstance(answer, dict)
    assert "error" not in answer, answer
    return answer["result"]


@pytest.mark.parametrize("extra", [[], ["--workers", "1"]])
def test_amsterdam_blocks_serve_the_access_list_their_header_commits_to(
    tmp_path: Path, extra: list[str]
) -> None:
    with hummingbird(tmp_path, "--hardfork", "amsterdam", *extra) as node:
        genesis = _result(node.url, "eth_getBlockByNumber", ["0x0", False])
        assert isinstance(genesis, dict)
        assert genesis["blockAccessListHash"] == "0x" + EMPTY_BAL_HASH.hex()
        assert genesis["slotNumber"] == "0x0"
        tx_hash = _result(
            node.url,
            "eth_sendTransaction",
            [{"from": SENDER, "to": RECIPIENT, "value": "0x1234"}],
        )
        receipt = _result(node.url, "eth_getTransactionReceipt", [tx_hash])
        assert isinstance(receipt, dict)
        number = receipt["blockNumber"]
        block = _result(node.url, "eth_getBlockByNumber", [number, False])
        assert isinstance(block, dict)
        committed = bytes.fromhex(block["blockAccessListHash"][2:])
        assert (
            int(block["slotNumber"], 16)
            == (int(block["timestamp"], 16) - int(genesis["timestamp"], 16)) // 12
        )

        listed = from_json(_result(node.url, "eth_getBlockAccessList", [number]))
        assert bal_hash(listed) == committed
        addresses = {"0x" + a.address.hex() for a in listed.accounts}
        assert {SENDER, RECIPIENT} <= addresses
        raw = _result(node.url, "eth_getBlockAccessListRaw", [number])
        assert isinstance(raw, str)
        assert keccak256(bytes.fromhex(raw[2:])) == committed
        assert decode(bytes.fromhex(raw[2:])) == listed
        by_hash = _result(node.url, "eth_getBlockAccessListByBlockHash", [block["hash"]])
        assert from_json(by_hash) == listed
        # Hostile block ids are refused with an error, unknown ones are null.
        for bad in (["0x"], ["latest", 1], [{"blockNumber": "0xzz"}], ["0x" + "f" * 70]):
            answer = rpc(node.url, "eth_getBlockAccessList", bad)  # type: ignore[arg-type]
            assert isinstance(answer, dict) and "error" in answer, (bad, answer)
        assert _result(node.url, "eth_getBlockAccessList", ["0x" + "ff" * 7]) is None
