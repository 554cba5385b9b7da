"""Time one contract call on our interpreter, our JIT, our native tier and py-evm, side by side in one process.

    .venv/bin/python scripts/evm_bench.py [--workload NAME ...] [--runs N] [--scale X]
        [--engines interpreter,jit,native,pyevm] [--json]
    .venv/bin/python scripts/evm_bench.py (--code HEX | --deploy HEX) [--calldata HEX] [--gas N]

Built-in workloads (Solidity in scripts/workloads/, build committed beside it; rebuild with
scripts/build_contracts.py):

- ``erc20``: ``BenchToken.transferLoop``, N checked ERC-20 transfers between 200 holders
  (balance check, two SSTOREs and a Transfer event each);
- ``keccak``: ``KeccakLoop.run``, a keccak256 hash chain of N rounds in scratch memory;
- ``mandelbrot``: ``Mandelbrot.run``, the Mandelbrot set on a grid in signed 28-bit fixed point
  (compute only: no storage, no memory growth);
- ``memsort``: ``MemSort.run``, fill an in-memory uint256[] from an LCG, bottom-up merge sort
  between two buffers, keccak of the result.

``--scale X`` multiplies each workload's size (default 1). ``--code HEX`` puts runtime code at
``0x…c0de`` and calls it; ``--deploy HEX`` runs the creation code from the sender first (on our
interpreter) and calls the contract it creates. ``--calldata HEX`` is the call's input.

Method: the state is prepared beforehand (deployment and setup calls run on our interpreter;
the resulting accounts, code and storage are copied into a py-evm Prague state), then each
engine runs the same type-2 transaction, fork Prague (the newest fork py-evm supports) on both
sides. Every engine runs it once untimed (warm-up: the JIT compiles there; ``native``, as in the
node, runs the Python JIT's program profiled there and builds machine code from that profile,
waited for before the timed runs; compile time is reported as ``compile_s``), then ``--runs`` timed runs, engines interleaved run by run; the
figures are medians. Timed: our ``execute_transaction`` (validation, execution, finalisation,
building the diff) and py-evm's ``state.apply_transaction`` (the same phases), nothing else.
CPU = ``time.process_time()``, wall = ``time.perf_counter()``, Mgas/s = gas / CPU seconds.

Correctness: every engine must report the same gas used, status, output and log count
(and a built-in workload the output its Python reference computes); otherwise the bench
fails with exit code 1. Bad arguments exit 2 with a message.

``--json``: the last stdout line is one JSON object::

    {"engines": {"interpreter": {"cpu_s", "wall_s", "gas", "mgas_s", "cpu_runs", "wall_runs"},
                 "jit": {..., "compile_s", "compiled", "failed"}, "pyevm": {...}},
     "speedups": {"jit_vs_interpreter": x, "jit_vs_pyevm": x, "interpreter_vs_pyevm": x},
     "workload": NAME,
     "workloads": {NAME: {"engines", "speedups", "call", "code_bytes", "status", "output",
                          "logs"}, ...},
     "machine": {"cpu", "cores", "usable_cores", "platform"}, "python": ..., "pyevm_version": ...,
     "command": ..., "fork": ..., "revision": (git describe), "runs": N, "scale": X}

``engines``/``speedups``/``workload`` describe the first (or only) workload; ``workloads``
holds every workload run, in order. A speedup ``a_vs_b`` is b's CPU median / a's (above 1:
a is faster).
"""

from __future__ import annotations

import argparse
import functools
import gc
import hashlib
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jit.evm.addresses import compute_contract_address  # noqa: E402
from jit.evm.exceptions import InvalidTransaction  # noqa: E402
from jit.evm.frame import BlockEnv  # noqa: E402
from jit.evm.transaction import TxOutcome, execute_transaction  # noqa: E402
from jit.forks import rules_for  # noqa: E402
from sequencer.types.transactions import Transaction, private_key_to_address  # noqa: E402
from statedb.types import DictState, keccak256  # noqa: E402

WORKLOAD_DIR = ROOT / "scripts" / "workloads"
BUILD_DIR = WORKLOAD_DIR / "build"

ENGINES = ("interpreter", "jit", "native", "pyevm")
FORK = "prague"  # the newest fork py-evm (0.12) implements; the same rules on our side
MAX_RUNS = 1000
MAX_SCALE = 1000.0
DEFAULT_GAS = 1_000_000_000  # the timed call's gas limit (--gas)
SETUP_GAS = 1_000_000_000  # deployment and setup calls
UINT256 = (1 << 256) - 1

