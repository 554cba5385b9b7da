"""LOG0-LOG4 (Frontier). The table charges 375 per topic plus the base."""

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
