"""Which instructions the native tier compiles, and so which regions it takes.

An instruction is covered when the fork's opcode table maps its byte to the very
handler the native template was written from (as the Python JIT's templates are
chosen), so a fork that redefines an instruction falls back to the Python tiers
without any change here. A region is native only when every instruction in it is
covered; every other region stays with the Python JIT.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from jit.compiler.analysis import Instruction, Region
from jit.evm.instructions import arithmetic, bitwise, control_flow, keccak, memory_ops, stack
from jit.evm.opcodes import OpcodeInfo

# Handlers of the fixed-name instructions the IR generator implements.
_COVERED_HANDLERS: frozenset[Callable[..., None]] = frozenset(
    {
        control_flow.stop,
        arithmetic.add,
        arithmetic.mul,
        arithmetic.sub,
        arithmetic.div,
        arithmetic.sdiv,
        arithmetic.mod,
        arithmetic.smod,
        arithmetic.addmod,
        arithmetic.mulmod,
        arithmetic.exp,
        arithmetic.signextend,
        bitwise.lt,
        bitwise.gt,
        bitwise.slt,
        bitwise.sgt,
        bitwise.eq,
        bitwise.iszero,
        bitwise.and_,
        bitwise.or_,
        bitwise.xor,
        bitwise.not_,
        bitwise.byte,
        bitwise.shl,
        bitwise.shr,
        bitwise.sar,
        bitwise.clz,
        stack.pop,
        stack.push0,
        memory_ops.mload,
        memory_ops.mstore,
        memory_ops.mstore8,
        control_flow.jump,
        control_flow.jumpi,
        control_flow.pc,
        control_flow.gas,
        control_flow.jumpdest,
    }
)

# PUSH1-32, DUP1-16 and SWAP1-16 are made per size by factories: covered by byte and name.
_FAMILY_NAMES: dict[int, str] = {
    **{0x5F + size: f"PUSH{size}" for size in range(1, 33)},
    **{0x7F + depth: f"DUP{depth}" for depth in range(1, 17)},
    **{0x8F + depth: f"SWAP{depth}" for depth in range(1, 17)},
}


# EIP-8024's stack instructions (with a valid immediate: an excluded one decodes as
# undefined, so its region is not covered); irgen knows them by these names.
EIP8024_NAMES: dict[Callable[..., None], str] = {
    stack.dupn: "DUPN",
    stack.swapn: "SWAPN",
    stack.exchange: "EXCHANGE",
}


# Run through the host call, on the fork's own handler (``irgen``'s module docstring), so
# any fork's version of them is exact: covered by name. None of them nests a frame.
HOST_NAMES: frozenset[str] = frozenset(
    {
        "SLOAD", "SSTORE", "TLOAD", "TSTORE", "KECCAK256",
        "BALANCE", "SELFBALANCE", "EXTCODESIZE", "EXTCODEHASH", "EXTCODECOPY",
        "ADDRESS", "ORIGIN", "CALLER", "CALLVALUE", "GASPRICE",
        "CALLDATALOAD", "CALLDATASIZE", "CALLDATACOPY", "CODESIZE", "CODECOPY",
        "RETURNDATASIZE", "RETURNDATACOPY", "MSIZE", "MCOPY",
        "BLOCKHASH", "COINBASE", "TIMESTAMP", "NUMBER", "PREVRANDAO", "GASLIMIT",
        "CHAINID", "BASEFEE", "BLOBHASH", "BLOBBASEFEE", "SLOTNUM",
        "LOG0", "LOG1", "LOG2", "LOG3", "LOG4",
    }
)  # fmt: skip
# Calls and creates: native code leaves before them and the caller runs them (``irgen``).
CALL_NAMES: frozenset[str] = frozenset(
    {"CALL", "CALLCODE", "DELEGATECALL", "STATICCALL", "CREATE", "CREATE2"}
)
# End the frame: native code hands the frame to the interpreter at them.
HAND_OVER_NAMES: frozenset[tuple[int, str]] = frozenset(
    {(0xF3, "RETURN"), (0xFD, "REVERT"), (0xFE, "INVALID"), (0xFF, "SELFDESTRUCT")}
)


# Host instructions whose handlers read or resize memory (the others never look at it).
HOST_MEMORY_NAMES: frozenset[str] = frozenset(
    {
        "KECCAK256", "LOG0", "LOG1", "LOG2", "LOG3", "LOG4", "MSIZE", "MCOPY",
        "CALLDATACOPY", "CODECOPY", "EXTCODECOPY", "RETURNDATACOPY",
    }
)  # fmt: skip


def native_keccak(table: Mapping[int, OpcodeInfo]) -> bool:
    """Whether KECCAK256 is the standard one, which machine code may run itself (over
    memory that exists; the host call does the rest)."""
    info = table.get(0x20)
    return info is not None and info.handler is keccak.keccak256


def host_memory_ops(table: Mapping[int, OpcodeInfo]) -> frozenset[int]:
    return frozenset(op for op, info in table.items() if info.name in HOST_MEMORY_NAMES)


def host_ops(table: Mapping[int, OpcodeInfo]) -> frozenset[int]:
    """The bytes of ``table`` native code runs through the host call."""
    return frozenset(
        op for op, info in table.items() if info.name in HOST_NAMES or info.name in CALL_NAMES
    )


def covered_ops(table: Mapping[int, OpcodeInfo]) -> frozenset[int]:
    """The bytes of ``table`` the native tier compiles."""
    out = set(host_ops(table))
    for op, info in table.items():
        if (
            info.handler in _COVERED_HANDLERS
            or _FAMILY_NAMES.get(op) == info.name
            or EIP8024_NAMES.get(info.handler) == info.name
            or (op, info.name) in HAND_OVER_NAMES
        ):
            out.add(op)
    return frozenset(out)


def is_covered(region: Region, ops: frozenset[int]) -> bool:
    return all(_covered(ins, ops) for ins in region.instructions)


def _covered(ins: Instruction, ops: frozenset[int]) -> bool:
    return ins.defined and ins.op in ops