SENDER_KEY = hashlib.sha256(b"hummingbird evm_bench sender").digest()
SENDER = private_key_to_address(SENDER_KEY)
SENDER_BALANCE = 10**30
CODE_ADDRESS = bytes.fromhex("000000000000000000000000000000000000c0de")
COINBASE = bytes.fromhex("2adc25665018aa1fe0e6bc666dac8fc2697ff9ba")
CHAIN_ID = 1
BASE_FEE = 7
MAX_FEE = 10
PRIORITY_FEE = 1
PREV_RANDAO = hashlib.sha256(b"hummingbird evm_bench randao").digest()
BLOCK = BlockEnv(
    chain_id=CHAIN_ID,
    coinbase=COINBASE,
    number=1,
    timestamp=1_700_000_000,
    gas_limit=4_000_000_000,
    base_fee=BASE_FEE,
    prev_randao=PREV_RANDAO,
)
RULES = rules_for(FORK)


class BenchError(Exception):
    """A bad argument or an unusable input: exit code 2."""


class Mismatch(Exception):
    """Engines disagree (or disagree with the reference): exit code 1."""


# ------------------------------------------------------------------ ABI helpers


def selector(signature: str) -> bytes:
    return keccak256(signature.encode())[:4]


def encode_call(signature: str, *args: int | bytes) -> bytes:
    words = [a.rjust(32, b"\0") if isinstance(a, bytes) else a.to_bytes(32, "big") for a in args]
    return selector(signature) + b"".join(words)


def word(value: int) -> bytes:
    return (value & UINT256).to_bytes(32, "big")


# ------------------------------------------------------------------ workloads and references

TOKEN_HOLDERS = 200
TOKEN_MINT = 10**24
FIRST_HOLDER = 0x10000
KECCAK_SEED = keccak256(b"hummingbird evm_bench keccak")
MANDELBROT_WIDTH = 64
MANDELBROT_MAX_ITER = 64
MANDELBROT_FRAC = 28
SORT_SEED = 0x5EED


def holder(i: int) -> bytes:
    return (FIRST_HOLDER + i).to_bytes(20, "big")


def token_transfers(n: int, holders: int) -> list[tuple[int, int, int]]:
    """(from index, to index, value) of BenchToken.transferLoop(n, holders), in order."""
    return [((i * 7) % holders, (i * 13 + 5) % holders, i % 97 + 1) for i in range(n)]


def token_balances(n: int, holders: int, minted: int = TOKEN_MINT) -> dict[bytes, int]:
    """Holder address -> balance after the mint and transferLoop(n, holders)."""
    balances = [minted] * holders
    for src, dst, value in token_transfers(n, holders):
        balances[src] -= value
        balances[dst] += value
    return {holder(i): b for i, b in enumerate(balances)}


def keccak_chain(n: int, seed: bytes = KECCAK_SEED) -> bytes:
    h = seed
    for i in range(n):
        h = keccak256(h + i.to_bytes(32, "big"))
    return h


def mandelbrot_checksum(width: int, height: int, max_iter: int) -> int:
    """Mandelbrot.run in Python: the same fixed point, the same fold."""
    frac = MANDELBROT_FRAC
    four = 4 << frac
    dx = (7 << (frac - 1)) // width
    dy = (5 << (frac - 1)) // height
    checksum = 0
    ci = -(5 << (frac - 2))
    for _ in range(height):
        cr = -(5 << (frac - 1))
        for _ in range(width):
            zr = zi = 0
            it = 0
            while it < max_iter:
                zr2 = (zr * zr) >> frac
                zi2 = (zi * zi) >> frac
                if zr2 + zi2 > four:
                    break
                zi = ((zr * zi) >> (frac - 1)) + ci
                zr = zr2 - zi2 + cr
                it += 1
            checksum = (checksum * 31 + it) & UINT256
            cr += dx
        ci += dy
    return checksum


def sorted_digest(n: int, seed: int = SORT_SEED) -> bytes:
    """MemSort.run in Python."""
    x = seed
    values = []
    for _ in range(n):
        x = (x * 6364136223846793005 + 1442695040888963407) & UINT256
        values.append(x >> 128)
    return keccak256(b"".join(v.to_bytes(32, "big") for v in sorted(values)))


