"""Who may reach the node from a browser: the Host, Origin and Content-Type rules.

Owns ``ExposurePolicy`` (built from ``--host``, ``--allow-host`` and ``--cors``) and the
checks the transport runs before it reads a request. The node prints its dev keys and
signs for its dev accounts, so any web page the user visits must not be able to drive
it. Three holes close here:

- DNS rebinding: a page on ``evil.test`` re-points its name at 127.0.0.1 and talks to the
  node "same-origin". The ``Host`` header then names ``evil.test``, so a name must be a
  localhost name (``localhost``, ``*.localhost``), the name the node was bound to, or
  one given with ``--allow-host``. An IP literal always passes (geth's rule): a browser
  never resolves one, so it cannot be rebound. No ``Host`` at all passes too (browsers
  always send it).
- Cross-origin requests: a browser sends ``Origin`` on every cross-origin request and
  on same-origin ones that are not GET/HEAD. A "simple" POST is executed by the server
  even when the browser then hides the answer, so an Origin that is not allowed is
  refused outright (403), not merely left without CORS headers. Allowed by default:
  localhost origins (http/https on a localhost name or a loopback IP) and
  browser-extension origins (wallets such as MetaMask); anything else only when listed
  with ``--cors`` (``*`` allows every origin, anvil's default). No ``Origin`` (curl,
  scripts, Node.js clients) is always fine.
- Non-JSON bodies: ``text/plain``, form and missing content types are what a page can
  POST without a CORS preflight, so POST bodies must be ``application/json`` (geth's
  rule and wording, HTTP 415).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

# geth's accepted content types (node/rpcstack.go); parameters such as charset are ignored.
JSON_CONTENT_TYPES: Final = frozenset(
    {"application/json", "application/json-rpc", "application/jsonrequest"}
)
CONTENT_TYPE_ERROR: Final = "invalid content type, only application/json is supported"

# Schemes of browser-extension pages and service workers (Chrome/Brave/Edge/Opera,
# Firefox, Safari, legacy Edge): wallets talk to the node from these.
EXTENSION_SCHEMES: Final = frozenset(
    {"chrome-extension", "moz-extension", "safari-web-extension", "ms-browser-extension"}
)
_WEB_SCHEMES: Final = frozenset({"http", "https"})
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOSTNAME: Final = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*$")
_ORIGIN: Final = re.compile(r"^([a-z][a-z0-9+.-]*)://([^/?#@\s]+)$")
_PORT: Final = re.compile(r"^[0-9]{1,5}$")
MAX_NAME_CHARS: Final = 253


class PolicyError(ValueError):
    """A --allow-host or --cors value that is not a host name / origin."""


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def split_host(value: str) -> str | None:
    """The host name of a ``Host`` header or an origin's authority, lowercased, without
    port, brackets or trailing dot; None when it is not a host name or an IP literal."""
    text = value.strip().lower()
    if text.startswith("["):
        close = text.find("]")
        if close < 0:
            return None
        host, rest = text[1:close], text[close + 1 :]
        if rest and not (rest.startswith(":") and _PORT.match(rest[1:])):
            return None
        ip = _ip(host)
        return host if ip is not None and ip.version == 6 else None
    host, colon, port = text.partition(":")
    if colon and not _PORT.match(port):
        return None  # a bare IPv6 address or junk: Host needs brackets around IPv6
    host = host.removesuffix(".")
    if not host or len(host) > MAX_NAME_CHARS:
        return None
    if _ip(host) is not None or _HOSTNAME.match(host):
        return host
    return None


def is_loopback_name(host: str) -> bool:
    """``localhost``, ``*.localhost`` (RFC 6761: always loopback) or a loopback IP."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    ip = _ip(host)
    return ip is not None and ip.is_loopback


def is_loopback_bind(host: str) -> bool:
    """Whether listening on ``host`` keeps the node reachable from this machine only."""
    text = host.strip().lower().removeprefix("[").removesuffix("]")
    return is_loopback_name(text)


def is_json_content_type(value: str | None) -> bool:
    """``application/json`` (or geth's two aliases) with any parameters."""
    if value is None:
        return False
    media_type = value.split(";", 1)[0].strip().lower()
    return media_type in JSON_CONTENT_TYPES


