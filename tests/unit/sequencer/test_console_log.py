"""sequencer.console_log: the signature table (against Hardhat's console.sol when present),
anvil's rendering of every argument type, Foundry's ``%`` format specifiers (its own unit
test vectors, ported) and hostile calldata."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import eth_abi
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sequencer.console_log import (
    CONSOLE_ADDRESS,
    LEGACY_SIGNATURES,
    SELECTORS,
    SIGNATURES,
    console_log_lines,
    format_console_call,
)
from statedb.types import keccak256

CLIENTS = Path(__file__).resolve().parents[2] / "e2e" / "clients"
CONSOLE_SOL_FILES = [
    CLIENTS / "hardhat3" / "node_modules" / "hardhat" / "console.sol",
    CLIENTS / "hardhat2" / "node_modules" / "hardhat" / "console.sol",
]

ADDR = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"  # an EIP-55 test vector
DEAD = "0xdEADBEeF00000000000000000000000000000000"


def selector(signature: str) -> bytes:
    return keccak256(signature.encode())[:4]


def call(signature: str, *args: Any) -> bytes:
    """Calldata of ``console.<signature>`` with ``args`` (types read from the signature)."""
    inner = signature[signature.index("(") + 1 : -1]
    types = [{"uint": "uint256", "int": "int256"}.get(t, t) for t in inner.split(",") if t]
    return selector(signature) + eth_abi.encode(types, list(args))


def fmt(signature: str, *args: Any) -> str | None:
    return format_console_call(call(signature, *args))


def word(n: int) -> bytes:
    return n.to_bytes(32, "big")


# --- the table -------------------------------------------------------------------------------


def test_console_address() -> None:
    assert bytes.fromhex("000000000000000000636F6e736F6c652e6c6f67") == CONSOLE_ADDRESS
    assert CONSOLE_ADDRESS[-11:] == b"console.log"


def test_table_sizes_and_no_selector_collision() -> None:
    # log(), log(int256), 4 one-argument overloads, log(bytes), bytes1..32,
    # log(string,int256) and 4**2 + 4**3 + 4**4 overloads of uint256/string/bool/address.
    assert len(SIGNATURES) == len(set(SIGNATURES)) == 1 + 1 + 4 + 1 + 32 + 1 + 16 + 64 + 256
    # Foundry's former HARDHAT_CONSOLE_SELECTOR_PATCHES had 222 entries.
    assert len(LEGACY_SIGNATURES) == len(set(LEGACY_SIGNATURES)) == 222
    assert len(SELECTORS) == len(SIGNATURES) + len(LEGACY_SIGNATURES)
    assert set(SELECTORS.values()) == set(SIGNATURES) | set(LEGACY_SIGNATURES)


def test_well_known_selectors() -> None:
    by_sig = {sig: sel.hex() for sel, sig in SELECTORS.items()}
    assert by_sig["log()"] == "51973ec9"
    assert by_sig["log(uint256)"] == "f82c50f1"
    assert by_sig["log(string)"] == "41304fac"
    assert by_sig["log(uint)"] == "f5b1bba9"  # legacy Hardhat console.sol


def _console_sol_functions(text: str) -> list[tuple[str, list[str], str]]:
    """(function name, canonical parameter types, encoded signature) per log* function."""
    pattern = re.compile(
        r"function (log\w*)\(([^)]*)\)[^{]*\{\s*"
        r"_sendLogPayload\(abi\.encodeWithSignature\(\"([^\"]+)\""
    )
    found = []
    for name, params, signature in pattern.findall(text):
        types = [p.split()[0] for p in params.split(",") if p.strip()]
        types = [{"uint": "uint256", "int": "int256"}.get(t, t) for t in types]
        found.append((name, types, signature))
    return found


@pytest.mark.parametrize("path", CONSOLE_SOL_FILES, ids=lambda p: p.parts[-4])
def test_table_covers_console_sol(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"{path} not installed")
    text = path.read_text()
    functions = _console_sol_functions(text)
    # The regex saw every log* function of the file.
    assert len(functions) == len(re.findall(r"function log\w*\(", text)) > 370
    names = {name for name, _, _ in functions}
    assert {"log", "logInt", "logUint", "logString", "logBool", "logAddress", "logBytes"} <= names
    assert {f"logBytes{n}" for n in range(1, 33)} <= names
    for name, types, signature in functions:
        assert signature in SELECTORS.values(), (name, signature)
        sig_types = [
            {"uint": "uint256", "int": "int256"}.get(t, t) for t in signature[4:-1].split(",") if t
        ]
        assert sig_types == types, (name, signature)
    encoded = {sig for _, _, sig in functions}
    if encoded <= set(SIGNATURES):  # a modern console.sol: forge-std adds one overload
        assert set(SIGNATURES) - encoded == {"log(string,int256)"}


# --- rendering of each type -------------------------------------------------------------------


def test_log_empty_prints_nothing() -> None:
    assert fmt("log()") == ""
    assert console_log_lines(call("log()")) == []


@pytest.mark.parametrize(
    ("signature", "args", "expected"),
    [
        ("log(uint256)", [0], "0"),
        ("log(uint256)", [2**256 - 1], str(2**256 - 1)),
        ("log(int256)", [-31337], "-31337"),
        ("log(int256)", [-(2**255)], str(-(2**255))),
        ("log(int256)", [2**255 - 1], str(2**255 - 1)),
        ("log(bool)", [True], "true"),
        ("log(bool)", [False], "false"),
        ("log(address)", [ADDR.lower()], ADDR),
        ("log(address)", ["0x0000000000000000000000000000000000000001"], "0x" + "0" * 39 + "1"),
        ("log(string)", ["héllo wörld 🌍 日本"], "héllo wörld 🌍 日本"),
        ("log(bytes)", [b""], "0x"),
        ("log(bytes)", [bytes.fromhex("DEADBEEF00")], "0xdeadbeef00"),
        ("log(bytes1)", [b"\xab"], "0xab"),
        ("log(bytes5)", [b"a\x00\x00\x00\xff"], "0x61000000ff"),
        ("log(bytes32)", [b"abcd".ljust(32, b"\0")], "0x61626364" + "00" * 28),
    ],
)
def test_single_values(signature: str, args: list[Any], expected: str) -> None:
    assert fmt(signature, *args) == expected


def test_every_bytes_n() -> None:
    for n in range(1, 33):
        value = bytes(range(1, n + 1))
        assert fmt(f"log(bytes{n})", value) == "0x" + value.hex()


def test_non_string_first_argument_joins_with_spaces() -> None:
    assert fmt("log(uint256,uint256)", 1, 2) == "1 2"
    assert fmt("log(bool,address)", True, DEAD) == f"true {DEAD}"
    # Only a first string is a format string.
    assert fmt("log(uint256,string)", 7, "%s %d") == "7 %s %d"
    assert fmt("log(address,string,bool,uint256)", ADDR, "x", False, 3) == f"{ADDR} x false 3"
    assert (
        fmt("log(uint256,bool,address,string)", 2**256 - 1, True, ADDR, "né")
        == f"{2**256 - 1} true {ADDR} né"
    )


def test_string_first_argument_appends_the_rest() -> None:
    assert fmt("log(string,uint256)", "foo", 100) == "foo 100"
    assert fmt("log(string,bool,uint256)", "foo", True, 100) == "foo true 100"
    assert fmt("log(string,string,string,string)", "a", "b", "c", "d") == "a b c d"
    assert fmt("log(string,address,uint256,bool)", "x:", ADDR, 5, False) == f"x: {ADDR} 5 false"
    # An empty format string adds no leading space.
    assert fmt("log(string,uint256)", "", 5) == "5"
    assert fmt("log(string,string)", "", "") == ""
    assert fmt("log(string,int256)", "balance", -5) == "balance -5"  # forge-std only


def test_legacy_uint_selectors_decode_like_uint256() -> None:
    assert fmt("log(uint)", 42) == "42"
    assert fmt("log(int)", -42) == "-42"
    assert fmt("log(string,int)", "n=%d", -1) == "n=-1"
    assert fmt("log(uint,string,bool,address)", 1, "s", True, ADDR) == f"1 s true {ADDR}"
    assert fmt("log(string,uint)", "v=%x", 255) == "v=0xff"


def test_non_canonical_words_decode_like_alloy() -> None:
    # alloy's abi_decode does not validate: any non-zero word is true, an address is the
    # low 20 bytes of its word, bytesN the high N bytes.
    assert format_console_call(selector("log(bool)") + word(2)) == "true"
    dirty_address = b"\xff" * 12 + bytes.fromhex(ADDR[2:])
    assert format_console_call(selector("log(address)") + dirty_address) == ADDR
    assert format_console_call(selector("log(bytes2)") + b"\x12\x34" + b"\xff" * 30) == "0x1234"
    # Trailing bytes are ignored.
    assert format_console_call(call("log(uint256)", 9) + b"\x01\x02\x03") == "9"


def test_invalid_utf8_is_replaced() -> None:
    data = selector("log(string)") + eth_abi.encode(["bytes"], [b"ok \xff \xf0\x9f\x98 \xc0\xaf"])
    assert format_console_call(data) == "ok \ufffd \ufffd \ufffd\ufffd"


def test_lines() -> None:
    assert console_log_lines(call("log(string)", "one")) == ["one"]
    assert console_log_lines(call("log(string)", "a\r\nb\n\nc\n")) == ["a", "b", "", "c"]
    assert console_log_lines(call("log(string)", "\n")) == [""]
    assert console_log_lines(call("log(string)", "x\r")) == ["x\r"]
    assert console_log_lines(call("log(string)", "")) == []
    assert console_log_lines(b"\x00\x00\x00\x00") is None
    assert fmt("log(string,string)", "a\nb", "c") == "a\nb c"


# --- format specifiers (foundry crates/common/fmt/src/console.rs tests) ----------------------


def fmt1(spec: str, value: Any) -> str | None:
    """Foundry's ``fmt_1``: ``console_format(spec, [value])`` through a real overload."""
    if isinstance(value, bool):
        return fmt("log(string,bool)", spec, value)
    if isinstance(value, int):
        return fmt("log(string,uint256)", spec, value)
    if isinstance(value, str) and value.startswith("0x"):
        return fmt("log(string,address)", spec, value)
    return fmt("log(string,string)", spec, value)


