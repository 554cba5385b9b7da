"""BLOCKHASH's readers: pinned, immutable whatever the log does after, cheap to make."""

from __future__ import annotations

import pickle

from jit.evm.block_hashes import RETAIN, WINDOW, BlockHashes, BlockHashLog
from jit.evm.frame import BlockEnv
from jit.evm.transaction import execute_transaction
from jit.forks import rules_for
from sequencer.types.transactions import Transaction
from tests.helpers.asm import Asm
from tests.helpers.evm import CONTRACT, SENDER, world


def h(number: int, fork: int = 0) -> bytes:
    return (number + 1).to_bytes(31, "big") + bytes((fork,))


def log_to(head: int, first: int = 0) -> BlockHashLog:
    log = BlockHashLog(first)
    for n in range(first, head + 1):
        log.append(n, h(n))
    return log


def test_view_answers_below_its_number_only() -> None:
    log = log_to(10)
    view = log.view(11)
    assert [view.get(n) for n in (0, 10)] == [h(0), h(10)]
    assert view.get(11) is None and view.get(-1) is None
    assert log.view(5).get(5) is None and log.view(5).get(4) == h(4)


def test_view_does_not_see_later_blocks() -> None:
    log = log_to(10)
    ahead = log.view(13)  # pinned past the log's end: 11 and 12 stay unknown
    log.append(11, h(11))
    log.append(12, h(12))
    assert ahead.get(11) is None and ahead.get(12) is None
    assert log.view(13).get(12) == h(12)


def test_views_survive_a_revert_and_a_new_branch() -> None:
    log = log_to(10)
    before = log.view(11)
    log.truncate(7)
    for n in (8, 9, 10):
        log.append(n, h(n, fork=1))
    assert [before.get(n) for n in (7, 8, 10)] == [h(7), h(8), h(10)]
    after = log.view(11)
    assert [after.get(n) for n in (7, 8, 10)] == [h(7), h(8, 1), h(10, 1)]
    assert before != after


def test_appending_an_earlier_number_replaces_like_a_revert() -> None:
    log = log_to(10)
    before = log.view(11)
    log.append(9, h(9, fork=2))
    assert log.next_number == 10
    assert before.get(9) == h(9) and log.view(10).get(9) == h(9, 2)


def test_trimming_keeps_old_views_and_uses_the_older_source() -> None:
    stored = {n: h(n) for n in range(RETAIN + 100)}
    log = BlockHashLog(0, stored.get)
    for n in range(RETAIN):
        log.append(n, h(n))
    old = log.view(RETAIN)
    for n in range(RETAIN, RETAIN + 100):
        log.append(n, h(n))  # the first append moved the log to a new, shorter list
    assert [old.get(n) for n in (0, RETAIN - 1, RETAIN)] == [h(0), h(RETAIN - 1), None]
    head = log.view(RETAIN + 100)
    assert head.get(RETAIN + 99) == h(RETAIN + 99)
    assert head.get(3) == h(3)  # older than the log: from the older source


def test_equality_hash_and_pickle() -> None:
    log = log_to(300)
    a, b = log.view(301), log.view(301)
    assert a == b and hash(a) == hash(b)
    copy = pickle.loads(pickle.dumps(a))
    assert copy == a and hash(copy) == hash(a)
    assert [copy.get(n) for n in (300, 301 - WINDOW, 300 - WINDOW)] == [h(300), h(45), None]
    assert len(pickle.dumps(a)) < 40 * WINDOW  # the window, not the log
    assert a != log.view(300)
    assert BlockHashes.of({n: h(n) for n in range(301)}, 301) == a


def test_block_env_freezes_a_mapping() -> None:
    live = {n: h(n) for n in range(5)}
    env = BlockEnv(
        chain_id=1, coinbase=b"\x00" * 20, number=5, timestamp=1, gas_limit=1, base_fee=1,
        block_hashes=live,
    )  # fmt: skip
    live[4] = h(4, fork=1)
    live[5] = h(5)
    assert isinstance(env.block_hashes, BlockHashes)
    assert env.block_hashes.get(4) == h(4) and env.block_hashes.get(5) is None


def test_blockhash_reads_the_pinned_view() -> None:
    log = log_to(299)
    code = Asm()
    for slot, number in enumerate((299, 300 - WINDOW, 299 - WINDOW, 300)):
        code.push(number).op("BLOCKHASH").store_top(slot)
    state = world(code.build())
    env = BlockEnv(
        chain_id=1,
        coinbase=b"\x00" * 20,
        number=300,
        timestamp=1,
        gas_limit=30_000_000,
        base_fee=1,
        block_hashes=log.view(300),
    )
    tx = Transaction(
        tx_type=2, chain_id=1, nonce=0, gas_limit=200_000, to=CONTRACT, value=0, data=b"",
        max_fee_per_gas=10, max_priority_fee_per_gas=1, sender=SENDER,
    )  # fmt: skip
    log.truncate(100)  # a revert after the environment was made changes nothing for it
    outcome = execute_transaction(tx, env, state, rules_for("osaka"))
    assert outcome.success
    assert outcome.diff.storage[CONTRACT] == {
        0: int.from_bytes(h(299), "big"),
        1: int.from_bytes(h(300 - WINDOW), "big"),
    }
