"""scripts/evm_bench.py at small sizes: the workloads compute what their Python references
say on our interpreter, the --json shape, the engines' agreement check, and bad inputs
(exit code 2 with a message, never a traceback). py-evm parts skip when it is not installed."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from Crypto.Hash import keccak as pycryptodome_keccak

from jit.evm.transaction import TxOutcome, execute_transaction
from statedb.types import DictState
from tests.helpers.asm import Asm, initcode_for

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "evm_bench.py"
UINT256 = (1 << 256) - 1
SCALE = "0.01"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("evm_bench", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["evm_bench"] = module
    spec.loader.exec_module(module)
    return module


b = _load()


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _jit_available() -> bool:
    try:
        from jit.compiler import Engine  # noqa: F401
    except ImportError:
        return False
    return True


HAVE_PYEVM = _has("eth.vm.forks.prague")
HAVE_JIT = _jit_available()
needs_pyevm = pytest.mark.skipif(not HAVE_PYEVM, reason="py-evm not installed (.[bench])")


def keccak(data: bytes) -> bytes:
    """An implementation independent of the one the script and the EVM use."""
    return pycryptodome_keccak.new(data=data, digest_bits=256).digest()


def interpret(bench: Any) -> tuple[TxOutcome, DictState]:
    """Run the prepared call on our interpreter; the state after it."""
    tx = b.our_transaction(bench.nonce, bench.to, bench.data, bench.gas)
    outcome = execute_transaction(tx, b.BLOCK, bench.state, b.RULES)
    after = DictState()
    after.accounts = dict(bench.state.accounts)
    after.codes = dict(bench.state.codes)
    after.storage = {a: dict(s) for a, s in bench.state.storage.items()}
    after.apply(outcome.diff)
    return outcome, after


def word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = b.main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code if isinstance(exc.code, int) else 2
    out, err = capsys.readouterr()
    return code, out, err


# ---------------------------------------------------------------- workloads on the interpreter


def test_erc20_loop_moves_the_balances_python_predicts() -> None:
    bench = b.prepare_workload(b.WORKLOADS["erc20"], 0.01)
    n, holders = bench.params["n"], bench.params["holders"]
    assert n == 40 and holders == b.TOKEN_HOLDERS
    outcome, after = interpret(bench)
    assert outcome.success, outcome.error

    # Independent model of the token: balances move by (i % 97) + 1 from 7i to 13i + 5.
    balances = [b.TOKEN_MINT] * holders
    moved = 0
    for i in range(n):
        value = i % 97 + 1
        balances[(i * 7) % holders] -= value
        balances[(i * 13 + 5) % holders] += value
        moved += value
    assert outcome.output == word(moved)
    storage = after.storage[bench.to]
    assert storage[0] == b.TOKEN_MINT * holders  # totalSupply
    for i, balance in enumerate(balances):
        slot = int.from_bytes(keccak(word(0x10000 + i) + word(1)), "big")  # balanceOf[holder i]
        assert storage.get(slot, 0) == balance, i
    assert b.token_balances(n, holders) == {
        (0x10000 + i).to_bytes(20, "big"): v for i, v in enumerate(balances)
    }

    # One Transfer event per transfer, in order, from the token.
    topic = keccak(b"Transfer(address,address,uint256)")
    assert len(outcome.logs) == n
    for i, log in enumerate(outcome.logs):
        assert log.address == bench.to
        assert log.topics == (
            topic,
            word(0x10000 + (i * 7) % holders),
            word(0x10000 + (i * 13 + 5) % holders),
        )
        assert log.data == word(i % 97 + 1)


def test_keccak_loop_ends_at_the_hashlib_chain() -> None:
    bench = b.prepare_workload(b.WORKLOADS["keccak"], 0.01)
    n = bench.params["n"]
    h = keccak(b"hummingbird evm_bench keccak")
    for i in range(n):
        h = keccak(h + word(i))
    outcome, _ = interpret(bench)
    assert outcome.success
    assert outcome.output == h == b.keccak_chain(n)


def _mandelbrot(width: int, height: int, max_iter: int) -> tuple[int, list[int]]:
    """The checksum and the iteration counts, fixed point as exact rationals' floors."""
    one = 1 << 28
    counts = []
    checksum = 0
    for py in range(height):
        ci = -one * 5 // 4 + py * (one * 5 // 2 // height)
        for px in range(width):
            cr = -one * 5 // 2 + px * (one * 7 // 2 // width)
            zr = zi = it = 0
            while it < max_iter:
                zr2, zi2 = (zr * zr) // one, (zi * zi) // one
                if zr2 + zi2 > 4 * one:
                    break
                zr, zi = zr2 - zi2 + cr, (2 * zr * zi) // one + ci
                it += 1
            counts.append(it)
            checksum = (checksum * 31 + it) % (1 << 256)
    return checksum, counts


