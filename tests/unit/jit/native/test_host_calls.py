"""Native tier == interpreter on code that makes host calls (issue 22's callback table).

Storage and transient storage, KECCAK256, logs, copies (which grow and move memory
under the native code), environment and block reads, in straight lines and loops, with
plenty of gas and with limits just under what the code used (so handlers run out of gas
or fail SSTORE's stipend check inside a host call), in a static context (SSTORE and LOG
raise in the handler), and on Amsterdam (state gas). Every outcome field is compared.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("llvmlite")

from jit.compiler import Engine
from jit.forks import rules_for
from jit.native.coverage import covered_ops, host_ops
from jit.native.program import _NativeCall
from tests.helpers.asm import push
from tests.helpers.evm import CONTRACT, outcome_fingerprint, run, world
from tests.unit.jit.native.test_differential import (
    SETTINGS,
    covered_line,
    shortfalls,
    store_results,
)

ENGINE = Engine("native", native_every_region=True)
OTHER = "00000000000000000000000000000000000000aa"

small = st.integers(0, 3)
sizes = st.sampled_from([0, 1, 31, 32, 33, 64, 200])
places = st.sampled_from([0, 5, 32, 100, 1000, 5000])
values = st.sampled_from([0, 1, 2, 7, 2**255, 2**256 - 1])

# Host instructions that read something and push one word.
_READS = [0x30, 0x32, 0x33, 0x34, 0x36, 0x38, 0x3A, 0x3D, 0x41, 0x42, 0x43, 0x44, 0x45,
          0x46, 0x47, 0x48, 0x4A, 0x59]  # fmt: skip


@st.composite
def host_piece(draw: st.DrawFn) -> tuple[bytes, int]:
    """One host instruction with its operands; (code, items it leaves)."""
    kind = draw(st.integers(0, 10))
    if kind == 0:
        return push(draw(small)) + b"\x54", 1  # SLOAD
    if kind == 1:
        return push(draw(values)) + push(draw(small)) + b"\x55", 0  # SSTORE
    if kind == 2:
        return push(draw(small)) + b"\x5c", 1  # TLOAD
    if kind == 3:
        return push(draw(values)) + push(draw(small)) + b"\x5d", 0  # TSTORE
    if kind == 4:
        return push(draw(sizes)) + push(draw(places)) + b"\x20", 1  # KECCAK256
    if kind == 5:
        topics = draw(st.integers(0, 2))
        code = b"".join(push(draw(values)) for _ in range(topics))
        return code + push(draw(sizes)) + push(draw(places)) + bytes([0xA0 + topics]), 0
    if kind == 6:  # CALLDATACOPY / CODECOPY / MCOPY / RETURNDATACOPY(0 bytes)
        op = draw(st.sampled_from([0x37, 0x39, 0x5E]))
        return push(draw(sizes)) + push(draw(places)) + push(draw(places)) + bytes([op]), 0
    if kind == 7:
        op = draw(st.sampled_from([0x31, 0x3B, 0x3F]))  # BALANCE, EXTCODESIZE, EXTCODEHASH
        target = draw(st.sampled_from([0, int(OTHER, 16), int.from_bytes(CONTRACT, "big")]))
        return push(target) + bytes([op]), 1
    if kind == 8:
        return push(draw(places)) + b"\x35", 1  # CALLDATALOAD
    if kind == 9:  # a call or create: machine code leaves before it and resumes after it
        op = draw(st.sampled_from([0xF1, 0xF2, 0xF4, 0xFA, 0xF0, 0xF5]))
        target = draw(st.sampled_from([int(OTHER, 16), 4, 0]))  # code, identity, nothing
        gas = draw(st.sampled_from([0, 100, 50_000]))
        sized = push(draw(sizes)) + push(draw(places))
        if op in (0xF0, 0xF5):  # CREATE(value, offset, size) / CREATE2(..., salt)
            salt = push(draw(values)) if op == 0xF5 else b""
            return salt + sized + push(draw(small)) + bytes([op]), 1
        value = push(draw(small)) if op in (0xF1, 0xF2) else b""
        return sized + sized + value + push(target) + push(gas) + bytes([op]), 1
    return bytes([draw(st.sampled_from(_READS))]), 1


@st.composite
def host_line(draw: st.DrawFn) -> tuple[bytes, int]:
    """Host pieces mixed with covered computation and an MLOAD after them (memory may
    have moved under the native code); (code, stack height after it)."""
    out = b""
    height = 0
    for _ in range(draw(st.integers(1, 12))):
        if draw(st.booleans()):
            code, left = draw(host_piece())
        else:
            code, left = draw(covered_line())
        out += code
        height += left
        if draw(st.booleans()):
            out += push(draw(places)) + b"\x51"  # MLOAD
            height += 1
    return out, height


@st.composite
def host_program(draw: st.DrawFn) -> bytes:
    """A straight line, or a loop (counter in memory word 0) around one."""
    body, height = draw(host_line())
    if draw(st.booleans()):
        return body + (store_results(height) if draw(st.booleans()) else b"")
    n = draw(st.integers(1, 6))
    head = push(n)
    inner = b"\x5b\x80\x5f\x52" + body + b"\x5f\x51" + b"\x60\x01\x90\x03\x80" + push(len(head))
    return head + inner + b"\x57" + store_results(1 + n * height)


def assert_same(code: bytes, gas: int, *, fork: str = "osaka", data: bytes = b"") -> int:
    state = {OTHER: b"\x60\x01\x00"}
    expected = run(code, gas=gas, fork=fork, data=data, state=world(code, **state))
    actual = run(
        code, gas=gas, fork=fork, data=data, state=world(code, **state), engine=ENGINE.runner
    )
    assert outcome_fingerprint(actual.outcome) == outcome_fingerprint(expected.outcome), (
        code.hex(),
        gas,
        fork,
    )
    # A compile failure would fall back to the interpreter and hide everything.
    assert ENGINE.stats().failed == 0
    return expected.outcome.gas_used


def near_limits(code: bytes, fork: str, short: tuple[int, ...]) -> None:
    data = bytes(range(70))
    used = assert_same(code, 3_000_000, fork=fork, data=data)
    # What the transaction costs before any code runs (the calldata floor included).
    least = run(b"\x00", gas=3_000_000, fork=fork, data=data).outcome.gas_used
    limits = {used - 1, used - 2, used - 100, used - 2300, used - 5000, (used + least) // 2}
    limits.update(used - shortfall for shortfall in short)
    for limit in sorted(limits):
        if limit >= least:
            assert_same(code, limit, fork=fork, data=data)


@SETTINGS
@given(host_program(), shortfalls)
def test_host_calls(code: bytes, short: tuple[int, ...]) -> None:
    near_limits(code, "osaka", short)


@SETTINGS
@given(host_program(), shortfalls)
def test_host_calls_on_amsterdam(code: bytes, short: tuple[int, ...]) -> None:
    """State gas (EIP-8037) is charged by the handlers through the host call."""
    near_limits(code, "amsterdam", short)


def test_handler_errors_cross_native_code() -> None:
    """SSTORE and LOG0 in a static call raise in the handler: the exception comes out of
    the native frame as it would from the Python JIT (the callee halts, the caller goes
    on), and the loop around them really ran natively. The caller's STATICCALL runs
    between two native calls of its own code."""
    callee = b"\x5b" + push(7) + push(1) + b"\x55" + b"\x00"
    loop_then_log = push(3) + b"\x5b" + push(1) + b"\x90\x03\x80" + push(2) + b"\x57"
    logger = loop_then_log + push(0) + push(0) + b"\xa0" + b"\x00"
    for target in (callee, logger):
        caller = push(0) * 4 + push(int(OTHER, 16)) + push(100_000) + b"\xfa"  # STATICCALL
        caller += push(1) + b"\x01" + push(0) + b"\x55\x00"  # store the call's status + 1
        state = {OTHER: target}
        expected = run(caller, gas=500_000, state=world(caller, **state))
        engine = Engine("native", native_every_region=True)
        actual = run(caller, gas=500_000, state=world(caller, **state), engine=engine.runner)
        assert outcome_fingerprint(actual.outcome) == outcome_fingerprint(expected.outcome)
        assert expected.outcome.diff.storage[CONTRACT][0] == 1  # the static call failed
        program = engine.program_for(target, rules_for("osaka"))
        assert program is not None and program.namespace["__native__"].calls >= 1


def test_storage_loop_stays_in_native_code() -> None:
    """A loop of SLOAD/SSTORE/KECCAK256 runs in one native call (host calls, no crossing
    per round), with the same outcome as the interpreter."""
    body = push(0) + b"\x54" + push(1) + b"\x01\x80" + push(0) + b"\x55"  # s0 += 1
    body += push(0) + b"\x52" + push(32) + push(0) + b"\x20" + push(1) + b"\x55"  # s1 = h
    code = push(50) + b"\x5b" + body + push(1) + b"\x90\x03\x80" + push(2) + b"\x57\x00"
    engine = Engine("native", native_every_region=True)
    expected = run(code, gas=5_000_000)
    actual = run(code, gas=5_000_000, engine=engine.runner)
    assert outcome_fingerprint(actual.outcome) == outcome_fingerprint(expected.outcome)
    assert expected.outcome.diff.storage[CONTRACT][0] == 50
    program = engine.program_for(code, rules_for("osaka"))
    assert program is not None and program.namespace["__native__"].calls == 1
    # Chosen by merit (selection), the loop is too host-heavy for machine code to pay.
    chosen = Engine("native")
    run(code, gas=5_000_000, engine=chosen.runner)
    assert chosen.stats().native_regions == 0


def test_memory_grows_inside_native_code() -> None:
    """A loop writing word after word past the end of memory grows it in machine code
    (charged exactly): the frame enters native code once and leaves for Python only when
    the spare capacity runs out, a few times for 40 KB, not once per word."""
    body = b"\x80" + push(5) + b"\x1b" + b"\x80\x52"  # mem[i * 32] = i * 32
    code = push(1280) + b"\x5b" + body + push(1) + b"\x90\x03\x80" + push(3) + b"\x57"
    code += b"\x59" + push(0) + b"\x55\x00"  # store MSIZE
    engine = Engine("native", native_every_region=True)
    for gas in (5_000_000, 200_000, 150_000):
        expected = run(code, gas=gas)
        actual = run(code, gas=gas, engine=engine.runner)
        assert outcome_fingerprint(actual.outcome) == outcome_fingerprint(expected.outcome)
    assert run(code, gas=5_000_000).outcome.diff.storage[CONTRACT][0] == 1281 * 32  # words 1..1280
    program = engine.program_for(code, rules_for("osaka"))
    assert program is not None
    native = program.namespace["__native__"]
    before = native.calls
    exits: list[int] = []
    grow = native._grow

    def counting_grow(*args: object) -> bool:
        exits.append(1)
        return grow(*args)  # type: ignore[arg-type]

    native._grow = counting_grow
    run(code, gas=5_000_000, engine=engine.runner)
    assert native.calls - before == 1
    assert 1 <= len(exits) <= 8  # 1 KB, 2 KB, 4 KB... of spare: log2(40 KB / 1 KB) + 1


def test_host_ops_are_covered_by_name_in_every_fork() -> None:
    for fork in ("cancun", "prague", "osaka", "amsterdam"):
        table = rules_for(fork).opcode_table
        hosts = host_ops(table)
        assert {0x54, 0x55, 0x5C, 0x5D, 0x20, 0xA0, 0xA4, 0x37, 0x5E} <= hosts
        assert hosts <= covered_ops(table)
        # Calls and creates are covered, run between two native calls (never nested).
        assert {0xF0, 0xF1, 0xF2, 0xF4, 0xF5, 0xFA} <= covered_ops(table)
        assert 0xF3 in covered_ops(table) and 0xF3 not in hosts  # RETURN hands over


@pytest.mark.parametrize("op", [0x04, 0x05, 0x06, 0x07])
@pytest.mark.parametrize("divisor", [1, 2, 16, 256, 2**32, 2**255, 2**256 - 256, 2**256 - 1, 7])
def test_division_of_a_loaded_word_by_a_constant(op: int, divisor: int) -> None:
    """A dividend LLVM cannot see (calldata, through a host call) over a constant divisor:
    i256 sdiv/srem by a constant power of two aborted LLVM 20's code generation, so
    SDIV/SMOD are built on magnitudes (a crash here kills the test process)."""
    # The divisor pushed after the host call: a constant to LLVM (items from before a
    # host call are reloaded from the stack array).
    code = push(0) + b"\x35" + push(divisor) + b"\x90" + bytes([op]) + push(0) + b"\x55\x00"
    for dividend in (0, 1, 255, 256, 2**255, 2**255 + 3, 2**256 - 1, 2**256 - 257):
        data = dividend.to_bytes(32, "big")
        expected = run(code, gas=200_000, data=data)
        actual = run(code, gas=200_000, data=data, engine=ENGINE.runner)
        assert outcome_fingerprint(actual.outcome) == outcome_fingerprint(expected.outcome)


@pytest.mark.parametrize("size", [0, 1, 31, 32, 33, 64, 135, 136, 137, 200, 271, 272, 273, 1000])
def test_native_keccak_matches_the_reference(size: int) -> None:
    """KECCAK256 in machine code (the sponge and Keccak-f in IR) against the interpreter
    (safe-pysha3): every padding case around the 136-byte rate, with offsets, gas just
    under the word cost (the host call takes over) and memory that must grow."""
    for offset in (0, 7, 64):
        fill = push(0x0123456789ABCDEF * (2**190) + size) + push(0) + b"\x52"
        fill += b"".join(push(2**256 - 1 - at) + push(at) + b"\x52" for at in range(32, 1400, 96))
        code = fill + push(size) + push(offset) + b"\x20" + push(0) + b"\x55\x00"
        used = assert_same(code, 1_000_000)
        for limit in (used - 1, used - 3, used - 6 * ((size + 31) // 32)):
            assert_same(code, limit)
    grows = push(size) + push(3000) + b"\x20" + push(0) + b"\x55\x00"  # past the memory
    assert_same(grows, 1_000_000)
    # With the gas and memory there, the hash never goes through the host call.
    hosted: list[int] = []
    original = _NativeCall.host

    def recording(call: _NativeCall, pc: int) -> None:
        hosted.append(call.evm.code[pc])
        original(call, pc)

    engine = Engine("native", native_every_region=True)
    try:
        _NativeCall.host = recording  # type: ignore[method-assign]
        run(code, gas=1_000_000, engine=engine.runner)
    finally:
        _NativeCall.host = original  # type: ignore[method-assign]
    assert hosted == [0x55]  # the SSTORE only


def test_a_loop_of_calls_resumes_in_machine_code() -> None:
    """Calls in a native loop: machine code leaves before each one and comes back right
    after it (a resume point), so the frame enters native code once from Python."""
    call = push(0) * 4 + push(4) + push(1000) + b"\xfa\x50"  # STATICCALL identity, POP
    code = push(30) + b"\x5b" + call + push(1) + b"\x90\x03\x80" + push(2) + b"\x57"
    code += b"\x5b\x5a" + push(0) + b"\x55\x00"
    engine = Engine("native", native_every_region=True)
    for gas in (1_000_000, 60_000, 40_000):
        expected = run(code, gas=gas)
        actual = run(code, gas=gas, engine=engine.runner)
        assert outcome_fingerprint(actual.outcome) == outcome_fingerprint(expected.outcome)
    program = engine.program_for(code, rules_for("osaka"))
    assert program is not None
    native = program.namespace["__native__"]
    before = native.calls
    run(code, gas=1_000_000, engine=engine.runner)
    assert native.calls - before == 1
