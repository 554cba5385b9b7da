"""A tiny EVM assembler for tests: ``Asm().push(1).push(2).op("ADD").build()``.

Opcodes come from the fork's opcode table, so tests never hand-write hex.
Labels: ``.label("loop")`` marks a JUMPDEST; ``.push_label("loop")`` pushes its
offset (as PUSH2), resolved at ``build()``.
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from jit.evm.opcodes import AMSTERDAM, CANCUN, OSAKA

_BY_NAME = {info.name: byte for table in (CANCUN, OSAKA, AMSTERDAM) for byte, info in table.items()}


def push(value: int, size: int = 0) -> bytes:
    """PUSHn of ``value``: the shortest PUSH that holds it (PUSH1 for 0), or PUSH``size``."""
    size = size or max(1, (value.bit_length() + 7) // 8)
    return bytes([0x5F + size]) + value.to_bytes(size, "big")


class Asm:
    def __init__(self) -> None:
        self._parts: list[bytes | tuple[str, str]] = []

    def op(self, *names: str) -> Asm:
        for name in names:
            self._parts.append(bytes((_BY_NAME[name.upper()],)))
        return self

    def push(self, value: int | bytes, size: int | None = None) -> Asm:
        raw = (
            value
            if isinstance(value, bytes)
            else value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
        )
        if size is not None:
            raw = raw.rjust(size, b"\x00")
        if not 1 <= len(raw) <= 32:
            raise ValueError("push takes 1 to 32 bytes")
        self._parts.append(bytes((0x5F + len(raw),)) + raw)
        return self

    def raw(self, data: bytes) -> Asm:
        self._parts.append(data)
        return self

    def label(self, name: str) -> Asm:
        self._parts.append(("label", name))
        return self.op("JUMPDEST")

    def push_label(self, name: str) -> Asm:
        self._parts.append(("ref", name))
        return self

    # Common idioms ------------------------------------------------------

    def mstore(self, offset: int, value: int) -> Asm:
        return self.push(value).push(offset).op("MSTORE")

    def sstore(self, slot: int, value: int) -> Asm:
        return self.push(value).push(slot).op("SSTORE")

    def store_top(self, slot: int) -> Asm:
        """SSTORE the top of the stack into ``slot``."""
        return self.push(slot).op("SSTORE")

    def ret(self, offset: int, size: int) -> Asm:
        return self.push(size).push(offset).op("RETURN")

    def revert(self, offset: int, size: int) -> Asm:
        return self.push(size).push(offset).op("REVERT")

    def call(
        self,
        gas: int,
        to: bytes,
        value: int = 0,
        in_off: int = 0,
        in_size: int = 0,
        out_off: int = 0,
        out_size: int = 0,
        kind: str = "CALL",
    ) -> Asm:
        self.push(out_size).push(out_off).push(in_size).push(in_off)
        if kind in ("CALL", "CALLCODE"):
            self.push(value)
        return self.push(int.from_bytes(to, "big")).push(gas).op(kind)

    def build(self) -> bytes:
        offsets: dict[str, int] = {}
        position = 0
        for part in self._parts:
            if isinstance(part, bytes):
                position += len(part)
            elif part[0] == "label":
                offsets[part[1]] = position
            else:
                position += 3
        out = bytearray()
        for part in self._parts:
            if isinstance(part, bytes):
                out += part
            elif part[0] == "ref":
                out += b"\x61" + offsets[part[1]].to_bytes(2, "big")
        return bytes(out)


def initcode_for(runtime: bytes) -> bytes:
    """Creation code that returns ``runtime`` (CODECOPY from its own tail)."""
    prefix_length = 15
    code = (
        Asm()
        .push(len(runtime), 2)
        .push(prefix_length, 2)
        .push(0)
        .op("CODECOPY")
        .push(len(runtime), 2)
        .push(0)
        .op("RETURN")
        .build()
    )
    assert len(code) == prefix_length
    return code + runtime


def create2_factory(salt: int, *, store_address: bool) -> bytes:
    """Runtime that CREATE2s its calldata as init code with ``salt``; the new
    address is stored at slot 0 when ``store_address``, else dropped."""
    asm = (
        Asm()
        .op("CALLDATASIZE")
        .push(0)
        .push(0)
        .op("CALLDATACOPY")
        .push(salt)
        .op("CALLDATASIZE")
        .push(0)
        .push(0)
        .op("CREATE2")
    )
    asm = asm.push(0).op("SSTORE") if store_address else asm.op("POP")
    return asm.op("STOP").build()


def stack_edge_programs(
    max_depth: int, tail_ops: Sequence[int], pushers: Sequence[int]
) -> st.SearchStrategy[bytes]:
    """Programs at the stack's edges, for the compiled tiers' differential tests: either
    up to ``max_depth`` pushes and one of ``tail_ops`` (a short stack under a deep
    DUP/SWAP or an operand-taking op), or a loop that leaves ``counter + 1`` items and
    then a region that pushes the stack to 1,023..1,026 items with ``pushers`` (each
    pushing one item) and pops back down before it stops, so only an exact check sees it."""

    @st.composite
    def programs(draw: st.DrawFn) -> bytes:
        if draw(st.booleans()):
            depth = draw(st.integers(0, max_depth))
            code = b"".join(push(i) for i in range(depth))
            return code + bytes([draw(st.sampled_from(list(tail_ops)))])
        counter = draw(st.integers(1000, 1023))
        peak = draw(st.sampled_from([1023, 1024, 1025, 1026]))
        pushes = max(peak - (counter + 1), 0)
        pusher = bytes(
            draw(st.lists(st.sampled_from(list(pushers)), min_size=pushes, max_size=pushes))
        )
        loop = b"\x5b\x80\x60\x01\x90\x03\x80" + push(3) + b"\x57"
        return push(counter) + loop + pusher + b"\x50" * pushes

    return programs()
