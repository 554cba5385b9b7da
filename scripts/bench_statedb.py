#!/usr/bin/env python3
"""Benchmark statedb: commit cost, commitment cost, history reads, reopen, memory per key.

Usage: scripts/bench_statedb.py [--json] [--sizes 10000,100000,1000000] [--dir DIR]

(a) commit_ms: CPU time (this thread, median) of ``StateDB.commit`` for blocks of
    10/100/1000 changed keys (20% account updates, 60% slot updates, 20% new
    slots, plus a block, hash, receipts and head chain record) on states of 10k,
    100k and 1M keys (10% accounts, 90% storage slots over 1 contract per 1000 keys).
(b) commitment_us_per_key: CPU per changed key of the commitment alone (two leaf
    hashes per key, ``Commitment.prepare`` and ``apply``), blocks of 100 slots, 1M keys.
(c) history_read_ms: CPU per ``HistoricalView.get_storage``/``get_account`` at depth
    1, 100 and 10,000 blocks below head (after 10,000 blocks of 10 changed keys),
    half the keys changed after the block read, half not.
(d) reopen_s and bytes_per_key: a fresh process opens the 1M-key database after a
    clean close (CPU seconds) and reports its resident-memory growth per key; a
    second process reopens it as after a crash (no checkpoint: root recomputed).

With --json the last line of stdout is one JSON object:
{"commit_ms": {"<state keys>": {"<changed keys>": ms}}, "commitment_us_per_key": us,
 "history_read_ms": {"<depth>": ms}, "reopen_s": s, "bytes_per_key": n}
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from statedb import Account, Commitment, StateDB, StateDiff
from statedb.commitment import account_bucket, slot_bucket, storage_leaf
from statedb.keys import (
    CF_BLOCK_HASHES,
    CF_BLOCKS,
    CF_CHAIN_META,
    CF_RECEIPTS,
)

CHANGED = (10, 100, 1000)
HISTORY_DEPTHS = (1, 100, 10_000)


def log(msg: str) -> None:
    print(msg, flush=True)


class Workload:
    """A synthetic state and random blocks over it."""

    def __init__(self, keys: int, rng: random.Random) -> None:
        self.rng = rng
        n_accounts = keys // 10
        n_contracts = max(10, keys // 1000)
        per_contract = (keys - n_accounts) // n_contracts
        self.accounts = [rng.randbytes(20) for _ in range(n_accounts)]
        self.contracts = self.accounts[:n_contracts]
        self.slots: list[tuple[bytes, int]] = [
            (c, rng.getrandbits(256)) for c in self.contracts for _ in range(per_contract)
        ]

    def genesis_blocks(self, chunk: int = 20_000) -> list[StateDiff]:
        diffs = []
        for i in range(0, len(self.accounts), chunk):
            diffs.append(
                StateDiff(accounts={a: Account(1, 10**18) for a in self.accounts[i : i + chunk]})
            )
        for i in range(0, len(self.slots), chunk):
            diff = StateDiff()
            for address, slot in self.slots[i : i + chunk]:
                diff.storage.setdefault(address, {})[slot] = self.rng.getrandbits(256)
            diffs.append(diff)
        return diffs

    def block(self, changed: int, number: int) -> StateDiff:
        rng = self.rng
        diff = StateDiff()
        n_acc = changed // 5
        for address in rng.sample(self.accounts, n_acc):
            diff.accounts[address] = Account(number, rng.getrandbits(70))
        rest = changed - n_acc
        n_new = rest // 4
        for address, slot in rng.sample(self.slots, rest - n_new):
            diff.storage.setdefault(address, {})[slot] = rng.getrandbits(256)
        for _ in range(n_new):
            address, slot = rng.choice(self.contracts), rng.getrandbits(256)
            diff.storage.setdefault(address, {})[slot] = rng.getrandbits(64)
            self.slots.append((address, slot))
        return diff


def chain_records(number: int, rng: random.Random) -> dict[str, dict[bytes, bytes | None]]:
    n8 = number.to_bytes(8, "big")
    block_hash = rng.randbytes(32)
    return {
        CF_BLOCKS: {n8: rng.randbytes(600)},
        CF_BLOCK_HASHES: {block_hash: n8},
        CF_RECEIPTS: {n8: rng.randbytes(300)},
        CF_CHAIN_META: {b"head": block_hash},
    }


def build(db: StateDB, work: Workload) -> None:
    for diff in work.genesis_blocks():
        db.commit(db.head_number + 1, diff, chain_records(db.head_number + 1, work.rng))


def bench_commits(db: StateDB, work: Workload, rounds: dict[int, int]) -> dict[str, float]:
    out: dict[str, float] = {}
    for changed in CHANGED:
        times = []
        for _ in range(rounds[changed]):
            number = db.head_number + 1
            diff = work.block(changed, number)
            records = chain_records(number, work.rng)
            t0 = time.thread_time()
            db.commit(number, diff, records)
            times.append(time.thread_time() - t0)
        out[str(changed)] = round(statistics.median(times) * 1e3, 4)
    return out


def bench_commitment(db: StateDB, work: Workload, blocks: int = 60, per_block: int = 100) -> float:
    """The commitment's share alone, on a copy of the database's bucket sums."""
    commitment = Commitment.from_bytes(db._commitment.to_bytes())
    storage = db.resident.storage
    rng = work.rng
    per_key = []
    for _ in range(blocks):
        changes = [
            (address, slot, storage[address].get(slot, 0), rng.getrandbits(256))
            for address, slot in rng.sample(work.slots, per_block)
        ]
        t0 = time.thread_time()
        deltas: dict[int, int] = {}
        for address, slot, old, new in changes:
            b = slot_bucket(account_bucket(address), slot)
            key = address + slot.to_bytes(32, "big")
            d = deltas.get(b, 0) + storage_leaf(key, new)
            if old:
                d -= storage_leaf(key, old)
            deltas[b] = d
        commitment.apply(commitment.prepare(deltas))
        per_key.append((time.thread_time() - t0) / per_block)
    return round(statistics.median(per_key) * 1e6, 3)


def bench_history(db: StateDB, work: Workload) -> dict[str, float]:
    blocks = max(HISTORY_DEPTHS) + 50
    log(f"  committing {blocks} blocks of 10 changed keys for history ...")
    touched: list[tuple[int, tuple[bytes, int]]] = []
    for _ in range(blocks):
        number = db.head_number + 1
        diff = work.block(10, number)
        db.commit(number, diff, chain_records(number, work.rng))
        touched.extend(
            (number, (address, slot)) for address, slots in diff.storage.items() for slot in slots
        )
    head = db.head_number
    rng = work.rng
    out: dict[str, float] = {}
    for depth in HISTORY_DEPTHS:
        view = db.at(head - depth)
        later = [key for number, key in touched if number > head - depth]
        batches = []
        for _ in range(40):
            keys = [rng.choice(later) for _ in range(25)] + rng.sample(work.slots, 25)
            accounts = rng.sample(work.accounts, 10)
            t0 = time.thread_time()
            for address, slot in keys:
                view.get_storage(address, slot)
            for address in accounts:
                view.get_account(address)
            batches.append((time.thread_time() - t0) / (len(keys) + len(accounts)))
        out[str(depth)] = round(statistics.median(batches) * 1e3, 5)
    return out


REOPEN_CHILD = r"""
import os, sys, time, json
sys.path.insert(0, sys.argv[2])
from statedb import StateDB
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
before = rss()
t0, w0 = time.process_time(), time.perf_counter()
db = StateDB.open(sys.argv[1])
cpu, wall = time.process_time() - t0, time.perf_counter() - w0
state = db.resident
keys = len(state.accounts) + sum(len(s) for s in state.storage.values())
print(json.dumps({"cpu": cpu, "wall": wall, "rss": rss() - before, "keys": keys}))
sys.stdout.flush()
if sys.argv[3] == "abandon":
    os._exit(0)  # no close: no commitment checkpoint, like a crash
