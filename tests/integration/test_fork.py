"""Fork mode (issue 19) with real processes: an upstream Hummingbird loaded with an
ERC-20 and a holder, a node forking it (``--fork-url``). At the fork block the fork
answers every state read as the upstream does; it transacts on top without touching
the upstream, impersonates the holder, reverts a snapshot, resets to the fork block,
restarts from its data directory, and refuses bad flags, bad upstreams and a data
directory that belongs to another chain or fork."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.node_process import REPO, _running, contract, free_port, hummingbird, rpc

SUPPLY = 10**24
HOLDER = "0x" + "42" * 20
STRANGER = "0x" + "77" * 20
TRANSFER = "a9059cbb"
BALANCE_OF = "70a08231"


def _ok(url: str, method: str, params: list[Any] | None = None) -> Any:
    answer = rpc(url, method, params)
    assert isinstance(answer, dict)
    assert "error" not in answer, (method, answer)
    return answer["result"]


def _word(address: str) -> str:
    return address[2:].lower().rjust(64, "0")


def _transfer(to: str, amount: int) -> str:
    return "0x" + TRANSFER + _word(to) + f"{amount:064x}"


def _balance_of(url: str, token: str, holder: str, block: str = "latest") -> int:
    return int(
        _ok(url, "eth_call", [{"to": token, "data": "0x" + BALANCE_OF + _word(holder)}, block]), 16
    )


def _load_upstream(url: str) -> tuple[str, str]:
    """(deployer, token): the deployer holds the supply less 5 tokens sent to HOLDER."""
    deployer = _ok(url, "eth_accounts")[0]
    bytecode = str(contract("Token")["bytecode"])
    tx = _ok(
        url,
        "eth_sendTransaction",
        [{"from": deployer, "data": bytecode + f"{SUPPLY:064x}", "gas": hex(2_000_000)}],
    )
    token = _ok(url, "eth_getTransactionReceipt", [tx])["contractAddress"]
    _ok(
        url,
        "eth_sendTransaction",
        [{"from": deployer, "to": token, "data": _transfer(HOLDER, 5 * 10**18)}],
    )
    _ok(url, "eth_sendTransaction", [{"from": deployer, "to": STRANGER, "value": hex(12345)}])
    return deployer, token


def _fork(workdir: Path, upstream: str, *args: str, ephemeral: bool = True) -> Any:
    storage = ["--ephemeral"] if ephemeral else ["--data-dir", str(workdir / "fork")]
    return _running(workdir, [*storage, "--fork-url", upstream, "--no-rate-limit", *args])


def _reads(url: str, token: str, block: str) -> dict[str, Any]:
    """Every state read of the upstream's interesting accounts at ``block``."""
    out: dict[str, Any] = {}
    for address in (token, HOLDER, STRANGER, "0x" + "99" * 20):
        out[f"balance {address}"] = _ok(url, "eth_getBalance", [address, block])
        out[f"nonce {address}"] = _ok(url, "eth_getTransactionCount", [address, block])
        out[f"code {address}"] = _ok(url, "eth_getCode", [address, block])
    for slot in ("0x0", "0x1", "0x2"):
        out[f"slot {slot}"] = _ok(url, "eth_getStorageAt", [token, slot, block])
    holder_slot = "0x" + _keccak_slot(HOLDER, 1)
    out["holder slot"] = _ok(url, "eth_getStorageAt", [token, holder_slot, block])
    out["balanceOf holder"] = _balance_of(url, token, HOLDER, block)
    out["estimate"] = _ok(
        url,
        "eth_estimateGas",
        [{"from": HOLDER, "to": token, "data": _transfer(STRANGER, 1)}, block],
    )
    return out


def _keccak_slot(address: str, index: int) -> str:
    from statedb.types import keccak256

    return keccak256(bytes.fromhex(_word(address)) + index.to_bytes(32, "big")).hex()


