"""EIP-7708 (Amsterdam): ETH transfers and burns emit logs, on both engines.

Each case runs on the interpreter and on the JIT (their outcomes must be equal), under
Amsterdam's rules and under Osaka's, which emit none of these logs.
"""

from __future__ import annotations

import pytest

from jit.compiler import Engine
from jit.evm.addresses import compute_contract_address
from jit.evm.transfer_logs import BURN_TOPIC, SYSTEM_ADDRESS, TRANSFER_TOPIC, burn_log
from statedb.types import keccak256
from tests.helpers.asm import push
from tests.helpers.evm import CONTRACT, ETHER, OTHER, SENDER, Run, outcome_fingerprint, run, world

ENGINE = Engine("jit")
ADDRESS, BALANCE, CALL, LOG1, MSTORE, POP = 0x30, 0x31, 0xF1, 0xA1, 0x52, 0x50
CREATE, REVERT, SELFDESTRUCT, SSTORE, STOP = 0xF0, 0xFD, 0xFF, 0x55, 0x00


def call(to: bytes, value: int) -> bytes:
    """CALL(gas, to, value, 0, 0, 0, 0), result dropped."""
    return (
        push(0) * 4
        + push(value)
        + push(int.from_bytes(to, "big"), 20)
        + push(100_000)
        + (bytes([CALL, POP]))
    )


def both(code: bytes, fork: str, others: dict[str, bytes] | None = None, **tx: object) -> Run:
    """The interpreter's run of ``code`` at ``CONTRACT`` (``others``: address hex to code),
    after checking the JIT's equals it."""
    runs = [
        run(code, fork=fork, state=world(code, **(others or {})), engine=engine, **tx)  # type: ignore[arg-type]
        for engine in (None, ENGINE.runner)
    ]
    assert outcome_fingerprint(runs[1].outcome) == outcome_fingerprint(runs[0].outcome)
    return runs[0]


def transfers(result: Run) -> list[tuple[bytes, bytes, int]]:
    """(from, to, amount) of each EIP-7708 transfer log, in order."""
    out = []
    for log in result.outcome.logs:
        if log.address == SYSTEM_ADDRESS and log.topics[0] == TRANSFER_TOPIC:
            out.append((log.topics[1][12:], log.topics[2][12:], int.from_bytes(log.data, "big")))
    return out


def burns(result: Run) -> list[tuple[bytes, int]]:
    return [
        (log.topics[1][12:], int.from_bytes(log.data, "big"))
        for log in result.outcome.logs
        if log.address == SYSTEM_ADDRESS and log.topics[0] == BURN_TOPIC
    ]


def test_topics_are_the_erc20_transfer_and_the_burn_events() -> None:
    assert keccak256(b"Transfer(address,address,uint256)") == TRANSFER_TOPIC
    assert TRANSFER_TOPIC.hex().startswith("ddf252ad")
    assert keccak256(b"Burn(address,uint256)") == BURN_TOPIC
    log = burn_log(OTHER, 5)
    assert log.topics == (BURN_TOPIC, OTHER.rjust(32, b"\0")) and log.data == (5).to_bytes(32)


@pytest.mark.parametrize("fork, logged", [("amsterdam", True), ("osaka", False)])
def test_a_value_transaction_logs_its_transfer(fork: str, logged: bool) -> None:
    result = both(b"", fork, to=OTHER, value=123)
    assert result.outcome.success
    assert transfers(result) == ([(SENDER, OTHER, 123)] if logged else [])


def test_zero_value_and_self_transfers_log_nothing() -> None:
    assert both(b"", "amsterdam", to=OTHER, value=0).outcome.logs == ()
    to_self = both(b"", "amsterdam", to=SENDER, value=7)
    assert to_self.outcome.success and to_self.outcome.logs == ()


def test_the_transactions_log_comes_first_then_calls_in_execution_order() -> None:
    code = call(OTHER, 5) + push(0) + push(0) + push(0) + bytes([LOG1]) + bytes([STOP])
    result = both(code, "amsterdam", value=9)
    assert result.outcome.success
    assert transfers(result) == [(SENDER, CONTRACT, 9), (CONTRACT, OTHER, 5)]
    assert result.outcome.logs[-1].address == CONTRACT  # the contract's own LOG1, last


def test_a_reverted_frame_takes_its_transfer_log_with_it() -> None:
    reverting = push(0) + push(0) + bytes([REVERT])
    code = call(OTHER, 5) + bytes([STOP])
    result = both(code, "amsterdam", {OTHER.hex(): reverting})
    assert result.outcome.success and transfers(result) == []
    # A whole transaction that reverts keeps no logs, its own transfer's included.
    failing = both(reverting, "amsterdam", value=9)
    assert not failing.outcome.success and failing.outcome.logs == ()


