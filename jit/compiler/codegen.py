"""Code generation: one Python function per region (see ``analysis``).

The contract of a generated region function ``r_<pc>(evm)``: it is entered
with ``evm.stack`` and ``evm.gas_left`` exactly as the interpreter would have
them before the instruction at ``pc``; it returns the next region function
(None when the frame is done) with both exact again. Inside a region:

- **Gas.** The region's static gas ``S`` is taken once at entry
  (``g = evm.gas_left - S``). After instruction k the interpreter's gas is
  ``g + R_k``, R_k being the static gas of the instructions after k, a
  compile-time constant; every exit writes that back. A dynamic charge ``c``
  (memory growth, EXP bytes) is taken from ``g`` only if ``c <= g``.
- **Stack.** Values live in local variables; ``evm.stack`` is written back
  only at exits and before calling an interpreter handler. Constants from
  PUSH are folded.
- **Bounds.** Stack underflow and overflow are checked once, at entry, for
  the whole region.
- **Hand-over.** Whenever the up-front checks fail, or a dynamic charge does
  not fit in ``g``, the function writes back the stack and gas as they were
  before the instruction concerned and hands the frame to the interpreter at
  that instruction (``_resume``), which then decides exactly what happens
  (an out-of-gas halt, an underflow, or, when only a later instruction was
  unaffordable, normal progress). So compiled code never has to reproduce
  the interpreter's failure order: it only runs where nothing fails.
- **Everything else** (storage, calls, creates, logs, copies, environment
  reads, KECCAK256, RETURN, REVERT...) calls the fork's own interpreter
  handler on the frame with the exact stack and gas, so both engines share
  one implementation. A region calls ``h_XX`` only for bytes the fork's table
  maps to that handler; an inline template is used only when the fork's
  handler is the one the template was written from.

Jumps to PUSH-known destinations return the target region directly; other
jumps look the destination up in ``JUMP_TABLE`` (every valid JUMPDEST).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from jit.compiler import runtime
from jit.compiler.analysis import JUMP, JUMPDEST, JUMPI, STOP, Instruction, Region, regions
from jit.evm.analysis import valid_jump_destinations
from jit.evm.frame import STACK_LIMIT
from jit.evm.gas import GAS_EXPONENTIATION_PER_BYTE
from jit.evm.instructions import (
    arithmetic,
    bitwise,
    block,
    control_flow,
    environment,
    memory_ops,
    stack,
)
from jit.forks import ForkRules

# Pure instructions: handler -> expression template over the popped operands
# (a = the top of the stack, b = the next, c = the third).
_PURE: dict[Callable[..., None], str] = {
    arithmetic.add: "({a} + {b}) & M",
    arithmetic.mul: "({a} * {b}) & M",
    arithmetic.sub: "({a} - {b}) & M",
    arithmetic.div: "{a} // {b} if {b} else 0",
    arithmetic.sdiv: "_sdiv({a}, {b})",
    arithmetic.mod: "{a} % {b} if {b} else 0",
    arithmetic.smod: "_smod({a}, {b})",
    arithmetic.addmod: "({a} + {b}) % {c} if {c} else 0",
    arithmetic.mulmod: "({a} * {b}) % {c} if {c} else 0",
    arithmetic.signextend: "_signextend({a}, {b})",
    bitwise.lt: "1 if {a} < {b} else 0",
    bitwise.gt: "1 if {a} > {b} else 0",
    # Flipping the sign bit maps two's-complement order onto unsigned order.
    bitwise.slt: "1 if ({a} ^ SIGN) < ({b} ^ SIGN) else 0",
    bitwise.sgt: "1 if ({a} ^ SIGN) > ({b} ^ SIGN) else 0",
    bitwise.eq: "1 if {a} == {b} else 0",
    bitwise.iszero: "0 if {a} else 1",
    bitwise.and_: "{a} & {b}",
    bitwise.or_: "{a} | {b}",
    bitwise.xor: "{a} ^ {b}",
    bitwise.not_: "M ^ {a}",
    bitwise.byte: "({b} >> (248 - ({a} << 3))) & 0xFF if {a} < 32 else 0",
    bitwise.shl: "({b} << {a}) & M if {a} < 256 else 0",
    bitwise.shr: "{b} >> {a} if {a} < 256 else 0",
    bitwise.sar: "_sar({a}, {b})",
    bitwise.clz: "256 - ({a}).bit_length()",
    environment.calldataload: "_cdl(evm.msg.data, {a})",
}

# Instructions that push one value read from the frame (no operands, no dynamic gas).
_READS: dict[Callable[..., None], str] = {
    environment.address: "int.from_bytes(evm.msg.current_target, 'big')",
    environment.caller: "int.from_bytes(evm.msg.caller, 'big')",
    environment.origin: "int.from_bytes(evm.tx.origin, 'big')",
    environment.callvalue: "evm.msg.value",
    environment.calldatasize: "len(evm.msg.data)",
    block.slotnum: "evm.block.slot_number",
    memory_ops.msize: "len(m)",
}

# Constant folding evaluates a template over literals with the runtime's names.
_FOLD_NAMESPACE = runtime.base_namespace()


class CompileError(Exception):
    """The compiler cannot translate this code; the engine interprets it."""


@dataclass(frozen=True, slots=True)
class GeneratedModule:
    source: str
    region_starts: tuple[int, ...]
    jumpdests: frozenset[int]


class _RegionWriter:
    """Emits one region function while tracking the symbolic stack.

    The logical stack is ``evm.stack[:len - consumed] + items``: ``consumed``
    entries at the top of the real list are logically replaced by ``items``
    (local names or integer literals). ``offset`` is the real list's length
    minus its length at region entry, known statically.
    """

    def __init__(self, module: _ModuleWriter, region: Region) -> None:
        self.module = module
        self.region = region
        self.lines: list[str] = []
        self.items: list[str] = []
        self.consumed = 0
        self.offset = 0
        self.need = 0  # entry-relative depth the region reads
        self.growth = 0  # entry-relative height the region reaches
        self.temp = 0
        # Temps loaded from the real list -> their depth, until the next flush:
        # a value written back to where it came from needs no write.
        self.loaded: dict[str, int] = {}
        self.uses_memory = False
        self.memory_known = 0  # memory covers at least this many bytes here (it never shrinks)
        self.total_gas = sum(i.static_gas for i in region.instructions)
        self.remaining = self.total_gas  # R_k once instruction k is charged
        self.before = self.total_gas  # R_{k-1}: gas owed from instruction k on

    # ------------------------------------------------------------ stack model

    def new_temp(self) -> str:
        self.temp += 1
        return f"t{self.temp}"

    def emit(self, line: str, indent: int = 1) -> None:
        self.lines.append("    " * indent + line)

    def _touch_real(self, depth: int) -> None:
        self.need = max(self.need, depth - self.offset)

    def _load_real(self, depth: int) -> str:
        self._touch_real(depth)
        name = self.new_temp()
        self.emit(f"{name} = s[-{depth}]")
        self.loaded[name] = depth
        return name

    def pop(self) -> str:
        if self.items:
            return self.items.pop()
        self.consumed += 1
        return self._load_real(self.consumed)

    def drop(self) -> None:
        if self.items:
            self.items.pop()
        else:
            self.consumed += 1
            self._touch_real(self.consumed)

    def push(self, expr: str) -> None:
        self.items.append(expr)
        height = self.offset + len(self.items) - self.consumed
        self.growth = max(self.growth, height)

    def dup(self, depth: int) -> None:
        if depth <= len(self.items):
            self.push(self.items[-depth])
        else:
            self.push(self._load_real(self.consumed + depth - len(self.items)))

    def swap(self, depth: int) -> None:
        while len(self.items) < depth + 1:
            self.consumed += 1
            self.items.insert(0, self._load_real(self.consumed))
        items = self.items
        items[-1], items[-1 - depth] = items[-1 - depth], items[-1]

    def exchange(self, n: int, m: int) -> None:
        """EXCHANGE: swap the (n + 1)-th and (m + 1)-th items (n < m)."""
        while len(self.items) < m + 1:
            self.consumed += 1
            self.items.insert(0, self._load_real(self.consumed))
        items = self.items
        items[-1 - n], items[-1 - m] = items[-1 - m], items[-1 - n]

    def snapshot(self) -> tuple[tuple[str, ...], int]:
        return tuple(self.items), self.consumed

    def unmoved(
        self, items: tuple[str, ...] | list[str], consumed: int
    ) -> tuple[tuple[str, ...] | list[str], int]:
        """Drop the bottom items that are still where they were loaded from: a
        value written back to its own slot needs no write."""
        start = 0
        while start < len(items) and consumed and self.loaded.get(items[start]) == consumed:
            start += 1
            consumed -= 1
        return items[start:], consumed

    def write_back(self, items: tuple[str, ...] | list[str], consumed: int) -> list[str]:
        items, consumed = self.unmoved(items, consumed)
        if consumed:
            if items:
                return [f"s[-{consumed}:] = ({', '.join(items)},)"]
            return [f"del s[-{consumed}:]"]
        if len(items) == 1:
            return [f"s.append({items[0]})"]
        if items:
            return [f"s.extend(({', '.join(items)},))"]
        return []

    def flush(self) -> None:
        """Write the logical stack back to ``evm.stack`` (before a handler call)."""
        for line in self.write_back(self.items, self.consumed):
            self.emit(line)
        self.offset += len(self.items) - self.consumed
        self.items = []
        self.consumed = 0
        self.loaded.clear()

    def gas_expr(self, owed: int) -> str:
        return f"g + {owed}" if owed else "g"

    def exit_lines(self, items: tuple[str, ...] | list[str], consumed: int, owed: int) -> list[str]:
        return [*self.write_back(items, consumed), f"evm.gas_left = {self.gas_expr(owed)}"]

    def hand_over(self, snapshot: tuple[tuple[str, ...], int], pc: int, indent: int) -> None:
        """Hand the frame to the interpreter before the instruction at ``pc``."""
        items, consumed = self.unmoved(*snapshot)
        values = f"({', '.join(items)},)" if items else "()"
        gas = self.gas_expr(self.before)
        self.emit(f"return _hand(evm, {pc}, {gas}, {consumed}, {values})", indent)

    # ------------------------------------------------------------ instructions

    def fold_or_assign(self, expr: str, operands: tuple[str, ...]) -> str:
        if "evm." not in expr and all(op.isdigit() for op in operands):
            value = eval(expr, dict(_FOLD_NAMESPACE))  # our own template over literals
            return str(value)
        name = self.new_temp()
        self.emit(f"{name} = {expr}")
        return name

    def charge_dynamic(self, cost: str, snapshot: tuple[tuple[str, ...], int], pc: int) -> None:
        self.emit(f"c = {cost}")
        self.emit("if c > g:")
        self.hand_over(snapshot, pc, 2)
        self.emit("g -= c")

    def memory_access(
        self, offset: str, size: int, snapshot: tuple[tuple[str, ...], int], pc: int
    ) -> str:
        """Make memory cover [offset, offset + size); returns the end expression."""
        self.uses_memory = True
        if offset.isdigit():
            end = str(int(offset) + size)
            if int(end) <= self.memory_known:
                return end  # an earlier access in this region already covered it
            self.memory_known = int(end)
        else:
            end = self.new_temp()
            self.emit(f"{end} = {offset} + {size}")
        self.emit(f"if {end} > len(m):")
        self.emit(f"h = _mem(m, {end}, g)", 2)
        self.emit("if h < 0:", 2)
        self.hand_over(snapshot, pc, 3)
        self.emit("g = h", 2)
        return end

    def instruction(self, ins: Instruction) -> bool:
        """Emit one instruction; False when the region ends with it."""
        self.before = self.remaining
        self.remaining -= ins.static_gas
        rules = self.module.rules
        handler = rules.ops[ins.op] if ins.defined else None
        op = ins.op
        if not ins.defined:
            return self.call_handler(ins)
        if 0x5F <= op <= 0x7F:  # PUSH0..PUSH32
            self.push(str(ins.immediate))
            return True
        if 0x80 <= op <= 0x8F:
            self.dup(op - 0x7F)
            return True
        if 0x90 <= op <= 0x9F:
            self.swap(op - 0x8F)
            return True
        if handler is stack.pop:
            self.drop()
            return True
        if handler is stack.dupn:  # EIP-8024 (decode checked the immediate)
            self.dup(ins.pops)
            return True
        if handler is stack.swapn:
            self.swap(ins.pops - 1)
            return True
        if handler is stack.exchange:
            pair = stack.PAIR_IMMEDIATES[ins.immediate]
            assert pair is not None
            self.exchange(*pair)
            return True
        if op == JUMPDEST and handler is control_flow.jumpdest:
            return True
        template = _PURE.get(handler)  # type: ignore[arg-type]
        if template is not None:
            operands = tuple(self.pop() for _ in range(ins.pops))
            names = dict(zip("abc", operands, strict=False))
            self.push(self.fold_or_assign(template.format(**names), operands))
            return True
        read = _READS.get(handler)  # type: ignore[arg-type]
        if read is not None:
            if handler is memory_ops.msize:
                self.uses_memory = True
            name = self.new_temp()
            self.emit(f"{name} = {read}")
            self.push(name)
            return True
        if handler is environment.codesize:
            self.push(str(len(self.module.code)))
            return True
        if handler is control_flow.pc:
            self.push(str(ins.pc))
            return True
        if handler is control_flow.gas:
            name = self.new_temp()
            self.emit(f"{name} = {self.gas_expr(self.remaining)}")
            self.push(name)
            return True
        if handler is arithmetic.exp:
            return self.exp(ins)
        if handler is memory_ops.mload:
            snap = self.snapshot()
            offset = self.pop()
            end = self.memory_access(offset, 32, snap, ins.pc)
            name = self.new_temp()
            self.emit(f"{name} = int.from_bytes(m[{offset}:{end}], 'big')")
            self.push(name)
            return True
        if handler is memory_ops.mstore:
            snap = self.snapshot()
            offset = self.pop()
            value = self.pop()
            end = self.memory_access(offset, 32, snap, ins.pc)
            self.emit(f"m[{offset}:{end}] = ({value}).to_bytes(32, 'big')")
            return True
        if handler is memory_ops.mstore8:
            snap = self.snapshot()
            offset = self.pop()
            value = self.pop()
            self.memory_access(offset, 1, snap, ins.pc)
            self.emit(f"m[{offset}] = {value} & 0xFF")
            return True
        if op == STOP and handler is control_flow.stop:
            self.emit(f"evm.gas_left = {self.gas_expr(self.remaining)}")
            self.emit("return None")
            return False
        if op == JUMP and handler is control_flow.jump:
            target = self.pop()
            self.jump_to(target, 1)
            return False
        if op == JUMPI and handler is control_flow.jumpi:
            target = self.pop()
            condition = self.pop()
            if condition.isdigit():
                if int(condition):
                    self.jump_to(target, 1)
                    return False
                return True
            self.emit(f"if {condition}:")
            self.jump_to(target, 2)
            return True
        return self.call_handler(ins)

    def jump_to(self, target: str, indent: int) -> None:
        items, consumed = self.snapshot()
        if target.isdigit():
            destination = int(target)
            if destination not in self.module.jumpdests:
                self.emit("raise _BadJump", indent)
                return
            for line in self.exit_lines(items, consumed, self.remaining):
                self.emit(line, indent)
            self.emit(f"return r_{destination}", indent)
            return
        self.emit(f"f = JUMP_TABLE.get({target})", indent)
        self.emit("if f is None:", indent)
        self.emit("raise _BadJump", indent + 1)
        for line in self.exit_lines(items, consumed, self.remaining):
            self.emit(line, indent)
        self.emit("return f", indent)

    def exp(self, ins: Instruction) -> bool:
        snap = self.snapshot()
        base = self.pop()
        exponent = self.pop()
        if exponent.isdigit():
            cost = GAS_EXPONENTIATION_PER_BYTE * ((int(exponent).bit_length() + 7) >> 3)
            if cost:
                self.emit(f"if g < {cost}:")
                self.hand_over(snap, ins.pc, 2)
                self.emit(f"g -= {cost}")
        else:
            self.charge_dynamic(
                f"{GAS_EXPONENTIATION_PER_BYTE} * (({exponent}).bit_length() + 7 >> 3)",
                snap,
                ins.pc,
            )
        self.push(self.fold_or_assign(f"pow({base}, {exponent}, MOD)", (base, exponent)))
        return True

    def call_handler(self, ins: Instruction) -> bool:
        """Run the fork's interpreter handler on the frame, stack and gas exact."""
        # The handler pops its operands itself: they must be in the real list.
        # Bounds are the region's entry check, so account for them statically.
        height = self.offset + len(self.items) - self.consumed
        self.need = max(self.need, ins.pops - height)
        self.flush()
        name = self.module.handler_name(ins.op)
        self.emit(f"evm.gas_left = {self.gas_expr(self.remaining)}")
        self.emit(f"evm.pc = {ins.next_pc}")
        self.emit(f"{name}(evm)")
        self.offset += ins.pushes - ins.pops
        self.growth = max(self.growth, self.offset)
        if ins.ends_frame_path:
            self.emit("return None")
            return False
        self.emit(f"g = evm.gas_left - {self.remaining}" if self.remaining else "g = evm.gas_left")
        if self.remaining:
            # The handler's dynamic gas left too little for the rest of the region.
            self.emit("if g < 0:")
            self.emit(f"return _resume(evm, {ins.next_pc})", 2)
        return True

    def finish_fallthrough(self) -> None:
        assert self.region.fallthrough is not None
        destination = self.region.fallthrough
        for line in self.exit_lines(self.items, self.consumed, self.remaining):
            self.emit(line)
        if destination in self.module.jumpdests:
            self.emit(f"return r_{destination}")
        else:
            self.emit("return None")  # past the end of the code: STOP

    def function(self) -> list[str]:
        region = self.region
        for ins in region.instructions:
            if not self.instruction(ins):
                break
        else:
            self.finish_fallthrough()
        head = [
            f"def r_{region.start}(evm):",
            "    s = evm.stack",
            f"    g = evm.gas_left - {self.total_gas}",
        ]
        checks = ["g < 0"]
        if self.need or self.growth > 0:
            head.append("    n = len(s)")
        if self.need:
            checks.append(f"n < {self.need}")
        if self.growth > 0:
            checks.append(f"n > {STACK_LIMIT - self.growth}")
        head.append(f"    if {' or '.join(checks)}:")
        head.append(f"        return _resume(evm, {region.start})")
        if self.uses_memory:
            head.append("    m = evm.memory")
        return head + _without_dead_loads(self.lines)


