"""sequencer.access_list (EIP-7928): every block access list of the shared Amsterdam EEST
fixtures (hash, RLP round trip, JSON round trip, the header field), the builder on
hand-made steps, a replay property, and hostile RLP."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jit import rlp
from rpc.namespaces.access_list import from_json, to_fixture_json, to_json
from sequencer.access_list import (
    EMPTY_BAL_HASH,
    AccessStep,
    AccountChanges,
    BalanceChange,
    BlockAccessList,
    CodeChange,
    InvalidBlockAccessList,
    NonceChange,
    SlotChanges,
    StorageChange,
    bal_hash,
    build_block_access_list,
    decode,
    encode,
)
from statedb.types import EMPTY_CODE_HASH, Account, DictState, StateDiff, keccak256

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT.parent / "shared" / "conformance" / "eest-devnet" / "amsterdam"
FIXTURE_FILES = sorted(FIXTURES.rglob("*.json")) if FIXTURES.is_dir() else []
needs_fixtures = pytest.mark.skipif(
    not FIXTURES.is_dir(), reason="../shared/conformance/eest-devnet is not beside the checkout"
)

# Invalid-block fixtures (``expectException``) carry their list in ``rlp_decoded``. Most
# lists are canonical and hash to the header's field (the block is invalid because the
# list disagrees with execution, or a transaction is invalid); these are not canonical,
# so ``from_json`` and ``decode`` must refuse them, or hash to something else.
NON_CANONICAL = {
    "bal_invalid_account.json",  # an extra account out of address order
    "bal_invalid_account_order.json",
    "bal_invalid_complex_corruption.json",
    "bal_invalid_duplicate_entries.json",
}
HASH_MISMATCH = {"bal_invalid_hash_mismatch.json"}


def _int(text: str) -> int:
    return int(text, 16)


def raw_fixture_rlp(bal: list[dict[str, Any]]) -> bytes:
    """The RLP of a fixture list exactly as written (order and duplicates kept), built
    without sequencer.access_list: an independent encoder."""
    return rlp.encode(
        [
            [
                bytes.fromhex(a["address"][2:]),
                [
                    [
                        _int(s["slot"]),
                        [
                            [_int(c["blockAccessIndex"]), _int(c["postValue"])]
                            for c in s["slotChanges"]
                        ],
                    ]
                    for s in a["storageChanges"]
                ],
                [_int(r) for r in a["storageReads"]],
                [
                    [_int(c["blockAccessIndex"]), _int(c["postBalance"])]
                    for c in a["balanceChanges"]
                ],
                [[_int(c["blockAccessIndex"]), _int(c["postNonce"])] for c in a["nonceChanges"]],
                [
                    [_int(c["blockAccessIndex"]), bytes.fromhex(c["newCode"][2:])]
                    for c in a["codeChanges"]
                ],
            ]
            for a in bal
        ]
    )


def check_fixture_block(path: Path, block: dict[str, Any]) -> str:
    """Check one fixture block; returns its category for the census."""
    if "expectException" not in block:
        header = block["blockHeader"]
        fixture_bal = block["blockAccessList"]
        bal = from_json(fixture_bal)
        encoded = encode(bal)
        assert encoded == raw_fixture_rlp(fixture_bal)
        assert "0x" + bal_hash(bal).hex() == header["blockAccessListHash"]
        assert decode(encoded) == bal
        assert decode(encoded, max_index=len(block["transactions"]) + 1) == bal
        assert to_fixture_json(bal) == fixture_bal
        assert from_json(to_json(bal)) == bal
        # The block RLP carries the hash in the header (EIP-7928 keeps the list itself
        # out of the block body); header fields are in the JSON's order, hash last.
        fields = rlp.decode(bytes.fromhex(block["rlp"][2:]))
        assert isinstance(fields, list) and isinstance(fields[0], list)
        assert "0x" + keccak256(rlp.encode(fields[0])).hex() == header["hash"]
        position = list(header).index("blockAccessListHash")
        assert fields[0][position] == bal_hash(bal)
        return "valid"
    decoded = block["rlp_decoded"]
    fixture_bal = decoded["blockAccessList"]
    header_hash = bytes.fromhex(decoded["blockHeader"]["blockAccessListHash"][2:])
    raw = raw_fixture_rlp(fixture_bal)
    if path.name in NON_CANONICAL:
        assert keccak256(raw) == header_hash  # the header commits to these very bytes
        with pytest.raises(InvalidBlockAccessList):
            from_json(fixture_bal)
        with pytest.raises(InvalidBlockAccessList):
            decode(raw)
        return "invalid, not canonical"
    bal = from_json(fixture_bal)
    assert encode(bal) == raw and decode(raw) == bal
    if path.name in HASH_MISMATCH:
        assert bal_hash(bal) != header_hash
        return "invalid, hash mismatch"
    assert bal_hash(bal) == header_hash
    return "invalid, canonical"


def fixture_blocks(path: Path) -> Iterable[dict[str, Any]]:
    for case in json.loads(path.read_text()).values():
        yield from case["blocks"]


@needs_fixtures
@pytest.mark.parametrize(
    "path", FIXTURE_FILES, ids=[str(p.relative_to(FIXTURES)) for p in FIXTURE_FILES]
)
def test_fixture_lists(path: Path) -> None:
    for block in fixture_blocks(path):
        check_fixture_block(path, block)


@needs_fixtures
def test_fixture_census() -> None:
    census: dict[str, int] = {}
    for path in FIXTURE_FILES:
        for block in fixture_blocks(path):
            category = check_fixture_block(path, block)
            census[category] = census.get(category, 0) + 1
    assert len(FIXTURE_FILES) == 227
    assert census == {
        "valid": 726,
        "invalid, not canonical": 10,
        "invalid, hash mismatch": 1,
        "invalid, canonical": 10,
    }


# --------------------------------------------------------------------- builder

A = b"\x0a" * 20
B = b"\x0b" * 20
C = b"\x0c" * 20
LOW = b"\x00" * 19 + b"\x02"
HIGH = b"\x01" + b"\x00" * 19


def state(**accounts: Account) -> DictState:
    out = DictState()
    for name, account in accounts.items():
        out.accounts[ADDRESSES[name]] = account
    return out


ADDRESSES = {"a": A, "b": B, "c": C, "low": LOW, "high": HIGH}


def step(
    index: int,
    pre: DictState,
    diff: StateDiff | None = None,
    accounts: Iterable[bytes] = (),
    slots: Iterable[tuple[bytes, int]] = (),
) -> AccessStep:
    return AccessStep(index, pre, diff or StateDiff(), frozenset(accounts), frozenset(slots))


def only(bal: BlockAccessList) -> AccountChanges:
    assert len(bal.accounts) == 1
    return bal.accounts[0]


def test_empty_block_is_the_empty_list() -> None:
    bal = build_block_access_list([])
    assert bal == BlockAccessList()
    assert encode(bal) == b"\xc0"
    # EIP-7928: keccak256(rlp.encode([])).
    assert bal_hash(bal) == EMPTY_BAL_HASH
    assert EMPTY_BAL_HASH.hex() == (
        "1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347"
    )


def test_read_account_is_present_with_empty_lists() -> None:
    pre = state(a=Account(1, 5))
    bal = build_block_access_list([step(1, pre, accounts=[A, B])])
    assert bal.accounts == (AccountChanges(A), AccountChanges(B))


def test_no_op_storage_write_is_a_read() -> None:
    pre = state(a=Account(1, 5))
    pre.storage[A] = {1: 7}
    diff = StateDiff(storage={A: {1: 7, 2: 0}})  # slot 2 was 0 already
    assert only(build_block_access_list([step(1, pre, diff)])) == AccountChanges(
        A, storage_reads=(1, 2)
    )


def test_a_slot_changed_at_any_index_is_never_a_read() -> None:
    pre = state(a=Account(1))
    pre.storage[A] = {1: 7}
    mid = state(a=Account(1))
    mid.storage[A] = {1: 8}
    steps = [
        step(1, pre, slots=[(A, 1)]),  # read before the write
        step(2, pre, StateDiff(storage={A: {1: 8}}), slots=[(A, 1)]),  # read, then written
        step(3, mid, StateDiff(storage={A: {1: 8}}), slots=[(A, 1)]),  # no-op write after
    ]
    assert only(build_block_access_list(steps)) == AccountChanges(
        A, storage_changes=(SlotChanges(1, (StorageChange(2, 8),)),)
    )


def test_changes_to_one_slot_by_index() -> None:
    states = [state(a=Account(1)) for _ in range(5)]
    for value, s in zip([0, 1, 2, 2, 2], states, strict=True):
        if value:
            s.storage[A] = {9: value}
    steps = [
        step(0, states[0], StateDiff(storage={A: {9: 1}})),
        step(1, states[1], StateDiff(storage={A: {9: 2}})),
        step(3, states[2], StateDiff(storage={A: {9: 2}})),  # no-op: dropped (slot changes)
        step(5, states[3], StateDiff(storage={A: {9: 0}})),
    ]
    account = only(build_block_access_list(steps))
    assert account.storage_changes == (
        SlotChanges(9, (StorageChange(0, 1), StorageChange(1, 2), StorageChange(5, 0))),
    )
    assert account.storage_reads == ()


def test_unchanged_balance_keeps_the_address_without_an_entry() -> None:
    # A zero-value transfer target, and a balance that moved and came back in one index.
    pre = state(a=Account(3, 100), b=Account(0, 50))
    diff = StateDiff(accounts={A: Account(4, 100), B: Account(0, 50)})
    bal = build_block_access_list([step(1, pre, diff, accounts=[A, B])])
    assert bal.accounts == (
        AccountChanges(A, nonce_changes=(NonceChange(1, 4),)),
        AccountChanges(B),
    )


def test_transfer_and_contract_creation() -> None:
    code = bytes.fromhex("6080604052")
    code_hash = keccak256(code)
    pre = state(a=Account(3, 1000))
    diff = StateDiff(
        accounts={A: Account(4, 900), C: Account(1, 100, code_hash)},
        storage={C: {0: 42}},
        codes={code_hash: code},
    )
    bal = build_block_access_list([step(1, pre, diff, accounts=[A, C])])
    assert bal.accounts == (
        AccountChanges(
            A, balance_changes=(BalanceChange(1, 900),), nonce_changes=(NonceChange(1, 4),)
        ),
        AccountChanges(
            C,
            storage_changes=(SlotChanges(0, (StorageChange(1, 42),)),),
            balance_changes=(BalanceChange(1, 100),),
            nonce_changes=(NonceChange(1, 1),),
            code_changes=(CodeChange(1, code),),
        ),
    )


def test_eip7702_delegation_set_and_cleared() -> None:
    indicator = b"\xef\x01\x00" + C
    indicator_hash = keccak256(indicator)
    pre = state(a=Account(0, 10))
    delegated = state(a=Account(1, 10, indicator_hash))
    delegated.codes[indicator_hash] = indicator
    steps = [
        step(
            1,
            pre,
            StateDiff(
                accounts={A: Account(1, 10, indicator_hash)}, codes={indicator_hash: indicator}
            ),
        ),
        # Cleared: the code goes back to empty (EIP-7702 delegation to the zero address).
        step(2, delegated, StateDiff(accounts={A: Account(2, 10, EMPTY_CODE_HASH)})),
    ]
    assert only(build_block_access_list(steps)) == AccountChanges(
        A,
        nonce_changes=(NonceChange(1, 1), NonceChange(2, 2)),
        code_changes=(CodeChange(1, indicator), CodeChange(2, b"")),
    )


def test_code_already_in_the_state_is_read_from_pre() -> None:
    code = b"\x60\x00"
    pre = state(b=Account(1, 0, keccak256(code)))
    pre.codes[keccak256(code)] = code
    # The same code deployed again: the diff need not carry it.
    diff = StateDiff(accounts={A: Account(1, 0, keccak256(code))})
    assert only(build_block_access_list([step(1, pre, diff)])).code_changes == (
        CodeChange(1, code),
    )
    missing = StateDiff(accounts={A: Account(1, 0, keccak256(b"\x60\x01"))})
    with pytest.raises(ValueError, match="neither in the diff nor in the state"):
        build_block_access_list([step(1, pre, missing)])


def test_destroyed_account() -> None:
    # EIP-7928 "SELFDESTRUCT (in-transaction)": balance to zero if it was positive, no
    # nonce or code entry, the touched slots as reads.
    code_hash = keccak256(b"\x00")
    pre = state(a=Account(1, 70, code_hash), b=Account(1, 0, code_hash))
    pre.storage[A] = {1: 5, 2: 6}
    diff = StateDiff(accounts={A: None, B: None, C: Account(0, 70)}, storage_cleared={A, B})
    bal = build_block_access_list([step(1, pre, diff, accounts=[A, B, C], slots=[(A, 1), (B, 4)])])
    assert bal.accounts == (
        AccountChanges(A, storage_reads=(1,), balance_changes=(BalanceChange(1, 0),)),
        AccountChanges(B, storage_reads=(4,)),
        AccountChanges(C, balance_changes=(BalanceChange(1, 70),)),
    )


def test_created_and_destroyed_in_one_index_leaves_reads() -> None:
    # The executor's diff has nothing for it; its writes were reads of the pre state.
    pre = state()
    bal = build_block_access_list([step(2, pre, accounts=[C], slots=[(C, 0), (C, 1)])])
    assert only(bal) == AccountChanges(C, storage_reads=(0, 1))


class ListsZeroSlots(DictState):
    """A reader whose ``storage_slots`` also names zero and repeated slots."""

    def storage_slots(self, address: bytes) -> Iterable[int]:
        return [1, 2, 3, 5, 1]


def test_wipe_of_a_surviving_account() -> None:
    # Pre-Cancun rules: the account is wiped and written again in one index.
    pre = ListsZeroSlots()
    pre.accounts[A] = Account(1, 5)
    pre.storage[A] = {1: 10, 2: 20, 3: 30}
    diff = StateDiff(accounts={A: Account(1, 6)}, storage={A: {2: 20, 4: 40}}, storage_cleared={A})
    account = only(build_block_access_list([step(1, pre, diff, slots=[(A, 3)])]))
    assert account == AccountChanges(
        A,
        storage_changes=(
            SlotChanges(1, (StorageChange(1, 0),)),  # wiped non-zero slots: zeroed
            SlotChanges(3, (StorageChange(1, 0),)),
            SlotChanges(4, (StorageChange(1, 40),)),
        ),
        storage_reads=(2,),  # rewritten with its old value; slot 5 (zero) stays out
        balance_changes=(BalanceChange(1, 6),),
    )


def test_addresses_and_slots_are_sorted() -> None:
    pre = state()
    diff = StateDiff(storage={HIGH: {2**255: 1, 3: 1, 256: 1}, LOW: {1: 1}})
    bal = build_block_access_list(
        [step(1, pre, diff, accounts=[C, HIGH, A], slots=[(HIGH, 2**256 - 1), (HIGH, 0)])]
    )
    assert [a.address for a in bal.accounts] == [LOW, HIGH, A, C]
    high = bal.accounts[1]
    assert [s.slot for s in high.storage_changes] == [3, 256, 2**255]
    assert high.storage_reads == (0, 2**256 - 1)


def test_pre_block_transactions_and_post_block_indices() -> None:
    history = b"\x00\x00\xf9\x08\x27\xf1\xc5\x3a\x10\xcb\x7a\x02\x33\x5b\x17\x53\x20\x00\x29\x35"
    s0 = state(a=Account(0, 1000))
    s0.accounts[history] = Account(1)
    s1 = state(a=Account(0, 1000))
    s1.accounts[history] = Account(1)
    s1.storage[history] = {0x0FA0: 0xAB}
    s2 = state(a=Account(1, 900), b=Account(0, 100))
    s2.accounts[history] = Account(1)
    steps = [
        # Index 0: the EIP-2935 system call stores the parent hash.
        step(0, s0, StateDiff(storage={history: {0x0FA0: 0xAB}}), accounts=[history]),
        step(1, s1, StateDiff(accounts={A: Account(1, 900), B: Account(0, 100)}), accounts=[A, B]),
        # Index n + 1 = 2: a withdrawal to A.
        step(2, s2, StateDiff(accounts={A: Account(1, 900 + 10**9)}), accounts=[A]),
    ]
    bal = build_block_access_list(steps)
    assert bal.accounts == (
        AccountChanges(history, storage_changes=(SlotChanges(0x0FA0, (StorageChange(0, 0xAB),)),)),
        AccountChanges(
            A,
            balance_changes=(BalanceChange(1, 900), BalanceChange(2, 900 + 10**9)),
            nonce_changes=(NonceChange(1, 1),),
        ),
        AccountChanges(B, balance_changes=(BalanceChange(1, 100),)),
    )
    assert bal.max_index() == 2
    assert decode(encode(bal), max_index=2) == bal
    with pytest.raises(InvalidBlockAccessList, match="beyond the block"):
        decode(encode(bal), max_index=1)


def test_only_reported_addresses_are_included() -> None:
    # The builder adds nothing of its own: SYSTEM_ADDRESS, EIP-2930 entries and zero
    # block rewards are absent unless the executor reports them as accessed.
    pre = state(a=Account(1))
    diff = StateDiff(storage={A: {0: 1}})
    assert [a.address for a in build_block_access_list([step(0, pre, diff)]).accounts] == [A]


def test_steps_must_be_in_increasing_index_order() -> None:
    pre = state()
    with pytest.raises(ValueError, match="strictly increasing"):
        build_block_access_list([step(2, pre), step(2, pre)])
    with pytest.raises(ValueError, match="strictly increasing"):
        build_block_access_list([step(2, pre), step(1, pre)])
    with pytest.raises(InvalidBlockAccessList, match="uint32"):
        build_block_access_list([step(2**32, pre)])


# A random block: per index, random writes (no-ops included), balance and nonce moves,
# deletions and wipes over a few addresses and slots. The list must replay: applying its
# changes in index order to the start state gives the end state, and every entry differs
# from the value before its index (an independent model from full state snapshots).

ADDRS = [bytes([n]) * 20 for n in (1, 2, 3, 4)]
SLOTS = [0, 1, 2**255]
values = st.sampled_from([0, 1, 2])
account_edit = st.one_of(st.none(), st.builds(Account, st.integers(0, 2), st.integers(0, 2)))
index_diff = st.builds(
    lambda accounts, storage, cleared: (accounts, storage, cleared),
    st.dictionaries(st.sampled_from(ADDRS), account_edit, max_size=3),
    st.dictionaries(
        st.sampled_from(ADDRS),
        st.dictionaries(st.sampled_from(SLOTS), values, max_size=3),
        max_size=3,
    ),
    st.sets(st.sampled_from(ADDRS), max_size=2),
)


def _copy(s: DictState) -> DictState:
    out = DictState()
    out.accounts = dict(s.accounts)
    out.storage = {a: dict(v) for a, v in s.storage.items()}
    return out


def replay(initial: int, entries: dict[int, int], deleted_at: set[int], count: int) -> int:
    """Apply ``entries`` by index; a destroyed account reads as zero afterwards (EIP-7928
    records no nonce or storage entry for the destruction)."""
    value = initial
    for n in range(count):
        value = entries.get(n, value)
        if n in deleted_at:
            value = 0
    return value


def field(s: DictState, address: bytes, name: str) -> int:
    value: int = getattr(s.get_account(address) or Account(), name)
    return value


@settings(max_examples=150, deadline=None)
@given(
    start=st.dictionaries(
        st.sampled_from(ADDRS),
        st.tuples(
            st.builds(Account, st.integers(0, 2), st.integers(0, 2)),
            st.dictionaries(st.sampled_from(SLOTS), st.integers(1, 2), max_size=3),
        ),
        max_size=4,
    ),
    edits=st.lists(index_diff, max_size=5),
)
def test_random_blocks_replay(
    start: dict[bytes, tuple[Account, dict[int, int]]],
    edits: list[tuple[dict[bytes, Account | None], dict[bytes, dict[int, int]], set[bytes]]],
) -> None:
    current = DictState()
    for address, (account, slots) in start.items():
        current.accounts[address] = account
        if slots:
            current.storage[address] = dict(slots)
    initial = _copy(current)
    steps, snapshots = [], []
    for index, (accounts, storage, cleared) in enumerate(edits):
        deleted = {a for a, v in accounts.items() if v is None}
        # StateDiff's rules: a deleted account is wiped and has no writes.
        diff = StateDiff(
            accounts=dict(accounts),
            storage={a: s for a, s in storage.items() if a not in deleted and s},
            storage_cleared=set(cleared) | deleted,
        )
        before = _copy(current)
        steps.append(step(index, before, diff))
        current.apply(diff)
        snapshots.append((before, _copy(current), diff))
    bal = build_block_access_list(steps)
    assert decode(encode(bal)) == bal

    by_address = {a.address: a for a in bal.accounts}
    for address in ADDRS:
        touched = any(
            address in d.accounts or address in d.storage or address in d.storage_cleared
            for _, _, d in snapshots
        )
        assert (address in by_address) == touched
        changes = by_address.get(address, AccountChanges(address))
        deleted_at = {
            n
            for n, (_, _, d) in enumerate(snapshots)
            if address in d.accounts and d.accounts[address] is None
        }

        for name, entries in (
            ("balance", {c.index: c.balance for c in changes.balance_changes}),
            ("nonce", {c.index: c.nonce for c in changes.nonce_changes}),
        ):
            assert replay(
                field(initial, address, name), entries, deleted_at, len(snapshots)
            ) == field(current, address, name), name
            for n, value in entries.items():
                before, after, _ = snapshots[n]
                assert field(before, address, name) != value, name
                assert field(after, address, name) == value, name
        by_slot = {s.slot: {c.index: c.value for c in s.changes} for s in changes.storage_changes}
        for slot in SLOTS:
            entries = by_slot.get(slot, {})
            final = current.get_storage(address, slot)
            assert (
                replay(initial.get_storage(address, slot), entries, deleted_at, len(snapshots))
                == final
            )
            for n, value in entries.items():
                before, after, _ = snapshots[n]
                assert before.get_storage(address, slot) != value
                assert after.get_storage(address, slot) == value


# -------------------------------------------------------------------- hostile RLP

SAMPLE = BlockAccessList(
    (
        AccountChanges(
            LOW,
            storage_changes=(
                SlotChanges(1, (StorageChange(0, 5), StorageChange(2, 0))),
                SlotChanges(2**256 - 1, (StorageChange(1, 2**256 - 1),)),
            ),
            storage_reads=(0, 3),
            balance_changes=(BalanceChange(1, 10**18),),
            nonce_changes=(NonceChange(1, 2**64 - 1),),
            code_changes=(CodeChange(1, b"\x60\x00" * 40),),
        ),
        AccountChanges(HIGH),
    )
)


def account_item(
    address: bytes = A,
    storage: list[Any] | None = None,
    reads: list[Any] | None = None,
    balances: list[Any] | None = None,
    nonces: list[Any] | None = None,
    codes: list[Any] | None = None,
) -> list[Any]:
    return [address, storage or [], reads or [], balances or [], nonces or [], codes or []]


def test_sample_round_trip() -> None:
    encoded = encode(SAMPLE)
    assert decode(encoded) == SAMPLE
    assert decode(bytearray(encoded)) == SAMPLE


def test_every_truncation_is_refused() -> None:
    encoded = encode(SAMPLE)
    for end in range(len(encoded)):
        with pytest.raises(InvalidBlockAccessList):
            decode(encoded[:end])
    with pytest.raises(InvalidBlockAccessList, match="trailing"):
        decode(encoded + b"\x00")


@pytest.mark.parametrize(
    ("item", "message"),
    [
        (b"", "expected a list"),
        ([b"\x01"], "expected a list"),
        ([account_item()[:5]], "expected 6 fields, got 5"),
        ([[*account_item(), []]], "expected 6 fields, got 7"),
        ([account_item(address=A[:19])], "19 bytes, want 20"),
        ([account_item(address=A + b"\x00")], "21 bytes, want 20"),
        ([account_item(address=[A])], "expected a string"),  # type: ignore[arg-type]
        ([account_item(storage=[[1]])], "expected 2 fields, got 1"),
        ([account_item(storage=[[1, [[1, 2, 3]]]])], "expected 2 fields, got 3"),
        ([account_item(storage=[[1, []]])], "no changes"),
        ([account_item(storage=[[[1], [[1, 2]]]])], "expected a string"),
        ([account_item(reads=[[1]])], "expected a string"),
        ([account_item(codes=[[1, [b"\x00"]]])], "expected a string"),
        ([account_item(balances=[5])], "expected a list"),
        # Ordering and uniqueness (EIP-7928).
        ([account_item(B), account_item(A)], "strictly increasing"),
        ([account_item(A), account_item(A)], "strictly increasing"),
        ([account_item(storage=[[2, [[1, 1]]], [1, [[1, 1]]]])], "storage changes: 1 after 2"),
        ([account_item(storage=[[1, [[1, 1]]], [1, [[2, 1]]]])], "storage changes: 1 after 1"),
        ([account_item(storage=[[1, [[2, 1], [1, 1]]]])], "changes: 1 after 2"),
        ([account_item(storage=[[1, [[1, 1], [1, 2]]]])], "changes: 1 after 1"),
        ([account_item(reads=[3, 3])], "storage reads: 3 after 3"),
        ([account_item(reads=[3, 2])], "storage reads: 2 after 3"),
        (
            [account_item(storage=[[3, [[1, 1]]]], reads=[3])],
            "both a storage change and a storage read",
        ),
        ([account_item(balances=[[2, 1], [1, 1]])], "balance changes: 1 after 2"),
        ([account_item(nonces=[[1, 1], [1, 2]])], "nonce changes: 1 after 1"),
        ([account_item(codes=[[1, b""], [0, b""]])], "code changes: 0 after 1"),
        # Integers: width and canonical form.
        ([account_item(reads=[2**256])], "does not fit in 256 bits"),
        ([account_item(storage=[[2**256, [[1, 1]]]])], "does not fit in 256 bits"),
        ([account_item(storage=[[1, [[1, 2**256]]]])], "does not fit in 256 bits"),
        ([account_item(balances=[[1, 2**256]])], "does not fit in 256 bits"),
        ([account_item(balances=[[1, 2**4096]])], "does not fit in 256 bits"),
        ([account_item(nonces=[[1, 2**64]])], "does not fit in 64 bits"),
        ([account_item(nonces=[[2**32, 1]])], "does not fit in 32 bits"),
        ([account_item(codes=[[2**32, b""]])], "does not fit in 32 bits"),
        ([account_item(reads=[b"\x00\x05"])], "leading zero"),
        ([account_item(balances=[[b"\x00", 1]])], "leading zero"),
    ],
)
def test_hostile_structures(item: Any, message: str) -> None:
    with pytest.raises(InvalidBlockAccessList, match=message):
        decode(rlp.encode(item))


def test_non_canonical_rlp_is_refused() -> None:
    # A one-byte string below 0x80 with a string header, and a long-form short length.
    with pytest.raises(InvalidBlockAccessList, match="malformed RLP"):
        decode(b"\xc1\x81\x05")
    with pytest.raises(InvalidBlockAccessList, match="malformed RLP"):
        decode(b"\xf8\x01\xc0")


def test_deep_nesting_is_refused_cleanly() -> None:
    # [[[...[]...]]] 5000 deep: jit.rlp recurses per level; the error must still be ours.
    data = b"\xc0"
    for _ in range(5000):
        size = len(data)
        if size < 56:
            data = bytes([0xC0 + size]) + data
        else:
            raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
            data = bytes([0xF7 + len(raw)]) + raw + data
    with pytest.raises(InvalidBlockAccessList):
        decode(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_decode_or_refuse(data: bytes) -> None:
    # Whatever decodes is canonical: re-encoding gives the same bytes.
    try:
        bal = decode(data)
    except InvalidBlockAccessList:
        return
    assert encode(bal) == data


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 255))
def test_mutated_sample_decodes_canonically_or_is_refused(position: int, byte: int) -> None:
    encoded = bytearray(encode(SAMPLE))
    encoded[position % len(encoded)] = byte
    try:
        bal = decode(bytes(encoded))
    except InvalidBlockAccessList:
        return
    assert encode(bal) == bytes(encoded)


addresses = st.binary(min_size=20, max_size=20)
uint256 = st.integers(0, 2**256 - 1)
indices = st.integers(0, 2**32 - 1)


@st.composite
def block_access_lists(draw: st.DrawFn) -> BlockAccessList:
    accounts = []
    for address in sorted(draw(st.sets(addresses, max_size=4))):
        changed = sorted(draw(st.sets(uint256, max_size=3)))
        reads = sorted(draw(st.sets(uint256, max_size=3)) - set(changed))

        def changes(kind: Any, values: st.SearchStrategy[Any]) -> tuple[Any, ...]:
            chosen = sorted(draw(st.sets(indices, max_size=3)))
            return tuple(kind(i, draw(values)) for i in chosen)

        accounts.append(
            AccountChanges(
                address,
                tuple(
                    SlotChanges(slot, changes(StorageChange, uint256) or (StorageChange(0, 0),))
                    for slot in changed
                ),
                tuple(reads),
                changes(BalanceChange, uint256),
                changes(NonceChange, st.integers(0, 2**64 - 1)),
                changes(CodeChange, st.binary(max_size=60)),
            )
        )
    return BlockAccessList(tuple(accounts))


@settings(max_examples=200, deadline=None)
@given(block_access_lists())
def test_random_lists_round_trip(bal: BlockAccessList) -> None:
    encoded = encode(bal)
    assert decode(encoded) == bal
    assert bal_hash(bal) == keccak256(encoded)
    assert from_json(to_json(bal)) == bal
    assert from_json(to_fixture_json(bal)) == bal
    assert decode(encoded, max_index=max(bal.max_index(), 0)) == bal