@dataclass(frozen=True)
class Workload:
    name: str
    contract: str  # scripts/workloads/build/<contract>.json
    summary: str
    sizes: Callable[[float], dict[str, int]]  # scale -> parameters
    setup: Callable[[dict[str, int]], list[bytes]]  # untimed calls before the timed one
    calldata: Callable[[dict[str, int]], bytes]
    expected: Callable[[dict[str, int]], bytes]  # the call's output, computed in Python
    logs: Callable[[dict[str, int]], int] = lambda _p: 0


def _scaled(base: int, scale: float, minimum: int = 1) -> int:
    return max(minimum, round(base * scale))


def _token_setup(p: dict[str, int]) -> list[bytes]:
    sig = "mint(uint256,uint256,uint256)"
    step = 100
    return [
        encode_call(sig, lo, min(lo + step, p["holders"]), TOKEN_MINT)
        for lo in range(0, p["holders"], step)
    ]


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload(
            "erc20",
            "BenchToken",
            "transferLoop(n, holders): n ERC-20 transfers between holders, with events",
            lambda s: {"n": _scaled(4000, s), "holders": TOKEN_HOLDERS},
            _token_setup,
            lambda p: encode_call("transferLoop(uint256,uint256)", p["n"], p["holders"]),
            lambda p: word(sum(v for _, _, v in token_transfers(p["n"], p["holders"]))),
            lambda p: p["n"],
        ),
        Workload(
            "keccak",
            "KeccakLoop",
            "run(n, seed): keccak256 hash chain of n rounds",
            lambda s: {"n": _scaled(50000, s)},
            lambda p: [],
            lambda p: encode_call("run(uint256,bytes32)", p["n"], KECCAK_SEED),
            lambda p: keccak_chain(p["n"]),
        ),
        Workload(
            "mandelbrot",
            "Mandelbrot",
            "run(width, height, maxIter): escape-time Mandelbrot in 28-bit fixed point",
            lambda s: {
                "width": MANDELBROT_WIDTH,
                "height": _scaled(48, s, 2),
                "max_iter": MANDELBROT_MAX_ITER,
            },
            lambda p: [],
            lambda p: encode_call(
                "run(uint256,uint256,uint256)", p["width"], p["height"], p["max_iter"]
            ),
            lambda p: word(mandelbrot_checksum(p["width"], p["height"], p["max_iter"])),
        ),
        Workload(
            "memsort",
            "MemSort",
            "run(n, seed): LCG-filled uint256[n] in memory, merge sort, keccak",
            lambda s: {"n": _scaled(2000, s)},
            lambda p: [],
            lambda p: encode_call("run(uint256,uint256)", p["n"], SORT_SEED),
            lambda p: sorted_digest(p["n"]),
        ),
    )
}


def load_build(contract: str) -> dict[str, Any]:
    path = BUILD_DIR / f"{contract}.json"
    try:
        doc: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError:
        raise BenchError(
            f"{path.relative_to(ROOT)} is missing (scripts/build_contracts.py)"
        ) from None
    return doc


# ------------------------------------------------------------------ preparing the state


@dataclass
class Bench:
    """One prepared call: the state before it and the call itself."""

    name: str
    summary: str
    state: DictState
    to: bytes
    data: bytes
    gas: int
    expected_output: bytes | None = None
    expected_logs: int | None = None
    params: dict[str, int] = field(default_factory=dict)

    @property
    def nonce(self) -> int:
        account = self.state.get_account(SENDER)
        return account.nonce if account is not None else 0


def our_transaction(nonce: int, to: bytes | None, data: bytes, gas: int) -> Transaction:
    return Transaction(
        tx_type=2,
        chain_id=CHAIN_ID,
        nonce=nonce,
        gas_limit=gas,
        to=to,
        value=0,
        data=data,
        max_fee_per_gas=MAX_FEE,
        max_priority_fee_per_gas=PRIORITY_FEE,
        sender=SENDER,
    )


def _describe_failure(outcome: TxOutcome) -> str:
    detail = outcome.error or outcome.result.value
    if outcome.output:
        out = outcome.output.hex()
        detail += f", output 0x{out[:200]}{'…' if len(out) > 200 else ''}"
        try:
            from sequencer.revert import decode_revert_reason

            reason = decode_revert_reason(outcome.output)
        except Exception:
            reason = None
        if reason:
            detail += f" ({reason})"
    return detail


def _setup_tx(state: DictState, to: bytes | None, data: bytes, what: str) -> TxOutcome:
    account = state.get_account(SENDER)
    tx = our_transaction(account.nonce if account else 0, to, data, SETUP_GAS)
    try:
        outcome = execute_transaction(tx, BLOCK, state, RULES)
    except InvalidTransaction as exc:
        raise BenchError(f"{what}: invalid transaction: {exc}") from None
    if not outcome.success:
        raise BenchError(f"{what} failed: {_describe_failure(outcome)}")
    state.apply(outcome.diff)
    return outcome