def test_a_fork_reads_as_its_upstream_then_transacts_on_top(tmp_path: Path) -> None:
    with hummingbird(tmp_path, "--chain-id", "4242") as upstream:
        deployer, token = _load_upstream(upstream.url)
        fork_block = _ok(upstream.url, "eth_blockNumber")
        expected = _reads(upstream.url, token, fork_block)
        with _fork(tmp_path, upstream.url) as fork:
            assert _ok(fork.url, "eth_chainId") == hex(4242)  # the upstream's, as anvil
            assert _ok(fork.url, "eth_blockNumber") == fork_block
            ours = _ok(fork.url, "eth_getBlockByNumber", [fork_block, False])
            theirs = _ok(upstream.url, "eth_getBlockByNumber", [fork_block, False])
            assert ours["hash"] == theirs["hash"] and ours["stateRoot"] == theirs["stateRoot"]
            assert _reads(fork.url, token, fork_block) == expected
            assert _reads(fork.url, token, "latest") == expected
            assert _ok(fork.url, "anvil_metadata")["forkedNetwork"] == {
                "chainId": 4242,
                "forkBlockNumber": int(fork_block, 16),
                "forkBlockHash": theirs["hash"],
            }
            fork_config = _ok(fork.url, "anvil_nodeInfo")["forkConfig"]
            assert fork_config["forkBlockNumber"] == int(fork_block, 16)
            assert fork_config["forkUrl"] == upstream.url
            _upstream_history_is_served(fork.url, upstream.url, token, int(fork_block, 16))
            # The dev accounts keep their upstream nonce; their balance is the fork's.
            assert _ok(fork.url, "eth_getTransactionCount", [deployer, "latest"]) == _ok(
                upstream.url, "eth_getTransactionCount", [deployer, "latest"]
            )
            assert int(_ok(fork.url, "eth_getBalance", [deployer, "latest"]), 16) == 10_000 * 10**18
            # Transact on the fork: the next block's parent is the upstream's block.
            tx = _ok(
                fork.url,
                "eth_sendTransaction",
                [{"from": deployer, "to": token, "data": _transfer(HOLDER, 10**18)}],
            )
            receipt = _ok(fork.url, "eth_getTransactionReceipt", [tx])
            assert receipt["status"] == "0x1"
            assert int(receipt["blockNumber"], 16) == int(fork_block, 16) + 1
            block = _ok(fork.url, "eth_getBlockByNumber", [receipt["blockNumber"], False])
            assert block["parentHash"] == theirs["hash"]
            assert _balance_of(fork.url, token, HOLDER) == 6 * 10**18
            assert _balance_of(fork.url, token, HOLDER, fork_block) == 5 * 10**18
            assert _balance_of(upstream.url, token, HOLDER) == 5 * 10**18  # untouched
            traced = _ok(fork.url, "debug_traceTransaction", [tx, {"tracer": "callTracer"}])
            assert traced["to"] == token and traced["from"] == deployer.lower()
            spanning = _ok(fork.url, "eth_getLogs", [{"fromBlock": "0x0", "address": token}])
            assert [int(log["blockNumber"], 16) for log in spanning] == [
                1,
                2,
                int(fork_block, 16) + 1,
            ]
            assert spanning[-1]["transactionHash"] == tx
            snapshot = _ok(fork.url, "evm_snapshot")
            # Impersonate the holder (no key here): it sends its tokens on.
            _ok(fork.url, "anvil_impersonateAccount", [HOLDER])
            _ok(fork.url, "anvil_setBalance", [HOLDER, hex(10**18)])
            sent = _ok(
                fork.url,
                "eth_sendTransaction",
                [{"from": HOLDER, "to": token, "data": _transfer(STRANGER, 6 * 10**18)}],
            )
            assert _ok(fork.url, "eth_getTransactionReceipt", [sent])["status"] == "0x1"
            assert _balance_of(fork.url, token, HOLDER) == 0  # an upstream slot zeroed
            assert _balance_of(fork.url, token, STRANGER) == 6 * 10**18
            # Dev edits on upstream state: code and storage of the token.
            _ok(fork.url, "anvil_setStorageAt", [token, "0x0", "0x" + "00" * 31 + "07"])
            assert int(_ok(fork.url, "eth_getStorageAt", [token, "0x0", "latest"]), 16) == 7
            assert _ok(fork.url, "evm_revert", [snapshot]) is True
            assert _balance_of(fork.url, token, HOLDER) == 6 * 10**18
            assert _balance_of(fork.url, token, STRANGER) == 0
            assert (
                _ok(fork.url, "eth_getStorageAt", [token, "0x0", "latest"]) == expected["slot 0x0"]
            )
            # Reset: back at the fork block, the upstream's state again.
            _ok(fork.url, "anvil_reset", [])
            assert _ok(fork.url, "eth_blockNumber") == fork_block
            assert _reads(fork.url, token, "latest") == expected