def ifmt1(spec: str, value: int) -> str | None:
    return fmt("log(string,int256)", spec, value)


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        ("%s", "foo", "foo"),
        ("%d", "foo", "NaN"),
        ("%i", "foo", "NaN"),
        ("%e", "foo", "NaN"),
        ("%x", "foo", "NaN"),
        ("%o", "foo", "'foo'"),
        ("%%s", "foo", "%s foo"),
        ("%", "foo", "% foo"),
        ("%%", "foo", "% foo"),
        ("%s", True, "true"),
        ("%d", True, "1"),
        ("%d", False, "0"),
        ("%i", True, "NaN"),
        ("%e", True, "NaN"),
        ("%x", True, "NaN"),
        ("%o", True, "'true'"),
        ("%s", DEAD, DEAD),
        ("%d", DEAD, "NaN"),
        ("%i", DEAD, "NaN"),
        ("%e", DEAD, "NaN"),
        ("%x", DEAD, DEAD),
        ("%o", DEAD, f"'{DEAD}'"),
        ("%s", 100, "100"),
        ("%d", 100, "100"),
        ("%i", 100, "100"),
        ("%e", 100, "1e2"),
        ("%e", 1002300, "1.0023e6"),
        ("%e", 123000, "1.23e5"),
        ("%x", 100, "0x64"),
        ("%o", 100, "100"),
    ],
)
def test_foundry_specifier_vectors(spec: str, value: Any, expected: str) -> None:
    assert fmt1(spec, value) == expected


