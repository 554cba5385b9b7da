"""The dev verbs: Clock, StateEdits, mining modes, snapshots/revert, rollback, impersonation,
pool removal and block parameters, on a real Node (ephemeral or on disk)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sequencer.clock import Clock, ClockError
from sequencer.config import NodeConfig
from sequencer.edits import EditError, StateEdits
from sequencer.errors import InvalidInput, NodeError
from sequencer.mining import MiningMode
from sequencer.node import ChainReverted, Node
from sequencer.types.call import CallRequest
from statedb.types import EMPTY_CODE_HASH, Account, DictState, StateDiff, keccak256

ADDR = b"\x0d" * 20
OTHER = b"\x0e" * 20


class FakeTime:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# ------------------------------------------------------------------ Clock


def test_clock_offset_exact_and_interval() -> None:
    wall = FakeTime(1_000)
    clock = Clock(wall)
    assert clock.next_timestamp(900) == 1_000
    assert clock.increase(60) == 60
    assert clock.next_timestamp(900) == 1_060
    clock.set_next(5_000, 1_060)
    assert clock.next_timestamp(1_060) == 5_000
    clock.sealed(5_000)  # used up; later blocks continue from it
    assert clock.next_exact is None and clock.next_timestamp(5_000) == 5_000
    wall.now += 10
    assert clock.next_timestamp(5_000) == 5_010
    clock.set_interval(7)
    assert clock.next_timestamp(5_010) == 5_017
    assert clock.remove_interval() is True and clock.remove_interval() is False
    assert clock.next_timestamp(99_999) == 99_999  # never below the parent
    assert clock.set_time(10_000) == 10_000 - 5_010
    assert clock.now() == 10_000


@pytest.mark.parametrize("bad", [-1, 2**64, 1.5, "7", True, None])
def test_clock_refuses_bad_values(bad: object) -> None:
    clock = Clock(FakeTime(1_000))
    for call in (clock.increase, clock.set_time, clock.set_interval):
        with pytest.raises(ClockError):
            call(bad)  # type: ignore[arg-type]
    with pytest.raises(ClockError):
        clock.set_next(bad, 0)  # type: ignore[arg-type]
    assert clock.state() == Clock(FakeTime(1_000)).state()  # nothing changed


def test_clock_refuses_timestamp_behind_parent() -> None:
    clock = Clock(FakeTime(1_000))
    with pytest.raises(ClockError, match="lower than previous block's timestamp"):
        clock.set_next(99, 100)
    clock.set_next(100, 100)  # equal is allowed (anvil)


# ------------------------------------------------------------------ StateEdits


def _head() -> DictState:
    state = DictState()
    state.set_account(ADDR, nonce=3, balance=10)
    return state


def test_edits_overlay_and_policy() -> None:
    head = _head()
    edits = StateEdits()
    assert not edits and edits.over(head) is head
    edits.set_balance(head, ADDR, 99)
    assert edits.over(head).get_account(ADDR) == Account(3, 99)
    assert edits.add_balance(head, ADDR, 1) == 100
    edits.set_nonce(head, ADDR, 0)
    edits.set_code(head, ADDR, b"\x60\x01")
    assert edits.over(head).get_code(keccak256(b"\x60\x01")) == b"\x60\x01"
    edits.set_storage(head, OTHER, 5, 7)  # a slot of a missing account creates it
    view = edits.over(head)
    assert view.get_storage(OTHER, 5) == 7 and view.get_account(OTHER) == Account()
    edits.set_code(head, ADDR, b"")
    edits.set_balance(head, ADDR, 0)  # nonce 0, no code, no storage: EIP-161 removes it
    assert edits.over(head).get_account(ADDR) is None
    assert head.get_account(ADDR) == Account(3, 10)  # the head is never touched


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda e, h: e.set_balance(h, ADDR, 2**256), "balance"),
        (lambda e, h: e.set_balance(h, ADDR, -1), "balance"),
        (lambda e, h: e.add_balance(h, ADDR, 2**256 - 5), "overflow"),
        (lambda e, h: e.set_nonce(h, ADDR, 2**64), "nonce"),
        (lambda e, h: e.set_code(h, ADDR, b"\x00" * ((1 << 20) + 1)), "code"),
        (lambda e, h: e.set_storage(h, ADDR, 2**256, 0), "storage slot"),
        (lambda e, h: e.set_storage(h, ADDR, 0, 2**256), "storage value"),
        (lambda e, h: e.set_balance(h, b"\x01" * 19, 1), "address"),
    ],
)
def test_edits_refuse_bad_values(call: object, message: str) -> None:
    head = _head()
    edits = StateEdits()
    with pytest.raises(EditError, match=message):
        call(edits, head)  # type: ignore[operator]
    assert not edits  # nothing half-applied


words = st.integers(0, 2**256 - 1)
addresses = st.binary(min_size=20, max_size=20)


@given(
    st.dictionaries(
        addresses,
        st.one_of(st.none(), st.builds(Account, st.integers(0, 2**64 - 1), words)),
        max_size=4,
    ),
    st.dictionaries(addresses, st.dictionaries(words, words, max_size=3), max_size=3),
    st.lists(st.binary(max_size=40), max_size=3),
    st.sets(addresses, max_size=2),
)
def test_edits_record_round_trip(
    accounts: dict[bytes, Account | None],
    storage: dict[bytes, dict[int, int]],
    codes: list[bytes],
    cleared: set[bytes],
) -> None:
    diff = StateDiff(accounts, storage, {keccak256(c): c for c in codes}, cleared)
    decoded = StateEdits.decode(StateEdits(diff).encode()).diff
    assert decoded.accounts == diff.accounts
    assert decoded.storage == {a: s for a, s in diff.storage.items()}
    assert decoded.codes == diff.codes
    assert decoded.storage_cleared == diff.storage_cleared


@pytest.mark.parametrize(
    "raw", [b"", b"\xc0", b"\xff" * 10, b"\xc4\x80\x80\x80\x80", b"\xc4\xc1\x01\xc0\xc0\xc0"]
)
def test_edits_record_refuses_garbage(raw: bytes) -> None:
    with pytest.raises(EditError):
        StateEdits.decode(raw)


# ------------------------------------------------------------------ the Node


def ephemeral(**kwargs: object) -> Node:
    return Node(NodeConfig(data_dir=None, accounts=2, **kwargs))  # type: ignore[arg-type]


def test_edit_is_visible_at_once_and_carried_by_the_next_block() -> None:
    node = ephemeral()
    try:
        node.edit_state(ADDR, balance=123, nonce=4, code=b"\x60\x00", storage=(1, 9))
        head = node.head_number
        account = node.account(ADDR, head)
        assert account is not None and (account.balance, account.nonce) == (123, 4)
        assert node.code(ADDR, head) == b"\x60\x00" and node.storage(ADDR, 1, head) == 9
        assert node.db.head.get_account(ADDR) is None  # not committed yet
        (block,) = node.mine()
        assert node.db.head.get_account(ADDR) == account  # the block carried it
        assert not node.edits
        assert node.account(ADDR, head) is None  # the old head's state is its own again
        assert node.account(ADDR, block.number) == account
    finally:
        node.close()


def test_edits_survive_a_restart(tmp_path: Path) -> None:
    config = NodeConfig(data_dir=str(tmp_path / "chain"), accounts=1)
    node = Node(config)
    node.edit_state(ADDR, balance=5)
    node.close()
    node = Node(config)
    try:
        assert node.account(ADDR, node.head_number) == Account(0, 5)
        (block,) = node.mine()
        node.close()
        node = Node(config)
        assert not node.edits  # the block that carried them deleted the record
        assert node.account(ADDR, block.number) == Account(0, 5)
    finally:
        node.close()


def test_snapshot_revert_restores_chain_edits_and_params() -> None:
    node = ephemeral()
    events: list[ChainReverted] = []
    node.subscribe_reverts(events.append)
    try:
        node.edit_state(ADDR, balance=1)
        start = node.head_number
        first = node.snapshot()
        assert first == 0 and node.snapshot() == 1
        node.edit_state(ADDR, balance=2)
        node.set_coinbase(OTHER)
        node.mine(3)
        assert node.account(ADDR, node.head_number) == Account(0, 2)
        assert node.revert(first) is True
        assert node.head_number == start
        assert node.account(ADDR, start) == Account(0, 1)  # the snapshot's pending edits
        assert node.producer.params.coinbase == b"\x00" * 20
        assert events and events[-1].head.number == start and events[-1].removed_to == start + 3
        assert node.revert(first) is False  # used up
        assert node.revert(1) is False  # later snapshots go with it
        assert node.revert(12345) is False
        assert node.snapshot() == 2  # ids keep counting, as anvil's
    finally:
        node.close()


def test_revert_without_new_blocks_restores_edits() -> None:
    """Hardhat fixtures: snapshot, setBalance, revert, with no block in between."""
    node = ephemeral()
    try:
        snap = node.snapshot()
        node.edit_state(ADDR, balance=7)
        assert node.revert(snap) is True
        assert node.account(ADDR, node.head_number) is None
    finally:
        node.close()


def test_mine_counts_intervals_and_bounds() -> None:
    node = ephemeral()
    try:
        before = node.head_number
        blocks = node.mine(3, interval=100)
        assert [b.number for b in blocks] == [before + 1, before + 2, before + 3]
        stamps = [b.header.timestamp for b in blocks]
        assert stamps[1] - stamps[0] == 100 and stamps[2] - stamps[1] == 100
        spaced = node.mine_spaced(3, 12)
        assert [b.header.timestamp - spaced[0].header.timestamp for b in spaced] == [0, 12, 24]
        assert node.mine(0) == []
        for bad in (2**64, -1, 100_001):
            with pytest.raises(InvalidInput):
                node.mine(bad)
        assert node.head_number == before + 6  # nothing half-mined
        (at,) = node.mine_at(4_000_000_000)
        assert at.header.timestamp == 4_000_000_000
        with pytest.raises(InvalidInput, match="lower than previous"):
            node.set_next_block_timestamp(1)
    finally:
        node.close()


class TickingTime:
    """A wall clock that moves one second each time it is read."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        self.now += 1
        return self.now


