"""0x05 MODEXP: EIP-198 semantics, EIP-2565 and EIP-7883 gas, EIP-7823 bounds, hostile lengths."""

from __future__ import annotations

import time

import pytest

from jit.evm.precompiles.base import PrecompileFailure
from jit.evm.precompiles.modexp import gas_eip2565, gas_eip7883, modexp, modexp_osaka


def encode(base: bytes, exp: bytes, mod: bytes) -> bytes:
    lengths = b"".join(len(x).to_bytes(32, "big") for x in (base, exp, mod))
    return lengths + base + exp + mod


def header(base_len: int, exp_len: int, mod_len: int) -> bytes:
    return b"".join(x.to_bytes(32, "big") for x in (base_len, exp_len, mod_len))


@pytest.mark.parametrize("fn", [modexp, modexp_osaka])
def test_small_values(fn: object) -> None:
    assert callable(fn)
    out, _ = fn(encode(b"\x03", b"\x05", b"\x07"), 10**6)
    assert out == bytes([pow(3, 5, 7)])
    out, _ = fn(encode(b"\x03", b"", b"\x00\x07"), 10**6)  # x^0 = 1, output has the modulus length
    assert out == b"\x00\x01"
    out, _ = fn(encode(b"\x03", b"\x05", b"\x00\x00"), 10**6)  # modulus 0 -> zeros
    assert out == b"\x00\x00"
    out, _ = fn(encode(b"", b"", b"\x01"), 10**6)  # 0^0 mod 1 = 0
    assert out == b"\x00"
    out, _ = fn(encode(b"", b"", b""), 10**6)
    assert out == b""


@pytest.mark.parametrize("fn", [modexp, modexp_osaka])
def test_short_input_is_zero_padded(fn: object) -> None:
    assert callable(fn)
    # base_len 1, exp_len 1, mod_len 2 but only the base is present: exp = 0, mod = 0.
    out, _ = fn(header(1, 1, 2) + b"\x05", 10**6)
    assert out == b"\x00\x00"
    # The modulus is cut short: its missing low byte is zero (0x07 -> 0x0700).
    out, _ = fn(header(1, 1, 2) + b"\x03\x05\x07", 10**6)
    assert out == pow(3, 5, 0x0700).to_bytes(2, "big")
    out, _ = fn(b"", 10**6)
    assert out == b""


def test_gas_eip2565() -> None:
    assert gas_eip2565(0, 0, 0, 0) == 200
    assert gas_eip2565(32, 32, 32, 2**255) == max(200, 16 * 255 // 3)
    # Exponent longer than 32 bytes: 8 per extra byte plus the head's bit length - 1.
    assert gas_eip2565(64, 64, 64, 1) == 64 * (8 * 32 + 0) // 3
    assert gas_eip2565(64, 33, 64, 0) == max(200, 64 * 8 // 3)


def test_gas_eip7883() -> None:
    assert gas_eip7883(0, 0, 0, 0) == 500
    assert gas_eip7883(32, 32, 32, 2**255) == 16 * 255  # small operands: complexity 16
    assert gas_eip7883(33, 1, 1, 3) == 500  # 2 * 5^2 * 1 = 50, below the floor
    assert gas_eip7883(64, 64, 64, 1) == 2 * 64 * 16 * 32
    assert gas_eip7883(1024, 1024, 1024, 2**256 - 1) == 2 * 128**2 * (16 * 992 + 255)


def test_exponent_head_is_first_32_bytes() -> None:
    exp = b"\x80" + b"\x00" * 39  # 40 bytes, top bit set
    data = encode(b"\x02", exp, b"\x0b")
    head = int.from_bytes(exp[:32], "big")
    _, used = modexp(data, 10**6)
    assert used == gas_eip2565(1, 40, 1, head) == max(200, (8 * 8 + 255) // 3)
    _, used = modexp_osaka(data, 10**6)
    assert used == gas_eip7883(1, 40, 1, head) == 16 * (16 * 8 + 255)


@pytest.mark.parametrize("fn", [modexp, modexp_osaka])
@pytest.mark.parametrize(
    "lengths",
    [(2**255, 1, 1), (1, 2**255, 1), (1, 1, 2**255), (2**256 - 1,) * 3, (2**32, 0, 2**32)],
)
def test_hostile_lengths_fail_fast(fn: object, lengths: tuple[int, int, int]) -> None:
    assert callable(fn)
    data = header(*lengths) + b"\xff" * 64
    start = time.perf_counter()
    with pytest.raises(PrecompileFailure):
        fn(data, 30_000_000)
    assert time.perf_counter() - start < 0.05


def test_huge_exponent_with_empty_base_and_modulus() -> None:
    # EIP-198/2565: complexity 0, so the minimum gas buys an empty result without reading E.
    data = header(0, 2**64, 0)
    start = time.perf_counter()
    assert modexp(data, 200) == (b"", 200)
    assert time.perf_counter() - start < 0.01
    with pytest.raises(PrecompileFailure):  # EIP-7823: exponent longer than 1024 bytes
        modexp_osaka(data, 10**9)


def test_eip7823_bounds() -> None:
    ok = encode(b"\x02" * 1024, b"\x03", b"\x05" * 1024)
    modexp_osaka(ok, 10**9)
    for lengths in [(1025, 1, 1), (1, 1025, 1), (1, 1, 1025)]:
        data = header(*lengths) + b"\x01" * 2000
        with pytest.raises(PrecompileFailure):
            modexp_osaka(data, 10**12)
        # Cancun has no bound: the same input runs if the gas is there.
        modexp(data, 10**12)


def test_out_of_gas_is_checked_before_work() -> None:
    data = encode(b"\x02" * 512, b"\xff" * 512, b"\x07" * 512)
    cost = gas_eip2565(512, 512, 512, 2**256 - 1)
    start = time.perf_counter()
    with pytest.raises(PrecompileFailure):
        modexp(data, cost - 1)
    assert time.perf_counter() - start < 0.01
    _, used = modexp(data, cost)
    assert used == cost


def test_matches_python_pow_even_modulus() -> None:
    base, exp, mod = 0x1234567890ABCDEF, 0xFFFFFFFFFFFF, 0x10000000000000000  # even modulus
    out, _ = modexp(
        encode(base.to_bytes(8, "big"), exp.to_bytes(6, "big"), mod.to_bytes(9, "big")), 10**6
    )
    assert out == pow(base, exp, mod).to_bytes(9, "big")
