"""The dashboard's routes (issue 21): a browser gets the page at /, a JSON client still
gets the node's info, only the dashboard's own files are served (hostile paths get 404),
each with a content security policy that keeps the page on this node."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from rpc import dashboard
from rpc.namespaces import default_registry
from rpc.server import create_app
from sequencer.config import NodeConfig
from sequencer.node import Node

Client = TestClient[web.Request, web.Application]


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    node = Node(NodeConfig(data_dir=None, accounts=1))
    try:
        async with TestClient(TestServer(create_app(node, default_registry, info=node.info))) as c:
            yield c
    finally:
        node.close()


async def test_a_browser_gets_the_page_and_a_json_client_the_info(client: Client) -> None:
    page = await client.get("/", headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "<title>Hummingbird</title>" in await page.text()
    assert page.headers["Content-Security-Policy"] == dashboard.CONTENT_SECURITY_POLICY
    info = await client.get("/", headers={"Accept": "application/json"})
    assert (await info.json())["name"] == "hummingbird"
    assert (await (await client.get("/")).json())["name"] == "hummingbird"  # no Accept


@pytest.mark.parametrize("name", sorted(dashboard.ASSETS))
async def test_every_asset_is_served_with_its_type(client: Client, name: str) -> None:
    response = await client.get("/dashboard/" + name)
    assert response.status == 200
    assert response.headers["Content-Type"] == dashboard.ASSETS[name]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert len(await response.read()) > 0


@pytest.mark.parametrize(
    "path",
    [
        "/dashboard/",
        "/dashboard/nope.js",
        "/dashboard/__init__.py",
        "/dashboard/%2e%2e/server.py",
        "/dashboard/..%2fserver.py",
        "/dashboard/vendor/../../server.py",
        "/dashboard//etc/passwd",
        "/dashboard/" + "a" * 5000,
        "/dashboard/index.html%00.js",
    ],
)
async def test_anything_else_under_dashboard_is_404(client: Client, path: str) -> None:
    # Sent as written: no client-side normalisation of the dots.
    response = await client.session.get(client.make_url("").with_path(path, encoded=True))
    assert response.status == 404


def test_the_page_loads_nothing_from_elsewhere() -> None:
    page = dashboard.asset("index.html")
    assert page is not None
    html = page[0].decode()
    assert "http://" not in html and "https://" not in html  # no CDN
    assert "connect-src 'self'" in dashboard.CONTENT_SECURITY_POLICY
    assert dashboard.asset("../server.py") is None