def test_mine_with_interval_is_exactly_spaced_while_the_wall_clock_moves() -> None:
    """anvil_mine(4, 12): blocks 12 s apart even when seconds pass during the call."""
    node = ephemeral()
    try:
        node.clock._now = TickingTime(node.clock.wall())  # the producer holds this clock
        blocks = node.mine(4, interval=12)
        stamps = [b.header.timestamp for b in blocks]
        assert [s - stamps[0] for s in stamps] == [0, 12, 24, 36]
        later = node.mine(1)[0].header.timestamp
        assert later >= stamps[-1]  # the clock carries on from the last one
    finally:
        node.close()


def test_rollback_and_its_bounds() -> None:
    node = ephemeral()
    try:
        node.mine(4)
        head = node.head_number
        snap = node.snapshot()
        node.rollback(2)
        assert node.head_number == head - 2
        assert node.revert(snap) is False  # its block is gone
        with pytest.raises(InvalidInput):
            node.rollback(head + 5)
    finally:
        node.close()


def test_block_params() -> None:
    node = ephemeral()
    try:
        node.set_block_gas_limit(30_000_000)
        node.set_next_block_base_fee(7 * 10**9)
        node.set_next_prev_randao(b"\x11" * 32)
        node.set_coinbase(OTHER)
        (block,) = node.mine()
        header = block.header
        assert header.gas_limit == 30_000_000 and header.base_fee_per_gas == 7 * 10**9
        assert header.prev_randao == b"\x11" * 32 and header.coinbase == OTHER
        (after,) = node.mine()  # the one-block values are used up
        assert (
            after.header.base_fee_per_gas < 7 * 10**9 and after.header.prev_randao != b"\x11" * 32
        )
        for call, bad in (
            (node.set_block_gas_limit, 20_999),
            (node.set_next_block_base_fee, 2**64),
            (node.set_next_prev_randao, b"\x01"),
        ):
            with pytest.raises(InvalidInput):
                call(bad)  # type: ignore[operator]
    finally:
        node.close()