def base_state() -> DictState:
    state = DictState()
    state.set_account(SENDER, balance=SENDER_BALANCE)
    return state


def deploy(state: DictState, initcode: bytes, what: str = "the deployment") -> bytes:
    address = compute_contract_address(SENDER, state.accounts[SENDER].nonce)
    outcome = _setup_tx(state, None, initcode, what)
    deployed = outcome.contract_address or address
    account = state.get_account(deployed)
    if account is None or not state.get_code(account.code_hash):
        raise BenchError(f"{what} created no code")
    return deployed


def prepare_workload(workload: Workload, scale: float, gas: int = DEFAULT_GAS) -> Bench:
    build = load_build(workload.contract)
    state = base_state()
    initcode = bytes.fromhex(build["bytecode"].removeprefix("0x"))
    address = deploy(state, initcode, f"deploying {workload.contract}")
    params = workload.sizes(scale)
    for i, data in enumerate(workload.setup(params)):
        _setup_tx(state, address, data, f"{workload.name} setup call {i}")
    return Bench(
        name=workload.name,
        summary=f"{workload.contract}.{workload.summary}; "
        + ", ".join(f"{k}={v}" for k, v in params.items()),
        state=state,
        to=address,
        data=workload.calldata(params),
        gas=gas,
        expected_output=workload.expected(params),
        expected_logs=workload.logs(params),
        params=params,
    )


def prepare_code(code: bytes, calldata: bytes, gas: int) -> Bench:
    state = base_state()
    state.set_account(CODE_ADDRESS, code=code)
    return Bench(
        "code",
        f"{len(code)} bytes of code at 0x{CODE_ADDRESS.hex()}",
        state,
        CODE_ADDRESS,
        calldata,
        gas,
    )


def prepare_deploy(initcode: bytes, calldata: bytes, gas: int) -> Bench:
    state = base_state()
    address = deploy(state, initcode)
    code = state.get_code(state.accounts[address].code_hash)
    return Bench(
        "deploy", f"{len(code)} bytes deployed at 0x{address.hex()}", state, address, calldata, gas
    )


# ------------------------------------------------------------------ engines


@dataclass(frozen=True)
class Execution:
    success: bool
    status: str
    gas: int
    output: bytes
    logs: int
    cpu_s: float
    wall_s: float


class Runner:
    name: str

    def prepare(self, bench: Bench) -> None:
        raise NotImplementedError

    def run(self) -> Execution:
        raise NotImplementedError

    def compile_info(self) -> dict[str, Any]:
        return {}

    def close(self) -> None:
        pass


class OurRunner(Runner):
    """Our EVM: ``execute_transaction`` with the interpreter or a ``jit.compiler.Engine``
    (``jit``; ``native``, which needs the optional llvmlite)."""

    def __init__(self, name: str, native_cache: str | None = None) -> None:
        self.name = name
        self.engine: Any = None
        self.stats_before: Any = None
        self.bench: Bench | None = None
        self.tx: Transaction | None = None
        try:
            from jit.compiler import Engine
        except ImportError as exc:
            if name in ("jit", "native"):
                raise BenchError(f"the JIT engine is not available: {exc}") from None
            return  # the interpreter needs no engine object (engine=None interprets)
        try:
            # native: as in the node, the Python JIT first, machine code built from the
            # profile of the warm-up run (waited for before the timed runs).
            self.engine = (
                Engine(name, background=True, native_profile_runs=1, native_cache_dir=native_cache)
                if name == "native"
                else Engine(name)
            )
        except Exception as exc:
            raise BenchError(f"cannot start the {name} engine: {exc}") from None

    def prepare(self, bench: Bench) -> None:
        self.bench = bench
        self.tx = our_transaction(bench.nonce, bench.to, bench.data, bench.gas)
        self.stats_before = self.engine.stats() if self.engine is not None else None

    def run(self) -> Execution:
        assert self.bench is not None and self.tx is not None
        runner = self.engine.runner if self.engine is not None else None
        if self.engine is not None:
            self.engine.wait_idle()  # native: the build the warm-up's profile started
        tx, state = self.tx, self.bench.state
        gc.collect()
        w0 = time.perf_counter()
        c0 = time.process_time()
        try:
            outcome = execute_transaction(tx, BLOCK, state, RULES, engine=runner)
        except InvalidTransaction as exc:
            raise BenchError(f"{self.name}: invalid transaction: {exc!r}") from None
        c1 = time.process_time()
        w1 = time.perf_counter()
        return Execution(
            outcome.success,
            outcome.result.value,
            outcome.gas_used,
            bytes(outcome.output),
            len(outcome.logs),
            c1 - c0,
            w1 - w0,
        )

    def compile_info(self) -> dict[str, Any]:
        """The JIT's work since ``prepare``: compile CPU seconds, programs compiled, compile
        failures, and frames run compiled / interpreted (a fallback shows as the latter)."""
        if self.name not in ("jit", "native") or self.engine is None:
            return {}
        after, before = self.engine.stats(), self.stats_before

        def delta(attr: str) -> Any:
            return getattr(after, attr, 0) - getattr(before, attr, 0)

        return {
            "compile_s": float(delta("compile_seconds")),
            "compiled": int(delta("compiled")),
            "failed": int(delta("failed")),
            "compiled_frames": int(delta("compiled_runs")),
            "interpreted_frames": int(delta("interpreted_runs")),
            **({"native_regions": int(delta("native_regions"))} if self.name == "native" else {}),
        }

    def close(self) -> None:
        if self.engine is not None:
            self.engine.close()


