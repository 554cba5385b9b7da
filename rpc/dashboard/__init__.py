"""The browser dashboard (issue 21): the files the node serves at ``GET /`` (to a browser)
and ``GET /dashboard/...``.

Owns the page (``index.html``, ``dashboard.js``, ``dashboard.css``) and its vendored
library (``vendor/``: uPlot, MIT, copied from npm by ``scripts/vendor_dashboard.sh`` with
its licence; nothing is loaded from a CDN). ``asset(path)`` answers a fixed set of
names only (no path is joined from a request), read once and kept. The page's own
policy (``CONTENT_SECURITY_POLICY``) lets it load only these files and talk only to the
node it came from.

What the page shows: see ``dashboard.js``. Its live feed is the ``blockStats``
subscription (``rpc.namespaces.block_stats``), which folds fast blocks on the node.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Final

ASSETS: Final[dict[str, str]] = {
    "index.html": "text/html; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
    "vendor/uPlot.iife.min.js": "text/javascript; charset=utf-8",
    "vendor/uPlot.min.css": "text/css; charset=utf-8",
    "vendor/LICENSE.uPlot": "text/plain; charset=utf-8",
}
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self' ws: wss:; base-uri 'none'; frame-ancestors 'none'"
)


@cache
def asset(name: str) -> tuple[bytes, str] | None:
    """The bytes and content type of dashboard file ``name``; None if it is not one."""
    content_type = ASSETS.get(name)
    if content_type is None:
        return None
    return files(__name__).joinpath(name).read_bytes(), content_type


def wants_page(accept: str | None) -> bool:
    """A browser navigating to the node (``Accept: text/html``), not a JSON client."""
    return accept is not None and "text/html" in accept