@pytest.mark.parametrize(
    ("spec", "value", "expected"),
    [
        ("%s", 100, "100"),
        ("%d", 100, "100"),
        ("%i", 100, "100"),
        ("%e", 100, "1e2"),
        ("%e", -100, "-1e2"),
        ("%e", -1002300, "-1.0023e6"),
        ("%e", -123000, "-1.23e5"),
        ("%e", 1002300, "1.0023e6"),
        ("%e", 123000, "1.23e5"),
        ("%1e", 100, "10"),
        ("%2e", -100, "-1"),
        ("%0e", 123000, "123000"),
        ("%1e", 123000, "12300"),
        ("%7e", 123000, "0.0123"),
        ("%7e", -123000, "-0.0123"),
        ("%x", 100, "0x64"),
        ("%x", -100, "0x" + "f" * 62 + "9c"),
        ("%x", -100000000000, "0xffffffffffffffffffffffffffffffffffffffffffffffffffffffe8b7891800"),
        ("%o", 100, "100"),
    ],
)
def test_foundry_int_specifier_vectors(spec: str, value: int, expected: str) -> None:
    assert ifmt1(spec, value) == expected


def test_foundry_format_vectors() -> None:
    # Specifiers with no value left are printed as written.
    assert fmt("log(string)", "%333d%3e%5F") == "%333d%3e%5F"
    assert fmt("log(string,uint256)", "%5d%3e%2f%3f%e1", 123456789) == "%5d123456.789%2f%3f%e1"
    assert fmt("log(string,uint256)", "foo %s", 100) == "foo 100"
    assert fmt("log(string,uint256)", "%s foo", 100) == "100 foo"
    assert fmt("log(string,bool,uint256)", "foo %s %s", True, 100) == "foo true 100"
    assert fmt("log(string,bool,uint256)", "%s %s foo", True, 100) == "true 100 foo"
    assert (
        fmt("log(string,address,bool,uint256)", "foo %s %%s %s and %d foo %%", DEAD, True, 21)
        == f"foo {DEAD} %s true and 21 foo %"
    )
    assert fmt("log(string,uint256)", "%5e", 123456789) == "1234.56789"
    assert fmt("log(string,uint256)", "foo %3e bar", 123456789) == "foo 123456.789 bar"
    assert fmt("log(string,bool,uint256)", "%e and %12e", False, 123456789) == (
        "NaN and 0.000123456789"
    )


