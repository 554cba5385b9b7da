"""Crash trials (issue 14): SIGKILL a node process under mixed load, restart it, and check
that nothing a client was told survived is gone.

One chain (one data directory) lives through every trial. Each trial starts the node and
ends it in one of four ways, chosen in turn:

- ``load``: ready transfers (singles and JSON batches from several senders) and queued
  future-nonce transfers (a sender with a nonce gap) run for a random time, then SIGKILL;
- ``startup``: SIGKILL at a random moment of start-up (before or after it answers);
- ``shutdown``: load, then SIGTERM and SIGKILL a random few ms later (a kill during the
  clean shutdown);
- ``first-start``: a fresh data directory, SIGKILL 0-20 ms after it appears (its very
  first start), then a normal start of that directory must succeed (it must not be left
  unusable).

After each kill the node is started again and checked:

- every transaction acknowledged with a hash is mined or still in the pool (``lost``);
- the head is not behind any head a client saw, and every block a client saw keeps its
  hash (``head_behind``, ``hash_changed``);
- each sender's nonce at ``latest`` is past its highest mined acknowledged nonce;
- every balance the load touched equals its start balance plus what the mined blocks
  (scanned block by block, receipts included) moved in and out (``balance_mismatch``);
- the node starts at all (``unusable_dirs``).

``run_trials`` returns a ``CrashReport``; ``tests/reliability/test_crash.py`` runs a few
trials in ``make test`` and ``make reliability`` runs many.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from sequencer.config import DEFAULT_MNEMONIC
from sequencer.genesis import dev_accounts
from sequencer.types.transactions import Transaction, sign_transaction
from tests.integration.node_process import free_port

REPO = Path(__file__).resolve().parents[2]
CHAIN_ID = 31337
START_BALANCE = 10_000 * 10**18
READY_SENDERS = 4  # dev accounts 1..4 send ready transfers
QUEUED_SENDER = 5  # dev account 5 sends transfers above a nonce gap
MAX_FEE = 100 * 10**9
TIP = 10**9
MODES = ("load", "startup", "shutdown", "first-start")


@dataclass
class CrashReport:
    trials: int = 0
    kills: dict[str, int] = field(default_factory=dict)
    acknowledged: int = 0
    acknowledged_queued: int = 0
    mined: int = 0
    lost: int = 0
    head_behind: int = 0
    hash_changed: int = 0
    nonce_behind: int = 0
    balance_mismatch: int = 0
    unusable_dirs: int = 0
    blocks: int = 0
    problems: list[str] = field(default_factory=list)

    def ok(self) -> bool:
        return not (
            self.lost
            or self.head_behind
            or self.hash_changed
            or self.nonce_behind
            or self.balance_mismatch
            or self.unusable_dirs
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Acked:
    sender: bytes
    nonce: int
    queued: bool


class NodeProcess:
    """``python -m rpc.cli`` on a data directory, in its own process group."""

    def __init__(self, data_dir: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [sys.executable, "-m", "rpc.cli", "--quiet", "--port", str(self.port)]
        argv += ["--data-dir", str(data_dir), "--accounts", "8"]
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                argv, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def terminate(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)


class Rpc:
    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    async def post(self, body: object, timeout: float = 30) -> Any:
        async with self.session.post(
            self.url,
            data=orjson.dumps(body),
            headers={"Content-Type": "application/json"},
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            return orjson.loads(await response.read())

    async def call(self, method: str, *params: object) -> Any:
        answer = await self.post({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]


async def wait_ready(rpc: Rpc, node: NodeProcess, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if node.process.poll() is not None:
            return False
        try:
            await rpc.call("eth_chainId")
            return True
        except (TimeoutError, aiohttp.ClientError, OSError, RuntimeError):
            await asyncio.sleep(0.05)
    return False


class Ledger:
    """What the clients were told, and what the mined blocks moved."""

    def __init__(self) -> None:
        accounts = dev_accounts(DEFAULT_MNEMONIC, QUEUED_SENDER + 1)
        self.keys = {a.address: a.private_key for a in accounts}
        self.senders = [accounts[i].address for i in range(1, READY_SENDERS + 1)]
        self.queued_sender = accounts[QUEUED_SENDER].address
        self.sink = {s: bytes([0xC0, i]) + b"\x00" * 18 for i, s in enumerate(self.keys)}
        self.acked: dict[str, Acked] = {}
        self.heads: dict[int, str] = {}
        self.scanned_to = 0  # blocks 1..scanned_to are in ``moved``
        self.moved: dict[bytes, int] = {}  # address -> net wei in (negative: out)
        self.mined_nonce: dict[bytes, int] = {}

    def sign(self, sender: bytes, nonce: int) -> tuple[str, str]:
        tx = Transaction(
            2,
            CHAIN_ID,
            nonce,
            21_000,
            self.sink[sender],
            1 + nonce % 7,
            b"",
            max_fee_per_gas=MAX_FEE,
            max_priority_fee_per_gas=TIP,
        )
        signed = sign_transaction(tx, self.keys[sender])
        return "0x" + signed.encode().hex(), "0x" + signed.hash.hex()


async def load(rpc: Rpc, ledger: Ledger, rng: random.Random, stop: asyncio.Event) -> None:
    """Ready and queued transfers until ``stop``; acknowledgements go into the ledger."""
    nonces = {}
    for sender in [*ledger.senders, ledger.queued_sender]:
        nonces[sender] = int(
            await rpc.call("eth_getTransactionCount", "0x" + sender.hex(), "pending"), 16
        )

    async def ready(sender: bytes) -> None:
        while not stop.is_set():
            count = rng.choice((1, 1, 5))
            items = []
            for _ in range(count):
                raw, tx_hash = ledger.sign(sender, nonces[sender])
                items.append((raw, tx_hash, nonces[sender]))
                nonces[sender] += 1
            body = [
                {"jsonrpc": "2.0", "id": i, "method": "eth_sendRawTransaction", "params": [raw]}
                for i, (raw, _, _) in enumerate(items)
            ]
            try:
                answers = await rpc.post(body if count > 1 else body[0])
            except (TimeoutError, aiohttp.ClientError, OSError, ValueError):
                return  # the node died: whatever was not answered was not acknowledged
            for answer in answers if isinstance(answers, list) else [answers]:
                raw, tx_hash, nonce = items[answer["id"]]
                if answer.get("result") == tx_hash:
                    ledger.acked[tx_hash] = Acked(sender, nonce, queued=False)
            with contextlib.suppress(Exception):
                head = await rpc.call("eth_getBlockByNumber", "latest", False)
                ledger.heads[int(head["number"], 16)] = head["hash"]

    async def queued() -> None:
        sender = ledger.queued_sender
        gap = nonces[sender]  # left open: everything above it waits in the queue
        nonce = (
            gap + 1 + sum(1 for a in ledger.acked.values() if a.sender == sender and a.nonce > gap)
        )
        while not stop.is_set():
            raw, tx_hash = ledger.sign(sender, nonce)
            try:
                answer = await rpc.post(
                    {"jsonrpc": "2.0", "id": 1, "method": "eth_sendRawTransaction", "params": [raw]}
                )
            except (TimeoutError, aiohttp.ClientError, OSError, ValueError):
                return
            if answer.get("result") == tx_hash:
                ledger.acked[tx_hash] = Acked(sender, nonce, queued=True)
            nonce += 1
            await asyncio.sleep(0.01)

    await asyncio.gather(*(ready(s) for s in ledger.senders), queued())


async def check(rpc: Rpc, ledger: Ledger, report: CrashReport) -> None:
    head_number = int(await rpc.call("eth_blockNumber"), 16)
    report.blocks = head_number
    for number, seen in sorted(ledger.heads.items()):
        if number > head_number:
            report.head_behind += 1
            report.problems.append(f"head {head_number} is behind block {number} a client saw")
            break
        block = await rpc.call("eth_getBlockByNumber", hex(number), False)
        if block is None or block["hash"] != seen:
            report.hash_changed += 1
            report.problems.append(f"block {number} changed hash")
    ledger.heads = {n: h for n, h in ledger.heads.items() if n > head_number - 50}
    # Scan the new blocks: transfers and fees move balances.
    for number in range(ledger.scanned_to + 1, head_number + 1):
        block = await rpc.call("eth_getBlockByNumber", hex(number), True)
        receipts = await rpc.call("eth_getBlockReceipts", hex(number))
        for tx, receipt in zip(block["transactions"], receipts, strict=True):
            sender = bytes.fromhex(tx["from"][2:])
            cost = int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)
            value = int(tx["value"], 16) if receipt["status"] == "0x1" else 0
            ledger.moved[sender] = ledger.moved.get(sender, 0) - cost - value
            if tx["to"] is not None:
                to = bytes.fromhex(tx["to"][2:])
                ledger.moved[to] = ledger.moved.get(to, 0) + value
            nonce = int(tx["nonce"], 16)
            ledger.mined_nonce[sender] = max(ledger.mined_nonce.get(sender, -1), nonce)
    ledger.scanned_to = head_number
    # Every acknowledged transaction is mined or still pending.
    mined = 0
    for tx_hash, acked in list(ledger.acked.items()):
        found = await rpc.call("eth_getTransactionByHash", tx_hash)
        if found is None:
            report.lost += 1
            report.problems.append(
                f"acknowledged {'queued' if acked.queued else 'ready'} transaction {tx_hash} "
                f"(nonce {acked.nonce}) is gone"
            )
            del ledger.acked[tx_hash]
        elif found["blockNumber"] is not None:
            mined += 1
    report.mined = mined
    for sender in [*ledger.senders, ledger.queued_sender]:
        latest = int(await rpc.call("eth_getTransactionCount", "0x" + sender.hex(), "latest"), 16)
        if latest <= ledger.mined_nonce.get(sender, -1):
            report.nonce_behind += 1
            report.problems.append(f"nonce of {sender.hex()} is {latest}")
    for address, moved in ledger.moved.items():
        start = START_BALANCE if address in ledger.keys else 0
        balance = int(await rpc.call("eth_getBalance", "0x" + address.hex(), "latest"), 16)
        if balance != start + moved:
            report.balance_mismatch += 1
            report.problems.append(
                f"balance of {address.hex()} is {balance}, expected {start + moved}"
            )


async def trial(
    mode: str,
    data_dir: Path,
    workdir: Path,
    ledger: Ledger,
    rng: random.Random,
    report: CrashReport,
) -> None:
    log = workdir / "node.log"
    async with aiohttp.ClientSession() as session:
        if mode == "first-start":
            fresh = workdir / f"fresh-{report.trials}"
            node = NodeProcess(fresh, log)
            # The dangerous window is right after the directory appears: aim there.
            deadline = time.monotonic() + 10
            while not fresh.exists() and time.monotonic() < deadline:
                await asyncio.sleep(0.0005)
            await asyncio.sleep(rng.uniform(0, 0.02))
            node.kill()
            again = NodeProcess(fresh, log)
            ok = await wait_ready(Rpc(session, again.url), again)
            again.kill()
            if not ok:
                report.unusable_dirs += 1
                report.problems.append(f"a first start killed early left {fresh} unusable")
            shutil.rmtree(fresh, ignore_errors=True)
            return
        node = NodeProcess(data_dir, log)
        rpc = Rpc(session, node.url)
        if mode == "startup":
            await asyncio.sleep(rng.uniform(0, 1.5))
            node.kill()
        else:
            if not await wait_ready(rpc, node):
                report.unusable_dirs += 1
                report.problems.append(f"the node did not start on {data_dir}")
                node.kill()
                return
            stop = asyncio.Event()
            running = asyncio.ensure_future(load(rpc, ledger, rng, stop))
            await asyncio.sleep(rng.uniform(0.2, 1.5))
            if mode == "shutdown":
                node.terminate()
                await asyncio.sleep(rng.uniform(0, 0.1))
            node.kill()
            stop.set()
            await running
        restarted = NodeProcess(data_dir, log)
        rpc = Rpc(session, restarted.url)
        try:
            if not await wait_ready(rpc, restarted):
                report.unusable_dirs += 1
                report.problems.append(
                    f"the node did not restart on {data_dir} after a {mode} kill"
                )
                return
            await check(rpc, ledger, report)
        finally:
            restarted.kill()


def run_trials(count: int, workdir: Path, seed: int = 14) -> CrashReport:
    rng = random.Random(seed)
    report = CrashReport()
    ledger = Ledger()
    data_dir = workdir / "chain"

    async def main() -> None:
        for index in range(count):
            mode = MODES[index % len(MODES)]
            await trial(mode, data_dir, workdir, ledger, rng, report)
            report.trials += 1
            report.kills[mode] = report.kills.get(mode, 0) + 1
        report.acknowledged = len(ledger.acked)
        report.acknowledged_queued = sum(1 for a in ledger.acked.values() if a.queued)

    asyncio.run(main())
    return report


@contextlib.contextmanager
def scratch(base: Path | None = None) -> Iterator[Path]:
    import tempfile

    with tempfile.TemporaryDirectory(dir=base) as name:
        yield Path(name)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="SIGKILL trials under mixed load")
    parser.add_argument("--trials", type=int, default=52)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if not 1 <= args.trials <= 10_000:
        parser.error("--trials must be in 1..10000")
    started = time.monotonic()
    with scratch() as where:
        result = run_trials(args.trials, where, args.seed)
    out = result.as_dict() | {"seconds": round(time.monotonic() - started, 1), "seed": args.seed}
    text = orjson.dumps(out, option=orjson.OPT_INDENT_2).decode()
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    sys.exit(0 if result.ok() else 1)