def test_mandelbrot_checksum_matches_a_python_reimplementation() -> None:
    bench = b.prepare_workload(b.WORKLOADS["mandelbrot"], 0.03)
    p = bench.params
    checksum, counts = _mandelbrot(p["width"], p["height"], p["max_iter"])
    # The grid crosses the set's interior and its outside.
    assert max(counts) == p["max_iter"] and min(counts) < 3
    outcome, _ = interpret(bench)
    assert outcome.success
    assert outcome.output == word(checksum)
    assert b.mandelbrot_checksum(p["width"], p["height"], p["max_iter"]) == checksum


def test_memsort_hashes_the_sorted_lcg_array() -> None:
    bench = b.prepare_workload(b.WORKLOADS["memsort"], 0.05)
    n = bench.params["n"]
    x, values = b.SORT_SEED, []
    for _ in range(n):
        x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 256)
        values.append(x >> 128)
    assert len(set(values)) == n
    expected = keccak(b"".join(word(v) for v in sorted(values)))
    outcome, _ = interpret(bench)
    assert outcome.success
    assert outcome.output == expected == b.sorted_digest(n)


def test_sizes_scale_and_every_workload_has_a_committed_build() -> None:
    assert set(b.WORKLOADS) == {"erc20", "keccak", "mandelbrot", "memsort"}
    assert b.WORKLOADS["keccak"].sizes(1.0)["n"] == 50_000
    assert b.WORKLOADS["keccak"].sizes(0.5)["n"] == 25_000
    assert b.WORKLOADS["memsort"].sizes(1e-9)["n"] == 1
    sources = {p.stem for p in b.WORKLOAD_DIR.glob("*.sol")}
    assert {w.contract for w in b.WORKLOADS.values()} <= sources
    assert sources == {p.stem for p in b.BUILD_DIR.glob("*.json")}


# ---------------------------------------------------------------- the command line


def engines_here() -> str:
    return ",".join(
        ["interpreter"] + (["jit"] if HAVE_JIT else []) + (["pyevm"] if HAVE_PYEVM else [])
    )


def test_json_shape_for_several_workloads(capsys: pytest.CaptureFixture[str]) -> None:
    engines = engines_here()
    code, out, _ = main(
        [
            "--workload",
            "keccak,memsort",
            "--scale",
            SCALE,
            "--runs",
            "2",
            "--engines",
            engines,
            "--json",
        ],
        capsys,
    )
    assert code == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith("# command: ")
    assert "evm_bench.py" in lines[0]
    assert any(line.startswith("# machine: ") for line in lines[:3])
    doc = json.loads(lines[-1])
    names = engines.split(",")
    assert list(doc["workloads"]) == ["keccak", "memsort"]
    assert doc["workload"] == "keccak"
    assert doc["engines"] == doc["workloads"]["keccak"]["engines"]
    assert list(doc["engines"]) == names
    for workload in doc["workloads"].values():
        gases = {e["gas"] for e in workload["engines"].values()}
        assert len(gases) == 1 and gases.pop() > 21_000
        for engine in workload["engines"].values():
            assert engine["cpu_s"] > 0 and engine["wall_s"] > 0
            assert len(engine["cpu_runs"]) == 2
            assert engine["mgas_s"] == pytest.approx(engine["gas"] / engine["cpu_s"] / 1e6)
        assert workload["status"] == "success"
    assert doc["machine"]["cores"] >= 1 and doc["machine"]["cpu"]
    assert doc["python"].startswith("CPython 3.") or doc["python"]
    assert doc["fork"] == "prague" and doc["runs"] == 2
    if HAVE_JIT:
        jit = doc["engines"]["jit"]
        assert jit["compile_s"] >= 0 and jit["compiled"] >= 1 and jit["failed"] == 0
        assert "jit_vs_interpreter" in doc["speedups"]
    if HAVE_PYEVM:
        assert "interpreter_vs_pyevm" in doc["speedups"]


