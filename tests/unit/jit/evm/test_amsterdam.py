"""Amsterdam's rules (experimental, issue 20), on the interpreter and on the JIT.

Every program runs on both engines: the JIT's outcome (result, error, gas, output,
state diff, logs) must equal the interpreter's, and the interpreter's is checked
against the EIP.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jit.compiler import Engine
from jit.compiler.analysis import decode
from jit.evm.exceptions import InitcodeTooLarge, IntrinsicGasTooLow
from jit.evm.frame import BlockEnv
from jit.evm.instructions.stack import PAIR_IMMEDIATES, SINGLE_IMMEDIATES
from jit.evm.transaction import execute_transaction, intrinsic_gas
from jit.forks import rules_for
from tests.helpers.asm import push
from tests.helpers.evm import (
    COINBASE,
    CONTRACT,
    SENDER,
    Run,
    outcome_fingerprint,
    run,
    transaction,
    world,
)

ENGINE = Engine("jit")
BLOCK = BlockEnv(
    chain_id=1, coinbase=COINBASE, number=1, timestamp=1000, gas_limit=30_000_000, base_fee=7
)
DUPN, SWAPN, EXCHANGE, SLOTNUM = 0xE6, 0xE7, 0xE8, 0x4B
PUSH0, SSTORE, STOP, JUMP, JUMPDEST = 0x5F, 0x55, 0x00, 0x56, 0x5B


def both(code: bytes, gas: int = 1_000_000, fork: str = "amsterdam", slot: int = 0) -> Run:
    """The interpreter's run of ``code``, after checking the JIT's equals it."""
    expected = run(code, gas=gas, fork=fork, state=world(code), slot_number=slot)
    actual = run(
        code, gas=gas, fork=fork, state=world(code), engine=ENGINE.runner, slot_number=slot
    )
    assert outcome_fingerprint(actual.outcome) == outcome_fingerprint(expected.outcome), code.hex()
    return expected


def items(count: int) -> bytes:
    """Push 1, 2, ..., count: item k from the top holds count - k + 1."""
    return b"".join(push(value) for value in range(1, count + 1))


def store(slot: int) -> bytes:
    return push(slot) + bytes([SSTORE])


def single(depth: int) -> int:
    return SINGLE_IMMEDIATES.index(depth)


def pair(n: int, m: int) -> int:
    return PAIR_IMMEDIATES.index((n, m))


# ------------------------------------------------------------------ EIP-8024 decoding


def test_single_immediates_cover_17_to_235_and_skip_jumpdest_and_push_bytes() -> None:
    valid = {x: d for x, d in enumerate(SINGLE_IMMEDIATES) if d is not None}
    assert sorted(valid.values()) == list(range(17, 236))
    assert [x for x, d in enumerate(SINGLE_IMMEDIATES) if d is None] == list(range(91, 128))
    assert (valid[0], valid[90], valid[128], valid[255]) == (145, 235, 17, 144)


def test_pair_immediates_are_every_pair_once() -> None:
    valid = [p for p in PAIR_IMMEDIATES if p is not None]
    wanted = {(n, m) for n in range(1, 15) for m in range(n + 1, 31 - n)}
    assert len(valid) == len(set(valid)) == len(wanted) == 210 and set(valid) == wanted
    assert [x for x, p in enumerate(PAIR_IMMEDIATES) if p is None] == list(range(82, 128))
    assert PAIR_IMMEDIATES[0] == (9, 16)  # an EXCHANGE at the end of the code reads 0


def test_compiler_decodes_the_immediate_and_resumes_at_an_excluded_one() -> None:
    table = rules_for("amsterdam").opcode_table
    valid = decode(bytes([DUPN, 128, STOP]), table)
    assert [(i.pc, i.name, i.pops, i.pushes, i.next_pc) for i in valid] == [
        (0, "DUPN", 17, 18, 2),
        (2, "STOP", 0, 0, 3),
    ]
    halting = decode(bytes([SWAPN, JUMPDEST, STOP]), table)
    assert [(i.pc, i.defined, i.next_pc) for i in halting] == [
        (0, False, 1),
        (1, True, 2),
        (2, True, 3),
    ]
    # Before Amsterdam the bytes are undefined and take no immediate.
    osaka = decode(bytes([DUPN, 128]), rules_for("osaka").opcode_table)
    assert [(i.pc, i.defined, i.name) for i in osaka] == [(0, False, "0xe6"), (1, True, "DUP1")]


# ------------------------------------------------------------------ EIP-8024 behaviour


@pytest.mark.parametrize("depth", [17, 18, 107, 108, 144, 145, 200, 235])
def test_dupn_copies_the_nth_item(depth: int) -> None:
    code = items(depth) + bytes([DUPN, single(depth)]) + store(0) + store(1) + bytes([STOP])
    result = both(code)
    assert result.outcome.success
    assert result.storage() == {0: 1, 1: depth}  # the copy of the bottom; the top untouched


@pytest.mark.parametrize("depth", [17, 100, 234])
def test_swapn_swaps_the_top_with_the_item_below_the_nth(depth: int) -> None:
    code = items(depth + 1) + bytes([SWAPN, single(depth)])
    code += store(0) + b"".join(bytes([0x50]) for _ in range(depth - 1)) + store(1) + bytes([STOP])
    result = both(code)
    assert result.outcome.success
    assert result.storage() == {0: 1, 1: depth + 1}


@pytest.mark.parametrize(("n", "m"), [(1, 2), (1, 29), (14, 16), (5, 10), (9, 16), (13, 17)])
def test_exchange_swaps_two_items_below_the_top(n: int, m: int) -> None:
    count = m + 1
    code = items(count) + bytes([EXCHANGE, pair(n, m)])
    for slot in range(count):  # store the whole stack, top first
        code += store(slot)
    result = both(code + bytes([STOP]))
    assert result.outcome.success
    expected = list(range(count, 0, -1))
    expected[n], expected[m] = expected[m], expected[n]
    assert result.storage() == {slot: v for slot, v in enumerate(expected)}


@pytest.mark.parametrize("op", [DUPN, SWAPN])
@pytest.mark.parametrize("immediate", [91, 0x5B, 0x60, 0x7F, 127])
def test_dupn_swapn_excluded_immediates_halt(op: int, immediate: int) -> None:
    result = both(items(240) + bytes([op, immediate]) + store(0) + bytes([STOP]), gas=200_000)
    assert not result.outcome.success and result.outcome.error == "InvalidOpcode"
    assert result.outcome.gas_used == 200_000


@pytest.mark.parametrize("immediate", [82, 0x5B, 0x60, 0x7F, 127])
def test_exchange_excluded_immediates_halt(immediate: int) -> None:
    result = both(items(40) + bytes([EXCHANGE, immediate]) + store(0) + bytes([STOP]))
    assert not result.outcome.success and result.outcome.error == "InvalidOpcode"


@pytest.mark.parametrize(
    ("code", "enough"),
    [
        (bytes([DUPN, 128]), 17),  # needs 17 items
        (bytes([SWAPN, 128]), 18),  # needs 18
        (bytes([DUPN, 90]), 235),
        (bytes([EXCHANGE, 0x8E]), 3),  # (1, 2)
        (bytes([EXCHANGE, PAIR_IMMEDIATES.index((1, 29))]), 30),
    ],
)
def test_stack_underflow_one_item_short(code: bytes, enough: int) -> None:
    short = both(items(enough - 1) + code + bytes([STOP]))
    assert not short.outcome.success and short.outcome.error == "StackUnderflowError"
    assert both(items(enough) + code + bytes([STOP])).outcome.success


def test_dupn_on_a_full_stack_overflows() -> None:
    code = bytes([PUSH0]) * 1024 + bytes([DUPN, 128, STOP])
    result = both(code)
    assert not result.outcome.success and result.outcome.error == "StackOverflowError"
    assert both(bytes([PUSH0]) * 1023 + bytes([DUPN, 128, STOP])).outcome.success
    assert both(bytes([PUSH0]) * 1024 + bytes([SWAPN, 128, STOP])).outcome.success


@pytest.mark.parametrize(("op", "needed"), [(DUPN, 145), (SWAPN, 146), (EXCHANGE, 17)])
def test_an_immediate_cut_off_by_the_end_of_the_code_reads_zero(op: int, needed: int) -> None:
    # 0 decodes to depth 145 (DUPN, SWAPN) or the pair (9, 16) (EXCHANGE); then STOP.
    assert both(items(needed) + bytes([op])).outcome.success
    short = both(items(needed - 1) + bytes([op]))
    assert short.outcome.error == "StackUnderflowError"


def test_a_jump_reaches_the_jumpdest_an_excluded_immediate_is() -> None:
    # PUSH1 6 JUMP | DUPN 0x5B (halts if run) ... the 0x5B at 4 is a valid JUMPDEST.
    code = push(4) + bytes([JUMP, DUPN, JUMPDEST]) + push(7) + store(0) + bytes([STOP])
    result = both(code)
    assert result.outcome.success and result.storage() == {0: 7}
    straight = both(bytes([DUPN, JUMPDEST]) + push(7) + store(0))
    assert straight.outcome.error == "InvalidOpcode"


def test_a_valid_immediate_is_skipped_as_code_but_not_as_a_jumpdest_candidate() -> None:
    # DUPN 0x80 at 0..1 then JUMPDEST at 2: execution goes on at 2.
    code = items(17) + bytes([DUPN, 0x80, JUMPDEST]) + store(0) + bytes([STOP])
    assert both(code).storage() == {0: 1}


@pytest.mark.parametrize("op", [DUPN, SWAPN, EXCHANGE])
def test_before_amsterdam_the_bytes_are_undefined(op: int) -> None:
    result = both(items(40) + bytes([op, 128]) + store(0), fork="osaka")
    assert result.outcome.error == "InvalidOpcode"


def test_out_of_gas_at_dupn_matches() -> None:
    code = items(17) + bytes([DUPN, 128]) + store(0)
    used = both(code).outcome.gas_used
    for gas in [*range(21_001, 21_080), *range(21_080, used, 1_013)]:
        both(code, gas=gas)


_DEEP_OPS = st.one_of(
    st.tuples(st.sampled_from([DUPN, SWAPN]), st.integers(0, 255)),
    st.tuples(st.just(EXCHANGE), st.integers(0, 255)),
    st.tuples(st.sampled_from([0x01, 0x50, 0x80, 0x8F, 0x90, 0x9F, PUSH0, JUMPDEST]), st.none()),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 260), st.lists(_DEEP_OPS, max_size=12), st.booleans())
def test_random_deep_stack_programs_agree(height: int, ops: list, cut: bool) -> None:
    code = items(height)
    for op, immediate in ops:
        code += bytes([op]) if immediate is None else bytes([op, immediate])
    code += push(0) + bytes([SSTORE])
    if cut and ops and ops[-1][1] is not None:
        code = code[: len(code) - 3]  # end on the bare opcode: its immediate is cut off
    both(code, gas=3_000_000)


# ------------------------------------------------------------------ EIP-7843 SLOTNUM


@pytest.mark.parametrize("slot", [0, 1, 12345, 2**64 - 1])
def test_slotnum_pushes_the_blocks_slot_number(slot: int) -> None:
    result = both(
        bytes([SLOTNUM]) + store(0) + bytes([SLOTNUM, SLOTNUM, 0x01]) + store(1), slot=slot
    )
    assert result.outcome.success
    assert result.storage() == {k: v for k, v in {0: slot, 1: 2 * slot}.items() if v}


def test_slotnum_costs_two_gas() -> None:
    base = both(bytes([PUSH0, 0x50]), slot=5).outcome.gas_used  # PUSH0 (2) POP (2)
    assert both(bytes([SLOTNUM, 0x50]), slot=5).outcome.gas_used == base
    # 21,000 + 2 exactly: SLOTNUM then STOP; a gas short halts out of gas.
    assert both(bytes([SLOTNUM]), gas=21_002).outcome.success
    assert both(bytes([SLOTNUM]), gas=21_001).outcome.error == "OutOfGasError"


def test_slotnum_on_a_full_stack_overflows() -> None:
    assert both(bytes([PUSH0]) * 1023 + bytes([SLOTNUM])).outcome.success
    full = both(bytes([PUSH0]) * 1024 + bytes([SLOTNUM]))
    assert full.outcome.error == "StackOverflowError"


def test_slotnum_is_undefined_before_amsterdam() -> None:
    assert both(bytes([SLOTNUM]), fork="osaka", slot=3).outcome.error == "InvalidOpcode"


# ------------------------------------------------------------------ EIP-7954 sizes


def deployer(size: int) -> bytes:
    """Initcode returning ``size`` zero bytes as the code to deploy."""
    return push(size) + bytes([PUSH0, 0xF3])


def createtransaction(initcode: bytes, fork: str) -> Run:
    """A creation transaction on both engines (the interpreter's run)."""
    gas = 16_000_000
    expected = run(b"", data=initcode, to=None, gas=gas, fork=fork, state=world(b""))
    actual = run(
        b"", data=initcode, to=None, gas=gas, fork=fork, state=world(b""), engine=ENGINE.runner
    )
    assert outcome_fingerprint(actual.outcome) == outcome_fingerprint(expected.outcome)
    return expected


@pytest.mark.parametrize(
    ("fork", "limit"), [("amsterdam", 0x8000), ("osaka", 0x6000), ("prague", 0x6000)]
)
def test_deployed_code_size_limit(fork: str, limit: int) -> None:
    at = createtransaction(deployer(limit), fork)
    address = at.outcome.contract_address
    assert at.outcome.success and address is not None
    assert len(at.state.codes[at.state.accounts[address].code_hash]) == limit
    over = createtransaction(deployer(limit + 1), fork)
    assert not over.outcome.success


@pytest.mark.parametrize(("fork", "limit"), [("amsterdam", 0x10000), ("osaka", 0xC000)])
def test_creation_transaction_initcode_limit(fork: str, limit: int) -> None:
    padded = deployer(1) + bytes(limit - len(deployer(1)))
    assert createtransaction(padded, fork).outcome.success
    with pytest.raises(InitcodeTooLarge):
        createtransaction(padded + b"\x00", fork)


@pytest.mark.parametrize(("fork", "limit"), [("amsterdam", 0x10000), ("osaka", 0xC000)])
@pytest.mark.parametrize("create2", [False, True])
def test_create_opcode_initcode_limit(fork: str, limit: int, create2: bool) -> None:
    """CREATE/CREATE2 of ``size`` bytes of (zero) memory: at the limit the creation
    runs (STOP: nothing deployed), one byte over the calling frame halts."""
    for size, ok in ((limit, True), (limit + 1, False)):
        salt = push(0) if create2 else b""
        code = salt + push(size) + push(0) + push(0) + bytes([0xF5 if create2 else 0xF0])
        code += store(0) + bytes([STOP])
        result = both(code, gas=16_000_000, fork=fork)
        assert result.outcome.success is ok, (size, result.outcome.error)
        if ok:
            assert result.storage() != {}  # the new address


# ------------------------------------------------------------------ EIP-7976 / EIP-7981


ACCESS_LIST = ((CONTRACT, (0, 1)), (SENDER, ()))  # 2 addresses, 2 keys: 104 bytes


@pytest.mark.parametrize(
    ("fork", "data", "access_list", "expected"),
    [
        # 3 zero and 2 non-zero bytes: 11 EIP-7623 tokens at 10; 20 floor tokens at 16.
        ("osaka", b"\x00\x00\x00\x01\x02", (), (21_044, 21_110)),
        ("amsterdam", b"\x00\x00\x00\x01\x02", (), (21_044, 21_320)),
        ("amsterdam", b"\x00" * 100, (), (21_400, 21_000 + 6_400)),  # zero bytes count fully
        ("amsterdam", b"", (), (21_000, 21_000)),
        # Access lists: 2 x 2,400 + 2 x 1,900; under EIP-7981 plus 416 tokens x 16.
        ("osaka", b"", ACCESS_LIST, (29_600, 21_000)),
        ("amsterdam", b"", ACCESS_LIST, (29_600 + 6_656, 21_000 + 6_656)),
        ("amsterdam", b"\x01", ACCESS_LIST, (29_616 + 6_656, 21_000 + 6_656 + 64)),
        # Duplicates are charged each time.
        ("amsterdam", b"", ((CONTRACT, ()), (CONTRACT, ())), (25_800 + 2_560, 21_000 + 2_560)),
    ],
)
def test_intrinsic_gas_and_floor(
    fork: str, data: bytes, access_list: tuple[object, ...], expected: tuple[int, int]
) -> None:
    assert (
        intrinsic_gas(transaction(data=data, access_list=access_list), rules_for(fork)) == expected
    )


@pytest.mark.parametrize("access_list", [(), ACCESS_LIST])
def test_a_transaction_pays_the_floor_and_needs_it_as_gas_limit(access_list: tuple) -> None:
    rules = rules_for("amsterdam")
    tx = transaction(data=b"\x00" * 300, access_list=access_list)
    intrinsic, floor = intrinsic_gas(tx, rules)
    assert floor > intrinsic
    for engine in (None, ENGINE.runner):
        enough = replace(tx, gas_limit=floor)
        assert (
            execute_transaction(enough, BLOCK, world(b""), rules, engine=engine).gas_used == floor
        )
        with pytest.raises(IntrinsicGasTooLow):
            execute_transaction(replace(tx, gas_limit=floor - 1), BLOCK, world(b""), rules)


def test_execution_above_the_floor_is_paid_as_executed() -> None:
    code = items(400) + bytes([STOP])  # 1,200 gas of PUSHes, above a 1-byte floor
    rules = rules_for("amsterdam")
    tx = transaction(data=b"\x01")
    intrinsic, floor = intrinsic_gas(tx, rules)
    outcomes = [
        execute_transaction(tx, BLOCK, world(code), rules, engine=engine).gas_used
        for engine in (None, ENGINE.runner)
    ]
    assert outcomes == [intrinsic + 400 * 3] * 2 and intrinsic + 400 * 3 > floor