async def test_manual_mining_impersonation_and_drop() -> None:
    node = ephemeral()
    await node.start()
    try:
        await node.set_mining_mode(MiningMode(auto=False))
        node.edit_state(ADDR, balance=10**18)
        request = CallRequest(sender=ADDR, to=OTHER, value=1, gas=21_000)
        with pytest.raises(NodeError, match="unknown account"):
            await node.send_transaction(request)
        node.impersonate(ADDR)
        head = node.head_number
        tx_hash = await asyncio.wait_for(node.send_transaction(request), 2)
        assert node.head_number == head and node.pool_transaction(tx_hash) is not None
        assert node.drop_transaction(tx_hash) is True and node.drop_transaction(tx_hash) is False
        tx_hash = await node.send_transaction(request)
        (block,) = node.mine()
        assert block.transactions[0].hash == tx_hash and block.transactions[0].sender == ADDR
        assert node.account(OTHER, block.number) == Account(0, 1)
        node.stop_impersonating(ADDR)
        with pytest.raises(NodeError):
            await node.send_transaction(request)
        node.set_auto_impersonate(True)
        await node.send_transaction(request)
        assert node.drop_all_transactions() == 1
        await node.set_mining_mode(MiningMode(auto=True))
        tx_hash = await asyncio.wait_for(node.send_transaction(request), 5)
        assert node.locate_transaction(tx_hash) is not None  # automine sealed it
    finally:
        await node.stop()