db.close()
"""


def bench_reopen(path: Path) -> tuple[dict[str, float], dict[str, float]]:
    repo = str(Path(__file__).resolve().parents[1])
    results = []
    for mode in ("abandon", "close"):
        proc = subprocess.run(
            [sys.executable, "-c", REOPEN_CHILD, str(path), repo, mode],
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    # The first (clean-close) open consumed the checkpoint and exited without one, so the
    # second open is the crash path; report them in that order of meaning.
    return results[0], results[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--dir", default=None, help="scratch directory (default: a temp dir)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    scratch = Path(tempfile.mkdtemp(prefix="bench_statedb_", dir=args.dir))
    rng = random.Random(12345)
    result: dict[str, object] = {"commit_ms": {}}
    commit_ms: dict[str, dict[str, float]] = {}
    log(f"statedb benchmark: CPU time of this thread, medians; cores: {os.cpu_count()}")
    try:
        db = None
        work = None
        for size in sizes:
            if db is not None:
                db.close()
            path = scratch / f"db{size}"
            db = StateDB.open(path)
            work = Workload(size, rng)
            t0 = time.perf_counter()
            build(db, work)
            # The build is a bulk import of the whole state in a few huge blocks; let
            # RocksDB finish flushing and compacting it so the measurement sees steady
            # state, not the import's compaction competing for the 2 cores.
            db.settle()
            log(f"state of {size} keys built in {time.perf_counter() - t0:.1f}s")
            commit_ms[str(size)] = bench_commits(db, work, {10: 300, 100: 500, 1000: 50})
            log(f"  commit_ms {commit_ms[str(size)]}")
        result["commit_ms"] = commit_ms
        assert db is not None and work is not None
        result["commitment_us_per_key"] = bench_commitment(db, work)
        log(f"commitment_us_per_key {result['commitment_us_per_key']} (blocks of 100 slots)")
        result["history_read_ms"] = bench_history(db, work)
        log(f"history_read_ms {result['history_read_ms']}")
        # Steady state with the default 10,000-block window full, so every commit also
        # prunes the oldest block's history (not in the JSON, whose shape is fixed).
        pruned = bench_commits(db, work, {10: 1, 100: 300, 1000: 1})["100"]
        log(f"commit_ms for 100 keys at {sizes[-1]} keys while pruning a full window: {pruned}")
        db.close()
        clean, crash = bench_reopen(scratch / f"db{sizes[-1]}")
        result["reopen_s"] = round(clean["cpu"], 3)
        result["bytes_per_key"] = round(clean["rss"] / clean["keys"])
        log(
            f"reopen of {clean['keys']} keys: clean {clean['cpu']:.2f}s CPU "
            f"({clean['wall']:.2f}s wall); after a crash (root recomputed) {crash['cpu']:.2f}s "
            f"CPU; resident memory {result['bytes_per_key']} bytes/key"
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
