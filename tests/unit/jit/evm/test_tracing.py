"""The tracer seam (jit/evm/tracing.py): every hook fires in order, with what it says it
gives; a traced execution computes exactly the untraced one on the interpreter and on
the JIT; tracers are per execution (an untraced run next to a traced one sees nothing)."""

from __future__ import annotations

from typing import Any

import pytest

from jit.compiler import Engine
from jit.evm.frame import BlockEnv, Evm
from jit.evm.state import Log, TxState
from jit.evm.tracing import Tracer
from jit.evm.transaction import execute_transaction
from jit.forks import rules_for
from sequencer.types.transactions import Transaction
from statedb.types import Address
from tests.helpers.asm import Asm
from tests.helpers.evm import COINBASE, CONTRACT, OTHER, SENDER, world

# CALL OTHER (which LOGs once and SELFDESTRUCTs to 0x..beef), then STATICCALL the
# identity precompile (0x04) on 3 bytes of memory, then LOG1, then STOP.
CHILD = Asm().push(0).push(0).op("LOG0").push(0xBEEF, 20).op("SELFDESTRUCT").build()
PARENT = (
    Asm()
    .push(0)
    .push(0)
    .push(0)
    .push(0)
    .push(0)
    .push(OTHER, 20)
    .op("GAS")
    .op("CALL")
    .op("POP")
    .push(0)
    .push(0)
    .push(3)
    .push(0)
    .push(4)
    .op("GAS")
    .op("STATICCALL")
    .op("POP")
    .push(7)
    .push(0)
    .push(0)
    .op("LOG1")
    .op("STOP")
    .build()
)


class Recorder(Tracer):
    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def enter(self, evm: Evm) -> None:
        self.events.append(("enter", evm.msg.current_target, evm.msg.depth))

    def exit(self, evm: Evm) -> None:
        self.events.append(("exit", evm.msg.current_target, evm.error is None))

    def step(self, evm: Evm, pc: int, op: int) -> None:
        self.events.append(("step", pc, op))

    def step_end(self, evm: Evm, op: int, error: BaseException | None) -> None:
        self.events.append(("end", op, error))

    def precompile(self, evm: Evm, gas_used: int) -> None:
        self.events.append(("precompile", evm.msg.code_address, evm.msg.data, gas_used))

    def log(self, evm: Evm, log: Log) -> None:
        self.events.append(("log", log.address, tuple(log.topics)))

    def selfdestruct(self, evm: Evm, beneficiary: Address, value: int) -> None:
        self.events.append(("selfdestruct", evm.msg.current_target, beneficiary, value))

    def done(self, state: TxState) -> None:
        self.events.append(("done", SENDER in state.original_accounts))


def _execute(tracer: Tracer | None, engine: Any = None) -> Any:
    state = world(PARENT, **{OTHER.hex(): CHILD})
    state.set_account(OTHER, code=CHILD, balance=5)
    tx = Transaction(2, 1, 0, 500_000, CONTRACT, 0, b"", 10, 10, 1, sender=SENDER)
    block = BlockEnv(
        chain_id=1, coinbase=COINBASE, number=1, timestamp=1, gas_limit=30_000_000, base_fee=7
    )
    return execute_transaction(tx, block, state, rules_for("osaka"), tracer=tracer, engine=engine)


def test_hooks_fire_in_order() -> None:
    recorder = Recorder()
    _execute(recorder)
    kinds = [event[0] for event in recorder.events]
    assert kinds[0] == "enter" and recorder.events[0] == ("enter", CONTRACT, 0)
    assert kinds[-2:] == ["exit", "done"] and recorder.events[-1] == ("done", True)
    child_enter = recorder.events.index(("enter", OTHER, 1))
    # The CALL's step comes before the child's frame, its step_end after.
    call_step = max(i for i, e in enumerate(recorder.events[:child_enter]) if e[0] == "step")
    assert recorder.events[call_step][2] == 0xF1
    logs = [e for e in recorder.events if e[0] == "log"]
    assert logs == [("log", OTHER, ()), ("log", CONTRACT, ((7).to_bytes(32, "big"),))]
    identity = (4).to_bytes(20, "big")
    precompiled = [e for e in recorder.events if e[0] == "precompile"]
    assert precompiled == [("precompile", identity, b"\x00" * 3, 18)]  # 15 + 3 per word
    at = recorder.events.index(precompiled[0])
    assert recorder.events[at - 1][:2] == ("enter", identity)
    assert recorder.events[at + 1][:2] == ("exit", identity)
    destroyed = [e for e in recorder.events if e[0] == "selfdestruct"]
    assert destroyed == [("selfdestruct", OTHER, (0xBEEF).to_bytes(20, "big"), 5)]
    # Each hook sits before its instruction's step_end.
    log_at = recorder.events.index(logs[0])
    assert recorder.events[log_at + 1] == ("end", 0xA0, None)
    steps = [e for e in recorder.events if e[0] == "step"]
    ends = [e for e in recorder.events if e[0] == "end"]
    assert len(steps) == len(ends)


@pytest.mark.parametrize("mode", ["interpreter", "jit"])
def test_traced_equals_untraced(mode: str) -> None:
    engine = None if mode == "interpreter" else Engine("jit", background=False).runner
    plain = _execute(None, engine)
    traced = _execute(Recorder(), engine)
    assert traced == plain
    assert plain.success and len(plain.logs) == 2


def test_a_tracer_belongs_to_one_execution() -> None:
    recorder = Recorder()
    _execute(recorder)
    seen = len(recorder.events)
    _execute(None)
    assert len(recorder.events) == seen
