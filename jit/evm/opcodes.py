"""The opcode table: byte -> (name, handler, static gas), per fork as deltas.

Static gas is what the interpreter loop charges before dispatch; dynamic
parts (memory, cold access, copies, ...) are charged by the handler. For
warm/cold instructions the table holds the warm cost (EIP-2929) and the
handler adds the cold surcharge. SSTORE's table cost is 0 because its EIP-2200
stipend guard must see the gas before any charge.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from jit.evm.frame import Evm
from jit.evm.gas import (
    GAS_BASE,
    GAS_BLOBHASH,
    GAS_BLOCK_HASH,
    GAS_CREATE,
    GAS_EXPONENTIATION,
    GAS_HIGH,
    GAS_JUMPDEST,
    GAS_KECCAK256,
    GAS_LOG,
    GAS_LOG_TOPIC,
    GAS_LOW,
    GAS_MID,
    GAS_SELF_DESTRUCT,
    GAS_TLOAD,
    GAS_TSTORE,
    GAS_VERY_LOW,
    GAS_WARM_ACCESS,
    GAS_ZERO,
)
from jit.evm.instructions import (
    arithmetic,
    bitwise,
    block,
    control_flow,
    environment,
    keccak,
    log,
    memory_ops,
    stack,
    storage,
    system,
)
from jit.evm.state_gas import REGULAR_GAS_CREATE

Handler = Callable[[Evm], None]


@dataclass(frozen=True, slots=True)
class OpcodeInfo:
    name: str
    handler: Handler
    static_gas: int


def _op(name: str, handler: Handler, gas: int) -> OpcodeInfo:
    return OpcodeInfo(name, handler, gas)


def _cancun_table() -> dict[int, OpcodeInfo]:
    table: dict[int, OpcodeInfo] = {
        0x00: _op("STOP", control_flow.stop, GAS_ZERO),
        0x01: _op("ADD", arithmetic.add, GAS_VERY_LOW),
        0x02: _op("MUL", arithmetic.mul, GAS_LOW),
        0x03: _op("SUB", arithmetic.sub, GAS_VERY_LOW),
        0x04: _op("DIV", arithmetic.div, GAS_LOW),
        0x05: _op("SDIV", arithmetic.sdiv, GAS_LOW),
        0x06: _op("MOD", arithmetic.mod, GAS_LOW),
        0x07: _op("SMOD", arithmetic.smod, GAS_LOW),
        0x08: _op("ADDMOD", arithmetic.addmod, GAS_MID),
        0x09: _op("MULMOD", arithmetic.mulmod, GAS_MID),
        0x0A: _op("EXP", arithmetic.exp, GAS_EXPONENTIATION),
        0x0B: _op("SIGNEXTEND", arithmetic.signextend, GAS_LOW),
        0x10: _op("LT", bitwise.lt, GAS_VERY_LOW),
        0x11: _op("GT", bitwise.gt, GAS_VERY_LOW),
        0x12: _op("SLT", bitwise.slt, GAS_VERY_LOW),
        0x13: _op("SGT", bitwise.sgt, GAS_VERY_LOW),
        0x14: _op("EQ", bitwise.eq, GAS_VERY_LOW),
        0x15: _op("ISZERO", bitwise.iszero, GAS_VERY_LOW),
        0x16: _op("AND", bitwise.and_, GAS_VERY_LOW),
        0x17: _op("OR", bitwise.or_, GAS_VERY_LOW),
        0x18: _op("XOR", bitwise.xor, GAS_VERY_LOW),
        0x19: _op("NOT", bitwise.not_, GAS_VERY_LOW),
        0x1A: _op("BYTE", bitwise.byte, GAS_VERY_LOW),
        0x1B: _op("SHL", bitwise.shl, GAS_VERY_LOW),
        0x1C: _op("SHR", bitwise.shr, GAS_VERY_LOW),
        0x1D: _op("SAR", bitwise.sar, GAS_VERY_LOW),
        0x20: _op("KECCAK256", keccak.keccak256, GAS_KECCAK256),
        0x30: _op("ADDRESS", environment.address, GAS_BASE),
        0x31: _op("BALANCE", environment.balance, GAS_WARM_ACCESS),
        0x32: _op("ORIGIN", environment.origin, GAS_BASE),
        0x33: _op("CALLER", environment.caller, GAS_BASE),
        0x34: _op("CALLVALUE", environment.callvalue, GAS_BASE),
        0x35: _op("CALLDATALOAD", environment.calldataload, GAS_VERY_LOW),
        0x36: _op("CALLDATASIZE", environment.calldatasize, GAS_BASE),
        0x37: _op("CALLDATACOPY", environment.calldatacopy, GAS_VERY_LOW),
        0x38: _op("CODESIZE", environment.codesize, GAS_BASE),
        0x39: _op("CODECOPY", environment.codecopy, GAS_VERY_LOW),
        0x3A: _op("GASPRICE", environment.gasprice, GAS_BASE),
        0x3B: _op("EXTCODESIZE", environment.extcodesize, GAS_WARM_ACCESS),
        0x3C: _op("EXTCODECOPY", environment.extcodecopy, GAS_WARM_ACCESS),
        0x3D: _op("RETURNDATASIZE", environment.returndatasize, GAS_BASE),
        0x3E: _op("RETURNDATACOPY", environment.returndatacopy, GAS_VERY_LOW),
        0x3F: _op("EXTCODEHASH", environment.extcodehash, GAS_WARM_ACCESS),
        0x40: _op("BLOCKHASH", block.blockhash, GAS_BLOCK_HASH),
        0x41: _op("COINBASE", block.coinbase, GAS_BASE),
        0x42: _op("TIMESTAMP", block.timestamp, GAS_BASE),
        0x43: _op("NUMBER", block.number, GAS_BASE),
        0x44: _op("PREVRANDAO", block.prevrandao, GAS_BASE),
        0x45: _op("GASLIMIT", block.gaslimit, GAS_BASE),
        0x46: _op("CHAINID", block.chainid, GAS_BASE),
        0x47: _op("SELFBALANCE", environment.selfbalance, GAS_LOW),
        0x48: _op("BASEFEE", block.basefee, GAS_BASE),
        0x49: _op("BLOBHASH", environment.blobhash, GAS_BLOBHASH),
        0x4A: _op("BLOBBASEFEE", environment.blobbasefee, GAS_BASE),
        0x50: _op("POP", stack.pop, GAS_BASE),
        0x51: _op("MLOAD", memory_ops.mload, GAS_VERY_LOW),
        0x52: _op("MSTORE", memory_ops.mstore, GAS_VERY_LOW),
        0x53: _op("MSTORE8", memory_ops.mstore8, GAS_VERY_LOW),
        0x54: _op("SLOAD", storage.sload, GAS_WARM_ACCESS),
        0x55: _op("SSTORE", storage.sstore, GAS_ZERO),
        0x56: _op("JUMP", control_flow.jump, GAS_MID),
        0x57: _op("JUMPI", control_flow.jumpi, GAS_HIGH),
        0x58: _op("PC", control_flow.pc, GAS_BASE),
        0x59: _op("MSIZE", memory_ops.msize, GAS_BASE),
        0x5A: _op("GAS", control_flow.gas, GAS_BASE),
        0x5B: _op("JUMPDEST", control_flow.jumpdest, GAS_JUMPDEST),
        0x5C: _op("TLOAD", storage.tload, GAS_TLOAD),
        0x5D: _op("TSTORE", storage.tstore, GAS_TSTORE),
        0x5E: _op("MCOPY", memory_ops.mcopy, GAS_VERY_LOW),
        0x5F: _op("PUSH0", stack.push0, GAS_BASE),
        0x60: _op("PUSH1", stack.push1, GAS_VERY_LOW),
        0xF0: _op("CREATE", system.create, GAS_CREATE),
        0xF1: _op("CALL", system.call, GAS_WARM_ACCESS),
        0xF2: _op("CALLCODE", system.callcode, GAS_WARM_ACCESS),
        0xF3: _op("RETURN", system.return_, GAS_ZERO),
        0xF4: _op("DELEGATECALL", system.delegatecall, GAS_WARM_ACCESS),
        0xF5: _op("CREATE2", system.create2, GAS_CREATE),
        0xFA: _op("STATICCALL", system.staticcall, GAS_WARM_ACCESS),
        0xFD: _op("REVERT", system.revert, GAS_ZERO),
        0xFE: _op("INVALID", system.invalid, GAS_ZERO),
        0xFF: _op("SELFDESTRUCT", system.selfdestruct, GAS_SELF_DESTRUCT),
    }
    for size in range(2, 33):
        table[0x5F + size] = _op(f"PUSH{size}", stack.make_push(size), GAS_VERY_LOW)
    for depth in range(1, 17):
        table[0x7F + depth] = _op(f"DUP{depth}", stack.make_dup(depth), GAS_VERY_LOW)
        table[0x8F + depth] = _op(f"SWAP{depth}", stack.make_swap(depth), GAS_VERY_LOW)
    for topics in range(5):
        table[0xA0 + topics] = _op(
            f"LOG{topics}", log.make_log(topics), GAS_LOG + GAS_LOG_TOPIC * topics
        )
    return table


CANCUN: Mapping[int, OpcodeInfo] = _cancun_table()
PRAGUE: Mapping[int, OpcodeInfo] = {}
OSAKA: Mapping[int, OpcodeInfo] = {
    0x1E: _op("CLZ", bitwise.clz, GAS_LOW),  # EIP-7939
}
AMSTERDAM: Mapping[int, OpcodeInfo] = {
    0x4B: _op("SLOTNUM", block.slotnum, GAS_BASE),  # EIP-7843
    # EIP-8024: one immediate byte each (``stack.SINGLE_IMMEDIATES``, ``PAIR_IMMEDIATES``)
    0xE6: _op("DUPN", stack.dupn, GAS_VERY_LOW),
    0xE7: _op("SWAPN", stack.swapn, GAS_VERY_LOW),
    0xE8: _op("EXCHANGE", stack.exchange, GAS_VERY_LOW),
    # EIP-8037: a slot set from zero is state gas; CREATE's new account too (the
    # handlers charge it), leaving 9,000 regular gas up front.
    0x55: _op("SSTORE", storage.sstore_state_gas, GAS_ZERO),
    0xF0: _op("CREATE", system.create, REGULAR_GAS_CREATE),
    0xF5: _op("CREATE2", system.create2, REGULAR_GAS_CREATE),
}

# Bytes with no instruction halt like INVALID; they cost nothing up front.
UNDEFINED = OpcodeInfo("UNDEFINED", system.invalid, 0)


def dispatch_tables(table: Mapping[int, OpcodeInfo]) -> tuple[tuple[Handler, ...], tuple[int, ...]]:
    """The loop's two 256-entry tuples: handlers and static gas."""
    infos = [table.get(byte, UNDEFINED) for byte in range(256)]
    return tuple(info.handler for info in infos), tuple(info.static_gas for info in infos)
