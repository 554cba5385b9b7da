"""RLP codec: round trips, canonical-form rejection, hostile input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jit import rlp

items = st.recursive(
    st.binary(max_size=80), lambda children: st.lists(children, max_size=6), max_leaves=30
)


@given(items)
def test_round_trip(item: rlp.Item) -> None:
    assert rlp.decode(rlp.encode(item)) == item


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (b"", b"\x80"),
        (b"\x7f", b"\x7f"),
        (b"\x80", b"\x81\x80"),
        (0, b"\x80"),
        (1024, b"\x82\x04\x00"),
        ([], b"\xc0"),
        (b"a" * 56, b"\xb8\x38" + b"a" * 56),
    ],
)
def test_known_encodings(value: rlp.Encodable, encoded: bytes) -> None:
    assert rlp.encode(value) == encoded


@pytest.mark.parametrize(
    "bad",
    [
        b"",  # nothing
        b"\x81\x05",  # single byte < 0x80 wrapped
        b"\xb8\x05hello",  # long form for a short string
        b"\xb9\x00\x40" + b"a" * 64,  # leading zero in length
        b"\x85abc",  # runs past the end
        b"\xc3\x01\x02",  # list runs past the end
        b"\x01\x02",  # trailing bytes
        b"\xbf" + b"\xff" * 8,  # absurd length, must not allocate
    ],
)
def test_rejects_malformed(bad: bytes) -> None:
    with pytest.raises(rlp.RLPDecodingError):
        rlp.decode(bad)


def test_negative_int_cannot_be_encoded() -> None:
    with pytest.raises(ValueError, match="negative"):
        rlp.encode(-1)


def test_decode_uint_rejects_leading_zero_and_overflow() -> None:
    with pytest.raises(rlp.RLPDecodingError):
        rlp.decode_uint(b"\x00\x01")
    with pytest.raises(rlp.RLPDecodingError):
        rlp.decode_uint(b"\x01" * 33)
    assert rlp.decode_uint(b"") == 0


def _reference_encode(item: object) -> bytes:
    """The Yellow Paper's definition, written plainly (the oracle for the fast encoder)."""

    def prefix(length: int, offset: int) -> bytes:
        if length < 56:
            return bytes([offset + length])
        raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
        return bytes([offset + 55 + len(raw)]) + raw

    if isinstance(item, int):
        item = item.to_bytes((item.bit_length() + 7) // 8, "big")
    if isinstance(item, (bytes, bytearray)):
        item = bytes(item)
        if len(item) == 1 and item[0] < 0x80:
            return item
        return prefix(len(item), 0x80) + item
    assert isinstance(item, (list, tuple))
    payload = b"".join(_reference_encode(x) for x in item)
    return prefix(len(payload), 0xC0) + payload


encodables = st.recursive(
    st.one_of(
        st.binary(max_size=300),
        st.integers(min_value=0, max_value=2**2100),
        st.sampled_from([0, 1, 0x7F, 0x80, 0xFF, 0x100, 2**64, True, False]),
        st.binary(max_size=80).map(bytearray),
    ),
    lambda children: st.one_of(st.lists(children, max_size=8), st.tuples(children, children)),
    max_leaves=40,
)


@given(encodables)
def test_encode_matches_the_plain_definition(item: rlp.Encodable) -> None:
    assert rlp.encode(item) == _reference_encode(item)


@pytest.mark.parametrize("bad", ["text", 1.5, None, {b"a": b"b"}, [b"ok", "text"]])
def test_encode_rejects_other_types(bad: object) -> None:
    with pytest.raises(TypeError, match="RLP cannot encode"):
        rlp.encode(bad)  # type: ignore[arg-type]
