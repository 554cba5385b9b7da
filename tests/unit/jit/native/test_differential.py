"""Native tier == interpreter on generated programs (issue 22's differential test).

Straight-line programs and loops built from the instructions the native tier covers
(so their regions run as machine code), random covered bytes with jumps, and regions
at the stack's edges, each run with plenty of gas and with limits just under what it
needs. The native engine must agree with the interpreter on the result, error, gas
used, output, state diff, logs and out-of-gas frame count. Results reach the state
through SSTOREs after a JUMPDEST, so the computing region stays native and hands its
stack to the Python JIT's storing region.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("llvmlite")

from jit.compiler import Engine
from jit.compiler.analysis import decode
from jit.evm.transaction import TxOutcome
from jit.forks import rules_for
from jit.native.coverage import covered_ops
from tests.helpers.asm import push, stack_edge_programs
from tests.helpers.evm import outcome_fingerprint, run, world

ENGINE = Engine("native", native_every_region=True)
OSAKA_TABLE = rules_for("osaka").opcode_table
COVERED = covered_ops(OSAKA_TABLE)
INTRINSIC = 21_000

# Covered instructions that compute: (opcode, items popped).
_COMPUTE = [
    (op, pops)
    for op, pops in [
        *[(op, 2) for op in (0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x0A, 0x0B)],
        (0x08, 3),
        (0x09, 3),
        *[
            (op, 2)
            for op in (0x10, 0x11, 0x12, 0x13, 0x14, 0x16, 0x17, 0x18, 0x1A, 0x1B, 0x1C, 0x1D)
        ],
        (0x15, 1),
        (0x19, 1),
        (0x50, 1),
        (0x58, 0),
        (0x5A, 0),
        (0x5F, 0),
    ]
]

words = st.one_of(
    st.integers(0, 40),
    st.sampled_from(
        [0, 1, 7, 31, 32, 33, 255, 256, 257, 2**255, 2**255 - 1, 2**256 - 1, 2**256 - 2, 2**64]
    ),
    st.integers(0, 2**256 - 1),
    st.integers(2**256 - 300, 2**256 - 1),  # small negative numbers
)
offsets = st.sampled_from([0, 1, 31, 32, 64, 100, 1000, 4096, 2**20, 2**32, 2**64, 2**256 - 1])


def store_results(height: int) -> bytes:
    """A JUMPDEST (a new region, so the code before it stays native) and SSTOREs of up
    to six items left on the stack."""
    out = b"\x5b"
    for slot in range(min(max(height, 0), 6)):
        out += push(100 + slot) + b"\x55"
    return out


@st.composite
def covered_line(draw: st.DrawFn) -> tuple[bytes, int]:
    """Covered instructions only; (code, stack height after it)."""
    out = bytearray()
    height = 0
    for _ in range(draw(st.integers(1, 40))):
        kind = draw(st.integers(0, 5))
        if kind == 0 or height == 0:
            out += push(draw(words))
            height += 1
        elif kind == 1:
            op, pops = draw(st.sampled_from([c for c in _COMPUTE if c[1] <= height]))
            out.append(op)
            height += (1 if op != 0x50 else 0) - pops
        elif kind == 2:
            out.append(0x80 + draw(st.integers(0, min(height, 16) - 1)))  # DUPn
            height += 1
        elif kind == 3 and height >= 2:
            out.append(0x90 + draw(st.integers(0, min(height - 1, 16) - 1)))  # SWAPn
        elif kind == 4:
            value, offset = draw(words), draw(offsets)
            store = draw(st.sampled_from([b"\x52", b"\x53"]))
            out += push(value) + push(offset) + store + push(draw(offsets)) + b"\x51"
            height += 1
        else:
            out += push(draw(st.integers(0, 300))) + push(draw(words)) + b"\x0a"  # EXP
            height += 1
    return bytes(out), height


@st.composite
def straight_line(draw: st.DrawFn) -> bytes:
    """Covered code, then its results stored; or nothing after it, so that a gas limit
    just under what it used runs out in the native region itself."""
    code, height = draw(covered_line())
    return code + (store_results(height) if draw(st.booleans()) else b"")


@st.composite
def loop(draw: st.DrawFn) -> bytes:
    """counter = n; do { covered body; counter -= 1 } while counter; store the rest.
    The counter lives in memory word 0 across the body, whose items pile up."""
    n = draw(st.integers(1, 20))
    body, height = draw(covered_line())
    head = push(n)
    start = len(head)
    inner = b"\x5b" + b"\x80\x5f\x52" + body + b"\x5f\x51"
    inner += b"\x60\x01\x90\x03\x80" + push(start) + b"\x57"
    return head + inner + store_results(1 + n * height)


@st.composite
def covered_bytes(draw: st.DrawFn) -> bytes:
    """Random covered bytes with JUMPDESTs, JUMPs and JUMPIs mixed in: underflows,
    jumps into push data, invalid and valid destinations."""
    pool = sorted(COVERED | {0x5B, 0x56, 0x57})
    pieces = draw(
        st.lists(
            st.one_of(
                st.sampled_from(pool).map(lambda op: bytes([op])),
                st.integers(0, 80).map(push),
            ),
            min_size=1,
            max_size=60,
        )
    )
    return b"".join(pieces) + store_results(3)


# A native region at the stack's edges (DUP/SWAP/MSTORE under a short stack, or a loop
# pushing to 1,023..1,026 with covered pushers).
stack_edges = stack_edge_programs(
    18, [0x01, 0x08, 0x50, 0x8F, 0x9F, 0x52], [0x80, 0x5F, 0x58, 0x5A]
)


def assert_same(code: bytes, gas: int) -> TxOutcome:
    expected = run(code, gas=gas, state=world(code))
    actual = run(code, gas=gas, state=world(code), engine=ENGINE.runner)
    assert outcome_fingerprint(actual.outcome) == outcome_fingerprint(expected.outcome), (
        code.hex(),
        gas,
    )
    assert ENGINE.stats().failed == 0  # a failed compile would be interpreted instead
    return expected.outcome


def assert_same_near_limits(code: bytes, gas: int, shortfalls: tuple[int, ...]) -> None:
    """Run with ``gas``, then with limits just under what the code used."""
    used = assert_same(code, gas).gas_used
    limits = {used - 1, used - 2, used - 3, used - 10, used - 50, (used + INTRINSIC) // 2}
    limits.update(used - shortfall for shortfall in shortfalls)
    for limit in sorted(limits):
        if limit >= INTRINSIC:
            assert_same(code, limit)


SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
shortfalls = st.lists(st.integers(1, 2000), max_size=4).map(tuple)
gas_limits = st.sampled_from([100_000, 1_000_000, 5_000_000])


EDGE_WORDS = (0, 1, 2, 3, 5, 30, 31, 32, 33, 255, 256, 2**128 + 3, 2**255 - 1, 2**255,
              2**256 - 5, 2**256 - 2, 2**256 - 1)  # fmt: skip


@pytest.mark.parametrize("op", [op for op, pops in _COMPUTE if pops >= 1])
def test_each_instruction_on_edge_words(op: int) -> None:
    """Every covered computing instruction on every pair (and, for ADDMOD/MULMOD, triple
    with a few moduli) of edge words, in one native region; the results go to memory
    and the frame returns them, so each is compared."""
    pops = dict(_COMPUTE)[op]
    operands = [(a, b, 7) for a in EDGE_WORDS for b in EDGE_WORDS]
    if pops == 3:
        operands = [
            (a, b, n) for a in EDGE_WORDS for b in EDGE_WORDS for n in (0, 1, 7, 2**256 - 1)
        ]
    code = bytearray(push(0) + push(len(operands) * 32 - 32) + b"\x52")  # memory grows once
    for index, (a, b, c) in enumerate(operands):
        code += b"".join(push(v) for v in (c, b, a)[3 - pops :]) + bytes([op])
        code += push(index * 32) + b"\x52" if op != 0x50 else b""
    code += b"\x5b" + push(len(operands) * 32) + b"\x5f\xf3"  # JUMPDEST; RETURN(0, size)
    outcome = assert_same(bytes(code), 5_000_000)
    assert outcome.error is None and len(outcome.output) == len(operands) * 32


@SETTINGS
@given(st.sampled_from(_COMPUTE), words, words, words)
def test_each_instruction(op_pops: tuple[int, int], a: int, b: int, c: int) -> None:
    """One instruction on three operands (a on top), its result stored at once."""
    op, pops = op_pops
    height = 3 - pops + (op != 0x50)
    code = push(c) + push(b) + push(a) + bytes([op]) + store_results(height)
    assert_same(code, 1_000_000)
    assert_same(code, assert_same(code, 1_000_000).gas_used - 1)


@SETTINGS
@given(straight_line(), gas_limits, shortfalls)
def test_straight_line(code: bytes, gas: int, short: tuple[int, ...]) -> None:
    assert_same_near_limits(code, gas, short)


@SETTINGS
@given(loop(), gas_limits, shortfalls)
def test_loops(code: bytes, gas: int, short: tuple[int, ...]) -> None:
    assert_same_near_limits(code, gas, short)


@SETTINGS
@given(covered_bytes(), shortfalls)
def test_covered_bytes_with_jumps(code: bytes, short: tuple[int, ...]) -> None:
    assert_same_near_limits(code, 1_000_000, short)


@SETTINGS
@given(stack_edges, shortfalls)
def test_stack_edges(code: bytes, short: tuple[int, ...]) -> None:
    assert_same_near_limits(code, 5_000_000, short)


def test_the_generated_programs_run_natively() -> None:
    """The strategies' shapes do reach machine code (the differential is not vacuous)."""
    engine = Engine("native", native_every_region=True)
    body = push(3) + push(5) + b"\x02" + push(2) + b"\x0a" + push(7) + b"\x80\x52"
    code = push(4) + b"\x5b\x80\x5f\x52" + body + b"\x5f\x51\x60\x01\x90\x03\x80\x60\x02\x57"
    code += store_results(3)
    assert [i.op for i in decode(code, OSAKA_TABLE)].count(0x5B) == 2
    expected = run(code, gas=200_000)
    actual = run(code, gas=200_000, engine=engine.runner)
    assert outcome_fingerprint(actual.outcome) == outcome_fingerprint(expected.outcome)
    assert engine.stats().native_regions >= 2
    program = engine.program_for(code, rules_for("osaka"))
    assert program is not None and program.namespace["__native__"].calls >= 1


