"""``console.log`` decoding for the node log: Hardhat / forge-std ``console.sol`` calldata to text.

Owns ``CONSOLE_ADDRESS`` (0x000000000000000000636F6e736F6c652e6c6f67, the address
``console.sol`` STATICCALLs), the signature table (``SIGNATURES``, ``LEGACY_SIGNATURES``,
``SELECTORS``) and ``format_console_call`` / ``console_log_lines``, which turn the raw
calldata of one such call into the text anvil prints in its node log. Capturing the
calldata during execution is the EVM's job, printing the text is the node's.

The format is Foundry's (anvil's), read from foundry-rs/foundry at 2a5df2c (Aug 2026):
``crates/evm/evm/src/inspectors/logs.rs`` (``LogCollector::hardhat_log``: decode with
the ``Console.json`` ABI, format, print each ``str::lines()`` line),
``crates/macros/src/console_fmt.rs`` (a call whose first parameter is a ``string`` uses
it as a format string for the rest, any other call joins its values with a space) and
``crates/common/fmt/src/console.rs`` (``console_format``, the ``%`` specifier parser and
how each type renders under each specifier). Decoding follows alloy-sol-types 1.6
``abi_decode`` (non-validating): a ``bool`` is true for any non-zero word, an
``address`` is the low 20 bytes of its word, a ``bytesN`` the high N bytes, strings are
decoded as lossy UTF-8, offsets and lengths must fit in 64 bits and stay inside the
calldata (no padding required) and trailing bytes are ignored.

Rendering (``%s``, and the values appended after the format string is used up): uint
and int in decimal, bool ``true``/``false``, address EIP-55 checksummed, ``bytes`` and
``bytesN`` as lowercase ``0x`` hex, strings as they are. Specifiers: ``%s``; ``%d`` and
``%i`` (numbers in decimal, ``%d`` of a bool is 1/0, anything else ``NaN``); ``%x``
(numbers as ``0x`` hex without leading zeros, so 0 renders ``0x`` and a negative int
its 256-bit two's complement; addresses and bytes as with ``%s``; else ``NaN``);
``%o`` (strings, bools, addresses and bytes single-quoted, numbers in decimal);
``%e`` (numbers in exponential notation, ``1.23e5``; else ``NaN``); ``%<n>e``
(numbers divided by 10**n, ``%2e`` of 12345 is ``123.45``; else ``NaN``); ``%%`` a
literal ``%`` (and the character after it is not read as a specifier). Any other ``%``
is literal text. A specifier with no value left is printed as written (``%<n>e``
normalised to its decimal ``n``). Values left over after the format string are appended,
each preceded by a space (none before the first if the format string is empty).

Where this differs from anvil (deliberately):

* Legacy selectors: older copies of Hardhat's and forge-std's console.sol (still pinned
  in many projects) hashed ``log(uint)``, ``log(int)``, ``log(string,uint)``...
  (``LEGACY_SIGNATURES``, the 222 entries of Foundry's former
  ``HARDHAT_CONSOLE_SELECTOR_PATCHES``). Anvil decoded them through that patch table
  until foundry-rs/foundry#8910 (Jan 2025) and now rejects them; they decode exactly as
  the ``uint256``/``int256`` forms, so we keep them.
* ``console.table(...)`` (Foundry's ``table(T[])`` / ``table(string[],T[])`` box
  drawings, absent from Hardhat's and forge-std's released ``console.sol``) is not
  decoded: None.
* ``%<n>e`` with an ``n`` for which anvil's fixed-width arithmetic panics (10**n
  wraps to 0 mod 2**256, i.e. n >= 256; for an int also 10**n mod 2**256 >= 2**255)
  renders the value as ``%s`` would. For other out-of-range ``n`` (uint n >= 78, int
  n >= 77 when it does not panic) we reproduce anvil's wrapped 10**n mod 2**256.
* Anvil prints one node-log line per ``str::lines()`` line of the text and nothing
  for an empty text (``console.log()``, ``console.log("")``). ``format_console_call``
  returns the whole text; ``console_log_lines`` returns the lines anvil would print.
* When the calldata does not decode anvil makes the STATICCALL revert; here that is
  only ``None`` (the call's outcome is the EVM's business).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from itertools import product
from typing import Final, Protocol

from jit.evm.addresses import CONSOLE_ADDRESS as EVM_CONSOLE_ADDRESS
from statedb.types import keccak256

__all__ = [
    "CONSOLE_ADDRESS",
    "LEGACY_SIGNATURES",
    "SELECTORS",
    "SIGNATURES",
    "console_log_lines",
    "format_console_call",
]

CONSOLE_ADDRESS: Final[bytes] = EVM_CONSOLE_ADDRESS  # where the EVM records the calls

# The parameter types of the 2-, 3- and 4-argument ``log`` overloads.
_OVERLOAD_TYPES: Final = ("uint256", "string", "bool", "address")
_LEGACY_OVERLOAD_TYPES: Final = ("uint", "string", "bool", "address")


def _modern_signatures() -> tuple[str, ...]:
    sigs = [
        "log()",
        "log(int256)",  # logInt, and forge-std's log(int256)
        "log(uint256)",  # logUint and log(uint256)
        "log(string)",  # logString and log(string)
        "log(bool)",  # logBool and log(bool)
        "log(address)",  # logAddress and log(address)
        "log(bytes)",  # logBytes
        *(f"log(bytes{n})" for n in range(1, 33)),  # logBytes1 .. logBytes32
        "log(string,int256)",  # forge-std only
    ]
    for arity in (2, 3, 4):
        sigs.extend(f"log({','.join(c)})" for c in product(_OVERLOAD_TYPES, repeat=arity))
    return tuple(sigs)


def _legacy_signatures() -> tuple[str, ...]:
    sigs = ["log(int)", "log(uint)", "log(string,int)"]
    for arity in (2, 3, 4):
        sigs.extend(
            f"log({','.join(c)})"
            for c in product(_LEGACY_OVERLOAD_TYPES, repeat=arity)
            if "uint" in c
        )
    return tuple(sigs)


SIGNATURES: Final[tuple[str, ...]] = _modern_signatures()
"""Every ``console.log`` signature current Hardhat and forge-std ``console.sol`` hash."""

LEGACY_SIGNATURES: Final[tuple[str, ...]] = _legacy_signatures()
"""The ``uint``/``int`` spellings older ``console.sol`` copies hash (see the module docstring)."""


def _param_types(signature: str) -> tuple[str, ...]:
    inner = signature[signature.index("(") + 1 : -1]
    if not inner:
        return ()
    canonical = {"uint": "uint256", "int": "int256"}
    return tuple(canonical.get(t, t) for t in inner.split(","))


SELECTORS: Final[Mapping[bytes, str]] = {
    keccak256(sig.encode())[:4]: sig for sig in (*SIGNATURES, *LEGACY_SIGNATURES)
}
"""4-byte selector -> signature text, for every signature in both tables."""

_PARAMS: Final[dict[bytes, tuple[str, ...]]] = {
    sel: _param_types(sig) for sel, sig in SELECTORS.items()
}

_WORD: Final = 32
_MAX_USIZE: Final = 2**64 - 1  # alloy decodes offsets and lengths as a 64-bit usize
_U256: Final = 2**256
_I256_MAX: Final = 2**255 - 1


# --- format specifiers --------------------------------------------------------------------


class _Spec:
    """One ``%`` specifier: ``kind`` in ``sdioex``; ``precision`` only for ``%<n>e``."""

    __slots__ = ("kind", "precision")

    def __init__(self, kind: str, precision: int | None = None) -> None:
        self.kind = kind
        self.precision = precision

    def __str__(self) -> str:
        if self.kind == "e" and self.precision is not None:
            return f"%{self.precision}e"
        return f"%{self.kind}"


_AS_STRING: Final = _Spec("s")
_SIMPLE_SPECS: Final = {k: _Spec(k) for k in "sdioex"}


def _parse_usize(digits: str) -> int | None:
    """Rust's ``str::parse::<usize>`` of ASCII digits: None on overflow (never a huge int)."""
    significant = digits.lstrip("0") or "0"
    if len(significant) > 20:
        return None
    value = int(significant)
    return value if value <= _MAX_USIZE else None