def _upstream_history_is_served(fork: str, upstream: str, token: str, fork_block: int) -> None:
    """The upstream's blocks, transactions, receipts, logs and older state, as the
    upstream answers them; a transaction it mined after the fork point is not ours."""
    for number in range(fork_block + 1):
        for full in (False, True):
            block = _ok(upstream, "eth_getBlockByNumber", [hex(number), full])
            assert _ok(fork, "eth_getBlockByNumber", [hex(number), full]) == block
            assert _ok(fork, "eth_getBlockByHash", [block["hash"], full]) == block
        for method in (
            "eth_getBlockReceipts",
            "debug_getRawBlock",
            "debug_getRawHeader",
            "debug_getRawReceipts",
        ):
            assert _ok(fork, method, [hex(number)]) == _ok(upstream, method, [hex(number)])
        for tx in _ok(upstream, "eth_getBlockByNumber", [hex(number), False])["transactions"]:
            for method in ("eth_getTransactionByHash", "eth_getTransactionReceipt"):
                assert _ok(fork, method, [tx]) == _ok(upstream, method, [tx])
    # Upstream transactions replayed on the upstream's state (cast run, debug_trace*).
    for number in range(1, fork_block + 1):
        for tx in _ok(upstream, "eth_getBlockByNumber", [hex(number), False])["transactions"]:
            for tracer in ({"tracer": "callTracer"}, {"tracer": "prestateTracer"}, {}):
                assert _ok(fork, "debug_traceTransaction", [tx, tracer]) == _ok(
                    upstream, "debug_traceTransaction", [tx, tracer]
                ), (number, tracer)
        options = {"tracer": "callTracer"}
        assert _ok(fork, "debug_traceBlockByNumber", [hex(number), options]) == _ok(
            upstream, "debug_traceBlockByNumber", [hex(number), options]
        )
    assert _ok(fork, "eth_getBlockByNumber", ["earliest", False]) == _ok(
        upstream, "eth_getBlockByNumber", ["0x0", False]
    )
    everything = {"fromBlock": "0x0", "toBlock": "latest", "address": token}
    assert _ok(fork, "eth_getLogs", [everything]) == _ok(upstream, "eth_getLogs", [everything])
    assert len(_ok(fork, "eth_getLogs", [everything])) == 2  # the mint and the transfer
    # State before the fork block: the upstream's, at that block.
    for number in range(1, fork_block):
        assert _balance_of(fork, token, HOLDER, hex(number)) == _balance_of(
            upstream, token, HOLDER, hex(number)
        )
        assert _ok(fork, "eth_getBalance", [STRANGER, hex(number)]) == _ok(
            upstream, "eth_getBalance", [STRANGER, hex(number)]
        )
    # The upstream moves on: its new transaction is not on the fork.
    later = _ok(
        upstream,
        "eth_sendTransaction",
        [{"from": _ok(upstream, "eth_accounts")[3], "to": STRANGER, "value": "0x1"}],
    )
    assert _ok(fork, "eth_getTransactionByHash", [later]) is None
    assert _ok(fork, "eth_getTransactionReceipt", [later]) is None
    assert _ok(fork, "eth_getBalance", [STRANGER, "latest"]) == hex(12345)


