"""LLVM IR for a contract's covered regions: one function per contract and fork.

The function's C ABI (``ir_module`` documents it for ``program.py``, which calls it)::

    int64_t evm_native(uint256_le *stack, int64_t *io, uint8_t *memory,
                       int64_t (*host)(int64_t pc))

- ``stack``: the frame's stack as 1,024 little-endian 32-byte words (``i256``),
  item 0 at the bottom; the caller copies ``evm.stack`` in and the changed part out.
- ``io[0]`` stack height, ``io[1]`` gas left, ``io[2]`` pc (in: where to enter, a
  covered region's start or a memory instruction's resume point; out: where the
  frame goes next), ``io[3]`` low-water mark (in: the height; out: the lowest height
  the code reached, so the items below it are unchanged), ``io[4]`` memory length
  (in and out: native code grows memory within the capacity), ``io[5]`` regions entered (counted up:
  the caller's measure of how long a call stays native), ``io[6]`` the memory's
  address after a host call (memory may have moved), ``io[7]`` the memory's capacity
  (in, and after a host call): the bytes the caller made addressable beyond the length,
  all zero. A memory access past the length but within the capacity is grown here,
  charged with the interpreter's formula from ``g``; past the capacity, or when the
  expansion does not fit in ``g``, it exits with ``NEED_MEMORY``.
- ``host``: the host-call table's one entry, ``host(pc)``: run the fork's own
  interpreter handler of the instruction at ``pc`` on the frame (storage, transient
  storage, KECCAK256, environment and block reads, copies, logs: everything that
  neither nests a frame nor ends one). Before the call the code writes the stack
  array, ``io[0]`` (height) and ``io[1]`` (the exact gas after the instruction's
  static charge); the host runs the handler on the instruction's operands alone (a
  handler pops its operands and pushes its results, and reads nothing deeper), and
  writes back the height, gas, the items it pushed, ``io[4]`` and ``io[6]``. The
  frame's own stack is synced once, at the exit. It returns 0, or 1 when the
  handler raised: the code then returns ``HOST_ERROR`` at once and the caller
  re-raises the exception (a halt or a real error) as the Python JIT would.
  Instructions that end the frame (RETURN, REVERT, INVALID, SELFDESTRUCT) hand over
  to the interpreter at their pc; calls and creates are not covered (a nested frame
  under a native one would stack C frames 1,024 deep).
- The result is a status: ``EXIT_JUMP`` (go on with the region at ``io[2]``, which
  the caller checks against the jump table), ``STOP``, ``HAND_OVER`` (the
  interpreter runs the frame from ``io[2]``), ``NEED_MEMORY`` (the memory
  instruction at ``io[2]`` needs memory to grow: the caller charges and grows it,
  then re-enters at ``io[2]``), ``BAD_JUMP`` (a jump to a destination of 2**32
  or more), ``HOST_ERROR`` or ``RUN_INSTRUCTION`` (a call or create at ``io[2]``: the
  caller runs it as the interpreter would, then re-enters at the next pc, a resume
  point that re-checks the rest of the region, or goes on with the region there). On every exit the stack and gas are exactly the interpreter's at that pc.

Each region keeps the Python JIT's contract (``docs/architecture.md``, "JIT"): its
stack bounds and total static gas S are checked once at entry (a failing check hands
the frame to the interpreter there, so the interpreter decides which halt happens);
``g = gas - S`` and after instruction k the exact gas is ``g + R_k``, R_k being the
static gas of the instructions after k. Within a region the stack is a list of SSA
values (constants stay constants, so ``PUSH2 dest JUMP`` branches directly); it is
written to the stack array only where control leaves the straight line. Dynamic gas
(EXP's exponent bytes) that does not fit in ``g`` hands over before the instruction.
A memory access beyond the current memory exits with ``NEED_MEMORY`` before the
instruction; its resume point re-checks the rest of the region, so both ways in give
the same ``g + R_k``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from llvmlite import ir

from jit.compiler.analysis import JUMPDEST, Instruction, Region
from jit.evm.frame import STACK_LIMIT
from jit.evm.gas import GAS_EXPONENTIATION_PER_BYTE, GAS_KECCAK256_WORD
from jit.evm.instructions.stack import PAIR_IMMEDIATES
from jit.native.coverage import EIP8024_NAMES
from jit.native.selection import CALL_OUT_OPS

EXIT_JUMP = 0
STOP = 1
HAND_OVER = 2
NEED_MEMORY = 3
BAD_JUMP = 4
HOST_ERROR = 5
RUN_INSTRUCTION = 6

FUNCTION_NAME = "evm_native"
KECCAK256 = 0x20
_KECCAK_RATE = 136  # bytes absorbed per permutation (Keccak-256: capacity 512 bits)
_KECCAK_ROUND_CONSTANTS = (
    0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
    0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
    0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
    0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
    0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
    0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
)  # fmt: skip
# Rotation of lane (x, y), as _KECCAK_ROTATIONS[x][y].
_KECCAK_ROTATIONS = (
    (0, 36, 3, 41, 18), (1, 44, 10, 45, 2), (62, 6, 43, 15, 61),
    (28, 55, 25, 21, 56), (27, 20, 39, 8, 14),
)  # fmt: skip
MEMORY_OPS = {0x51: 32, 0x52: 32, 0x53: 1}  # MLOAD, MSTORE, MSTORE8 -> bytes accessed
_EIP8024 = frozenset(EIP8024_NAMES.values())  # DUPN, SWAPN, EXCHANGE (coverage)
HOST_HAND_OVER = frozenset({0xF3, 0xFD, 0xFE, 0xFF})  # RETURN, REVERT, INVALID, SELFDESTRUCT
# CREATE, CALL, CALLCODE, DELEGATECALL, CREATE2, STATICCALL: run by the caller between
# two native calls (``RUN_INSTRUCTION``), never under a native frame.
CALL_OUT = CALL_OUT_OPS

I1 = ir.IntType(1)
I8 = ir.IntType(8)
I32 = ir.IntType(32)
I64 = ir.IntType(64)
I256 = ir.IntType(256)
I512 = ir.IntType(512)
_ALIGN = 8  # the stack array is only guaranteed 8-byte alignment


def _word(value: int) -> ir.Constant:
    return ir.Constant(I256, value % (1 << 256))


def _i64(value: int) -> ir.Constant:
    return ir.Constant(I64, value)


@dataclass(frozen=True, slots=True)
class NativeModule:
    """The IR of one contract's covered regions and where the function may be entered."""

    text: str
    region_starts: frozenset[int]  # covered regions (entered at their first instruction)
    resume_points: frozenset[int]  # memory instructions, and what follows a call or create
    instructions: int