def test_a_call_to_itself_with_value_logs_nothing() -> None:
    # The inner frame runs the same code and calls itself again, until the depth or
    # the gas runs out: every frame moves 5 wei to itself, none logs.
    code = call(CONTRACT, 5) + bytes([STOP])
    result = both(code, "amsterdam")
    assert result.outcome.success and transfers(result) == []


@pytest.mark.parametrize("fork, logged", [("amsterdam", True), ("osaka", False)])
def test_selfdestruct_to_another_account_logs_the_balance(fork: str, logged: bool) -> None:
    code = push(int.from_bytes(OTHER, "big"), 20) + bytes([SELFDESTRUCT])
    result = both(code, fork)
    assert result.outcome.success
    assert transfers(result) == ([(CONTRACT, OTHER, ETHER)] if logged else [])
    assert burns(result) == []  # not created in this transaction: not deleted


def _factory(initcode: bytes, value: int) -> bytes:
    """Store ``initcode`` in memory, CREATE it with ``value``, store the address."""
    word = int.from_bytes(initcode.ljust(32, b"\0"), "big")
    return (
        push(word, 32)
        + push(0)
        + bytes([MSTORE])
        + push(len(initcode))
        + push(0)
        + push(value)
        + bytes([CREATE])
        + push(0)
        + bytes([SSTORE, STOP])
    )


@pytest.mark.parametrize("fork", ["amsterdam", "osaka"])
def test_a_contract_created_and_destroyed_to_itself_burns_at_the_end(fork: str) -> None:
    initcode = bytes([ADDRESS, SELFDESTRUCT])
    code = _factory(initcode, 1000)
    result = both(code, fork)
    created = compute_contract_address(CONTRACT, 0)
    assert result.outcome.success
    assert created not in result.state.accounts  # deleted either way (EIP-6780)
    if fork == "amsterdam":
        assert transfers(result) == [(CONTRACT, created, 1000)]
        assert burns(result) == [(created, 1000)]
    else:
        assert result.outcome.logs == ()


def test_burns_at_once_in_execution_order_then_at_the_end_in_address_order() -> None:
    # Three children destroy themselves to themselves holding 1000, 0 and 7 wei: each
    # burn is logged at once, in execution order (none for the empty one). Then each is
    # sent 5 wei: burned again when the transaction removes them, in address order.
    initcode = bytes([ADDRESS, SELFDESTRUCT])
    word = int.from_bytes(initcode.ljust(32, b"\0"), "big")
    children = [compute_contract_address(CONTRACT, nonce) for nonce in range(3)]
    code = push(word, 32) + push(0) + bytes([MSTORE])
    for value in (1000, 0, 7):
        code += push(2) + push(0) + push(value) + bytes([CREATE, POP])
    for child in children:
        code += call(child, 5)
    code += bytes([STOP])
    result = both(code, "amsterdam")
    assert result.outcome.success
    at_once = [(children[0], 1000), (children[2], 7)]
    at_the_end = sorted((child, 5) for child in children)
    assert burns(result) == at_once + at_the_end
    assert all(child not in result.state.accounts for child in children)


def test_balance_sent_to_a_self_destructed_child_is_burned_with_it() -> None:
    # The child destroys itself to itself (1000 burned then); the parent then sends it
    # 50 more, burned when the transaction removes it.
    initcode = bytes([ADDRESS, SELFDESTRUCT])
    word = int.from_bytes(initcode.ljust(32, b"\0"), "big")
    child = compute_contract_address(CONTRACT, 0)
    code = push(word, 32) + push(0) + bytes([MSTORE])
    code += push(2) + push(0) + push(1000) + bytes([CREATE, POP])
    code += call(child, 50) + bytes([STOP])
    result = both(code, "amsterdam")
    assert burns(result) == [(child, 1000), (child, 50)]
    assert child not in result.state.accounts


def test_a_caller_balance_read_after_value_is_unchanged_by_logs() -> None:
    # Logs are records only: the balances move exactly as before Amsterdam.
    code = call(OTHER, 5) + bytes([ADDRESS, BALANCE]) + push(0) + bytes([SSTORE, STOP])
    amsterdam = both(code, "amsterdam")
    osaka = both(code, "osaka")
    assert amsterdam.storage() == osaka.storage() == {0: ETHER - 5}
    assert amsterdam.state.accounts[OTHER].balance == osaka.state.accounts[OTHER].balance == 5
    assert transfers(amsterdam) == [(CONTRACT, OTHER, 5)]