async def test_interval_mining_seals_empty_blocks() -> None:
    node = ephemeral()
    await node.start()
    try:
        head = node.head_number
        await node.set_mining_mode(MiningMode(auto=False, interval=0.05))
        await asyncio.sleep(0.3)
        assert node.head_number >= head + 3
        await node.set_mining_mode(MiningMode(auto=False))
        stopped = node.head_number
        await asyncio.sleep(0.15)
        assert node.head_number == stopped
    finally:
        await node.stop()


def test_set_chain_id_is_kept(tmp_path: Path) -> None:
    config = NodeConfig(data_dir=str(tmp_path / "chain"), accounts=1)
    node = Node(config)
    node.set_chain_id(777)
    with pytest.raises(InvalidInput):
        node.set_chain_id(0)
    node.close()
    with pytest.raises(Exception, match="chain id 777"):
        Node(config)  # the stored chain id is the new one
    Node(replace(config, chain=replace(config.chain, chain_id=777))).close()


def test_mining_mode_bounds() -> None:
    assert MiningMode().name == "auto"
    assert MiningMode(auto=False).name == "manual"
    assert MiningMode(auto=True, interval=1).name == "mixed"
    for bad in (0.0, -1.0, 1e12, float("nan")):
        with pytest.raises(ValueError):
            MiningMode(auto=False, interval=bad)


def test_empty_code_edit_clears_code() -> None:
    node = ephemeral()
    try:
        node.edit_state(ADDR, balance=1, code=b"\x60\x01")
        node.edit_state(ADDR, code=b"")
        account = node.account(ADDR, node.head_number)
        assert account is not None and account.code_hash == EMPTY_CODE_HASH
    finally:
        node.close()


def test_reset_returns_to_genesis() -> None:
    node = ephemeral()
    try:
        genesis = node.block(0)
        node.edit_state(ADDR, balance=9)
        node.mine(3)
        node.snapshot()
        node.set_coinbase(OTHER)
        node.impersonate(ADDR)
        node.edit_state(OTHER, balance=1)
        node.reset()
        assert node.head_number == 0 and node.block(0) == genesis
        assert node.account(ADDR, 0) is None and node.account(OTHER, 0) is None
        assert not node.edits and node.snapshot_ids() == {}
        assert node.producer.params.coinbase == b"\x00" * 20
        assert not node.signer.can_send(ADDR)
    finally:
        node.close()