class PyEvmRunner(Runner):
    """py-evm's Prague state over an AtomicDB, driven through ``state.apply_transaction``."""

    name = "pyevm"

    def __init__(self) -> None:
        try:
            from eth.db.atomic import AtomicDB
            from eth.vm.execution_context import ExecutionContext
            from eth.vm.forks.prague import PragueVM
            from eth_keys import keys
            from eth_utils import ValidationError
        except ImportError as exc:
            raise BenchError(
                f"py-evm is not installed ({exc}): pip install -e '.[bench]'"
            ) from None
        self.validation_error = ValidationError
        self.vm_class: Any = PragueVM
        self.state_class: Any = PragueVM.get_state_class()
        self.db = AtomicDB()
        context_class: Any = ExecutionContext  # py-evm's NewTypes of bytes/int
        self.context = context_class(
            coinbase=BLOCK.coinbase,
            timestamp=BLOCK.timestamp,
            block_number=BLOCK.number,
            difficulty=0,
            mix_hash=BLOCK.prev_randao,
            gas_limit=BLOCK.gas_limit,
            prev_hashes=(),
            chain_id=BLOCK.chain_id,
            base_fee_per_gas=BLOCK.base_fee,
            excess_blob_gas=BLOCK.excess_blob_gas,
        )
        self.private_key = keys.PrivateKey(SENDER_KEY)
        self.root: bytes = b""
        self.tx: Any = None

    def prepare(self, bench: Bench) -> None:
        from eth.constants import BLANK_ROOT_HASH

        state = self.state_class(self.db, self.context, BLANK_ROOT_HASH)
        for address, account in bench.state.accounts.items():
            state.set_nonce(address, account.nonce)
            state.set_balance(address, account.balance)
            code = bench.state.get_code(account.code_hash)
            if code:
                state.set_code(address, code)
        for address, slots in bench.state.storage.items():
            for slot, value in slots.items():
                state.set_storage(address, slot, value)
        state.persist()
        self.root = state.state_root
        unsigned = self.vm_class.get_transaction_builder().new_unsigned_dynamic_fee_transaction(
            chain_id=CHAIN_ID,
            nonce=bench.nonce,
            max_priority_fee_per_gas=PRIORITY_FEE,
            max_fee_per_gas=MAX_FEE,
            gas=bench.gas,
            to=bench.to,
            value=0,
            data=bench.data,
            access_list=(),
        )
        self.tx = unsigned.as_signed_transaction(self.private_key)
        if self.tx.sender != SENDER:
            raise RuntimeError("py-evm recovered another sender")

    def run(self) -> Execution:
        tx = self.tx
        state = self.state_class(self.db, self.context, self.root)  # fresh, from the pre-state
        gc.collect()
        w0 = time.perf_counter()
        c0 = time.process_time()
        try:
            computation = state.apply_transaction(tx)
        except self.validation_error as exc:
            raise BenchError(f"pyevm: invalid transaction: {exc!r}") from None
        c1 = time.process_time()
        w1 = time.perf_counter()
        gas = self.vm_class.finalize_gas_used(tx, computation)
        if not computation.is_error:
            status = "success"
        else:
            from eth.exceptions import Revert

            status = "revert" if isinstance(computation.error, Revert) else "halt"
        return Execution(
            not computation.is_error,
            status,
            gas,
            bytes(computation.output),
            len(computation.get_log_entries()),
            c1 - c0,
            w1 - w0,
        )


