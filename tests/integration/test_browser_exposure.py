"""A real browser (headless Chromium) attacks the node from a foreign origin and fails,
then drives it from a localhost origin and succeeds.

A second HTTP server on another port serves one page. Chromium opens it as
``http://evil.test:PORT`` (``--host-resolver-rules`` maps the name to 127.0.0.1, so the
page's origin is a non-localhost name, as a public site's would be) and as
``http://localhost:PORT``. The page tries four writes against the node, each setting the
balance of its own address with ``anvil_setBalance``:

- ``plain``: a ``text/plain`` POST in ``no-cors`` mode, the classic CSRF "simple request"
  that needs no preflight and runs even though the page never sees the answer;
- ``json``: a CORS ``application/json`` POST (preflighted);
- ``ws``: a WebSocket message;
- ``rebind``: a ``text/plain`` POST to ``http://evil.test:NODE_PORT``, what a page does
  after DNS rebinding (its Host header names evil.test).

It writes what happened into the DOM and posts it to its own server's ``/report`` (a
WebSocket does not hold Chromium's virtual time, so ``--dump-dom`` could print the page
before the socket answered; the report arrives when the page is done). From evil.test no
balance may change; from localhost the JSON POST and the WebSocket must work (the
``text/plain`` POST is still refused: 415) and the rebinding attempt must not.

Needs Chromium (Debian: ``apt-get install chromium``, which ``make test`` does as root);
skipped when none is found, and failed then when ``CI`` is set.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import queue
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.node_process import RunningNode, free_port, hummingbird, rpc

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
ADDRESSES = {
    "plain": "0x" + "a1" * 20,
    "json": "0x" + "a2" * 20,
    "ws": "0x" + "a3" * 20,
    "rebind": "0x" + "a4" * 20,
}
BALANCE = "0x1234"

PAGE = """<!doctype html>
<html><head><title>probe</title></head><body><pre id="out">running</pre>
<script>
const params = new URLSearchParams(location.search);
const nodePort = params.get("node");
const node = "http://127.0.0.1:" + nodePort + "/";
const addresses = JSON.parse(params.get("addresses"));
const body = (who) => JSON.stringify({
  jsonrpc: "2.0", id: 1, method: "anvil_setBalance", params: [addresses[who], "BALANCE"],
});
const results = {};
async function attempt(name, run) {
  try { results[name] = await run(); } catch (e) { results[name] = "error: " + e; }
}
async function main() {
  await attempt("plain", async () => {
    await fetch(node, {method: "POST", mode: "no-cors", body: body("plain"),
                       headers: {"Content-Type": "text/plain"}});
    return "sent";
  });
  await attempt("json", async () => {
    const r = await fetch(node, {method: "POST", body: body("json"),
                                 headers: {"Content-Type": "application/json"}});
    return r.status + " " + await r.text();
  });
  await attempt("ws", () => new Promise((resolve) => {
    const ws = new WebSocket("ws://127.0.0.1:" + nodePort + "/");
    ws.onopen = () => ws.send(body("ws"));
    ws.onmessage = (m) => { resolve("message " + m.data); ws.close(); };
    ws.onerror = () => resolve("refused");
  }));
  await attempt("rebind", async () => {
    await fetch("http://evil.test:" + nodePort + "/", {method: "POST", mode: "no-cors",
                body: body("rebind"), headers: {"Content-Type": "text/plain"}});
    return "sent";
  });
  document.getElementById("out").textContent = "RESULTS " + JSON.stringify(results);
  await fetch("/report", {method: "POST", body: JSON.stringify(results)});
}
main();
</script></body></html>
""".replace("BALANCE", BALANCE)


def chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path is not None:
            return path
    return None


class PageHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the page; ``POST /report`` hands the page's results to ``reports``."""

    reports: queue.Queue[dict[str, str]]

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.reports.put(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@contextlib.contextmanager
def page_server(directory: Path) -> Iterator[tuple[int, queue.Queue[dict[str, str]]]]:
    (directory / "page.html").write_text(PAGE)
    reports: queue.Queue[dict[str, str]] = queue.Queue()
    handler_class = type("Handler", (PageHandler,), {"reports": reports})
    handler = functools.partial(handler_class, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], reports
    finally:
        server.shutdown()
        server.server_close()


def open_page(
    browser: str, url: str, profile: Path, reports: queue.Queue[dict[str, str]]
) -> dict[str, str]:
    """Load ``url`` in headless Chromium and return what the page reported."""
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP evil.test 127.0.0.1",
        url,
    ]
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "HOME": str(profile)},
        start_new_session=True,  # its own group: its helper processes end with it
    )
    try:
        return reports.get(timeout=60)
    except queue.Empty:
        process.kill()
        _, err = process.communicate()
        raise AssertionError(f"the page reported nothing:\n{err.decode()[-2000:]}") from None
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def balances(node: RunningNode) -> dict[str, str]:
    out = {}
    for name, address in ADDRESSES.items():
        answer = rpc(node.url, "eth_getBalance", [address, "latest"])
        assert isinstance(answer, dict)
        out[name] = answer["result"]
    return out


@pytest.fixture(scope="module")
def browser() -> str:
    path = chromium()
    if path is None:
        message = (
            "no chromium binary found (Debian: apt-get install chromium; make test installs it)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)  # CI must run the browser check, not skip it
        pytest.skip(message)
    return path


def page_url(host: str, page_port: int, node_port: str) -> str:
    query = f"node={node_port}&addresses={json.dumps(ADDRESSES).replace(' ', '')}"
    return f"http://{host}:{page_port}/page.html?{query}"


def test_foreign_origin_cannot_change_state_but_localhost_can(browser: str, tmp_path: Path) -> None:
    with hummingbird(tmp_path) as node, page_server(tmp_path) as (page_port, reports):
        node_port = node.url.rsplit(":", 1)[1]
        untouched = balances(node)
        assert set(untouched.values()) == {"0x0"}

        evil_url = page_url("evil.test", page_port, node_port)
        evil = open_page(browser, evil_url, tmp_path / "p1", reports)
        assert set(evil) == set(ADDRESSES), evil
        assert evil["json"].startswith("error:"), evil  # the preflight was refused (403)
        assert evil["ws"] == "refused", evil
        assert balances(node) == untouched, evil

        local_url = page_url("localhost", page_port, node_port)
        local = open_page(browser, local_url, tmp_path / "p2", reports)
        assert local["json"].startswith("200 "), local
        assert local["ws"].startswith("message "), local
        after = balances(node)
        assert after == {"plain": "0x0", "json": BALANCE, "ws": BALANCE, "rebind": "0x0"}, local
