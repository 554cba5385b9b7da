"""LOG0-LOG4 (Frontier). The table charges 375 per topic plus the base.

``make_storage_gas_log`` is MegaETH's LOG (``jit.forks.megaeth_rules``): storage gas per
topic and per data byte on top, charged before the instruction's own dynamic gas and
drawn first from the frame's storage call stipend (mega-evm v1.7.0,
crates/mega-evm/src/evm/instructions.rs ``log``; docs/spec/evm/dual-gas-model.md,
docs/spec/evm/gas-forwarding.md "Storage Gas Stipend Interaction").
"""

from __future__ import annotations

from collections.abc import Callable

from jit.evm import memory
from jit.evm.exceptions import OutOfGasError, WriteInStaticContext
from jit.evm.frame import Evm
from jit.evm.gas import GAS_LOG_DATA
from jit.evm.state import Log


def make_log(topic_count: int) -> Callable[[Evm], None]:
    def log(evm: Evm) -> None:
        # STACK
        stack = evm.stack
        offset = stack.pop()
        size = stack.pop()
        topics = tuple(stack.pop().to_bytes(32, "big") for _ in range(topic_count))
        # GAS
        cost = GAS_LOG_DATA * size
        if cost > evm.gas_left:
            raise OutOfGasError
        evm.gas_left -= cost
        memory.expand(evm, offset, size)
        if evm.msg.is_static:
            raise WriteInStaticContext
        # OPERATION
        evm.state.logs.append(Log(evm.msg.current_target, topics, memory.read(evm, offset, size)))

    log.__name__ = f"log{topic_count}"
    return log


def make_storage_gas_log(
    topic_count: int, topic_storage_gas: int, data_storage_gas: int
) -> Callable[[Evm], None]:
    topics_storage_gas = topic_storage_gas * topic_count

    def log(evm: Evm) -> None:
        # STACK
        stack = evm.stack
        offset = stack.pop()
        size = stack.pop()
        topics = tuple(stack.pop().to_bytes(32, "big") for _ in range(topic_count))
        # GAS: storage gas first, the part the frame's stipend allowance does not cover.
        storage_gas = topics_storage_gas + data_storage_gas * size
        allowance = evm.storage_allowance
        if allowance:
            drawn = min(allowance, storage_gas)
            evm.storage_allowance = allowance - drawn
            storage_gas -= drawn
        cost = storage_gas + GAS_LOG_DATA * size
        if cost > evm.gas_left:
            raise OutOfGasError
        evm.gas_left -= cost
        memory.expand(evm, offset, size)
        if evm.msg.is_static:
            raise WriteInStaticContext
        # OPERATION
        evm.state.logs.append(Log(evm.msg.current_target, topics, memory.read(evm, offset, size)))

    log.__name__ = f"megaeth_log{topic_count}"
    return log