def make_runner(name: str, native_cache: str | None = None) -> Runner:
    if name == "pyevm":
        return PyEvmRunner()
    return OurRunner(name, native_cache)


def engine_available(name: str) -> str | None:
    """None when ``name`` can run here, else why not."""
    try:
        make_runner(name).close()
    except BenchError as exc:
        return str(exc)
    return None


# ------------------------------------------------------------------ measuring


def check_agreement(bench: Bench, results: dict[str, Execution]) -> None:
    """Gas, status, output and log count must be identical across engines (and match the
    workload's reference); raise Mismatch otherwise."""
    problems = []
    names = list(results)
    first = results[names[0]]
    for name in names[1:]:
        other = results[name]
        for what in ("gas", "status", "output", "logs"):
            a, b = getattr(first, what), getattr(other, what)
            if a != b:
                shown_a = a.hex() if isinstance(a, bytes) else a
                shown_b = b.hex() if isinstance(b, bytes) else b
                problems.append(f"{what}: {names[0]} {shown_a} != {name} {shown_b}")
    if bench.expected_output is not None:
        for name, result in results.items():
            if not result.success:
                problems.append(f"{name}: the call ended with {result.status}")
            elif result.output != bench.expected_output:
                problems.append(
                    f"{name}: output 0x{result.output.hex()} != reference "
                    f"0x{bench.expected_output.hex()}"
                )
    if bench.expected_logs is not None:
        for name, result in results.items():
            if result.logs != bench.expected_logs:
                problems.append(f"{name}: {result.logs} logs, expected {bench.expected_logs}")
    if problems:
        raise Mismatch(f"{bench.name}: engines disagree:\n  " + "\n  ".join(problems))


def measure(bench: Bench, runners: Sequence[Runner], runs: int) -> dict[str, Any]:
    """Warm up every engine once (untimed), then ``runs`` interleaved timed runs; medians."""
    for runner in runners:
        runner.prepare(bench)
    warm = {r.name: r.run() for r in runners}
    check_agreement(bench, warm)
    samples: dict[str, list[Execution]] = {r.name: [] for r in runners}
    for _ in range(runs):
        for runner in runners:
            samples[runner.name].append(runner.run())
        check_agreement(bench, {name: s[-1] for name, s in samples.items()})
    compile_info = {r.name: r.compile_info() for r in runners}
    engines: dict[str, dict[str, Any]] = {}
    for name, execs in samples.items():
        cpu = statistics.median(e.cpu_s for e in execs)
        wall = statistics.median(e.wall_s for e in execs)
        gas = execs[0].gas
        engines[name] = {
            "cpu_s": cpu,
            "wall_s": wall,
            "gas": gas,
            "mgas_s": gas / cpu / 1e6 if cpu > 0 else None,
            "cpu_runs": [e.cpu_s for e in execs],
            "wall_runs": [e.wall_s for e in execs],
            **compile_info[name],
        }
    first = next(iter(warm.values()))
    account = bench.state.get_account(bench.to)
    code = bench.state.get_code(account.code_hash) if account is not None else b""
    return {
        "call": bench.summary,
        "code_bytes": len(code),
        "status": first.status,
        "output": "0x" + first.output.hex(),
        "logs": first.logs,
        "engines": engines,
        "speedups": speedups(engines),
    }


def speedups(engines: dict[str, dict[str, Any]]) -> dict[str, float]:
    out = {}
    for fast, slow in (
        ("jit", "interpreter"),
        ("jit", "pyevm"),
        ("interpreter", "pyevm"),
        ("native", "jit"),
        ("native", "interpreter"),
        ("native", "pyevm"),
    ):
        if fast in engines and slow in engines and engines[fast]["cpu_s"] > 0:
            out[f"{fast}_vs_{slow}"] = engines[slow]["cpu_s"] / engines[fast]["cpu_s"]
    return out


# ------------------------------------------------------------------ environment and report


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
    }


def pyevm_version() -> str | None:
    try:
        return metadata.version("py-evm")
    except metadata.PackageNotFoundError:
        return None