def _specifier_at(fmt: str, i: int) -> tuple[_Spec, int] | None:
    """The specifier whose ``%`` is at ``fmt[i]`` and the index after it, or None.

    None covers both of Foundry's ``ParseArgError`` cases (``%%`` and an unknown
    specifier): the caller then emits literal text starting at the first or second ``%``.
    """
    j = i + 1
    if j >= len(fmt):
        return None
    simple = _SIMPLE_SPECS.get(fmt[j])
    if simple is not None:
        return simple, j + 1
    if "0" <= fmt[j] <= "9":
        k = j
        while k < len(fmt) and "0" <= fmt[k] <= "9":
            k += 1
        # Foundry's Parser::integer yields None when the digits run to the end of the
        # string, but then no 'e' follows anyway.
        if k < len(fmt) and fmt[k] == "e":
            return _Spec("e", _parse_usize(fmt[j:k])), k + 1
    return None


def _console_format(fmt: str, values: list[_Value]) -> str:
    """Foundry's ``console_format``: apply ``fmt`` to ``values``, then append the rest."""
    out: list[str] = []
    used = 0
    i = 0
    n = len(fmt)
    while i < n:
        if fmt[i] == "%":
            parsed = _specifier_at(fmt, i)
            if parsed is not None:
                spec, i = parsed
                if used < len(values):
                    out.append(values[used].fmt(spec))
                    used += 1
                else:
                    out.append(str(spec))
                continue
            # "%%": the literal starts at the second '%'; anything else: at this '%'.
            # Either way that '%' is text and the literal runs to the next '%'.
            start = i + 1 if i + 1 < n and fmt[i + 1] == "%" else i
            end = fmt.find("%", start + 1)
        else:
            start = i
            end = fmt.find("%", i)
        if end < 0:
            end = n
        out.append(fmt[start:end])
        i = end
    space = bool(fmt)
    for value in values[used:]:
        if space:
            out.append(" ")
        out.append(value.fmt(_AS_STRING))
        space = True
    return "".join(out)