def test_more_values_than_specifiers() -> None:
    assert fmt("log(string,uint256,uint256)", "a=%d", 1, 2) == "a=1 2"
    assert fmt("log(string,string,bool,address)", "%s!", "x", True, ADDR) == f"x! true {ADDR}"
    assert fmt("log(string,uint256,uint256,uint256)", "no specs", 1, 2, 3) == "no specs 1 2 3"
    assert fmt("log(string,string)", "formatted log %s", "test") == "formatted log test"
    assert fmt("log(string,string)", "formatted log %% %s", "test") == "formatted log % test"


def test_fewer_values_than_specifiers() -> None:
    assert fmt("log(string,uint256)", "%d and %d and %x", 1) == "1 and %d and %x"
    assert fmt("log(string)", "%s %o %i %e %12e %%") == "%s %o %i %e %12e %"
    assert fmt("log(string)", "100%") == "100%"
    assert fmt("log(string)", "%0005e") == "%5e"  # Foundry re-prints the parsed width


def test_odd_specifiers() -> None:
    assert fmt("log(string,uint256)", "%%%s", 7) == "%7"
    assert fmt("log(string,uint256)", "%5%d", 7) == "%57"
    assert fmt("log(string,uint256)", "%q %s", 7) == "%q 7"
    assert fmt("log(string,uint256)", "%12", 7) == "%12 7"
    assert fmt("log(string,uint256)", "%x", 0) == "0x"  # Foundry trims every leading 0
    assert fmt("log(string,int256)", "%x", 0) == "0x"
    assert fmt("log(string,uint256)", "%e", 0) == "0e0"
    assert fmt("log(string,uint256)", "%e", 2**256 - 1) == (
        "1.15792089237316195423570985008687907853269984665640564039457584007913129639935e77"
    )
    assert fmt("log(string,int256)", "%e", -(2**255)) == (
        "-5.7896044618658097711785492504343953926634992332820282019728792003956564819968e76"
    )
    assert fmt("log(string,uint256)", "%18e", 1500000000000000000) == "1.5"
    # A width that overflows usize parses as plain %e.
    assert fmt("log(string,uint256)", "%99999999999999999999999e", 123) == "1.23e2"
    # 10**78 wraps mod 2**256 in anvil; the value is below it, so the digits are as expected.
    assert fmt("log(string,uint256)", "%78e", 12345) == "0." + "0" * 73 + "12345"
    # Widths where anvil panics render the value as %s would.
    assert fmt("log(string,uint256)", "%256e", 12345) == "12345"
    assert fmt("log(string,int256)", "%77e", -12345) == "-12345"
    assert fmt("log(string,int256)", "%76e", -12345) == "-0." + "0" * 71 + "12345"
    assert fmt("log(string,string)", "é%sü%%", "ß") == "éßü%"