async def test_an_impersonated_contract_can_send() -> None:
    """EIP-3607 does not apply to impersonated senders (anvil, Hardhat): tests impersonate
    multisigs and other contracts."""
    node = ephemeral()
    await node.start()
    try:
        node.edit_state(ADDR, balance=10**18, code=b"\x00")
        node.impersonate(ADDR)
        request = CallRequest(sender=ADDR, to=OTHER, value=5, gas=21_000)
        tx_hash = await asyncio.wait_for(node.send_transaction(request), 5)
        found = node.locate_transaction(tx_hash)
        assert found is not None and found[0].receipts[found[1]].status == 1
        unsigned = await asyncio.wait_for(node.send_unsigned_transaction(request), 5)
        assert node.locate_transaction(unsigned) is not None
        assert node.account(OTHER, node.head_number) == Account(0, 10)
    finally:
        await node.stop()


async def test_impersonated_signature_names_the_sender() -> None:
    from sequencer.types.transactions import Transaction, sign_transaction

    node = ephemeral()
    await node.start()
    try:
        node.edit_state(ADDR, balance=10**18)
        unsigned = Transaction(2, 31337, 0, 21_000, OTHER, 3, b"", max_fee_per_gas=10**10)
        signed = sign_transaction(unsigned, node.accounts[1].private_key)
        signature = signed.r.to_bytes(32, "big") + signed.s.to_bytes(32, "big") + b"\x1b"
        with pytest.raises(InvalidInput):
            node.impersonate_signature(signature[:64], ADDR)
        node.impersonate_signature(signature, ADDR)
        tx_hash = await asyncio.wait_for(node.send_raw_transaction(signed.encode()), 5)
        found = node.locate_transaction(tx_hash)
        assert found is not None and found[0].transactions[found[1]].sender == ADDR
    finally:
        await node.stop()


def test_reorg_replaces_blocks_with_the_given_transactions() -> None:
    from sequencer.types.transactions import Transaction, sign_transaction

    node = ephemeral()
    try:
        node.mine(3)
        head = node.head_number
        old = node.block(head)
        raw = sign_transaction(
            Transaction(2, 31337, 0, 21_000, OTHER, 7, b"", max_fee_per_gas=10**10),
            node.accounts[1].private_key,
        ).encode()
        request = CallRequest(to=OTHER, value=1, gas=21_000)  # from: the first dev account
        node.reorg(2, [(raw, 0), (request, 1)])
        assert node.head_number == head and node.block(head) != old
        first, second = node.block(head - 1), node.block(head)
        assert first is not None and second is not None
        assert [tx.value for tx in first.transactions] == [7]
        assert [tx.sender for tx in second.transactions] == [node.accounts[0].address]
        assert node.account(OTHER, head) == Account(0, 8)
        for depth, pairs in ((head + 1, []), (2, [(raw, 2)]), (1, [(b"\x01\x02", 0)])):
            with pytest.raises(InvalidInput):
                node.reorg(depth, pairs)  # type: ignore[arg-type]
        assert node.head_number == head  # refused before anything changed
    finally:
        node.close()


@pytest.mark.parametrize("compat", [False, True])
async def test_hardhat_compat_rejects_an_automined_revert(compat: bool) -> None:
    from sequencer.errors import ExecutionReverted

    node = ephemeral(hardhat_compat=compat)
    await node.start()
    try:
        # PUSH1 0x2a PUSH1 0 MSTORE PUSH1 32 PUSH1 0 REVERT: reverts with one word.
        node.edit_state(OTHER, code=bytes.fromhex("602a60005260206000fd"))
        request = CallRequest(sender=node.accounts[0].address, to=OTHER, gas=60_000)
        head = node.head_number
        if compat:
            with pytest.raises(ExecutionReverted) as caught:
                await asyncio.wait_for(node.send_transaction(request), 5)
            assert caught.value.output == (42).to_bytes(32, "big")
        else:
            await asyncio.wait_for(node.send_transaction(request), 5)
        block = node.block(head + 1)  # mined either way
        assert block is not None and block.receipts[0].status == 0
    finally:
        await node.stop()