# --- values --------------------------------------------------------------------------------


class _Value(Protocol):
    def fmt(self, spec: _Spec) -> str: ...


def _scaled(magnitude: int, exp10: int, precision: int) -> str:
    """``magnitude / exp10`` as Foundry prints it: integer part, '.', fraction minus trailing 0s."""
    fraction = str(magnitude % exp10).rjust(precision, "0").rstrip("0")
    integer = magnitude // exp10
    return f"{integer}.{fraction}" if fraction else f"{integer}"


class _Uint:
    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = value

    def fmt(self, spec: _Spec) -> str:
        v = self.value
        if spec.kind == "x":
            return "0x" + format(v, "x").lstrip("0")
        if spec.kind == "e":
            if spec.precision is None:
                log = len(str(v)) - 1
                return f"{_scaled(v, 10**log, log)}e{log}"
            exp10 = pow(10, spec.precision, _U256)  # ruint's pow wraps
            if exp10 == 0:  # anvil: division by zero panic
                return str(v)
            return _scaled(v, exp10, spec.precision)
        return str(v)


class _Int:
    __slots__ = ("value",)

    def __init__(self, value: int) -> None:
        self.value = value

    def fmt(self, spec: _Spec) -> str:
        v = self.value
        if spec.kind == "x":
            return "0x" + format(v % _U256, "x").lstrip("0")
        if spec.kind == "e":
            sign = "-" if v < 0 else ""
            if spec.precision is None:
                log = len(str(abs(v))) - 1
                return f"{sign}{_scaled(abs(v), 10**log, log)}e{log}"
            exp10 = pow(10, spec.precision, _U256)  # I256::exp10: wrapping U256 pow ...
            if exp10 == 0 or exp10 > _I256_MAX:  # ... then a division by zero / "overflow" panic
                return str(v)
            return sign + _scaled(abs(v), exp10, spec.precision)
        return str(v)


class _Bool:
    __slots__ = ("value",)

    def __init__(self, value: bool) -> None:
        self.value = value

    def fmt(self, spec: _Spec) -> str:
        text = "true" if self.value else "false"
        if spec.kind == "s":
            return text
        if spec.kind == "o":
            return f"'{text}'"
        if spec.kind == "d":
            return "1" if self.value else "0"
        return "NaN"


class _Text:
    """A value whose ``%s`` and ``%o`` forms are ``text`` and ``'text'``; ``hex_ok``: ``%x`` too."""

    __slots__ = ("hex_ok", "text")

    def __init__(self, text: str, *, hex_ok: bool) -> None:
        self.text = text
        self.hex_ok = hex_ok

    def fmt(self, spec: _Spec) -> str:
        if spec.kind == "s" or (spec.kind == "x" and self.hex_ok):
            return self.text
        if spec.kind == "o":
            return f"'{self.text}'"
        return "NaN"


