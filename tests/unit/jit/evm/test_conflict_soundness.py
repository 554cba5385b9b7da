"""The soundness the optimistic executor relies on, with real execution.

The pair form: for transactions A and B run on a state S, when ``conflicts(B.reads,
A's write set on S)`` is False, B run on S + A's diff has exactly B's outcome on S
(diff, result, gas, logs, reads). The merge form, which is Block-STM's situation and
the only one where a wipe's address-level key matters: C, A, B in block order, A ran
on S (it did not see C) and is valid (its reads do not conflict with C's writes), B ran
on S + C; when B's reads do not conflict with A's write set (computed on S, where A
ran), B on S + C + A has B's outcome on S + C. The pair form is the merge form with an
empty C. Two generators: programs of direct ``TxState`` operations over a tiny
world (every kind of read and write, including odd states such as storage without an
account), and transactions calling small random contracts (SLOAD/SSTORE, BALANCE,
EXTCODEHASH, value transfers that create or empty accounts, CREATE2 collisions, the
coinbase with its fee credit). Both also run with an ``OverlayView`` as the second
state, the reader the executor uses.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from jit.evm.frame import BlockEnv
from jit.evm.state import TxState
from jit.evm.transaction import TxOutcome, coinbase_credit_diff, execute_transaction
from jit.forks import rules_for
from statedb.conflicts import ReadSet, conflicts, write_set
from statedb.types import DictState, StateDiff, StateReader
from statedb.views import OverlayView
from tests.helpers.asm import Asm
from tests.helpers.evm import transaction

# ------------------------------------------------------------------ direct TxState programs

# Few addresses and slots, so that programs collide often.
ADDRS = tuple(bytes([0xA0 + i]) * 20 for i in range(3))
SLOTS = (0, 1)
CODES = (b"\x60\x00", b"\x60\x01")

Op = tuple[Any, ...]

op_st = st.one_of(
    st.tuples(st.just("account"), st.integers(0, 2)),
    st.tuples(st.just("sload"), st.integers(0, 2), st.sampled_from(SLOTS)),
    st.tuples(st.just("original"), st.integers(0, 2), st.sampled_from(SLOTS)),
    st.tuples(st.just("has"), st.integers(0, 2)),
    st.tuples(st.just("code"), st.integers(0, 2)),
    st.tuples(st.just("sstore"), st.integers(0, 2), st.sampled_from(SLOTS), st.integers(0, 2)),
    st.tuples(st.just("balance"), st.integers(0, 2), st.integers(0, 2)),
    st.tuples(st.just("nonce"), st.integers(0, 2)),
    st.tuples(st.just("setcode"), st.integers(0, 2), st.integers(0, 1)),
    st.tuples(st.just("destroy"), st.integers(0, 2)),
    st.just(("skip_if_odd",)),
    st.tuples(st.just("revert_from"), st.integers(0, 8)),
)
program_st = st.lists(op_st, max_size=10)


def world_st() -> st.SearchStrategy[DictState]:
    account = st.none() | st.tuples(st.integers(0, 1), st.integers(0, 2), st.integers(0, 2))
    slots = st.dictionaries(st.sampled_from(SLOTS), st.integers(1, 2))

    def build(accounts: list[Any], storage: list[dict[int, int]]) -> DictState:
        s = DictState()
        for address, acc, slot_values in zip(ADDRS, accounts, storage, strict=True):
            if acc is not None:
                nonce, balance, code = acc
                s.set_account(address, nonce=nonce, balance=balance, code=(b"", *CODES)[code])
                if (nonce, balance, code) == (0, 0, 0):
                    s.accounts.pop(address)  # an empty account is no account (EIP-161)
            if slot_values:  # storage, with or without an account (EIP-7610's case)
                s.storage[address] = dict(slot_values)
        return s

    return st.builds(
        build,
        st.lists(account, min_size=3, max_size=3),
        st.lists(slots, min_size=3, max_size=3),
    )


def run_ops(ops: Sequence[Op], reader: StateReader) -> tuple[Any, ...]:
    """Run ``ops``; every value written depends on everything read before (``acc``)."""
    state = TxState(reader)
    acc = 1
    trace: list[int] = []
    skip = False
    checkpoints = [state.checkpoint()]
    for op in ops:
        if skip:
            skip = False
            continue
        kind, *args = op
        address = ADDRS[args[0]] if args and kind != "revert_from" else b""
        if kind == "account":
            account = state.get_account(address)
            acc = acc * 31 + (0 if account is None else 1 + account.nonce * 3 + account.balance)
        elif kind == "sload":
            acc = acc * 7 + state.get_storage(address, args[1])
        elif kind == "original":
            acc = acc * 5 + state.get_original_storage(address, args[1])
        elif kind == "has":
            acc = acc * 3 + state.has_storage(address)
        elif kind == "code":
            acc = acc * 11 + len(state.get_code(address))
        elif kind == "sstore":
            state.set_storage(address, args[1], (acc + args[2]) % 3)
        elif kind == "balance":
            state.set_balance(address, (acc + args[1]) % 3)
        elif kind == "nonce":
            state.increment_nonce(address)
        elif kind == "setcode":
            state.set_code(address, CODES[(acc + args[1]) % 2])
        elif kind == "destroy":
            state.destroy_account(address)
        elif kind == "skip_if_odd":
            skip = acc % 2 == 1
        elif kind == "revert_from":
            state.revert(checkpoints[min(args[0], len(checkpoints) - 1)])
        checkpoints.append(state.checkpoint())
        trace.append(acc)
    diff = state.diff()
    return (_diff_key(diff), tuple(trace), state.read_set()), diff


def _diff_key(diff: StateDiff) -> tuple[Any, ...]:
    return (
        dict(diff.accounts),
        {a: dict(s) for a, s in diff.storage.items()},
        dict(diff.codes),
        set(diff.storage_cleared),
    )


def after(base: DictState, diff: StateDiff) -> DictState:
    out = DictState()
    out.accounts = dict(base.accounts)
    out.storage = {a: dict(s) for a, s in base.storage.items()}
    out.codes = dict(base.codes)
    out.apply(diff)
    return out


def check_ops(
    s: DictState, c_ops: Sequence[Op], a_ops: Sequence[Op], b_ops: Sequence[Op]
) -> bool | None:
    """Assert the merge form for C, A, B; return whether B's reads conflict with A's
    writes (None when A itself conflicts with C and would be re-run)."""
    _, c_diff = run_ops(c_ops, s)
    a_on_s, a_diff = run_ops(a_ops, s)
    if conflicts(a_on_s[2], write_set(c_diff, s)):
        return None
    seen = after(s, c_diff)
    b_seen, _ = run_ops(b_ops, seen)
    reads: ReadSet = b_seen[2]
    if conflicts(reads, write_set(a_diff, s)):
        return True
    assert run_ops(b_ops, after(seen, a_diff))[0] == b_seen
    assert run_ops(b_ops, OverlayView(seen, a_diff))[0] == b_seen
    return False


@settings(max_examples=1000, deadline=None)
@given(world_st(), program_st, program_st)
def test_no_conflict_means_same_outcome_txstate(
    s: DictState, a_ops: list[Op], b_ops: list[Op]
) -> None:
    check_ops(s, (), a_ops, b_ops)


def _one_account() -> DictState:
    s = DictState()
    s.set_account(ADDRS[0], balance=1)
    return s


@settings(max_examples=1000, deadline=None)
@given(world_st(), program_st, program_st, program_st)
# C writes a slot that is zero where A ran, A deletes the account without reading it,
# B (which saw C) read it: only the wipe's address-level key catches that.
@example(_one_account(), [("sstore", 0, 1, 0)], [("destroy", 0)], [("sload", 0, 1)])
def test_no_conflict_means_same_outcome_after_a_merge_txstate(
    s: DictState, c_ops: list[Op], a_ops: list[Op], b_ops: list[Op]
) -> None:
    check_ops(s, c_ops, a_ops, b_ops)


def test_the_rule_is_not_vacuous_txstate() -> None:
    """On random triples both answers are common, so the properties test something."""
    rng = random.Random(15)
    counts = {None: 0, False: 0, True: 0}
    for i in range(3000):
        c_ops = _random_ops(rng) if i % 2 else []
        counts[check_ops(_random_world(rng), c_ops, _random_ops(rng), _random_ops(rng))] += 1
    assert counts[False] > 500 and counts[True] > 500, counts


def _random_world(rng: random.Random) -> DictState:
    s = DictState()
    for address in ADDRS:
        if rng.random() < 0.7:
            s.set_account(address, nonce=rng.randint(0, 1), balance=rng.randint(1, 2))
        if rng.random() < 0.5:
            s.storage[address] = {slot: rng.randint(1, 2) for slot in SLOTS if rng.random() < 0.5}
            if not s.storage[address]:
                del s.storage[address]
    return s


def _random_ops(rng: random.Random) -> list[Op]:
    ops: list[Op] = []
    for _ in range(rng.randint(0, 6)):
        a = rng.randint(0, len(ADDRS) - 1)
        kind = rng.choice(
            ["account", "sload", "has", "sstore", "balance", "nonce", "destroy", "skip_if_odd"]
        )
        if kind == "sload":
            ops.append((kind, a, rng.choice(SLOTS)))
        elif kind == "sstore":
            ops.append((kind, a, rng.choice(SLOTS), rng.randint(0, 2)))
        elif kind == "balance":
            ops.append((kind, a, rng.randint(0, 2)))
        elif kind == "skip_if_odd":
            ops.append((kind,))
        else:
            ops.append((kind, a))
    return ops


# ------------------------------------------------------------------ real transactions

RULES = rules_for("osaka")
COINBASE = b"\xcb" * 20
SENDERS = (b"\x5a" * 20, b"\x5b" * 20, b"\x5c" * 20)
CONTRACTS = (b"\xc0" * 20, b"\xc1" * 20)
TARGETS = (b"\xe0" * 20, b"\xe1" * 20, COINBASE, *CONTRACTS)
BLOCK = BlockEnv(
    chain_id=1, coinbase=COINBASE, number=1, timestamp=1, gas_limit=30_000_000, base_fee=1
)
# Creation code returning the one-byte runtime 0x00 (STOP), with or without a slot.
CHILD_INIT = Asm().push(1).push(0).op("RETURN").build()
CHILD_INIT_STORING = Asm().sstore(0, 1).push(1).push(0).op("RETURN").build()

evm_op_st = st.one_of(
    st.tuples(st.just("copy"), st.sampled_from(SLOTS), st.sampled_from(SLOTS), st.integers(0, 2)),
    st.tuples(st.just("balance"), st.integers(0, len(TARGETS) - 1), st.sampled_from(SLOTS)),
    st.tuples(st.just("codehash"), st.integers(0, len(TARGETS) - 1), st.sampled_from(SLOTS)),
    st.tuples(st.just("send"), st.integers(0, len(TARGETS) - 1), st.integers(0, 2)),
    st.tuples(st.just("create2"), st.integers(0, 1), st.booleans(), st.sampled_from(SLOTS)),
)


def contract_code(ops: Sequence[Op]) -> bytes:
    asm = Asm()
    for kind, *args in ops:
        if kind == "copy":  # slot dst = (slot src + k) % 3
            src, dst, k = args
            asm.push(3).push(k).push(src).op("SLOAD", "ADD", "MOD").push(dst).op("SSTORE")
        elif kind in ("balance", "codehash"):  # slot dst = BALANCE/EXTCODEHASH(t) % 3
            target, dst = args
            opcode = "BALANCE" if kind == "balance" else "EXTCODEHASH"
            asm.push(3).push(TARGETS[target]).op(opcode, "MOD").push(dst).op("SSTORE")
        elif kind == "send":  # CALL t with value (slot 0 % 3) + k, no gas beyond the stipend
            target, k = args
            asm.push(0).push(0).push(0).push(0)
            asm.push(3).push(k).push(0).op("SLOAD", "ADD", "MOD")
            asm.push(TARGETS[target]).push(0).op("CALL", "POP")
        elif kind == "create2":  # slot dst = CREATE2(salt) != 0
            salt, storing, dst = args
            init = CHILD_INIT_STORING if storing else CHILD_INIT
            for i in range(0, len(init), 32):
                asm.push(init[i : i + 32].ljust(32, b"\x00")).push(i).op("MSTORE")
            asm.push(salt).push(len(init)).push(0).push(0).op("CREATE2")
            asm.push(0).op("EQ", "ISZERO").push(dst).op("SSTORE")
    return asm.op("STOP").build()


def evm_world(codes: Sequence[bytes], rng_bits: Sequence[int]) -> DictState:
    s = DictState()
    for sender in SENDERS:
        s.set_account(sender, balance=10**18)
    for address, code in zip(CONTRACTS, codes, strict=True):
        s.set_account(address, code=code, balance=5)
        s.storage[address] = {0: 1, 1: 2}
    bits = iter(rng_bits)
    for address in TARGETS[:3]:
        if next(bits):
            # Balance 0 leaves an empty account, which a zero-value call deletes (EIP-161).
            s.set_account(address, balance=next(bits))
    return s


def transact(index: int, to: bytes, reader: StateReader) -> TxOutcome:
    tx = transaction(to=to, max_fee_per_gas=3, max_priority_fee_per_gas=2, sender=SENDERS[index])
    return execute_transaction(tx, BLOCK, reader, RULES)


def folded(state: DictState, outcome: TxOutcome) -> DictState:
    """``state`` after ``outcome`` as the block builder folds it: its diff, then the
    coinbase credit computed on the state so far."""
    out = after(state, outcome.diff)
    out.apply(coinbase_credit_diff(out, COINBASE, outcome.fee_credit))
    return out


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.lists(evm_op_st, max_size=5), min_size=2, max_size=2),
    st.lists(st.integers(0, 1), min_size=6, max_size=6),
    st.none() | st.integers(0, 1),
    st.integers(0, 1),
    st.integers(0, 1),
)
def test_no_conflict_means_same_outcome_transactions(
    programs: list[list[Op]], bits: list[int], c_to: int | None, a_to: int, b_to: int
) -> None:
    s = evm_world([contract_code(p) for p in programs], bits)
    seen = s
    a = transact(0, CONTRACTS[a_to], s)
    if c_to is not None:  # C comes first in the block; A did not see it, B did
        c = transact(2, CONTRACTS[c_to], s)
        if conflicts(a.reads, c.write_set(s, coinbase=COINBASE)):
            return  # A would be re-run
        seen = folded(s, c)
    b = transact(1, CONTRACTS[b_to], seen)
    if conflicts(b.reads, a.write_set(s, coinbase=COINBASE)):
        return
    assert transact(1, CONTRACTS[b_to], folded(seen, a)) == b