# --- hostile input -------------------------------------------------------------------------


def offset_call(signature: str, *words: int) -> bytes:
    return selector(signature) + b"".join(word(w) for w in words)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x41",
        b"\x41\x30\x4f",  # 3 bytes of log(string)'s selector
        b"\xde\xad\xbe\xef",  # unknown selector, no args
        b"\xde\xad\xbe\xef" + word(1),
        selector("log(uint256)"),  # no argument
        selector("log(uint256)") + b"\x00" * 31,  # truncated word
        selector("log(uint256,uint256)") + word(1),
        offset_call("log(string)", 64),  # offset past the end
        offset_call("log(string)", 32),  # offset == len: no length word
        offset_call("log(string)", 2**255),
        offset_call("log(string)", 2**64),
        offset_call("log(string)", 2**64 - 1),
        offset_call("log(string)", 32, 2**255),  # length 2**255
        offset_call("log(string)", 32, 2**64 - 1),
        offset_call("log(bytes)", 32, 2**63),
        offset_call("log(string)", 32, 5) + b"abcd",  # 4 of 5 bytes
        offset_call("log(string,string)", 64, 2**255, 1, 0),
        offset_call("log(uint256,string)", 1, 2**255 - 32),
    ],
)
def test_hostile_calldata_gives_none(data: bytes) -> None:
    assert format_console_call(data) is None
    assert console_log_lines(data) is None


def test_dynamic_edge_cases_that_decode() -> None:
    # No padding needed; the offset may point anywhere, even back into the head.
    assert format_console_call(offset_call("log(string)", 32, 3) + b"abc") == "abc"
    assert format_console_call(offset_call("log(bytes)", 0)) == "0x"  # length word = offset 0
    assert format_console_call(offset_call("log(string,string)", 64, 64, 0)) == ""
    assert format_console_call(offset_call("log(bytes)", 32, 0)) == "0x"


def test_wrong_types_and_memoryview() -> None:
    assert format_console_call(None) is None  # type: ignore[arg-type]
    assert format_console_call("log") is None  # type: ignore[arg-type]
    data = call("log(string,uint256)", "x %d", 3)
    assert format_console_call(memoryview(data)) == "x 3"  # type: ignore[arg-type]
    assert format_console_call(bytearray(data)) == "x 3"  # type: ignore[arg-type]


def test_megabyte_of_junk_is_fast() -> None:
    junk = bytes((i * 131 + 7) & 0xFF for i in range(1 << 20))
    started = time.perf_counter()
    for sig in ("log(uint256)", "log(string)", "log(bytes)", "log(string,string,string,string)"):
        result = format_console_call(selector(sig) + junk)
        assert result is None or isinstance(result, str)
    assert format_console_call(b"\xde\xad\xbe\xef" + junk) is None
    assert time.perf_counter() - started < 2.0


def test_huge_valid_arguments_are_linear() -> None:
    big = "%s%%%5e%x%q" * 100_000  # 1.1 MB format string
    started = time.perf_counter()
    out = fmt("log(string,uint256,bool,address)", big, 12345, True, ADDR)
    assert out is not None
    assert out.startswith("12345%NaN" + ADDR + "%q%s%")
    raw = fmt("log(bytes)", b"\xab" * (1 << 20))
    assert raw == "0x" + "ab" * (1 << 20)
    assert time.perf_counter() - started < 2.0


def _valid_prefixes() -> Sequence[bytes]:
    return sorted(SELECTORS)


@settings(max_examples=300, deadline=None)
@given(
    prefix=st.sampled_from(_valid_prefixes()),
    words=st.lists(
        st.one_of(
            st.integers(0, 200),
            st.sampled_from([2**64 - 1, 2**64, 2**255, 2**256 - 1]),
            st.integers(0, 2**256 - 1),
        ),
        max_size=8,
    ),
    tail=st.binary(max_size=80),
)
def test_fuzz_never_raises(prefix: bytes, words: list[int], tail: bytes) -> None:
    data = prefix + b"".join(word(w) for w in words) + tail
    result = format_console_call(data)
    assert result is None or isinstance(result, str)
    half = format_console_call(data[: len(data) // 2])
    assert half is None or isinstance(half, str)