def source_revision() -> str | None:
    """``git describe --always --dirty`` of the checkout (the JIT changes fast), if any."""
    try:
        proc = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def command_line(argv: Sequence[str] | None) -> str:
    args = list(sys.argv[1:] if argv is None else argv)
    script = os.path.relpath(__file__, Path.cwd()) if Path(__file__).is_absolute() else __file__
    return " ".join(shlex.quote(a) for a in ["python", script, *args])


def format_report(result: dict[str, Any], name: str) -> list[str]:
    lines = [
        f"{name}: {result['call']}",
        f"  status {result['status']}, {result['logs']} logs, {result['code_bytes']:,} bytes of code",
    ]
    lines.append(
        f"  {'engine':<12} {'cpu_s':>9} {'wall_s':>9} {'gas':>13} {'Mgas/s':>8} {'compile_s':>10}"
    )
    for engine, e in result["engines"].items():
        mgas = f"{e['mgas_s']:.2f}" if e["mgas_s"] is not None else "-"
        comp = f"{e['compile_s']:.4f}" if "compile_s" in e else ""
        lines.append(
            f"  {engine:<12} {e['cpu_s']:>9.4f} {e['wall_s']:>9.4f} {e['gas']:>13,} "
            f"{mgas:>8} {comp:>10}"
        )
        if e.get("failed") or e.get("interpreted_frames"):
            lines.append(
                f"  ! {engine}: {e.get('failed', 0)} compile failure(s), "
                f"{e.get('interpreted_frames', 0)} frame(s) interpreted, "
                f"{e.get('compiled_frames', 0)} compiled"
            )
    if result["speedups"]:
        lines.append(
            "  speedup (CPU): "
            + ", ".join(
                f"{k.replace('_vs_', ' vs ')} {v:.2f}x" for k, v in result["speedups"].items()
            )
        )
    return lines


# ------------------------------------------------------------------ arguments


def parse_hex(value: str, what: str, *, allow_empty: bool = False) -> bytes:
    text = value.strip()
    if text[:2] in ("0x", "0X"):
        text = text[2:]
    if not text and not allow_empty:
        raise BenchError(f"{what} is empty")
    if len(text) % 2:
        raise BenchError(f"{what} has an odd number of hex digits ({len(text)})")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise BenchError(f"{what} is not hex: {value[:40]!r}") from None


def split_list(values: Sequence[str] | None) -> list[str]:
    out: list[str] = []
    for value in values or ():
        for item in value.split(","):
            item = item.strip()
            if item and item not in out:
                out.append(item)
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Time a contract call on our interpreter, our JIT and py-evm side by side.",
    )
    parser.add_argument(
        "--workload",
        action="append",
        metavar="NAME",
        help=f"workload(s), repeatable or comma list: {', '.join(WORKLOADS)} (default: all)",
    )
    parser.add_argument("--code", metavar="HEX", help="runtime code to call (instead of workloads)")
    parser.add_argument("--deploy", metavar="HEX", help="creation code: deploy it, then call it")
    parser.add_argument(
        "--calldata", metavar="HEX", help="input of the call (with --code/--deploy)"
    )
    parser.add_argument(
        "--gas", type=int, default=DEFAULT_GAS, help="gas limit of each transaction"
    )
    parser.add_argument("--runs", type=int, default=5, help="timed runs per engine; median (5)")
    parser.add_argument("--scale", type=float, default=1.0, help="workload size multiplier (1)")
    parser.add_argument(
        "--engines",
        action="append",
        metavar="LIST",
        help="engines, comma list of interpreter,jit,native,pyevm (default: those available)",
    )
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument(
        "--native-cache",
        metavar="DIR",
        help="native: keep machine code in DIR (jit.native.cache); a second run loads it, "
        "and compile_s is then the load",
    )
    return parser


@dataclass
class Options:
    benches: list[Callable[[], Bench]]
    bench_names: list[str]
    engines: list[str]
    skipped: dict[str, str]
    runs: int
    scale: float
    json: bool
    native_cache: str | None = None