class _Item:
    """A stack item in SSA form; ``origin`` is the slot (relative to the segment's base
    height) it was loaded from, so an item still in its slot is not written back."""

    __slots__ = ("origin", "value")

    def __init__(self, value: ir.Value, origin: int | None = None) -> None:
        self.value = value
        self.origin = origin


class _FunctionWriter:
    def __init__(
        self,
        regions: Sequence[Region],
        jumpdests: frozenset[int],
        code_length: int,
        host_ops: frozenset[int],
        native_keccak: bool,
    ) -> None:
        self.regions = regions
        self.host_ops = host_ops
        # The sponge is only written into modules that hash (it is ~1,000 IR lines).
        self.native_keccak = native_keccak and any(
            ins.op == KECCAK256 for region in regions for ins in region.instructions
        )
        self.jumpdests = jumpdests
        self.code_length = code_length
        self.module = ir.Module(name="evm")
        self.exp = self._exp_function()
        self.keccak = self._keccak_function() if self.native_keccak else None
        host_type = ir.FunctionType(I64, [I64])
        fn_type = ir.FunctionType(
            I64, [I256.as_pointer(), I64.as_pointer(), I8.as_pointer(), host_type.as_pointer()]
        )
        self.fn = ir.Function(self.module, fn_type, FUNCTION_NAME)
        self.stack_arg, self.io, memory, self.host = self.fn.args
        self.builder = ir.IRBuilder(self.fn.append_basic_block("entry"))
        b = self.builder
        self.sp_var = b.alloca(I64, name="sp")
        self.gas_var = b.alloca(I64, name="gas")
        self.low_var = b.alloca(I64, name="low")
        self.g_var = b.alloca(I64, name="g")
        b.store(b.load(self._io(0)), self.sp_var)
        b.store(b.load(self._io(1)), self.gas_var)
        b.store(b.load(self._io(3)), self.low_var)
        # Memory moves and grows under host calls: its address and length are reloaded.
        self.memory_var = b.alloca(I8.as_pointer(), name="memory")
        self.memory_length_var = b.alloca(I64, name="msize")
        b.store(memory, self.memory_var)
        b.store(b.load(self._io(4)), self.memory_length_var)
        self.capacity_var = b.alloca(I64, name="capacity")
        b.store(b.load(self._io(7)), self.capacity_var)
        self.entry_pc = b.load(self._io(2), name="entry_pc")
        self.region_blocks = {r.start: self.fn.append_basic_block(f"r_{r.start}") for r in regions}
        self.resume_blocks: dict[int, ir.Block] = {}
        # Per region being written: the stack segment and gas.
        self.items: list[_Item] = []
        self.pulled = 0
        self.base: ir.Value = _i64(0)
        self.g: ir.Value = _i64(0)
        self.remaining = 0
        self.instructions = 0

    # ------------------------------------------------------------------ helpers

    def _io(self, index: int) -> ir.Value:
        return self.builder.gep(self.io, [ir.Constant(I32, index)])

    def _slot(self, height: ir.Value) -> ir.Value:
        return self.builder.gep(self.stack_arg, [height])

    def _helper(self, name: str, result: ir.Type, arguments: list[ir.Type]) -> ir.Function:
        """An internal function of the module, never inlined: inlined at every use (EXP
        was), it multiplied compile time."""
        fn = ir.Function(self.module, ir.FunctionType(result, arguments), name)
        fn.linkage = "internal"
        fn.attributes.add("noinline")
        return fn

    def _exp_function(self) -> ir.Function:
        """``evm_exp(base, exponent)``: base ** exponent mod 2**256, square and multiply."""
        fn = self._helper("evm_exp", I256, [I256, I256])
        base, exponent = fn.args
        entry = fn.append_basic_block("entry")
        loop = fn.append_basic_block("loop")
        body = fn.append_basic_block("body")
        done = fn.append_basic_block("done")
        b = ir.IRBuilder(entry)
        b.branch(loop)
        b.position_at_end(loop)
        result = b.phi(I256)
        power = b.phi(I256)
        rest = b.phi(I256)
        b.cbranch(b.icmp_unsigned("==", rest, _word(0)), done, body)
        b.position_at_end(body)
        odd = b.trunc(rest, I1)
        next_result = b.select(odd, b.mul(result, power), result)
        next_power = b.mul(power, power)
        next_rest = b.lshr(rest, _word(1))
        b.branch(loop)
        result.add_incoming(_word(1), entry)
        result.add_incoming(next_result, body)
        power.add_incoming(base, entry)
        power.add_incoming(next_power, body)
        rest.add_incoming(exponent, entry)
        rest.add_incoming(next_rest, body)
        b.position_at_end(done)
        b.ret(result)
        return fn

    def _keccak_f_function(self) -> ir.Function:
        """``keccak_f(lanes)``: the Keccak-f[1600] permutation on 25 little-endian lanes."""
        fn = self._helper("keccak_f", ir.VoidType(), [I64.as_pointer()])
        table_type = ir.ArrayType(I64, len(_KECCAK_ROUND_CONSTANTS))
        table = ir.GlobalVariable(self.module, table_type, "keccak_round_constants")
        table.linkage = "internal"
        table.global_constant = True
        table.initializer = ir.Constant(table_type, [_i64(c) for c in _KECCAK_ROUND_CONSTANTS])
        (lanes,) = fn.args
        entry = fn.append_basic_block("entry")
        loop = fn.append_basic_block("loop")
        body = fn.append_basic_block("round")
        done = fn.append_basic_block("done")
        b = ir.IRBuilder(entry)
        b.branch(loop)
        b.position_at_end(loop)
        round_index = b.phi(I64)
        b.cbranch(b.icmp_unsigned("<", round_index, _i64(24)), body, done)
        b.position_at_end(body)

        def rotl(value: ir.Value, count: int) -> ir.Value:
            if count == 0:
                return value
            return b.or_(b.shl(value, _i64(count)), b.lshr(value, _i64(64 - count)))

        slots = [b.gep(lanes, [_i64(i)]) for i in range(25)]
        a = [b.load(slot) for slot in slots]
        c = [
            b.xor(b.xor(b.xor(b.xor(a[x], a[x + 5]), a[x + 10]), a[x + 15]), a[x + 20])
            for x in range(5)
        ]
        d = [b.xor(c[(x + 4) % 5], rotl(c[(x + 1) % 5], 1)) for x in range(5)]
        a = [b.xor(a[i], d[i % 5]) for i in range(25)]
        moved: list[ir.Value] = [a[0]] * 25
        for x in range(5):
            for y in range(5):
                moved[y + 5 * ((2 * x + 3 * y) % 5)] = rotl(a[x + 5 * y], _KECCAK_ROTATIONS[x][y])
        out = [
            b.xor(
                moved[x + 5 * y],
                b.and_(b.not_(moved[(x + 1) % 5 + 5 * y]), moved[(x + 2) % 5 + 5 * y]),
            )
            for y in range(5)
            for x in range(5)
        ]
        constant = b.load(b.gep(table, [_i64(0), round_index]))
        out[0] = b.xor(out[0], constant)
        for slot, value in zip(slots, out, strict=True):
            b.store(value, slot)
        next_round = b.add(round_index, _i64(1))
        b.branch(loop)
        round_index.add_incoming(_i64(0), entry)
        round_index.add_incoming(next_round, body)
        b.position_at_end(done)
        b.ret_void()
        return fn

    def _keccak_function(self) -> ir.Function:
        """``evm_keccak(data, length)``: Keccak-256 of ``length`` bytes as the EVM word
        (big-endian); the sponge over ``keccak_f`` with Keccak's 0x01 ... 0x80 padding."""
        permute = self._keccak_f_function()
        fn = self._helper("evm_keccak", I256, [I8.as_pointer(), I64])
        data, length = fn.args
        entry = fn.append_basic_block("entry")
        loop = fn.append_basic_block("absorb")
        full = fn.append_basic_block("full_block")
        last = fn.append_basic_block("last_block")
        b = ir.IRBuilder(entry)
        lanes = b.alloca(ir.ArrayType(I64, 25))
        block = b.alloca(ir.ArrayType(I64, _KECCAK_RATE // 8))
        lane_slots = [b.gep(lanes, [_i64(0), _i64(i)]) for i in range(25)]
        block_slots = [b.gep(block, [_i64(0), _i64(i)]) for i in range(_KECCAK_RATE // 8)]
        for slot in lane_slots:
            b.store(_i64(0), slot)
        b.branch(loop)

        def absorb(source: ir.Value) -> None:
            words = b.bitcast(source, I64.as_pointer())
            for i in range(_KECCAK_RATE // 8):
                word = b.load(b.gep(words, [_i64(i)]), align=1)
                b.store(b.xor(b.load(lane_slots[i]), word), lane_slots[i])
            b.call(permute, [b.gep(lanes, [_i64(0), _i64(0)])])

        b.position_at_end(loop)
        offset = b.phi(I64)
        rest = b.sub(length, offset)
        b.cbranch(b.icmp_unsigned(">=", rest, _i64(_KECCAK_RATE)), full, last)
        b.position_at_end(full)
        absorb(b.gep(data, [offset]))
        offset.add_incoming(_i64(0), entry)
        offset.add_incoming(b.add(offset, _i64(_KECCAK_RATE)), full)
        b.branch(loop)
        b.position_at_end(last)
        for slot in block_slots:
            b.store(_i64(0), slot)
        bytes_ = b.bitcast(block, I8.as_pointer())
        memcpy = self.module.declare_intrinsic(
            "llvm.memcpy", [I8.as_pointer(), I8.as_pointer(), I64]
        )
        b.call(memcpy, [bytes_, b.gep(data, [offset]), rest, ir.Constant(I1, 0)])
        pad = b.gep(bytes_, [rest])
        b.store(b.xor(b.load(pad), ir.Constant(I8, 0x01)), pad)
        end = b.gep(bytes_, [_i64(_KECCAK_RATE - 1)])
        b.store(b.xor(b.load(end), ir.Constant(I8, 0x80)), end)
        absorb(bytes_)
        digest = _word(0)
        for i in range(4):
            lane = b.zext(b.load(lane_slots[i]), I256)
            digest = b.or_(digest, b.shl(lane, _word(64 * i)) if i else lane)
        b.ret(b.bswap(digest))
        return fn

    # ------------------------------------------------------------------ the symbolic stack

    def start_segment(self) -> None:
        """Begin straight-line code with every item in the stack array."""
        self.base = self.builder.load(self.sp_var)
        self.items = []
        self.pulled = 0

    def ensure(self, count: int) -> None:
        """Load items from the array until the top ``count`` are SSA values."""
        while len(self.items) < count:
            self.pulled += 1
            height = self.builder.sub(self.base, _i64(self.pulled))
            value = self.builder.load(self._slot(height), align=_ALIGN)
            self.items.insert(0, _Item(value, -self.pulled))

    def pop(self) -> ir.Value:
        self.ensure(1)
        return self.items.pop().value

    def push(self, value: ir.Value) -> None:
        self.items.append(_Item(value))

    def flush(self) -> None:
        """Write the SSA items into the array and the height into ``sp`` (no state change:
        side exits flush and leave, the straight line carries on)."""
        b = self.builder
        bottom = -self.pulled
        for index, item in enumerate(self.items):
            if item.origin == bottom + index:
                continue
            b.store(item.value, self._slot(b.add(self.base, _i64(bottom + index))), align=_ALIGN)
        b.store(b.add(self.base, _i64(bottom + len(self.items))), self.sp_var)

    def exit(self, status: int, pc: ir.Value | int, gas: ir.Value) -> None:
        """Flush and return ``status`` with ``pc`` and ``gas`` (the exact gas there)."""
        self.flush()
        self.leave(status, self.builder.load(self.sp_var), gas, pc)

    def leave(self, status: int, height: ir.Value, gas: ir.Value, pc: ir.Value | int) -> None:
        """Return ``status`` with the frame's state in ``io``: the height, the gas, the pc,
        the low-water mark and the memory's length (the stack array is already written)."""
        b = self.builder
        b.store(height, self._io(0))
        b.store(gas, self._io(1))
        b.store(_i64(pc) if isinstance(pc, int) else pc, self._io(2))
        b.store(b.load(self.low_var), self._io(3))
        b.store(b.load(self.memory_length_var), self._io(4))
        b.ret(_i64(status))

    def gas_at(self, owed: int) -> ir.Value:
        return self.builder.add(self.g, _i64(owed)) if owed else self.g

    def side_exit(self, condition: ir.Value, status: int, pc: int, owed: int) -> None:
        """If ``condition``: leave with ``status`` at ``pc``; go on in a new block otherwise."""
        b = self.builder
        leave = self.fn.append_basic_block(f"x_{pc}")
        stay = self.fn.append_basic_block(f"c_{pc}")
        b.cbranch(condition, leave, stay)
        b.position_at_end(leave)
        self.exit(status, pc, self.gas_at(owed))
        b.position_at_end(stay)

    # ------------------------------------------------------------------ control flow

    def go_to(self, destination: int, owed: int) -> None:
        """Flush and continue at a known destination (a region start or the code's end)."""
        b = self.builder
        if destination >= self.code_length:
            self.exit(STOP, destination, self.gas_at(owed))
        elif destination not in self.jumpdests:
            self.exit(BAD_JUMP, destination, self.gas_at(owed))
        elif destination in self.region_blocks:
            self.flush()
            b.store(self.gas_at(owed), self.gas_var)
            b.branch(self.region_blocks[destination])
        else:
            self.exit(EXIT_JUMP, destination, self.gas_at(owed))

    def jump(self, target: ir.Value, pc: int) -> None:
        if isinstance(target, ir.Constant) and isinstance(target.constant, int):
            destination = target.constant
            if destination >= self.code_length or destination not in self.jumpdests:
                self.exit(BAD_JUMP, pc, self.gas_at(self.remaining))
            else:
                self.go_to(destination, self.remaining)
            return
        b = self.builder
        far = b.icmp_unsigned(">", target, _word(0xFFFF_FFFF))
        self.side_exit(far, BAD_JUMP, pc, self.remaining)
        destination = b.trunc(target, I64)
        self.flush()
        b.store(self.gas_at(self.remaining), self.gas_var)
        other = self.fn.append_basic_block(f"j_{pc}")
        switch = b.switch(destination, other)
        for start, block in self.region_blocks.items():
            if start in self.jumpdests:
                switch.add_case(_i64(start), block)
        b.position_at_end(other)
        self.leave(EXIT_JUMP, b.load(self.sp_var), b.load(self.gas_var), destination)

    # ------------------------------------------------------------------ regions

    def region(self, region: Region) -> None:
        b = self.builder
        b.position_at_end(self.region_blocks[region.start])
        suffixes = _suffix_profiles(region.instructions)
        self.count_region()
        self.check_entry(suffixes[0], region.start)
        self.start_segment()
        last = len(region.instructions) - 1
        for index, ins in enumerate(region.instructions):
            if ins.op in MEMORY_OPS and index:  # at index 0 the region's entry is the resume point
                self.memory_segment(suffixes[index], ins.pc)
            if ins.op in CALL_OUT and ins.op in self.host_ops:
                self.call_out(ins, suffixes[index + 1], resumes=index < last)
                if index == last:
                    return
                continue
            if not self.instruction(ins):
                return
        assert region.fallthrough is not None  # the last instruction falls through
        self.go_to(region.fallthrough, self.remaining)

    def call_out(self, ins: Instruction, rest: tuple[int, int, int], *, resumes: bool) -> None:
        """Leave with ``RUN_INSTRUCTION`` before a call or create; when the region goes on
        after it, its next pc is a resume point (entered with the call's result pushed)."""
        self.instructions += 1
        before = self.remaining
        self.remaining -= ins.static_gas
        self.exit(RUN_INSTRUCTION, ins.pc, self.gas_at(before))
        if not resumes:
            return
        b = self.builder
        resume = self.fn.append_basic_block(f"e_{ins.next_pc}")
        self.resume_blocks[ins.next_pc] = resume
        b.position_at_end(resume)
        remaining = self.remaining
        self.check_entry(rest, ins.next_pc)
        assert self.remaining == remaining
        self.start_segment()

    def count_region(self) -> None:
        b = self.builder
        counter = self._io(5)
        b.store(b.add(b.load(counter), _i64(1)), counter)

    def check_entry(self, profile: tuple[int, int, int], pc: int) -> None:
        """Check the stack bounds and static gas of the code from ``pc`` to the region's
        end (``profile``: inputs, growth, static gas) against the array's height and
        ``gas``; hand over at ``pc`` if they fail. Sets ``g`` and ``remaining``."""
        b = self.builder
        inputs, growth, static = profile
        sp = b.load(self.sp_var)
        gas = b.load(self.gas_var)
        ok = b.and_(
            b.and_(
                b.icmp_signed(">=", sp, _i64(inputs)),
                b.icmp_signed("<=", sp, _i64(STACK_LIMIT - growth)),
            ),
            b.icmp_signed(">=", gas, _i64(static)),
        )
        body = self.fn.append_basic_block(f"b_{pc}")
        fail = self.fn.append_basic_block(f"h_{pc}")
        b.cbranch(ok, body, fail)
        b.position_at_end(fail)
        self.leave(HAND_OVER, sp, gas, pc)
        b.position_at_end(body)
        low = b.load(self.low_var)
        reach = b.sub(sp, _i64(inputs))
        b.store(b.select(b.icmp_signed("<", reach, low), reach, low), self.low_var)
        self.g = b.sub(gas, _i64(static))
        self.remaining = static

    def memory_segment(self, rest: tuple[int, int, int], pc: int) -> None:
        """Start a segment at a memory instruction: the straight line and the resume point
        (entered after the caller grew memory) both continue in it."""
        b = self.builder
        segment = self.fn.append_basic_block(f"m_{pc}")
        self.flush()
        b.store(self.g, self.g_var)
        b.branch(segment)
        resume = self.fn.append_basic_block(f"e_{pc}")
        self.resume_blocks[pc] = resume
        b.position_at_end(resume)
        remaining = self.remaining
        self.check_entry(rest, pc)
        assert self.remaining == remaining
        b.store(self.g, self.g_var)
        b.branch(segment)
        b.position_at_end(segment)
        self.g = b.load(self.g_var)
        self.start_segment()

    def instruction(self, ins: Instruction) -> bool:
        """Emit one instruction; False when control never falls through it."""
        self.instructions += 1
        before = self.remaining
        self.remaining -= ins.static_gas
        op = ins.op
        b = self.builder
        if 0x5F <= op <= 0x7F:
            self.push(_word(ins.immediate))
        elif 0x80 <= op <= 0x8F:
            depth = op - 0x7F
            self.ensure(depth)
            self.push(self.items[-depth].value)
        elif 0x90 <= op <= 0x9F:
            depth = op - 0x8F
            self.ensure(depth + 1)
            self.items[-1], self.items[-1 - depth] = self.items[-1 - depth], self.items[-1]
        elif op == 0x50:
            self.pop()
        elif ins.name in _EIP8024:
            self.stack_immediate(ins)
        elif op == JUMPDEST:
            pass
        elif op == 0x00:
            self.exit(STOP, ins.pc, self.gas_at(self.remaining))
            return False
        elif op == 0x56:
            self.jump(self.pop(), ins.pc)
            return False
        elif op == 0x57:
            return self.jumpi(ins)
        elif op == 0x58:
            self.push(_word(ins.pc))
        elif op == 0x5A:
            self.push(b.zext(self.gas_at(self.remaining), I256))
        elif op == 0x0A:
            self.exponent(ins, before)
        elif op in MEMORY_OPS:
            self.memory_access(ins, before)
        elif op in HOST_HAND_OVER:
            self.exit(HAND_OVER, ins.pc, self.gas_at(before))
            return False
        elif op == KECCAK256 and self.native_keccak:
            self.keccak256(ins)
        elif op in self.host_ops:
            self.host_call(ins)
        else:
            self.pure(op)
        return True

    def stack_immediate(self, ins: Instruction) -> None:
        """EIP-8024's DUPN, SWAPN and EXCHANGE on the SSA items: ``analysis`` decoded the
        immediate (an excluded one makes the instruction undefined, so not covered) and
        gave it the stack effect of the DUP or SWAP it amounts to."""
        if ins.name == "DUPN":
            self.ensure(ins.pops)
            self.push(self.items[-ins.pops].value)
            return
        if ins.name == "SWAPN":
            n, m = 0, ins.pops - 1
        else:
            pair = PAIR_IMMEDIATES[ins.immediate]
            assert pair is not None
            n, m = pair
        self.ensure(m + 1)
        items = self.items
        items[-1 - n], items[-1 - m] = items[-1 - m], items[-1 - n]

    def host_call(self, ins: Instruction) -> None:
        """Run the instruction's interpreter handler through ``host`` (module docstring),
        then go on with the gas it left, handing over after it when the rest of the
        region's static gas no longer fits (as the Python JIT's handler calls do)."""
        self.host_call_core(ins)
        self.start_segment()

    def host_call_core(self, ins: Instruction) -> None:
        """``host_call`` up to a new segment: the stack array, ``sp`` and ``g`` are set."""
        b = self.builder
        self.flush()
        b.store(b.load(self.sp_var), self._io(0))
        b.store(self.gas_at(self.remaining), self._io(1))
        b.store(b.load(self.memory_length_var), self._io(4))
        failed = b.icmp_signed("!=", b.call(self.host, [_i64(ins.pc)]), _i64(0))
        raised = self.fn.append_basic_block(f"he_{ins.pc}")
        done = self.fn.append_basic_block(f"hd_{ins.pc}")
        b.cbranch(failed, raised, done)
        b.position_at_end(raised)
        b.ret(_i64(HOST_ERROR))
        b.position_at_end(done)
        height = b.load(self._io(0))
        b.store(height, self.sp_var)
        # ``low`` stays the region's: the frame's own stack is synced at the exit.
        b.store(b.load(self._io(4)), self.memory_length_var)
        b.store(b.load(self._io(7)), self.capacity_var)
        b.store(b.inttoptr(b.load(self._io(6)), I8.as_pointer()), self.memory_var)
        gas = b.load(self._io(1))
        self.g = b.sub(gas, _i64(self.remaining))
        if self.remaining:
            short = b.icmp_signed("<", self.g, _i64(0))
            leave = self.fn.append_basic_block(f"hx_{ins.pc}")
            stay = self.fn.append_basic_block(f"hc_{ins.pc}")
            b.cbranch(short, leave, stay)
            b.position_at_end(leave)
            self.leave(HAND_OVER, height, gas, ins.next_pc)
            b.position_at_end(stay)

    def keccak256(self, ins: Instruction) -> None:
        """KECCAK256 in machine code when its input lies in memory and its word gas fits
        in ``g``; through the host call otherwise (memory growth, out of gas)."""
        b = self.builder
        assert self.keccak is not None
        self.ensure(2)
        offset = self.items[-1].value
        size = self.items[-2].value
        length = b.zext(b.load(self.memory_length_var), I256)
        empty = b.icmp_unsigned("==", size, _word(0))
        inside = b.and_(
            b.icmp_unsigned("<=", size, length),
            b.icmp_unsigned("<=", offset, b.sub(length, size)),
        )
        size64 = b.select(empty, _i64(0), b.trunc(size, I64))
        cost = b.mul(b.lshr(b.add(size64, _i64(31)), _i64(5)), _i64(GAS_KECCAK256_WORD))
        g = self.g
        native = b.and_(b.or_(empty, inside), b.icmp_signed("<=", cost, g))
        fast = self.fn.append_basic_block(f"k_{ins.pc}")
        slow = self.fn.append_basic_block(f"kh_{ins.pc}")
        join = self.fn.append_basic_block(f"kj_{ins.pc}")
        items = list(self.items)
        b.cbranch(native, fast, slow)
        b.position_at_end(slow)
        self.host_call_core(ins)
        slow_g = self.g
        slow_end = b.block
        b.branch(join)
        b.position_at_end(fast)
        self.items = list(items)
        start = b.select(empty, _i64(0), b.trunc(offset, I64))
        digest = b.call(self.keccak, [b.gep(b.load(self.memory_var), [start]), size64])
        self.pop()
        self.pop()
        self.push(digest)
        self.flush()
        fast_g = b.sub(g, cost)
        fast_end = b.block
        b.branch(join)
        b.position_at_end(join)
        self.g = b.phi(I64)
        self.g.add_incoming(slow_g, slow_end)
        self.g.add_incoming(fast_g, fast_end)
        self.start_segment()

    def jumpi(self, ins: Instruction) -> bool:
        """A conditional exit; False when the condition is a constant that always jumps."""
        b = self.builder
        target = self.pop()
        condition = self.pop()
        if isinstance(condition, ir.Constant) and isinstance(condition.constant, int):
            if condition.constant:
                self.jump(target, ins.pc)
                return False
            return True
        taken = self.fn.append_basic_block(f"t_{ins.pc}")
        stay = self.fn.append_basic_block(f"f_{ins.pc}")
        b.cbranch(b.icmp_unsigned("!=", condition, _word(0)), taken, stay)
        b.position_at_end(taken)
        self.jump(target, ins.pc)
        b.position_at_end(stay)
        return True

    def exponent(self, ins: Instruction, before: int) -> None:
        b = self.builder
        self.ensure(2)
        base = self.items[-1].value
        exponent = self.items[-2].value
        bits = b.sub(_word(256), b.ctlz(exponent, ir.Constant(I1, 0)))
        size = b.trunc(b.lshr(b.add(bits, _word(7)), _word(3)), I64)
        cost = b.mul(size, _i64(GAS_EXPONENTIATION_PER_BYTE))
        self.side_exit(b.icmp_signed("<", self.g, cost), HAND_OVER, ins.pc, before)
        self.g = b.sub(self.g, cost)
        self.pop()
        self.pop()
        self.push(b.call(self.exp, [base, exponent]))

    def memory_access(self, ins: Instruction, before: int) -> None:
        """MLOAD / MSTORE / MSTORE8 within the current memory (else NEED_MEMORY)."""
        b = self.builder
        size = MEMORY_OPS[ins.op]
        self.ensure(1)
        offset = self.items[-1].value
        fits = self._within(offset, size, b.load(self.memory_length_var))
        inside = b.block
        grow = self.fn.append_basic_block(f"g_{ins.pc}")
        access = self.fn.append_basic_block(f"a_{ins.pc}")
        b.cbranch(fits, access, grow)
        b.position_at_end(grow)
        self.side_exit(
            b.not_(self._within(offset, size, b.load(self.capacity_var))),
            NEED_MEMORY,
            ins.pc,
            before,
        )
        # The interpreter's expansion cost (jit.evm.memory.expansion_cost), in int64: the
        # capacity keeps the word counts far below 2**31.
        old_words = b.lshr(b.load(self.memory_length_var), _i64(5))
        new_words = b.lshr(b.add(b.trunc(offset, I64), _i64(size + 31)), _i64(5))
        cost = b.sub(
            b.add(
                b.mul(b.sub(new_words, old_words), _i64(3)),
                b.lshr(b.mul(new_words, new_words), _i64(9)),
            ),
            b.lshr(b.mul(old_words, old_words), _i64(9)),
        )
        self.side_exit(b.icmp_signed(">", cost, self.g), NEED_MEMORY, ins.pc, before)
        grown_g = b.sub(self.g, cost)
        b.store(b.shl(new_words, _i64(5)), self.memory_length_var)
        grown = b.block
        b.branch(access)
        b.position_at_end(access)
        g = b.phi(I64)
        g.add_incoming(self.g, inside)
        g.add_incoming(grown_g, grown)
        self.g = g
        self.pop()
        address = b.gep(b.load(self.memory_var), [b.trunc(offset, I64)])
        if ins.op == 0x51:
            word = b.load(b.bitcast(address, I256.as_pointer()), align=1)
            self.push(b.bswap(word))
        elif ins.op == 0x52:
            value = self.pop()
            b.store(b.bswap(value), b.bitcast(address, I256.as_pointer()), align=1)
        else:
            value = self.pop()
            b.store(b.trunc(value, I8), address, align=1)

    def _within(self, offset: ir.Value, size: int, limit: ir.Value) -> ir.Value:
        """offset + size <= limit, without overflow (offset is a word, limit an int64)."""
        b = self.builder
        return b.and_(
            b.icmp_signed(">=", limit, _i64(size)),
            b.icmp_unsigned("<=", offset, b.zext(b.sub(limit, _i64(size)), I256)),
        )

    # ------------------------------------------------------------------ pure words

    def pure(self, op: int) -> None:
        b = self.builder
        zero = _word(0)
        one = _word(1)
        a = self.pop()  # the top of the stack
        if op == 0x15:  # ISZERO
            self.push(b.zext(b.icmp_unsigned("==", a, zero), I256))
            return
        if op == 0x19:  # NOT
            self.push(b.not_(a))
            return
        if op == 0x1E:  # CLZ (EIP-7939): 256 for zero
            self.push(b.ctlz(a, ir.Constant(I1, 0)))
            return
        c = self.pop()
        if op in (0x08, 0x09):  # ADDMOD, MULMOD: the sum or product before reduction
            n = self.pop()
            wide = b.add if op == 0x08 else b.mul
            is_zero = b.icmp_unsigned("==", n, zero)
            divisor = b.zext(b.select(is_zero, one, n), I512)
            reduced = b.urem(wide(b.zext(a, I512), b.zext(c, I512)), divisor)
            self.push(b.select(is_zero, zero, b.trunc(reduced, I256)))
            return
        if op == 0x01:
            result = b.add(a, c)
        elif op == 0x02:
            result = b.mul(a, c)
        elif op == 0x03:
            result = b.sub(a, c)
        elif op in (0x04, 0x06):  # DIV, MOD: 0 for a zero divisor
            is_zero = b.icmp_unsigned("==", c, zero)
            divisor = b.select(is_zero, one, c)
            quotient = b.udiv(a, divisor) if op == 0x04 else b.urem(a, divisor)
            result = b.select(is_zero, zero, quotient)
        elif op in (0x05, 0x07):  # SDIV, SMOD: 0 for a zero divisor; -2**255 / -1 wraps
            # On magnitudes, unsigned: LLVM 20's i256 sdiv/srem by a constant power of two
            # (known after constant propagation) hits an APInt assertion in code generation.
            # |-2**255| is 2**255 unsigned, so -2**255 / -1 wraps to -2**255 here too.
            a_negative = b.icmp_signed("<", a, zero)
            c_negative = b.icmp_signed("<", c, zero)
            magnitude_a = b.select(a_negative, b.sub(zero, a), a)
            magnitude_c = b.select(c_negative, b.sub(zero, c), c)
            is_zero = b.icmp_unsigned("==", c, zero)
            divisor = b.select(is_zero, one, magnitude_c)
            if op == 0x05:
                magnitude = b.udiv(magnitude_a, divisor)
                negative = b.xor(a_negative, c_negative)
            else:
                magnitude = b.urem(magnitude_a, divisor)  # the sign of the dividend
                negative = a_negative
            signed = b.select(negative, b.sub(zero, magnitude), magnitude)
            result = b.select(is_zero, zero, signed)
        elif op == 0x0B:  # SIGNEXTEND(byte index a, value c)
            small = b.icmp_unsigned("<", a, _word(31))
            shift = b.select(small, b.sub(_word(248), b.shl(a, _word(3))), zero)
            result = b.ashr(b.shl(c, shift), shift)
        elif op in (0x10, 0x11, 0x12, 0x13, 0x14):
            predicate = {0x10: "<", 0x11: ">", 0x12: "<", 0x13: ">", 0x14: "=="}[op]
            compare = b.icmp_signed if op in (0x12, 0x13) else b.icmp_unsigned
            result = b.zext(compare(predicate, a, c), I256)
        elif op == 0x16:
            result = b.and_(a, c)
        elif op == 0x17:
            result = b.or_(a, c)
        elif op == 0x18:
            result = b.xor(a, c)
        elif op == 0x1A:  # BYTE(index a, value c)
            inside = b.icmp_unsigned("<", a, _word(32))
            shift = b.select(inside, b.sub(_word(248), b.shl(a, _word(3))), zero)
            result = b.select(inside, b.and_(b.lshr(c, shift), _word(0xFF)), zero)
        elif op in (0x1B, 0x1C):  # SHL, SHR(shift a, value c): 0 from 256 on
            inside = b.icmp_unsigned("<", a, _word(256))
            shift = b.select(inside, a, zero)
            moved = b.shl(c, shift) if op == 0x1B else b.lshr(c, shift)
            result = b.select(inside, moved, zero)
        elif op == 0x1D:  # SAR: from 255 on, every bit is the sign
            inside = b.icmp_unsigned("<", a, _word(256))
            result = b.ashr(c, b.select(inside, a, _word(255)))
        else:
            raise AssertionError(f"opcode 0x{op:02x} is not a native template")
        self.push(result)

    # ------------------------------------------------------------------ the whole function

    def build(self) -> NativeModule:
        for region in self.regions:
            self.region(region)
        b = self.builder
        b.position_at_end(self.fn.entry_basic_block)
        unknown = self.fn.append_basic_block("unknown_entry")
        switch = b.switch(self.entry_pc, unknown)
        for start, block in self.region_blocks.items():
            switch.add_case(_i64(start), block)
        for pc, block in self.resume_blocks.items():
            switch.add_case(_i64(pc), block)
        b.position_at_end(unknown)
        b.ret(_i64(HAND_OVER))  # the caller never enters elsewhere; the interpreter would cope
        return NativeModule(
            str(self.module),
            frozenset(self.region_blocks),
            frozenset(self.resume_blocks),
            self.instructions,
        )


def _suffix_profiles(instructions: Sequence[Instruction]) -> list[tuple[int, int, int]]:
    """For each index i: (inputs, max growth, static gas) of ``instructions[i:]``, as
    ``stack_profile`` would give them, in one backward pass."""
    out = [(0, 0, 0)] * (len(instructions) + 1)
    lowest = highest = static = 0
    for index in range(len(instructions) - 1, -1, -1):
        ins = instructions[index]
        delta = ins.pushes - ins.pops
        lowest = min(0, -ins.pops, delta + lowest)
        highest = max(0, delta, delta + highest)
        static += ins.static_gas
        out[index] = (-lowest, highest, static)
    return out


def ir_module(
    regions: Sequence[Region],
    jumpdests: frozenset[int],
    code_length: int,
    host_ops: frozenset[int] = frozenset(),
    native_keccak: bool = False,
) -> NativeModule:
    """The IR of ``regions`` (each made only of covered instructions) as one function;
    the bytes in ``host_ops`` are run through the host call, except KECCAK256 over
    memory that exists when ``native_keccak`` (the fork's handler is the standard one)."""
    writer = _FunctionWriter(regions, jumpdests, code_length, host_ops, native_keccak)
    return writer.build()