_TEMP = re.compile(r"\bt\d+\b")
_LOAD = re.compile(r"^\s*(t\d+) = s\[-\d+\]$")


def _without_dead_loads(lines: list[str]) -> list[str]:
    """Drop loads from the real stack whose value is never used."""
    uses = Counter(_TEMP.findall("\n".join(lines)))
    kept = []
    for line in lines:
        match = _LOAD.match(line)
        if match is None or uses[match.group(1)] > 1:
            kept.append(line)
    return kept


class _ModuleWriter:
    def __init__(self, code: bytes, rules: ForkRules) -> None:
        self.code = code
        self.rules = rules
        self.jumpdests = valid_jump_destinations(code)

    def handler_name(self, op: int) -> str:
        return f"h_{op:02x}"  # every byte's handler is in the namespace (handler_names)


class Translation:
    """A code's analysis for one fork, from which region functions are
    generated one at a time (lazily) or all at once (``generate``)."""

    def __init__(self, code: bytes, rules: ForkRules) -> None:
        if not code:
            raise CompileError("empty code has nothing to compile")
        self.code = code
        self.rules = rules
        self.regions = regions(code, rules.opcode_table)
        self._by_start = {region.start: region for region in self.regions}
        self._writer = _ModuleWriter(code, rules)
        self.jumpdests = self._writer.jumpdests

    def region_source(self, start: int) -> str:
        return "\n".join(_RegionWriter(self._writer, self._by_start[start]).function()) + "\n"

    def header(self) -> str:
        return (
            f"# {len(self.code)} bytes of EVM code, fork {self.rules.name}, "
            f"{len(self.regions)} regions\n"
        )


def handler_names(rules: ForkRules) -> dict[str, Callable[..., None]]:
    """``h_XX`` -> the fork's handler for byte XX, for every byte."""
    return {f"h_{op:02x}": handler for op, handler in enumerate(rules.ops)}


def generate(code: bytes, rules: ForkRules) -> GeneratedModule:
    """The whole Python source of ``code`` compiled for ``rules``' fork."""
    translation = Translation(code, rules)
    parts = [translation.header()]
    for region in translation.regions:
        parts.append("\n")
        parts.append(translation.region_source(region.start))
    return GeneratedModule(
        "".join(parts), tuple(r.start for r in translation.regions), translation.jumpdests
    )