def normalize_origin(value: str) -> str | None:
    """``scheme://host[:port]`` lowercased (``null`` stays ``null``); None if malformed."""
    text = value.strip().lower()
    if text == "null":
        return text
    match = _ORIGIN.match(text.removesuffix("/"))
    if match is None:
        return None
    scheme, authority = match.groups()
    if scheme in EXTENSION_SCHEMES:
        return text.removesuffix("/") if _HOSTNAME.match(authority) else None
    if split_host(authority) is None:
        return None
    return f"{scheme}://{authority}"


def is_localhost_origin(origin: str) -> bool:
    match = _ORIGIN.match(origin)
    if match is None or match.group(1) not in _WEB_SCHEMES:
        return False
    host = split_host(match.group(2))
    return host is not None and is_loopback_name(host)


def is_extension_origin(origin: str) -> bool:
    return origin.split("://", 1)[0] in EXTENSION_SCHEMES and "://" in origin


def parse_host_names(values: Iterable[str]) -> tuple[str, ...]:
    """--allow-host values (repeated and/or comma-separated): ``*`` or host names."""
    names: list[str] = []
    for value in values:
        for item in value.split(","):
            name = item.strip().lower()
            if name == "*":
                names.append(name)
                continue
            if not name:
                raise PolicyError("--allow-host: empty host name")
            host = split_host(name)
            if host is None or host != name.removesuffix("."):
                raise PolicyError(
                    f"--allow-host: {_shown(item)} is not a host name "
                    "(give a name such as devbox.lan, without scheme or port, or *)"
                )
            names.append(host)
    return tuple(dict.fromkeys(names))


def parse_origins(values: Iterable[str]) -> tuple[str, ...]:
    """--cors values (repeated and/or comma-separated): ``*``, ``null`` or origins."""
    origins: list[str] = []
    for value in values:
        for item in value.split(","):
            text = item.strip()
            if text == "*":
                origins.append(text)
                continue
            if not text:
                raise PolicyError("--cors: empty origin")
            origin = normalize_origin(text)
            if origin is None:
                raise PolicyError(
                    f"--cors: {_shown(item)} is not an origin "
                    "(give scheme://host[:port] such as https://app.example, null, or *)"
                )
            origins.append(origin)
    return tuple(dict.fromkeys(origins))


def _shown(text: str, limit: int = 40) -> str:
    if len(text) <= limit:
        return repr(text)
    return repr(text[:limit]) + f"... ({len(text)} characters)"


@dataclass(frozen=True, slots=True)
class ExposurePolicy:
    """Which Host names and Origins the node answers (see the module docstring).

    ``host_names``: names accepted besides localhost names and IP literals;
    ``origins``: origins accepted besides localhost and extension origins.
    """

    host_names: frozenset[str] = frozenset()
    any_host: bool = False
    origins: frozenset[str] = frozenset()
    any_origin: bool = False

    @classmethod
    def build(
        cls,
        bound_host: str = "127.0.0.1",
        allow_hosts: Iterable[str] = (),
        cors: Iterable[str] = (),
    ) -> ExposurePolicy:
        """The policy for a node listening on ``bound_host`` (its name is accepted as a
        Host) with ``--allow-host`` / ``--cors`` values; raises ``PolicyError``."""
        names = set(parse_host_names(allow_hosts))
        bound = split_host(bound_host.strip().removeprefix("[").removesuffix("]"))
        if bound is not None and _ip(bound) is None:
            names.add(bound)
        origins = set(parse_origins(cors))
        return cls(
            host_names=frozenset(names - {"*"}),
            any_host="*" in names,
            origins=frozenset(origins - {"*"}),
            any_origin="*" in origins,
        )

    @classmethod
    def open(cls) -> ExposurePolicy:
        """Every host and origin (anvil's default): for tests and trusted setups."""
        return cls(any_host=True, any_origin=True)

    def host_allowed(self, host_header: str | None) -> bool:
        if not host_header or self.any_host:  # browsers always send Host; geth allows none
            return True
        host = split_host(host_header)
        if host is None:
            return False
        return _ip(host) is not None or is_loopback_name(host) or host in self.host_names

    def origin_allowed(self, origin_header: str | None) -> bool:
        if origin_header is None or self.any_origin:
            return True
        origin = normalize_origin(origin_header)
        if origin is None:
            return False
        if origin in self.origins:
            return True
        return is_localhost_origin(origin) or is_extension_origin(origin)

    def allow_origin_header(self, origin_header: str | None) -> str | None:
        """The ``Access-Control-Allow-Origin`` value for a request, or None for none."""
        if self.any_origin:
            return "*"
        if origin_header is not None and self.origin_allowed(origin_header):
            return origin_header
        return None
