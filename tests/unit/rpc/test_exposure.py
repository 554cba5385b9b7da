"""rpc.exposure: which Host names, Origins and content types the node answers."""

from __future__ import annotations

import pytest

from rpc.exposure import (
    ExposurePolicy,
    PolicyError,
    is_json_content_type,
    is_loopback_bind,
    parse_host_names,
    parse_origins,
    split_host,
)

DEFAULT = ExposurePolicy.build()


@pytest.mark.parametrize(
    ("header", "host"),
    [
        ("localhost", "localhost"),
        ("LOCALHOST:8545", "localhost"),
        ("localhost.:8545", "localhost"),
        ("127.0.0.1:8545", "127.0.0.1"),
        ("[::1]:8545", "::1"),
        ("[::1]", "::1"),
        ("Dev-Box.LAN", "dev-box.lan"),
        ("::1", None),  # IPv6 without brackets is not a Host
        ("[::1", None),
        ("[::1]x", None),
        ("[127.0.0.1]", None),
        ("host:port", None),
        ("host:123456", None),
        ("a b", None),
        ("", None),
        ("évil.test", None),
        ("x" * 300, None),
        ("user@localhost", None),
    ],
)
def test_split_host(header: str, host: str | None) -> None:
    assert split_host(header) == host


@pytest.mark.parametrize(
    "header",
    [
        None,  # no Host: not a browser (geth serves it)
        "",
        "localhost",
        "localhost:8545",
        "LOCALHOST:8545",
        "app.localhost:3000",
        "127.0.0.1",
        "127.0.0.1:8545",
        "127.1.2.3:8545",
        "[::1]:8545",
        "[::1]",
        "192.168.1.5:8545",  # an IP literal cannot be rebound (geth's rule)
        "[2001:db8::1]:8545",
    ],
)
def test_hosts_allowed_by_default(header: str | None) -> None:
    assert DEFAULT.host_allowed(header)


@pytest.mark.parametrize(
    "header",
    [
        "evil.test",
        "evil.test:8545",
        "localhost.evil.test",
        "127.0.0.1.nip.io",
        "devbox.lan",
        "::1",
        "[::1",
        "a b",
        "x" * 1000,
    ],
)
def test_hosts_refused_by_default(header: str) -> None:
    assert not DEFAULT.host_allowed(header)


def test_allow_host_and_bound_name() -> None:
    policy = ExposurePolicy.build("devbox.lan", ["node.example,Other.Example"])
    for header in ("devbox.lan:8545", "NODE.example", "other.example:1"):
        assert policy.host_allowed(header), header
    assert not policy.host_allowed("evil.test")
    assert ExposurePolicy.build(allow_hosts=["*"]).host_allowed("evil.test")
    assert not ExposurePolicy.build("0.0.0.0").host_allowed("evil.test")


@pytest.mark.parametrize(
    "origin",
    [
        None,  # not a browser
        "http://localhost",
        "http://localhost:3000",
        "HTTP://LOCALHOST:3000",
        "https://localhost:5173",
        "http://app.localhost:3000",
        "http://127.0.0.1:8080",
        "http://127.9.9.9",
        "http://[::1]:3000",
        "chrome-extension://nkbihfbeogaeaoehlefnkodbefgpgknn",  # MetaMask
        "moz-extension://0b2f8b2a-5b3a-4f3e-9d4c-2a1b3c4d5e6f",
        "safari-web-extension://ABCDEF12-3456-7890-ABCD-EF1234567890",
    ],
)
def test_origins_allowed_by_default(origin: str | None) -> None:
    assert DEFAULT.origin_allowed(origin)


@pytest.mark.parametrize(
    "origin",
    [
        "null",  # sandboxed iframes and file:// pages: anyone can produce it
        "http://evil.test",
        "https://evil.test:8545",
        "http://localhost.evil.test",
        "http://evil.localhost.test",
        "http://192.168.1.5:3000",
        "ftp://localhost",
        "file://",
        "http://evil.test@localhost",
        "http://localhost/path",
        "chrome-extension://",
        "chrome-extension://bad id",
        "not an origin",
        "",
        "x" * 5000,
    ],
)
def test_origins_refused_by_default(origin: str) -> None:
    assert not DEFAULT.origin_allowed(origin)
    assert DEFAULT.allow_origin_header(origin) is None


def test_cors_list_star_and_null() -> None:
    policy = ExposurePolicy.build(cors=["https://App.Example", "null"])
    assert policy.origin_allowed("https://app.example")
    assert policy.origin_allowed("null")
    assert not policy.origin_allowed("https://app.example:444")
    assert policy.allow_origin_header("https://app.example") == "https://app.example"
    assert policy.allow_origin_header("http://localhost:1") == "http://localhost:1"
    star = ExposurePolicy.build(cors=["*"])
    assert star.origin_allowed("http://evil.test") and star.origin_allowed("null")
    assert star.allow_origin_header("http://evil.test") == "*"
    assert star.allow_origin_header(None) == "*"


@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("Application/JSON;charset=UTF-8", True),
        ("application/json-rpc", True),
        ("application/jsonrequest", True),
        (None, False),  # a Blob or ArrayBuffer body from a page sends none
        ("", False),
        ("text/plain", False),
        ("text/plain;charset=UTF-8", False),
        ("application/x-www-form-urlencoded", False),  # curl -d
        ("multipart/form-data; boundary=x", False),
        ("application/jsonx", False),
        ("application/octet-stream", False),
    ],
)
def test_json_content_type(value: str | None, accepted: bool) -> None:
    assert is_json_content_type(value) is accepted


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("127.0.0.2", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.5", False),
        ("devbox.lan", False),
    ],
)
def test_loopback_bind(host: str, loopback: bool) -> None:
    assert is_loopback_bind(host) is loopback


def test_flag_values_parse() -> None:
    assert parse_host_names(["a.example,B.example", "a.example", "*"]) == (
        "a.example",
        "b.example",
        "*",
    )
    assert parse_origins(["http://LOCALHOST:3000/, null", "*"]) == (
        "http://localhost:3000",
        "null",
        "*",
    )


@pytest.mark.parametrize(
    "value",
    [
        "",
        ",",
        "host:8545",
        "http://host",
        "a b",
        "évil",
        "x" * 300,
        "host\x00",
        "[::1]",  # IP literals are always allowed; a list of names only
    ],
)
def test_bad_host_names(value: str) -> None:
    with pytest.raises(PolicyError):
        parse_host_names([value])


@pytest.mark.parametrize(
    "value",
    ["", "localhost", "http://", "http://a b", "http://x/path", "javascript:alert(1)", "x" * 5000],
)
def test_bad_origins(value: str) -> None:
    with pytest.raises(PolicyError):
        parse_origins([value])