@pytest.mark.parametrize(
    "code",
    [b"\x52\x00", push(1) + b"\x5f\x52", b"\x51" + store_results(1), push(2**64) + b"\x51\x00"],
)
def test_memory_instruction_first_in_the_code(code: bytes) -> None:
    """A region whose first instruction is a memory access: its entry is also the point
    execution resumes at after memory grew (underflow, growth, huge offsets)."""
    for gas in (100_000, 21_005, 21_003, 21_001):
        assert_same(code, gas)


AMSTERDAM_TABLE = rules_for("amsterdam").opcode_table
DUPN, SWAPN, EXCHANGE = 0xE6, 0xE7, 0xE8


def store_top(count: int) -> bytes:
    """A JUMPDEST, then SSTOREs of the top ``count`` items (slots 100...)."""
    return b"\x5b" + b"".join(push(100 + slot) + b"\x55" for slot in range(count))


@st.composite
def eip8024_programs(draw: st.DrawFn) -> bytes:
    """30-45 items, then DUPN/SWAPN/EXCHANGE with any immediate (valid ones move items,
    excluded ones halt, deep ones underflow) mixed with arithmetic; the top 24 items
    are stored, so every move within them shows in the state."""
    depth = draw(st.integers(30, 45))
    code = b"".join(push(draw(words)) for _ in range(depth))
    for _ in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from([DUPN, SWAPN, EXCHANGE, 0x01, 0x80, 0x90]))
        if kind in (DUPN, SWAPN, EXCHANGE):
            code += bytes([kind, draw(st.integers(0, 255))])
        else:
            code += bytes([kind])
    return code + store_top(24)


