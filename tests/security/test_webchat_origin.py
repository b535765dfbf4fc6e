"""Item 10: the development web chat checks ``Host`` and ``Origin``.

Its identity picker lets the caller ask as anyone, so a page that rebinds its own DNS name to
127.0.0.1 (or posts cross-site) could ask as any picker user. Every web chat route (the page,
its static files, ``/api/webchat/*``) now answers only a loopback ``Host`` (421 otherwise), and
refuses cross-site fetches and API requests from another origin (403). The rest of the server
(/healthz, /readyz, /metrics, /slack/events) is not affected.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.server import create_app
from bot.slack.app import BOT_SCOPES
from tests.bot.conftest import dev_config
from tests.bot.slack.conftest import SECRET, TOKEN, slack_config
from tests.fakes import slack_signing as sig
from tests.fakes.slack_stand_in import SlackStandIn

ERIN = "erin@northwind.example"
ROUTES = [
    ("GET", "/"),
    ("GET", "/static/webchat/app.js"),
    ("GET", "/static/webchat/app.css"),
    ("HEAD", "/static/webchat/app.js"),
    ("GET", "/api/webchat/users"),
    ("POST", "/api/webchat/ask"),
]
REBOUND_HOSTS = [
    "evil.example", "evil.example:8080", "127.0.0.1.evil.example", "localhost.evil.example",
    "evil.localhost", "127.0.0.1@evil.example", "10.0.0.7", "0.0.0.0", "[::2]", "[::ffff:127.0.0.1]",
    "localhost:99999", "localhost:", "",
]
LOOPBACK_HOSTS = ["localhost", "LOCALHOST:8080", "127.0.0.1", "127.1.2.3:80", "[::1]", "[::1]:8080"]


@pytest.fixture
async def client(handbook_data: Path, tmp_path: Path) -> AsyncIterator[TestClient]:
    shutil.copytree(handbook_data, tmp_path / "data")
    async with TestClient(TestServer(create_app(dev_config(tmp_path / "data")))) as c:
        yield c


def own_origin(client: TestClient) -> str:
    return f"http://127.0.0.1:{client.port}"


async def call(client: TestClient, method: str, path: str, **headers: str) -> int:
    body = json.dumps({"user": ERIN, "text": "how do I get VPN access?"}) if method == "POST" else None
    head = {"Content-Type": "application/json", **headers} if body else headers
    r = await client.request(method, path, data=body, headers=head)
    await r.read()
    return r.status


@pytest.mark.parametrize("host", REBOUND_HOSTS)
@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_a_non_loopback_host_is_misdirected(client: TestClient, method: str, path: str, host: str) -> None:
    assert await call(client, method, path, Host=host) == 421


@pytest.mark.parametrize("host", LOOPBACK_HOSTS)
async def test_loopback_hosts_are_served_without_an_origin(client: TestClient, host: str) -> None:
    """curl, and the page's own GETs, send no Origin: a loopback Host is enough."""
    for method, path in ROUTES:
        assert await call(client, method, path, Host=host) == 200, (method, path)


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_cross_site_fetches_are_refused(client: TestClient, method: str, path: str) -> None:
    assert await call(client, method, path, **{"Sec-Fetch-Site": "cross-site"}) == 403


@pytest.mark.parametrize("origin", [
    "http://evil.example",
    "null",  # sandboxed frames, file: and data: pages
    "https://127.0.0.1:{port}",  # another scheme
    "http://127.0.0.1:{other}",  # another port on this machine: another origin
    "http://localhost:{port}",  # another host name: another origin
    "http://127.0.0.1:{port}.evil.example",
    "http://user@127.0.0.1:{port}",
    "http://127.0.0.1:{port}/path",
    "http://127.0.0.1:99999",
])
@pytest.mark.parametrize(("method", "path"), [("GET", "/api/webchat/users"), ("POST", "/api/webchat/ask")])
async def test_api_requests_from_another_origin_are_refused(client: TestClient, method: str, path: str, origin: str) -> None:
    origin = origin.format(port=client.port, other=client.port + 1)
    assert await call(client, method, path, Origin=origin, **{"Sec-Fetch-Site": "same-site"}) == 403


async def test_the_pages_own_requests_are_answered(client: TestClient) -> None:
    """What the browser sends for the page's fetch(): its Origin and Sec-Fetch-Site: same-origin."""
    same = {"Origin": own_origin(client), "Sec-Fetch-Site": "same-origin"}
    r = await client.post("/api/webchat/ask", json={"user": ERIN, "text": "how do I get VPN access?"}, headers=same)
    assert r.status == 200 and "event: final" in await r.text()
    for host, origin in [("localhost:8080", "http://LOCALHOST:8080"), ("[::1]", "http://[0:0::1]:80")]:
        assert await call(client, "GET", "/api/webchat/users", Host=host, Origin=origin) == 200
    # A top-level navigation typed into the address bar.
    assert await call(client, "GET", "/", **{"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate"}) == 200
    # Only the page's own files are served from the static route.
    assert await call(client, "GET", "/static/webchat/index.html") == 404
    assert await call(client, "GET", "/static/webchat/..%2Fguard.py") == 404


async def test_the_rest_of_the_server_is_not_guarded(client: TestClient) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        r = await client.get(path, headers={"Host": "lore.internal.example", "Sec-Fetch-Site": "cross-site"})
        assert r.status == 200, path


async def test_slack_events_are_not_guarded(handbook_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with SlackStandIn.running(bot_token=TOKEN, scopes=BOT_SCOPES) as slack:
        cfg = slack_config(handbook_data, tmp_path, slack.api_url, monkeypatch)
        async with TestClient(TestServer(create_app(cfg))) as client:
            challenge = sig.signed_json(sig.url_verification("abc"), SECRET)
            r = await client.post("/slack/events", data=challenge.body,
                                  headers={**challenge.headers, "Host": "lore.example.com"})
            assert r.status == 200 and (await r.json()) == {"challenge": "abc"}
            assert await call(client, "GET", "/api/webchat/users", Host="lore.example.com") == 421