def resolve_options(args: argparse.Namespace) -> Options:
    if not 1 <= args.runs <= MAX_RUNS:
        raise BenchError(f"--runs must be between 1 and {MAX_RUNS}, not {args.runs}")
    if not (0 < args.scale <= MAX_SCALE):  # also rejects NaN
        raise BenchError(f"--scale must be > 0 and <= {MAX_SCALE:g}, not {args.scale}")
    if not 21_000 <= args.gas <= BLOCK.gas_limit:
        raise BenchError(f"--gas must be between 21000 and {BLOCK.gas_limit}, not {args.gas}")
    if args.code is not None and args.deploy is not None:
        raise BenchError("--code and --deploy exclude each other")
    custom = args.code is not None or args.deploy is not None
    if custom and args.workload:
        raise BenchError("--workload does not go with --code/--deploy")
    if args.calldata is not None and not custom:
        raise BenchError("--calldata needs --code or --deploy")

    requested = split_list(args.engines)
    unknown = [e for e in requested if e not in ENGINES]
    if unknown:
        raise BenchError(f"unknown engine(s) {', '.join(unknown)}; known: {', '.join(ENGINES)}")
    if args.engines is not None and not requested:
        raise BenchError("--engines is empty")
    skipped: dict[str, str] = {}
    if requested:
        engines = requested
    else:
        engines = []
        for name in ENGINES:
            why = engine_available(name)
            if why is None:
                engines.append(name)
            else:
                skipped[name] = why

    benches: list[Callable[[], Bench]] = []
    names: list[str] = []
    if custom:
        calldata = parse_hex(args.calldata or "", "--calldata", allow_empty=True)
        gas = args.gas
        if args.code is not None:
            code = parse_hex(args.code, "--code")
            benches.append(lambda: prepare_code(code, calldata, gas))
            names.append("code")
        else:
            initcode = parse_hex(args.deploy, "--deploy")
            benches.append(lambda: prepare_deploy(initcode, calldata, gas))
            names.append("deploy")
    else:
        chosen = split_list(args.workload) or list(WORKLOADS)
        unknown = [w for w in chosen if w not in WORKLOADS]
        if unknown:
            raise BenchError(
                f"unknown workload(s) {', '.join(unknown)}; known: {', '.join(WORKLOADS)}"
            )
        for name in chosen:
            benches.append(
                functools.partial(prepare_workload, WORKLOADS[name], args.scale, args.gas)
            )
            names.append(name)
    if args.native_cache is not None and not args.native_cache:
        raise BenchError("--native-cache needs a directory")
    return Options(
        benches, names, engines, skipped, args.runs, args.scale, args.json, args.native_cache
    )


# ------------------------------------------------------------------ main


def run(argv: Sequence[str] | None = None) -> tuple[dict[str, Any], bool]:
    """Parse, prepare, measure and print; return the JSON document and whether --json was
    given. Raises BenchError and Mismatch (main turns them into exit codes)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    options = resolve_options(args)
    machine = machine_info()
    version = pyevm_version()
    doc: dict[str, Any] = {
        "command": command_line(argv),
        "machine": machine,
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "pyevm_version": version,
        "fork": FORK,
        "revision": source_revision(),
        "runs": options.runs,
        "scale": options.scale,
    }
    print(f"# command: {doc['command']}")
    print(
        f"# machine: {machine['cpu']}, {machine['cores']} cores "
        f"({machine['usable_cores']} usable), {machine['platform']}"
    )
    print(
        f"# python {doc['python']}; py-evm {version or 'not installed'}; fork {FORK}; "
        f"median of {options.runs} run(s) after 1 untimed warm-up; scale {options.scale:g}; "
        f"revision {doc['revision'] or 'unknown'}"
    )
    for name, why in options.skipped.items():
        print(f"# skipped engine {name}: {why}")
    if not options.engines:
        raise BenchError("no engine to run")
    runners: list[Runner] = []
    try:
        for name in options.engines:
            runners.append(make_runner(name, options.native_cache))
        workloads: dict[str, Any] = {}
        for name, prepare in zip(options.bench_names, options.benches):
            print(f"[{name}] preparing", file=sys.stderr, flush=True)
            bench = prepare()
            print(f"[{name}] measuring {', '.join(options.engines)}", file=sys.stderr, flush=True)
            result = measure(bench, runners, options.runs)
            workloads[name] = result
            print("\n".join(format_report(result, name)), flush=True)
    finally:
        for runner in runners:
            runner.close()
    first = workloads[options.bench_names[0]]
    doc["workload"] = options.bench_names[0]
    doc["engines"] = first["engines"]
    doc["speedups"] = first["speedups"]
    doc["workloads"] = workloads
    return doc, options.json


def main(argv: Sequence[str] | None = None) -> int:
    try:
        doc, json_out = run(argv)
    except BenchError as exc:
        print(f"evm_bench: error: {exc}", file=sys.stderr)
        return 2
    except Mismatch as exc:
        print(f"evm_bench: CORRECTNESS FAILURE: {exc}", file=sys.stderr)
        return 1
    if json_out:
        print(json.dumps(doc, separators=(",", ":")), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