def test_single_workload_json_keeps_engines_at_the_top(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = main(
        [
            "--workload",
            "erc20",
            "--scale",
            SCALE,
            "--runs",
            "1",
            "--engines",
            "interpreter",
            "--json",
        ],
        capsys,
    )
    assert code == 0
    doc = json.loads(out.strip().splitlines()[-1])
    assert set(doc["engines"]) == {"interpreter"}
    assert set(doc["engines"]["interpreter"]) >= {"cpu_s", "wall_s", "gas"}
    assert doc["speedups"] == {}
    assert doc["workloads"]["erc20"]["logs"] == 40


def test_code_and_deploy_run_any_contract(capsys: pytest.CaptureFixture[str]) -> None:
    # A loop of 50 rounds that returns its counter.
    code = (
        Asm()
        .push(0)
        .label("loop")
        .push(1)
        .op("ADD")
        .op("DUP1")
        .push(50)
        .op("GT")
        .push_label("loop")
        .op("JUMPI")
        .push(0)
        .op("MSTORE")
        .ret(0, 32)
        .build()
    )
    engines = engines_here()
    status, out, _ = main(
        ["--code", "0x" + code.hex(), "--engines", engines, "--json", "--runs", "1"], capsys
    )
    assert status == 0
    doc = json.loads(out.strip().splitlines()[-1])
    assert doc["workload"] == "code"
    assert doc["workloads"]["code"]["output"] == "0x" + word(50).hex()

    status, out, _ = main(
        [
            "--deploy",
            initcode_for(code).hex(),
            "--calldata",
            "0x",
            "--engines",
            engines,
            "--json",
            "--runs",
            "1",
        ],
        capsys,
    )
    assert status == 0
    doc = json.loads(out.strip().splitlines()[-1])
    assert doc["workloads"]["deploy"]["output"] == "0x" + word(50).hex()

    # A Solidity contract through --deploy: Mandelbrot's creation code and an ABI call.
    build = b.load_build("Mandelbrot")
    calldata = b.encode_call("run(uint256,uint256,uint256)", 8, 4, 16)
    status, out, _ = main(
        [
            "--deploy",
            build["bytecode"],
            "--calldata",
            calldata.hex(),
            "--engines",
            "interpreter",
            "--json",
            "--runs",
            "1",
        ],
        capsys,
    )
    assert status == 0
    doc = json.loads(out.strip().splitlines()[-1])
    assert doc["workloads"]["deploy"]["output"] == "0x" + word(_mandelbrot(8, 4, 16)[0]).hex()


def test_reverting_custom_code_is_measured_not_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    code = Asm().revert(0, 0).build()
    status, out, _ = main(
        ["--code", code.hex(), "--engines", "interpreter", "--json", "--runs", "1"], capsys
    )
    assert status == 0
    assert json.loads(out.strip().splitlines()[-1])["workloads"]["code"]["status"] == "revert"


REVERTING_INITCODE = Asm().mstore(0, 0xDEAD).revert(0, 32).build().hex()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--code", "zz"], "not hex"),
        (["--code", "0x123"], "odd number of hex digits"),
        (["--code", ""], "--code is empty"),
        (["--code", "0x"], "--code is empty"),
        (["--code", "00", "--calldata", "xyz"], "--calldata"),
        (["--deploy", "0xabc"], "odd number"),
        (["--deploy", REVERTING_INITCODE], "the deployment failed: Revert, output 0x"),
        (["--deploy", "00"], "created no code"),
        (["--code", "00", "--deploy", "00"], "exclude each other"),
        (["--code", "00", "--workload", "keccak"], "does not go with"),
        (["--calldata", "00"], "needs --code or --deploy"),
        (["--runs", "1000000"], "--runs must be between 1 and 1000"),
        (["--runs", "0"], "--runs must be"),
        (["--runs", "many"], "invalid int value"),
        (["--scale", "0"], "--scale must be"),
        (["--scale", "nan"], "--scale must be"),
        (["--scale", "1e9"], "--scale must be"),
        (["--gas", "100"], "--gas must be"),
        (["--code", "00", "--calldata", "ffff", "--gas", "21000"], "invalid transaction"),
        (["--workload", "keccak,nope"], "unknown workload(s) nope"),
        (["--workload", "fibonacci"], "known: erc20, keccak, mandelbrot, memsort"),
        (["--engines", "interpreter,evmone"], "unknown engine(s) evmone"),
        (["--engines", ","], "--engines is empty"),
    ],
)
def test_bad_inputs_exit_2_with_a_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = main(
        [*argv, "--engines", "interpreter"] if "--engines" not in argv else argv, capsys
    )
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_missing_engine_named_explicitly_is_an_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def unavailable() -> None:
        raise b.BenchError("py-evm is not installed (test): pip install -e '.[bench]'")

    monkeypatch.setattr(b, "PyEvmRunner", unavailable)
    code, _, err = main(["--engines", "pyevm", "--workload", "keccak", "--scale", SCALE], capsys)
    assert code == 2 and "py-evm is not installed" in err
    # Not named: skipped with a note, the others run.
    code, out, _ = main(["--workload", "keccak", "--scale", SCALE, "--runs", "1", "--json"], capsys)
    assert code == 0
    assert "# skipped engine pyevm: py-evm is not installed" in out
    assert "pyevm" not in json.loads(out.strip().splitlines()[-1])["engines"]


