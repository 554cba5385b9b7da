"""Bytecode analysis for the compiler: instructions, basic blocks and regions.

- ``decode``: the instruction stream (PUSH immediates read with the same
  zero padding the interpreter uses, so a PUSH cut off by the end of the code
  pushes its bytes followed by zeros).
- ``basic_blocks``: blocks split at JUMPDEST, after jumps and terminators and
  after gas-observing instructions (GAS, the CALL and CREATE families,
  SSTORE); each with its static gas, the stack depth it reads below its entry
  height (``inputs``) and the most it grows above it (``max_growth``).
- ``regions``: what code generation turns into one Python function each. A
  region starts at offset 0 or at a JUMPDEST and runs through the basic blocks
  that can only be entered by falling through (after JUMPI or a gas-observing
  instruction) until a JUMP, a terminator, the next JUMPDEST or the end of the
  code. Code after a JUMP or terminator that is not a JUMPDEST is unreachable
  and never compiled.

Which byte is which instruction comes from the fork's opcode table: a byte the
fork does not define is an undefined instruction (it halts like INVALID).

EIP-8024's DUPN, SWAPN and EXCHANGE (Amsterdam) read one immediate byte: decoded,
their stack effect is that of the DUP or SWAP they amount to, and the next
instruction is two bytes on. With an immediate the EIP excludes they halt, so they
are decoded as instructions that end the path, and decoding goes on at the
immediate byte (a JUMPDEST a jump may reach).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from jit.evm.analysis import valid_jump_destinations
from jit.evm.instructions import stack
from jit.evm.opcodes import OpcodeInfo

JUMPDEST = 0x5B
JUMP = 0x56
JUMPI = 0x57
STOP = 0x00

# Instructions after which a frame's code does not continue at the next byte.
TERMINATORS = frozenset({0x00, 0x56, 0xF3, 0xFD, 0xFE, 0xFF})
# Instructions whose behaviour depends on the exact gas left (the block splitters).
GAS_OBSERVING = frozenset({0x5A, 0xF0, 0xF1, 0xF2, 0xF4, 0xF5, 0xFA, 0x55})


def _stack_effects() -> dict[int, tuple[int, int]]:
    """Opcode -> (items popped, items pushed) for every defined instruction."""
    effects: dict[int, tuple[int, int]] = {0x00: (0, 0)}
    for op in range(0x01, 0x0C):
        effects[op] = (3, 1) if op in (0x08, 0x09) else (2, 1)
    for op in range(0x10, 0x1E):
        effects[op] = (1, 1) if op in (0x15, 0x19) else (2, 1)
    effects[0x1E] = (1, 1)  # CLZ
    effects[0x20] = (2, 1)
    for op in range(0x30, 0x4C):  # to SLOTNUM (EIP-7843)
        effects[op] = (0, 1)
    for op in (0x31, 0x35, 0x3B, 0x3F, 0x40, 0x49):
        effects[op] = (1, 1)
    for op in (0x37, 0x39, 0x3E):
        effects[op] = (3, 0)
    effects[0x3C] = (4, 0)
    effects.update(
        {
            0x50: (1, 0),
            0x51: (1, 1),
            0x52: (2, 0),
            0x53: (2, 0),
            0x54: (1, 1),
            0x55: (2, 0),
            0x56: (1, 0),
            0x57: (2, 0),
            0x58: (0, 1),
            0x59: (0, 1),
            0x5A: (0, 1),
            0x5B: (0, 0),
            0x5C: (1, 1),
            0x5D: (2, 0),
            0x5E: (3, 0),
            0xF0: (3, 1),
            0xF1: (7, 1),
            0xF2: (7, 1),
            0xF3: (2, 0),
            0xF4: (6, 1),
            0xF5: (4, 1),
            0xFA: (6, 1),
            0xFD: (2, 0),
            0xFE: (0, 0),
            0xFF: (1, 0),
        }
    )
    for op in range(0x5F, 0x80):
        effects[op] = (0, 1)
    for depth in range(1, 17):
        effects[0x7F + depth] = (depth, depth + 1)
        effects[0x8F + depth] = (depth + 1, depth + 1)
    for topics in range(5):
        effects[0xA0 + topics] = (topics + 2, 0)
    return effects


STACK_EFFECTS: Mapping[int, tuple[int, int]] = _stack_effects()
UNDEFINED_EFFECT = (0, 0)


class Instruction(NamedTuple):
    """One decoded instruction (a NamedTuple: decoding makes thousands of these)."""

    pc: int
    op: int
    name: str
    static_gas: int
    pops: int
    pushes: int
    immediate: int  # the PUSH value, EIP-8024's immediate byte; 0 for every other instruction
    next_pc: int
    defined: bool  # False: the fork has no such instruction (it halts)

    @property
    def ends_frame_path(self) -> bool:
        """True when execution never falls through to ``next_pc``."""
        return not self.defined or self.op in TERMINATORS


def immediate_effect(handler: object, immediate: int) -> tuple[int, int] | None:
    """(pops, pushes) of an EIP-8024 instruction with this immediate byte; None when the
    immediate is one the EIP excludes (the instruction halts)."""
    if handler is stack.exchange:
        pair = stack.PAIR_IMMEDIATES[immediate]
        return None if pair is None else (pair[1] + 1, pair[1] + 1)
    depth = stack.SINGLE_IMMEDIATES[immediate]
    if depth is None:
        return None
    if handler is stack.dupn:
        return depth, depth + 1
    return depth + 1, depth + 1  # SWAPN


# Handlers that read a one-byte immediate (EIP-8024).
ONE_BYTE_IMMEDIATE = frozenset({stack.dupn, stack.swapn, stack.exchange})


def decode(code: bytes, table: Mapping[int, OpcodeInfo]) -> tuple[Instruction, ...]:
    padded = code + b"\x00" * 33
    out: list[Instruction] = []
    pc = 0
    end = len(code)
    while pc < end:
        op = code[pc]
        info = table.get(op)
        if info is not None and info.handler in ONE_BYTE_IMMEDIATE:
            immediate = padded[pc + 1]
            effect = immediate_effect(info.handler, immediate)
            if effect is None:  # halts; the immediate byte is decoded next
                out.append(
                    Instruction(pc, op, info.name, info.static_gas, 0, 0, immediate, pc + 1, False)
                )
                pc += 1
            else:
                pops, pushes = effect
                out.append(
                    Instruction(
                        pc, op, info.name, info.static_gas, pops, pushes, immediate, pc + 2, True
                    )
                )
                pc += 2
            continue
        size = op - 0x5F if 0x60 <= op <= 0x7F else 0
        immediate = int.from_bytes(padded[pc + 1 : pc + 1 + size], "big") if size else 0
        if info is None:
            out.append(Instruction(pc, op, f"0x{op:02x}", 0, 0, 0, 0, pc + 1, False))
        else:
            pops, pushes = STACK_EFFECTS.get(op, UNDEFINED_EFFECT)
            out.append(
                Instruction(
                    pc, op, info.name, info.static_gas, pops, pushes, immediate, pc + 1 + size, True
                )
            )
        pc += 1 + size
    return tuple(out)


@dataclass(frozen=True, slots=True)
class BasicBlock:
    start: int
    instructions: tuple[Instruction, ...]
    static_gas: int
    inputs: int  # stack items below the entry height the block reads
    max_growth: int  # the highest the stack gets above the entry height
    delta: int  # stack height change from entry to exit
    falls_through: bool  # execution may continue at the next block by falling through


def stack_profile(instructions: tuple[Instruction, ...]) -> tuple[int, int, int]:
    """(inputs, max_growth, delta) of a straight-line instruction sequence."""
    height = 0
    lowest = 0
    highest = 0
    for ins in instructions:
        lowest = min(lowest, height - ins.pops)
        height += ins.pushes - ins.pops
        highest = max(highest, height)
    return -lowest, highest, height


def basic_blocks(code: bytes, table: Mapping[int, OpcodeInfo]) -> tuple[BasicBlock, ...]:
    instructions = decode(code, table)
    blocks: list[BasicBlock] = []
    current: list[Instruction] = []

    def close(falls_through: bool) -> None:
        if current:
            body = tuple(current)
            inputs, growth, delta = stack_profile(body)
            blocks.append(
                BasicBlock(
                    body[0].pc,
                    body,
                    sum(i.static_gas for i in body),
                    inputs,
                    growth,
                    delta,
                    falls_through,
                )
            )
            current.clear()

    for ins in instructions:
        if ins.op == JUMPDEST and ins.defined and current:
            close(True)
        current.append(ins)
        if ins.ends_frame_path:
            close(False)
        elif ins.defined and (ins.op == JUMPI or ins.op in GAS_OBSERVING):
            close(True)
    close(True)
    return tuple(blocks)


@dataclass(frozen=True, slots=True)
class Region:
    start: int
    instructions: tuple[Instruction, ...]
    # Where execution goes when the last instruction falls through: a JUMPDEST's
    # region, or the end of the code (an implicit STOP); None if it never does.
    fallthrough: int | None


def regions(code: bytes, table: Mapping[int, OpcodeInfo]) -> tuple[Region, ...]:
    """The reachable regions, in code order. Region starts are offset 0 and
    every valid JUMPDEST (the dynamic jump table)."""
    blocks = basic_blocks(code, table)
    jumpdests = valid_jump_destinations(code)
    out: list[Region] = []
    body: list[Instruction] = []
    start: int | None = None
    for block in blocks:
        if block.start == 0 or block.start in jumpdests:
            if start is not None:
                out.append(Region(start, tuple(body), block.start))
            start = block.start
            body = list(block.instructions)
        elif start is None:
            continue  # unreachable: follows a JUMP or terminator, not a JUMPDEST
        else:
            body.extend(block.instructions)
        if not block.falls_through:
            out.append(Region(start, tuple(body), None))
            start = None
            body = []
    if start is not None:
        last = body[-1]
        out.append(Region(start, tuple(body), last.next_pc))
    return tuple(out)
