"""Arithmetic, comparison and bitwise instructions, against Python big-int math."""

from __future__ import annotations

import pytest

from tests.helpers.asm import Asm
from tests.helpers.evm import run

M = (1 << 256) - 1
NEG1 = M
MIN = 1 << 255


def result_of(op: str, *operands: int, fork: str = "osaka") -> int:
    """Push operands (first operand ends on top), run ``op``, return the stored result."""
    asm = Asm()
    for value in reversed(operands):
        asm.push(value)
    code = asm.op(op).store_top(0).op("STOP").build()
    outcome = run(code, fork=fork)
    assert outcome.outcome.success, outcome.outcome.error
    return outcome.storage().get(0, 0)


@pytest.mark.parametrize(
    ("op", "operands", "expected"),
    [
        ("ADD", (M, 1), 0),
        ("ADD", (5, 7), 12),
        ("MUL", (M, 2), M - 1),
        ("SUB", (1, 2), M),
        ("DIV", (7, 2), 3),
        ("DIV", (7, 0), 0),
        ("SDIV", (NEG1, 1), NEG1),
        ("SDIV", (MIN, NEG1), MIN),  # overflow wraps
        ("SDIV", ((-7) & M, 2), (-3) & M),  # truncates toward zero
        ("SDIV", (5, 0), 0),
        ("MOD", (7, 3), 1),
        ("MOD", (7, 0), 0),
        ("SMOD", ((-7) & M, 3), (-1) & M),  # sign of the dividend
        ("SMOD", (7, (-3) & M), 1),
        ("SMOD", (7, 0), 0),
        ("ADDMOD", (M, 2, 3), (M + 2) % 3),
        ("ADDMOD", (1, 2, 0), 0),
        ("MULMOD", (M, M, 7), (M * M) % 7),
        ("EXP", (2, 255), 1 << 255),
        ("EXP", (3, 0), 1),
        ("EXP", (2, 256), 0),
        ("SIGNEXTEND", (0, 0xFF), M),
        ("SIGNEXTEND", (0, 0x7F), 0x7F),
        ("SIGNEXTEND", (1, 0xFF80), M - 0x7F),
        ("SIGNEXTEND", (31, 0xAB), 0xAB),
        ("SIGNEXTEND", (200, 0xFF), 0xFF),
        ("LT", (1, 2), 1),
        ("GT", (1, 2), 0),
        ("SLT", (NEG1, 0), 1),
        ("SGT", (NEG1, 0), 0),
        ("EQ", (5, 5), 1),
        ("ISZERO", (0,), 1),
        ("AND", (0xF0, 0x3C), 0x30),
        ("OR", (0xF0, 0x0F), 0xFF),
        ("XOR", (0xFF, 0x0F), 0xF0),
        ("NOT", (0,), M),
        ("BYTE", (31, 0x1234), 0x34),
        ("BYTE", (0, 1 << 248), 1),
        ("BYTE", (32, M), 0),
        ("SHL", (4, 1), 16),
        ("SHL", (256, 1), 0),
        ("SHL", (1, M), M - 1),
        ("SHR", (4, 0x100), 0x10),
        ("SHR", (256, M), 0),
        ("SAR", (4, MIN), (M << 251) & M),
        ("SAR", (300, MIN), M),
        ("SAR", (300, 5), 0),
        ("CLZ", (0,), 256),
        ("CLZ", (1,), 255),
        ("CLZ", (M,), 0),
        ("CLZ", (1 << 200,), 55),
    ],
)
def test_operation(op: str, operands: tuple[int, ...], expected: int) -> None:
    assert result_of(op, *operands) == expected


def test_exp_charges_per_exponent_byte() -> None:
    def gas_for(exponent: int) -> int:
        code = Asm().push(exponent).push(3).op("EXP", "POP", "STOP").build()
        return run(code).outcome.gas_used

    assert gas_for(0x1_0000) - gas_for(0x100) == 50  # 3 bytes vs 2 bytes, same push width aside
    assert gas_for(0xFF) - gas_for(0) == 50


def test_clz_is_undefined_before_osaka() -> None:
    code = Asm().push(1).op("CLZ").store_top(0).build()
    outcome = run(code, fork="prague").outcome
    assert not outcome.success and outcome.error == "InvalidOpcode"
    assert run(code, fork="osaka").outcome.success