def test_a_fork_restarts_from_its_data_directory(tmp_path: Path) -> None:
    with hummingbird(tmp_path) as upstream, hummingbird(tmp_path, "--chain-id", "999") as other:
        deployer, token = _load_upstream(upstream.url)
        fork_block = int(_ok(upstream.url, "eth_blockNumber"), 16)
        _ok(upstream.url, "evm_mine", [])  # the upstream moves on: the fork stays pinned
        with _fork(
            tmp_path, upstream.url, "--fork-block-number", str(fork_block), ephemeral=False
        ) as fork:
            assert int(_ok(fork.url, "eth_blockNumber"), 16) == fork_block
            _ok(
                fork.url,
                "eth_sendTransaction",
                [{"from": deployer, "to": token, "data": _transfer(HOLDER, 1)}],
            )
            head = _ok(fork.url, "eth_getBlockByNumber", ["latest", False])
        # Restarted (no --fork-block-number: the recorded fork point holds).
        with _fork(tmp_path, upstream.url, ephemeral=False) as fork:
            assert _ok(fork.url, "eth_getBlockByNumber", ["latest", False])["hash"] == head["hash"]
            assert _balance_of(fork.url, token, HOLDER) == 5 * 10**18 + 1
            assert _balance_of(fork.url, token, HOLDER, hex(fork_block)) == 5 * 10**18
            assert _ok(fork.url, "eth_getBalance", [STRANGER, "latest"]) == hex(12345)
        # The same data directory without --fork-url, or forking another chain: refused.
        data_dir = str(tmp_path / "fork")
        plain = _command("--data-dir", data_dir)
        assert plain.returncode == 2 and "holds a fork of another chain" in plain.stderr
        elsewhere = _command("--data-dir", data_dir, "--fork-url", other.url)
        assert elsewhere.returncode == 2 and "has no block" in elsewhere.stderr
        assert "Use another --data-dir" in elsewhere.stderr
        _ok(other.url, "anvil_mine", ["0x8"])
        elsewhere = _command("--data-dir", data_dir, "--fork-url", other.url)
        assert elsewhere.returncode == 2 and "on chain 999 there" in elsewhere.stderr
        assert "Use another --data-dir" in elsewhere.stderr