@SETTINGS
@given(eip8024_programs(), shortfalls)
def test_eip8024_stack_instructions(code: bytes, short: tuple[int, ...]) -> None:
    used = assert_same_on(code, 2_000_000, "amsterdam").gas_used
    for shortfall in (1, 2, *short):
        if used - shortfall >= INTRINSIC:
            assert_same_on(code, used - shortfall, "amsterdam")


def test_eip8024_regions_run_natively() -> None:
    """Valid immediates are covered (the region is machine code, and each move shows in
    the stored items); an excluded one is not (its region stays with the Python JIT)."""
    deep = b"".join(push(value) for value in range(1, 36))
    # DUPN 20 (immediate 131), SWAPN 17 (128), EXCHANGE (2, 5) (155).
    valid = deep + bytes([DUPN, 131, SWAPN, 128, EXCHANGE, 155]) + store_top(24)
    engine = Engine("native", native_every_region=True)
    expected = run(valid, gas=2_000_000, fork="amsterdam")
    actual = run(valid, gas=2_000_000, fork="amsterdam", engine=engine.runner)
    assert outcome_fingerprint(actual.outcome) == outcome_fingerprint(expected.outcome)
    assert expected.outcome.error is None
    # Top first: 35, 34, ..., 1. DUPN 20 pushes the 20th, 16; SWAPN 17 swaps it with the
    # 18th, 19; EXCHANGE (2, 5) swaps the 3rd and the 6th, 34 and 31. Slot 100 + i holds
    # the i-th item from the top.
    stored = expected.storage()
    assert stored[100] == 19 and stored[117] == 16 and stored[101] == 35
    assert stored[102] == 31 and stored[105] == 34
    assert engine.stats().native_regions >= 2
    program = engine.program_for(valid, rules_for("amsterdam"))
    assert program is not None and program.namespace["__native__"].calls >= 1
    excluded = deep + bytes([DUPN, 100]) + store_top(1)  # 91..127 are excluded
    assert not decode(excluded, AMSTERDAM_TABLE)[35].defined
    assert_same_on(excluded, 1_000_000, "amsterdam")


def assert_same_on(code: bytes, gas: int, fork: str) -> TxOutcome:
    expected = run(code, gas=gas, fork=fork, state=world(code))
    actual = run(code, gas=gas, fork=fork, state=world(code), engine=ENGINE.runner)
    assert outcome_fingerprint(actual.outcome) == outcome_fingerprint(expected.outcome), (
        code.hex(),
        gas,
    )
    assert ENGINE.stats().failed == 0
    return expected.outcome