def _checksum(address: bytes) -> str:
    """EIP-55 mixed-case hex of a 20-byte address."""
    lower = address.hex()
    digest = keccak256(lower.encode("ascii")).hex()
    return "0x" + "".join(
        c.upper() if c > "9" and digest[i] >= "8" else c for i, c in enumerate(lower)
    )


# --- decoding ------------------------------------------------------------------------------


def _as_offset(word: bytes) -> int | None:
    """alloy's ``as_offset``: the word as a usize, None if its top 24 bytes are not zero."""
    if any(word[: _WORD - 8]):
        return None
    return int.from_bytes(word[_WORD - 8 :], "big")


def _dynamic(params: bytes, head: bytes) -> bytes | None:
    """The contents of a ``string``/``bytes`` whose head word is ``head``, or None."""
    offset = _as_offset(head)
    if offset is None or offset > len(params) - _WORD:
        return None
    length = _as_offset(params[offset : offset + _WORD])
    start = offset + _WORD
    if length is None or length > len(params) - start:
        return None
    return params[start : start + length]


def _decode(types: tuple[str, ...], params: bytes) -> list[_Value] | None:
    values: list[_Value] = []
    for index, typ in enumerate(types):
        head = params[index * _WORD : (index + 1) * _WORD]
        if len(head) < _WORD:
            return None
        if typ == "uint256":
            values.append(_Uint(int.from_bytes(head, "big")))
        elif typ == "int256":
            values.append(_Int(int.from_bytes(head, "big", signed=True)))
        elif typ == "bool":
            values.append(_Bool(any(head)))
        elif typ == "address":
            values.append(_Text(_checksum(head[12:]), hex_ok=True))
        elif typ == "string" or typ == "bytes":
            raw = _dynamic(params, head)
            if raw is None:
                return None
            if typ == "string":
                values.append(_Text(raw.decode("utf-8", "replace"), hex_ok=False))
            else:
                values.append(_Text("0x" + raw.hex(), hex_ok=True))
        else:  # bytesN
            values.append(_Text("0x" + head[: int(typ[5:])].hex(), hex_ok=True))
    return values


def format_console_call(data: bytes) -> str | None:
    """The text anvil prints for one call to ``CONSOLE_ADDRESS`` with calldata ``data``.

    None if the selector is not a ``console.log`` signature or the arguments do not
    decode. May be empty (anvil then prints nothing) or span several lines (anvil prints
    each, see ``console_log_lines``). Never raises; the work is linear in ``len(data)``.
    """
    try:
        if not isinstance(data, bytes):
            data = bytes(data)
        types = _PARAMS.get(data[:4])
        if types is None:
            return None
        values = _decode(types, data[4:])
        if values is None:
            return None
        if types and types[0] == "string":
            first = values.pop(0)
            assert isinstance(first, _Text)
            return _console_format(first.text, values)
        return _console_format("", values)
    except Exception:  # a bug here must never break block production
        return None


def console_log_lines(data: bytes) -> list[str] | None:
    """The node-log lines anvil prints for this calldata (Rust ``str::lines`` of the text).

    None where ``format_console_call`` is None; ``[]`` for an empty text.
    """
    text = format_console_call(data)
    if text is None:
        return None
    pieces = text.split("\n")
    if pieces[-1] == "":
        pieces.pop()  # a final line ending does not start another line
        return [p.removesuffix("\r") for p in pieces]
    return [p.removesuffix("\r") for p in pieces[:-1]] + pieces[-1:]


_log = logging.getLogger("hummingbird.console")


def log_console_calls(calls: Sequence[bytes], where: str) -> None:
    """Print the console.log lines of ``calls`` in the node log, under a line naming
    ``where`` they ran (a transaction, an eth_call). Calldata that does not decode
    prints nothing, as in anvil (at debug level: its first 256 bytes in hex)."""
    decoded = []
    for data in calls:
        lines = console_log_lines(data)
        if lines is None:
            shown = data[:256].hex() + ("..." if len(data) > 256 else "")
            _log.debug("undecodable console.log call in %s: 0x%s", where, shown)
            continue
        decoded += lines
    if not decoded:
        return
    _log.info("console.log in %s:", where)
    for line in decoded:
        _log.info("  %s", line)