def _command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rpc.cli", "--port", str(free_port()), "--quiet", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fork-url", "ftp://example.com"], "must be an http:// or https:// URL"),
        (["--fork-url", "not a url"], "must be an http:// or https:// URL"),
        (["--fork-block-number", "5"], "--fork-block-number needs --fork-url"),
        (["--fork-chain-id", "1"], "--fork-chain-id needs --fork-url"),
        (["--fork-url", "http://127.0.0.1:1", "--fork-header", "no colon"], "takes 'Name: value'"),
        (
            ["--fork-url", "http://127.0.0.1:1", "--fork-header", "X-A: b\r\nInjected: 1"],
            "bad --fork-headers",
        ),
        (["--fork-url", "http://127.0.0.1:1", "--fork-timeout", "0"], "fork timeout must be in"),
        (
            ["--fork-url", "http://127.0.0.1:1", "--fork-timeout", "nan"],
            "fork timeout must look like",
        ),
        (["--fork-url", "http://127.0.0.1:1", "--fork-retries", "-1"], "fork retries must be in"),
        (["--fork-url", "http://127.0.0.1:1", "--fork-block-number", "1" + "0" * 30], "must be in"),
        (["--fork-url", "http://127.0.0.1:1", "--compute-units-per-second", "0"], "must be in"),
        (["--fork-url", "http://127.0.0.1:1", "--workers", "1"], "not supported with --fork-url"),
        (["--fork-url", "http://127.0.0.1:1", "--megaeth"], "not supported with --fork-url"),
        (
            ["--fork-url", "http://127.0.0.1:1", "--fork-retries", "0"],
            "cannot fork http://127.0.0.1:1",
        ),
    ],
)
def test_bad_fork_flags_are_clear_errors(args: list[str], message: str) -> None:
    result = _command("--ephemeral", *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr, result.stderr


def test_bad_upstreams_are_clear_errors(tmp_path: Path) -> None:
    with hummingbird(tmp_path) as upstream:
        for args, message in (
            (["--fork-chain-id", "1"], "chain id is 31337, --fork-chain-id says 1"),
            (["--fork-block-number", "99999"], "has no block 99999"),
        ):
            result = _command("--ephemeral", "--fork-url", upstream.url, *args)
            assert result.returncode == 2 and message in result.stderr, result.stderr
        secret = _command(
            "--ephemeral", "--fork-url", upstream.url + "/v2/SECRETKEY", "--fork-chain-id", "1"
        )
        assert secret.returncode == 2 and "SECRETKEY" not in secret.stderr


def test_resets_with_forking_parameters_and_set_rpc_url(tmp_path: Path) -> None:
    """Hardhat's and anvil's resets with ``forking``: to another block of the upstream,
    and a plain node turned into a fork (its chain id kept, as Hardhat's); and
    ``anvil_setRpcUrl`` to another URL of the same chain (another chain is refused)."""
    with hummingbird(tmp_path) as upstream, hummingbird(tmp_path, "--chain-id", "999") as other:
        deployer, token = _load_upstream(upstream.url)
        head = int(_ok(upstream.url, "eth_blockNumber"), 16)
        with _fork(tmp_path, upstream.url) as fork:
            _ok(
                fork.url,
                "eth_sendTransaction",
                [{"from": deployer, "to": STRANGER, "value": "0x5"}],
            )
            # Back to block 1 (the token deployed, nothing sent to HOLDER yet).
            assert (
                _ok(
                    fork.url,
                    "hardhat_reset",
                    [{"forking": {"jsonRpcUrl": upstream.url, "blockNumber": 1}}],
                )
                is None
            )
            assert _ok(fork.url, "eth_blockNumber") == "0x1"
            assert _balance_of(fork.url, token, HOLDER) == 0
            assert _balance_of(fork.url, token, deployer) == SUPPLY
            assert _ok(fork.url, "eth_getBalance", [STRANGER, "latest"]) == "0x0"
            # A plain reset: back to the fork block the node was started on.
            assert _ok(fork.url, "anvil_reset", []) is None
            assert _ok(fork.url, "eth_blockNumber") == hex(head)
            assert _balance_of(fork.url, token, HOLDER) == 5 * 10**18
            assert _ok(fork.url, "hardhat_reset", [{"forking": {"blockNumber": 1}}]) is None
            assert _ok(fork.url, "eth_blockNumber") == "0x1"
            # Forward again, by anvil's spelling (a hex block number, the same URL).
            assert _ok(fork.url, "anvil_reset", [{"forking": {"blockNumber": hex(head)}}]) is None
            assert _ok(fork.url, "eth_blockNumber") == hex(head)
            assert _balance_of(fork.url, token, HOLDER) == 5 * 10**18
            tx = _ok(
                fork.url,
                "eth_sendTransaction",
                [{"from": deployer, "to": token, "data": _transfer(HOLDER, 1)}],
            )
            assert _ok(fork.url, "eth_getTransactionReceipt", [tx])["status"] == "0x1"
            # Another URL for the same chain is taken; another chain, or junk, is not.
            port = upstream.url.rsplit(":", 1)[1]
            assert _ok(fork.url, "anvil_setRpcUrl", [f"http://localhost:{port}"]) is None
            assert _balance_of(fork.url, token, deployer, "0x1") == SUPPLY  # read through it
            for bad, code in ((other.url, -32000), ("ftp://x", -32000), (17, -32602), ("", -32602)):
                answer = rpc(fork.url, "anvil_setRpcUrl", [bad])
                assert isinstance(answer, dict) and answer["error"]["code"] == code, (bad, answer)
            for bad_reset in (
                {"forking": {"blockNumber": "zz"}},
                {"forking": {"blockNumber": -1}},
                {"forking": {"blockNumber": True}},
                {"forking": {"jsonRpcUrl": 5}},
                {"forking": "x"},
            ):
                answer = rpc(fork.url, "anvil_reset", [bad_reset])
                assert isinstance(answer, dict) and answer["error"]["code"] == -32602, answer
            # A block the upstream does not have: refused, and nothing is lost.
            answer = rpc(fork.url, "anvil_reset", [{"forking": {"blockNumber": 10**6}}])
            assert isinstance(answer, dict) and "has no block" in answer["error"]["message"]
            assert _balance_of(fork.url, token, HOLDER) == 5 * 10**18 + 1
        with hummingbird(tmp_path, "--chain-id", "777") as plain:
            refused = rpc(plain.url, "anvil_setRpcUrl", [upstream.url])
            assert isinstance(refused, dict) and "not a fork" in refused["error"]["message"]
            refused = rpc(plain.url, "anvil_reset", [{"forking": {"blockNumber": 1}}])
            assert isinstance(refused, dict) and "needs a jsonRpcUrl" in refused["error"]["message"]
            _ok(plain.url, "hardhat_reset", [{"forking": {"jsonRpcUrl": upstream.url}}])
            assert _ok(plain.url, "eth_chainId") == hex(777)  # kept
            assert int(_ok(plain.url, "eth_blockNumber"), 16) >= head
            assert _balance_of(plain.url, token, HOLDER) == 5 * 10**18
            plain_deployer = _ok(plain.url, "eth_accounts")[0]
            sent = _ok(
                plain.url,
                "eth_sendTransaction",
                [{"from": plain_deployer, "to": STRANGER, "value": "0x1"}],
            )
            assert _ok(plain.url, "eth_getTransactionReceipt", [sent])["status"] == "0x1"
            # A plain reset: the chain it was started as (its own, not a fork) again.
            assert _ok(plain.url, "hardhat_reset", []) is None
            assert _ok(plain.url, "eth_blockNumber") == "0x0"
            assert _ok(plain.url, "eth_getCode", [token, "latest"]) == "0x"
            assert _ok(plain.url, "eth_getBlockByNumber", ["0x1", False]) is None


def test_a_dead_upstream_is_a_clear_error_and_the_fork_keeps_serving(tmp_path: Path) -> None:
    """SIGKILL the upstream: reads that need it are answered with an error naming it;
    what the fork holds or fetched (the dev accounts, the system contracts, a token
    read before) is still served, and the dev accounts can still send to each other."""
    import signal

    with hummingbird(tmp_path) as upstream:
        deployer, token = _load_upstream(upstream.url)
        with _fork(tmp_path, upstream.url, "--fork-retries", "1") as fork:
            assert _balance_of(fork.url, token, HOLDER) == 5 * 10**18  # fetched now
            upstream.process.send_signal(signal.SIGKILL)
            upstream.process.wait()
            answer = rpc(fork.url, "eth_getBalance", ["0x" + "66" * 20, "latest"])
            assert isinstance(answer, dict) and answer["error"]["code"] == -32000
            assert "eth_getBalance at http://127.0.0.1" in answer["error"]["message"]
            answer = rpc(fork.url, "eth_getBlockByNumber", ["0x1", False])
            assert isinstance(answer, dict) and "did not answer" in answer["error"]["message"]
            assert _balance_of(fork.url, token, HOLDER) == 5 * 10**18  # cached
            # A new block's system calls write slots only the upstream knows: a send
            # fails with the upstream's error and is not kept (nothing half-done).
            other = _ok(fork.url, "eth_accounts")[1]
            head = _ok(fork.url, "eth_blockNumber")
            answer = rpc(
                fork.url, "eth_sendTransaction", [{"from": deployer, "to": other, "value": "0x7"}]
            )
            assert isinstance(answer, dict) and "at http://127.0.0.1" in answer["error"]["message"]
            time.sleep(0.5)
            assert _ok(fork.url, "eth_blockNumber") == head
            assert _ok(fork.url, "txpool_status") == {"pending": "0x0", "queued": "0x0"}
            assert "Traceback" not in fork.log()


def _selector(signature: str) -> str:
    from statedb.types import keccak256

    return keccak256(signature.encode())[:4].hex()


def _send(url: str, sender: str, to: str | None, data: str) -> dict[str, Any]:
    tx: dict[str, Any] = {"from": sender, "data": data, "gas": hex(3_000_000)}
    if to is not None:
        tx["to"] = to
    receipt = _ok(url, "eth_getTransactionReceipt", [_ok(url, "eth_sendTransaction", [tx])])
    assert receipt["status"] == "0x1", receipt
    return dict(receipt)


def test_a_swap_on_a_forked_constant_product_pair(tmp_path: Path) -> None:
    """A Uniswap V2-style pair with liquidity on the upstream (tests/contracts Pair.sol):
    on the fork an impersonated whale swaps through it at the price the upstream's
    reserves give, a swap asking one unit more is refused by the invariant, and the
    upstream's pair is untouched."""
    whale = "0x" + "5a" * 20
    liquidity = 1_000 * 10**18
    with hummingbird(tmp_path) as upstream:
        deployer = _ok(upstream.url, "eth_accounts")[0]
        token_code = str(contract("Token")["bytecode"])
        tokens = [
            _send(upstream.url, deployer, None, token_code + f"{10**27:064x}")["contractAddress"]
            for _ in range(2)
        ]
        pair_code = str(contract("Pair")["bytecode"]) + _word(tokens[0]) + _word(tokens[1])
        pair = _send(upstream.url, deployer, None, pair_code)["contractAddress"]
        for token in tokens:
            _send(upstream.url, deployer, token, _transfer(pair, liquidity))
        _send(upstream.url, deployer, tokens[0], _transfer(whale, 100 * 10**18))
        _send(upstream.url, deployer, pair, "0x" + _selector("mint(address)") + _word(deployer))
        token0 = (
            "0x"
            + _ok(
                upstream.url,
                "eth_call",
                [{"to": pair, "data": "0x" + _selector("token0()")}, "latest"],
            )[-40:]
        )
        token1 = tokens[1] if token0 == tokens[0].lower() else tokens[0]
        reserves = _ok(
            upstream.url,
            "eth_call",
            [{"to": pair, "data": "0x" + _selector("getReserves()")}, "latest"],
        )
        with _fork(tmp_path, upstream.url) as fork:
            assert (
                _ok(
                    fork.url,
                    "eth_call",
                    [{"to": pair, "data": "0x" + _selector("getReserves()")}, "latest"],
                )
                == reserves
            )
            reserve0, reserve1 = int(reserves[2:66], 16), int(reserves[66:130], 16)
            _ok(fork.url, "anvil_impersonateAccount", [whale])
            _ok(fork.url, "anvil_setBalance", [whale, hex(10**18)])
            amount_in = 10 * 10**18
            # The whale holds token A; sell it for the other token of the pair.
            sell, buy = tokens[0].lower(), (token1 if tokens[0].lower() == token0 else token0)
            reserve_in, reserve_out = (
                (reserve0, reserve1) if sell == token0 else (reserve1, reserve0)
            )
            out = amount_in * 997 * reserve_out // (reserve_in * 1000 + amount_in * 997)
            _send(fork.url, whale, sell, _transfer(pair, amount_in))
            swap = "0x" + _selector("swap(uint256,uint256,address)")

            def swap_data(amount: int) -> str:
                outs = (0, amount) if sell == token0 else (amount, 0)
                return swap + f"{outs[0]:064x}" + f"{outs[1]:064x}" + _word(whale)

            greedy = rpc(
                fork.url,
                "eth_call",
                [{"from": whale, "to": pair, "data": swap_data(out + 1)}, "latest"],
            )
            assert isinstance(greedy, dict) and "Pair: K" in greedy["error"]["message"], greedy
            _send(fork.url, whale, pair, swap_data(out))
            assert _balance_of(fork.url, buy, whale) == out
            after = _ok(
                fork.url,
                "eth_call",
                [{"to": pair, "data": "0x" + _selector("getReserves()")}, "latest"],
            )
            new0, new1 = int(after[2:66], 16), int(after[66:130], 16)
            assert new0 * new1 >= reserve0 * reserve1  # the invariant, with the fee kept
            assert (
                _ok(
                    upstream.url,
                    "eth_call",
                    [{"to": pair, "data": "0x" + _selector("getReserves()")}, "latest"],
                )
                == reserves
            )
            assert _balance_of(upstream.url, buy, whale) == 0


def test_an_amsterdam_fork_counts_slots_from_the_fork_block(tmp_path: Path) -> None:
    """Amsterdam headers on a fork: the slot number counts from the fork block (the
    chain's first local block; block 0 is the upstream's), and the access list's hash is
    there. A send used to fail: the producer looked for a local block 0."""
    with hummingbird(tmp_path) as upstream:
        deployer, _ = _load_upstream(upstream.url)
        with _fork(tmp_path, upstream.url, "--hardfork", "amsterdam") as fork:
            fork_block = _ok(fork.url, "eth_getBlockByNumber", ["latest", False])
            receipt_hash = _ok(
                fork.url,
                "eth_sendTransaction",
                [{"from": deployer, "to": STRANGER, "value": "0x1"}],
            )
            receipt = _ok(fork.url, "eth_getTransactionReceipt", [receipt_hash])
            block = _ok(fork.url, "eth_getBlockByNumber", [receipt["blockNumber"], False])
    elapsed = int(block["timestamp"], 16) - int(fork_block["timestamp"], 16)
    assert int(block["slotNumber"], 16) == elapsed // 12
    assert len(block["blockAccessListHash"]) == 66
