"""Environment instructions: ADDRESS ... EXTCODEHASH, SELFBALANCE, BLOBHASH
(EIP-4844), BLOBBASEFEE (EIP-7516); EIP-2929 cold account access.

EXTCODE* read a delegated account's designator itself (EIP-7702): only the
CALL family follows delegations.
"""

from __future__ import annotations

from jit.evm import memory
from jit.evm.addresses import to_address
from jit.evm.exceptions import OutOfBoundsRead
from jit.evm.frame import Evm, charge, push
from jit.evm.gas import GAS_COLD_ACCOUNT_ACCESS, GAS_COPY, GAS_WARM_ACCESS
from statedb.types import EMPTY_CODE_HASH

_COLD_ACCOUNT_EXTRA = GAS_COLD_ACCOUNT_ACCESS - GAS_WARM_ACCESS


def _access(evm: Evm, address: bytes) -> None:
    """The table charged the warm cost; add the cold surcharge if needed."""
    if evm.state.warm_address(address):
        charge(evm, _COLD_ACCOUNT_EXTRA)


def _copy_to_memory(
    evm: Evm, source: bytes, memory_offset: int, source_offset: int, size: int
) -> None:
    _charge_copy(evm, memory_offset, size)
    _write_copy(evm, source, memory_offset, source_offset, size)


def _charge_copy(evm: Evm, memory_offset: int, size: int) -> None:
    """A copy's per-word gas and memory growth."""
    if size:
        charge(evm, GAS_COPY * ((size + 31) >> 5))
        memory.expand(evm, memory_offset, size)


def _write_copy(evm: Evm, source: bytes, memory_offset: int, source_offset: int, size: int) -> None:
    """``size`` bytes of ``source`` from ``source_offset`` (zero past its end) into
    memory, already grown by ``_charge_copy``."""
    if not size:
        return
    chunk = source[source_offset : source_offset + size] if source_offset < len(source) else b""
    if len(chunk) < size:
        chunk = chunk + bytes(size - len(chunk))
    evm.memory[memory_offset : memory_offset + size] = chunk


def address(evm: Evm) -> None:
    push(evm, int.from_bytes(evm.msg.current_target, "big"))


def balance(evm: Evm) -> None:
    target = to_address(evm.stack.pop())
    _access(evm, target)
    evm.stack.append(evm.state.balance(target))


def origin(evm: Evm) -> None:
    push(evm, int.from_bytes(evm.tx.origin, "big"))


def caller(evm: Evm) -> None:
    push(evm, int.from_bytes(evm.msg.caller, "big"))


def callvalue(evm: Evm) -> None:
    push(evm, evm.msg.value)


def calldata_word(data: bytes, start: int) -> int:
    """The 32 bytes of ``data`` from ``start``, zero-padded (shared with the compiler's runtime)."""
    chunk = data[start : start + 32] if start < len(data) else b""
    value = int.from_bytes(chunk, "big")
    if len(chunk) < 32:
        value <<= (32 - len(chunk)) << 3
    return value


def calldataload(evm: Evm) -> None:
    stack = evm.stack
    stack.append(calldata_word(evm.msg.data, stack.pop()))


def calldatasize(evm: Evm) -> None:
    push(evm, len(evm.msg.data))


def calldatacopy(evm: Evm) -> None:
    stack = evm.stack
    memory_offset = stack.pop()
    data_offset = stack.pop()
    size = stack.pop()
    _copy_to_memory(evm, evm.msg.data, memory_offset, data_offset, size)


def codesize(evm: Evm) -> None:
    push(evm, len(evm.msg.code))


def codecopy(evm: Evm) -> None:
    stack = evm.stack
    memory_offset = stack.pop()
    code_offset = stack.pop()
    size = stack.pop()
    _copy_to_memory(evm, evm.msg.code, memory_offset, code_offset, size)


def gasprice(evm: Evm) -> None:
    push(evm, evm.tx.gas_price)


def extcodesize(evm: Evm) -> None:
    target = to_address(evm.stack.pop())
    _access(evm, target)
    evm.stack.append(len(evm.state.get_code(target)))


def extcodecopy(evm: Evm) -> None:
    stack = evm.stack
    target = to_address(stack.pop())
    memory_offset = stack.pop()
    code_offset = stack.pop()
    size = stack.pop()
    # execution-specs charges access, copy and memory as one sum; charging them
    # in turn halts in the same cases, so only the order of the checks differs. All of
    # it before the target is read: a copy that runs out of gas never loads the account
    # (EIP-7928 leaves it out of the block's access list).
    _access(evm, target)
    _charge_copy(evm, memory_offset, size)
    _write_copy(evm, evm.state.get_code(target), memory_offset, code_offset, size)


def returndatasize(evm: Evm) -> None:
    push(evm, len(evm.return_data))


def returndatacopy(evm: Evm) -> None:
    stack = evm.stack
    memory_offset = stack.pop()
    data_offset = stack.pop()
    size = stack.pop()
    charge(
        evm,
        GAS_COPY * ((size + 31) >> 5)
        + (memory.expansion_cost(len(evm.memory), memory_offset + size) if size else 0),
    )
    if data_offset + size > len(evm.return_data):
        raise OutOfBoundsRead  # EIP-211
    if size:
        memory.resize(evm, memory_offset + size)
        evm.memory[memory_offset : memory_offset + size] = evm.return_data[
            data_offset : data_offset + size
        ]


def extcodehash(evm: Evm) -> None:
    target = to_address(evm.stack.pop())
    _access(evm, target)
    account = evm.state.get_account(target)
    if account is None or account.is_empty():
        evm.stack.append(0)
    else:
        code_hash = account.code_hash
        evm.stack.append(int.from_bytes(code_hash if code_hash else EMPTY_CODE_HASH, "big"))


def selfbalance(evm: Evm) -> None:
    push(evm, evm.state.balance(evm.msg.current_target))


def blobhash(evm: Evm) -> None:
    stack = evm.stack
    index = stack.pop()
    hashes = evm.tx.blob_versioned_hashes
    stack.append(int.from_bytes(hashes[index], "big") if index < len(hashes) else 0)


def blobbasefee(evm: Evm) -> None:
    push(evm, evm.block.blob_base_fee)