def test_cli_error_has_no_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--code", "0xZZ", "--engines", "interpreter"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "evm_bench: error: --code is not hex" in proc.stderr
    assert "Traceback" not in proc.stderr


# ---------------------------------------------------------------- the agreement check


def _execution(**overrides: Any) -> Any:
    fields = {
        "success": True,
        "status": "success",
        "gas": 50_000,
        "output": word(7),
        "logs": 0,
        "cpu_s": 0.1,
        "wall_s": 0.1,
    }
    return b.Execution(**{**fields, **overrides})


def test_engines_that_disagree_fail_loudly(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = b.prepare_code(b"\x00", b"", 100_000)
    b.check_agreement(bench, {"interpreter": _execution(), "jit": _execution(cpu_s=0.01)})
    with pytest.raises(b.Mismatch, match="gas: interpreter 50000 != jit 50001"):
        b.check_agreement(bench, {"interpreter": _execution(), "jit": _execution(gas=50_001)})
    with pytest.raises(b.Mismatch, match="output"):
        b.check_agreement(bench, {"interpreter": _execution(), "pyevm": _execution(output=b"")})
    with pytest.raises(b.Mismatch, match="logs"):
        b.check_agreement(bench, {"interpreter": _execution(), "pyevm": _execution(logs=1)})
    bench.expected_output = word(8)
    with pytest.raises(b.Mismatch, match="!= reference"):
        b.check_agreement(bench, {"interpreter": _execution()})

    # Through main: a runner that reports other gas makes the run exit 1.
    real_run = b.OurRunner.run

    def skewed(self: Any) -> Any:
        result = real_run(self)
        if self.name == "jit":
            return b.Execution(**{**result.__dict__, "gas": result.gas + 1})
        return result

    monkeypatch.setattr(b.OurRunner, "run", skewed)
    monkeypatch.setattr(
        b.OurRunner, "__init__", lambda self, name, native_cache=None: _fake_init(self, name)
    )
    code, _, err = main(
        ["--workload", "keccak", "--scale", SCALE, "--runs", "1", "--engines", "interpreter,jit"],
        capsys,
    )
    assert code == 1
    assert "CORRECTNESS FAILURE" in err and "gas: interpreter" in err


def _fake_init(self: Any, name: str) -> None:
    """An OurRunner that interprets under either name (so the test needs no JIT)."""
    self.name = name
    self.engine = None
    self.stats_before = None
    self.bench = None
    self.tx = None


@needs_pyevm
def test_pyevm_agrees_on_every_workload() -> None:
    runners = [b.OurRunner("interpreter"), b.PyEvmRunner()]
    for workload in b.WORKLOADS.values():
        bench = b.prepare_workload(workload, 0.005)
        result = b.measure(bench, runners, 1)
        gases = {e["gas"] for e in result["engines"].values()}
        assert len(gases) == 1, (workload.name, result["engines"])
        assert result["status"] == "success"
