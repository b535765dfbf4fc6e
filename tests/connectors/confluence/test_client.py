"""ConfluenceClient against the Confluence stand-in (through the real atlassian-python-api
session) and, for what the stand-in cannot script (odd bodies, foreign next links, downloads,
slow or dead servers), against a tiny scripted ``http.server``."""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from connectors.confluence.client import ConfluenceClient
from connectors.confluence.credentials import Credentials
from connectors.confluence.errors import (
    AttachmentTooLarge,
    ConfluenceAuthError,
    ConfluenceBadResponse,
    ConfluenceError,
    ConfluenceNotFound,
)
from tests.fakes.confluence_stand_in import ConfluenceStandIn

EMAIL = "lore-bot@northwind.example"
TOKEN = "ATATT3xFfGF0-lore-client-test-9f2c41"
PAT = "NjA1MzE0OTk-lore-client-pat-7d1e0a"
WRONG = "ATATT3xFfGF0-not-the-right-token-5b7e"


@pytest.fixture
def wiki() -> Iterator[ConfluenceStandIn]:
    with ConfluenceStandIn.serving(credentials={EMAIL: TOKEN}, bearer_tokens=frozenset({PAT})) as s:
        s.add_space("ENG", "Engineering")
        yield s


@pytest.fixture
def waits() -> list[float]:
    return []


def cloud_client(url: str, waits: list[float], token: str = TOKEN, **kwargs: Any) -> ConfluenceClient:
    return ConfluenceClient(
        url, Credentials.basic(EMAIL, token), cloud=True, sleep=waits.append, **kwargs
    )


# --------------------------------------------------------------------------- scripted server


@dataclass
class Reply:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    content_length: bool = True  # for bytes bodies

    @classmethod
    def json(
        cls, data: Any, status: int = 200, *, delay: float = 0.0, headers: dict[str, str] | None = None
    ) -> Reply:
        body = json.dumps(data).encode()
        return cls(status, body, {"Content-Type": "application/json", **(headers or {})}, delay)


@dataclass
class Seen:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


class Scripted:
    """``routes[path] = callable(Seen) -> Reply``; unknown paths get a JSON 404."""

    def __init__(self) -> None:
        self.routes: dict[str, Callable[[Seen], Reply]] = {}
        self.seen: list[Seen] = []
        self.sent = 0  # body bytes written by the last streamed reply
        self.done = threading.Event()
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                seen = Seen(parts.path, parse_qs(parts.query), dict(self.headers))
                scripted.seen.append(seen)
                route = scripted.routes.get(parts.path)
                reply = route(seen) if route else Reply.json({"message": "no route"}, 404)
                if reply.delay:
                    threading.Event().wait(reply.delay)
                try:
                    self.send_response(reply.status)
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    if isinstance(reply.body, bytes):
                        if reply.content_length and "Content-Length" not in reply.headers:
                            self.send_header("Content-Length", str(len(reply.body)))
                        self.end_headers()
                        self.wfile.write(reply.body)
                        return
                    self.end_headers()
                    scripted.sent = 0
                    for chunk in reply.body:
                        self.wfile.write(chunk)
                        scripted.sent += len(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    scripted.done.set()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def scripted() -> Iterator[Scripted]:
    server = Scripted()
    server.thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()


def endless(total: int, chunk: int = 64 * 1024) -> Iterator[bytes]:
    block = b"x" * chunk
    for _ in range(total // chunk):
        yield block


# --------------------------------------------------------------------------- auth


def test_cloud_basic_auth_get(wiki: ConfluenceStandIn, waits: list[float]) -> None:
    page = wiki.add_page("ENG", "Handbook", "<p>hi</p>", version=3)
    client = cloud_client(wiki.wiki_url + "/", waits)  # a trailing slash is tolerated
    got = client.get(f"content/{page.id}", {"expand": "version,space"})
    assert (got["title"], got["version"]["number"], got["space"]["key"]) == ("Handbook", 3, "ENG")
    [call] = wiki.calls()
    assert call.path == f"/wiki/rest/api/content/{page.id}"
    assert call.query == {"expand": "version,space"}
    expected = base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()
    assert call.headers["Authorization"] == f"Basic {expected}"
    assert call.headers["Accept"] == "application/json"
    assert client.calls == 1


def test_sequence_params_repeat_the_key(scripted: Scripted) -> None:
    scripted.routes["/wiki/rest/api/space"] = lambda _: Reply.json({"results": []})
    client = cloud_client(scripted.origin + "/wiki", [])
    assert client.get("space", {"spaceKey": ["ENG", "HR"], "limit": 50, "type": "global"}) == {
        "results": []
    }
    assert scripted.seen[0].query == {"spaceKey": ["ENG", "HR"], "limit": ["50"], "type": ["global"]}


def test_data_center_bearer_pat(wiki: ConfluenceStandIn) -> None:
    page = wiki.add_page("ENG", "P", "<p/>")
    client = ConfluenceClient(wiki.wiki_url, Credentials.bearer(PAT), cloud=False)
    assert client.get(f"content/{page.id}")["id"] == page.id
    assert wiki.calls()[-1].headers["Authorization"] == f"Bearer {PAT}"


def test_wrong_token_is_an_auth_error_and_not_retried(
    wiki: ConfluenceStandIn, waits: list[float]
) -> None:
    page = wiki.add_page("ENG", "P", "<p/>")
    client = cloud_client(wiki.wiki_url, waits, token=WRONG)
    with pytest.raises(ConfluenceAuthError) as info:
        client.get(f"content/{page.id}")
    assert info.value.status == 401
    assert str(info.value) == (
        f"GET /wiki/rest/api/content/{page.id} -> 401: "
        "Client must be authenticated to access this resource."
    )
    assert waits == [] and client.calls == 1 and len(wiki.calls()) == 1


def test_403_is_an_auth_error_and_not_retried(wiki: ConfluenceStandIn, waits: list[float]) -> None:
    page = wiki.add_page("ENG", "P", "<p/>")
    wiki.fail_next(f"/wiki/rest/api/content/{page.id}", 403, times=3)
    client = cloud_client(wiki.wiki_url, waits)
    with pytest.raises(ConfluenceAuthError) as info:
        client.get(f"content/{page.id}")
    assert info.value.status == 403 and waits == [] and client.calls == 1


# --------------------------------------------------------------------------- paging


@pytest.mark.parametrize("with_context", [False, True], ids=["relative", "with-context"])
def test_cursor_paging_keeps_the_wiki_context_path(with_context: bool) -> None:
    with ConfluenceStandIn.serving(
        credentials={EMAIL: TOKEN}, next_links_include_context=with_context
    ) as wiki:
        wiki.add_space("ENG")
        base = datetime(2026, 1, 1, tzinfo=UTC)
        ids = [
            wiki.add_page("ENG", f"P{i}", "<p/>", modified=base + timedelta(minutes=i)).id
            for i in range(7)
        ]
        client = cloud_client(wiki.wiki_url, [])
        params = {"cql": "type = page order by lastmodified asc", "limit": "2"}
        batches = list(client.pages("content/search", params))
        assert [len(b) for b in batches] == [2, 2, 2, 1]
        assert [p["id"] for b in batches for p in b] == ids
        assert [p["id"] for p in client.paged("content/search", params)] == ids
        calls = wiki.calls("")
        assert len(calls) == 8 and client.calls == 8
        assert all(c.path.startswith("/wiki/rest/api/") for c in calls), [c.path for c in calls]
        assert {c.path for c in calls} == {"/wiki/rest/api/content/search"}
        assert ["cursor" in c.query for c in calls[:4]] == [False, True, True, True]
        assert all(c.status == 200 for c in calls)


def test_group_members_offset_paging(wiki: ConfluenceStandIn) -> None:
    members = [f"acc-{n}" for n in range(5)]
    for account in members:
        wiki.add_user(account, f"{account}@northwind.example")
    wiki.add_group("hr", members=members, group_id="g-hr")
    client = cloud_client(wiki.wiki_url, [])
    batches = list(client.pages("group/g-hr/membersByGroupId", {"limit": 2}))
    assert [[u["accountId"] for u in b] for b in batches] == [members[:2], members[2:4], members[4:]]
    assert [c.query for c in wiki.calls("")] == [
        {"limit": "2"},
        {"start": "2", "limit": "2"},
        {"start": "4", "limit": "2"},
    ]
    assert all(c.path == "/wiki/rest/api/group/g-hr/membersByGroupId" for c in wiki.calls(""))
    by_name = [u["accountId"] for u in client.paged("group/member", {"name": "hr", "limit": "3"})]
    assert by_name == members


def test_empty_search_is_one_empty_page(wiki: ConfluenceStandIn) -> None:
    client = cloud_client(wiki.wiki_url, [])
    assert list(client.pages("content/search", {"cql": "space = NOPE"})) == [[]]


@pytest.mark.parametrize("context", ["", "/confluence"], ids=["root", "confluence"])
def test_data_center_context_paths_are_kept_and_not_doubled(
    scripted: Scripted, context: str
) -> None:
    api = f"{context}/rest/api/space"
    pages = {
        # first: a next link without the context path (relative to _links.base)
        "0": {"results": [{"key": "A"}], "_links": {"base": scripted.origin + context,
                                                    "next": "/rest/api/space?start=1"}},
        # second: a next link that already carries the context path, and no base
        "1": {"results": [{"key": "B"}], "_links": {"next": f"{context}/rest/api/space?start=2"}},
        "2": {"results": [{"key": "C"}], "_links": {"base": scripted.origin + context}},
    }
    scripted.routes[api] = lambda seen: Reply.json(pages[seen.query.get("start", ["0"])[0]])
    client = ConfluenceClient(scripted.origin + context, Credentials.bearer(PAT), cloud=False)
    assert [s["key"] for s in client.paged("space")] == ["A", "B", "C"]
    assert [s.path for s in scripted.seen] == [api] * 3


def test_next_link_to_another_host_is_refused(scripted: Scripted) -> None:
    other = Scripted()
    other.thread.start()
    try:
        scripted.routes["/wiki/rest/api/content/search"] = lambda _: Reply.json(
            {"results": [], "_links": {"next": other.origin + "/wiki/rest/api/content/search?c=2"}}
        )
        client = cloud_client(scripted.origin + "/wiki", [])
        with pytest.raises(ConfluenceBadResponse, match="another host"):
            list(client.pages("content/search", {"cql": "type = page"}))
        assert other.seen == [] and len(scripted.seen) == 1
    finally:
        other.server.shutdown()
        other.server.server_close()


def test_next_link_loop_is_detected(scripted: Scripted) -> None:
    scripted.routes["/wiki/rest/api/content/search"] = lambda seen: Reply.json(
        {"results": [{"id": "1"}], "_links": {"next": "/rest/api/content/search?cursor=same"}}
    )
    client = cloud_client(scripted.origin + "/wiki", [])
    with pytest.raises(ConfluenceBadResponse, match="repeats an earlier one"):
        list(client.paged("content/search", {"cql": "type = page"}))
    assert len(scripted.seen) == 2  # the first page, then the cursor page that repeats itself


# --------------------------------------------------------------------------- retries


def test_429_with_retry_after_waits_exactly_that_long(
    wiki: ConfluenceStandIn, waits: list[float]
) -> None:
    page = wiki.add_page("ENG", "P", "<p/>")
    path = f"/wiki/rest/api/content/{page.id}"
    wiki.fail_next(path, 429, retry_after="7")
    client = cloud_client(wiki.wiki_url, waits)
    assert client.get(f"content/{page.id}")["id"] == page.id
    assert waits == [7.0]
    # our retry, not the library's: its Retry-After handler would sleep and resend on its own
    assert [c.status for c in wiki.calls(path)] == [429, 200] and client.calls == 2


def test_429_with_an_http_date_retry_after(wiki: ConfluenceStandIn, waits: list[float]) -> None:
    page = wiki.add_page("ENG", "P", "<p/>")
    when = datetime.now(UTC) + timedelta(seconds=20)
    wiki.fail_next(f"/wiki/rest/api/content/{page.id}", 429, retry_after=format_datetime(when, True))
    assert cloud_client(wiki.wiki_url, waits).get(f"content/{page.id}")["id"] == page.id
    assert len(waits) == 1 and 17 <= waits[0] <= 20


def test_429_without_retry_after_backs_off(wiki: ConfluenceStandIn, waits: list[float]) -> None:
    page = wiki.add_page("ENG", "P", "<p/>")
    path = f"/wiki/rest/api/content/{page.id}"
    wiki.fail_next(path, 429, times=2)
    assert cloud_client(wiki.wiki_url, waits).get(f"content/{page.id}")["id"] == page.id
    assert len(waits) == 2
    assert 0 <= waits[0] <= 1 and 0 <= waits[1] <= 2  # full jitter under 1 s, then 2 s
    assert [c.status for c in wiki.calls(path)] == [429, 429, 200]


def test_429_falls_back_to_x_ratelimit_reset(scripted: Scripted, waits: list[float]) -> None:
    reset = (datetime.now(UTC) + timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    replies = iter(
        [Reply.json({"message": "Rate limited"}, 429, headers={"X-RateLimit-Reset": reset}),
         Reply.json({"ok": True})]
    )
    scripted.routes["/wiki/rest/api/space/ENG"] = lambda _: next(replies)
    assert cloud_client(scripted.origin + "/wiki", waits).get("space/ENG") == {"ok": True}
    assert len(waits) == 1 and 27 <= waits[0] <= 30


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried_then_succeed(
    wiki: ConfluenceStandIn, waits: list[float], status: int
) -> None:
    page = wiki.add_page("ENG", "P", "<p/>")
    path = f"/wiki/rest/api/content/{page.id}"
    wiki.fail_next(path, status, times=2)
    client = cloud_client(wiki.wiki_url, waits)
    assert client.get(f"content/{page.id}")["id"] == page.id
    assert [c.status for c in wiki.calls(path)] == [status, status, 200]
    assert len(waits) == 2 and client.calls == 3


def test_503_retry_after_is_honoured(wiki: ConfluenceStandIn, waits: list[float]) -> None:
    page = wiki.add_page("ENG", "P", "<p/>")
    wiki.fail_next(f"/wiki/rest/api/content/{page.id}", 503, retry_after="4")
    assert cloud_client(wiki.wiki_url, waits).get(f"content/{page.id}")["id"] == page.id
    assert waits == [4.0]


def test_gives_up_after_max_retries(wiki: ConfluenceStandIn, waits: list[float]) -> None:
    page = wiki.add_page("ENG", "P", "<p/>")
    wiki.fail_next(f"/wiki/rest/api/content/{page.id}", 503, times=10)
    client = cloud_client(wiki.wiki_url, waits, max_retries=2)
    with pytest.raises(ConfluenceError) as info:
        client.get(f"content/{page.id}")
    assert info.value.status == 503
    assert str(info.value) == (
        f"GET /wiki/rest/api/content/{page.id} -> 503: Internal server error "
        "(gave up after 3 attempts)"
    )
    assert len(waits) == 2 and client.calls == 3


def test_too_long_retry_after_gives_up_at_once(wiki: ConfluenceStandIn, waits: list[float]) -> None:
    page = wiki.add_page("ENG", "P", "<p/>")
    wiki.fail_next(f"/wiki/rest/api/content/{page.id}", 429, retry_after="3600")
    client = cloud_client(wiki.wiki_url, waits, max_retry_wait=60)
    with pytest.raises(ConfluenceError) as info:
        client.get(f"content/{page.id}")
    assert info.value.status == 429 and info.value.retry_after == 3600
    assert "retry after 3600 s, more than max_retry_wait 60 s" in str(info.value)
    assert "Rate limit exceeded" in str(info.value)
    assert waits == [] and client.calls == 1


def test_404_and_400_are_not_retried(wiki: ConfluenceStandIn, waits: list[float]) -> None:
    client = cloud_client(wiki.wiki_url, waits)
    with pytest.raises(ConfluenceNotFound) as info:
        client.get("content/999999")
    assert str(info.value) == (
        "GET /wiki/rest/api/content/999999 -> 404: No content found with id: ContentId{id=999999}"
    )
    with pytest.raises(ConfluenceError) as bad:
        list(client.paged("content/search", {"cql": "text ~ lore"}))
    assert type(bad.value) is ConfluenceError and bad.value.status == 400
    assert "-> 400: Could not parse cql : text ~ lore" in str(bad.value)
    assert waits == [] and client.calls == 2


def test_long_atlassian_messages_are_truncated(scripted: Scripted) -> None:
    scripted.routes["/wiki/rest/api/space/X"] = lambda _: Reply.json(
        {"statusCode": 400, "message": "bad\n" + "x" * 5000}, 400
    )
    with pytest.raises(ConfluenceError) as info:
        cloud_client(scripted.origin + "/wiki", []).get("space/X")
    message = str(info.value).split(": ", 1)[1]
    assert len(message) == 300 and message.startswith("bad xxx") and message.endswith("...")


def test_connection_errors_are_retried_then_reported(waits: list[float]) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = cloud_client(f"http://127.0.0.1:{port}/wiki", waits, max_retries=2)
    with pytest.raises(ConfluenceError) as info:
        client.get("space/ENG")
    assert info.value.status is None and "ConnectionError" in str(info.value)
    assert "gave up after 3 attempts" in str(info.value)
    assert len(waits) == 2 and client.calls == 3


def test_timeouts_are_retried(scripted: Scripted, waits: list[float]) -> None:
    replies = iter([Reply.json({"slow": True}, delay=1.0), Reply.json({"key": "ENG"})])
    scripted.routes["/wiki/rest/api/space/ENG"] = lambda _: next(replies)
    client = cloud_client(scripted.origin + "/wiki", waits, timeout=0.2)
    assert client.get("space/ENG") == {"key": "ENG"}
    assert len(waits) == 1 and client.calls == 2


# --------------------------------------------------------------------------- bad bodies


def test_garbage_200_is_a_bad_response(wiki: ConfluenceStandIn, waits: list[float]) -> None:
    page = wiki.add_page("ENG", "P", "<p/>")
    wiki.fail_next(f"/wiki/rest/api/content/{page.id}", garbage=True)
    client = cloud_client(wiki.wiki_url, waits)
    with pytest.raises(ConfluenceBadResponse) as info:
        client.get(f"content/{page.id}")
    text = str(info.value)
    assert text.startswith(f"GET /wiki/rest/api/content/{page.id} -> 200: expected a JSON body")
    assert "text/html" in text and "<html" not in text and "proxy" not in text
    assert waits == [] and client.calls == 1
    assert client.get(f"content/{page.id}")["id"] == page.id


def test_json_that_is_not_an_object_is_a_bad_response(scripted: Scripted) -> None:
    scripted.routes["/wiki/rest/api/space"] = lambda _: Reply.json([{"key": "A"}])
    scripted.routes["/wiki/rest/api/content/search"] = lambda _: Reply.json({"results": {"a": 1}})
    client = cloud_client(scripted.origin + "/wiki", [])
    with pytest.raises(ConfluenceBadResponse, match="expected a JSON object, got a JSON array"):
        client.get("space")
    with pytest.raises(ConfluenceBadResponse, match='expected "results" to be a list'):
        list(client.paged("content/search", {"cql": "type = page"}))


def test_paths_must_be_relative_to_the_rest_root(wiki: ConfluenceStandIn) -> None:
    client = cloud_client(wiki.wiki_url, [])
    for bad in ("rest/api/content/1", "https://evil.example/x", "../../etc", ""):
        with pytest.raises(ValueError):
            client.get(bad)
    assert wiki.calls() == [] and client.calls == 0


# --------------------------------------------------------------------------- downloads


def test_download_relative_link_keeps_the_context_path(scripted: Scripted) -> None:
    path = "/wiki/download/attachments/123/a.pdf"
    scripted.routes[path] = lambda _: Reply(200, b"%PDF-1.7 lore", {"Content-Type": "application/pdf"})
    client = cloud_client(scripted.origin + "/wiki", [])
    link = "/download/attachments/123/a.pdf?version=1&api=v2"
    assert client.download(link, max_bytes=1000) == b"%PDF-1.7 lore"
    assert client.download("/wiki" + link, max_bytes=13) == b"%PDF-1.7 lore"  # not doubled
    assert client.download(scripted.origin + "/wiki" + link, max_bytes=100) == b"%PDF-1.7 lore"
    assert [s.path for s in scripted.seen] == [path] * 3
    assert scripted.seen[0].query == {"version": ["1"], "api": ["v2"]}
    assert scripted.seen[0].headers["Authorization"].startswith("Basic ")
    assert client.calls == 3


def test_download_from_another_host_is_refused(scripted: Scripted) -> None:
    client = cloud_client(scripted.origin + "/wiki", [])
    with pytest.raises(ConfluenceBadResponse, match="another host"):
        client.download("https://evil.example/wiki/download/attachments/1/a.pdf", 100)
    assert scripted.seen == [] and client.calls == 0


def test_download_refuses_a_too_large_content_length(scripted: Scripted, waits: list[float]) -> None:
    total = 64 * 1024 * 1024
    scripted.routes["/wiki/download/attachments/1/big.bin"] = lambda _: Reply(
        200, endless(total), {"Content-Length": str(total)}
    )
    client = cloud_client(scripted.origin + "/wiki", waits)
    with pytest.raises(AttachmentTooLarge) as info:
        client.download("/download/attachments/1/big.bin", max_bytes=1_000_000)
    assert f"is {total} bytes, more than the limit of 1000000" in str(info.value)
    assert scripted.done.wait(10)
    assert scripted.sent < total // 2  # the client hung up instead of reading it all
    assert waits == [] and client.calls == 1


def test_download_stops_a_stream_without_content_length(scripted: Scripted) -> None:
    total = 64 * 1024 * 1024
    scripted.routes["/wiki/download/attachments/1/stream.bin"] = lambda _: Reply(
        200, endless(total)
    )
    client = cloud_client(scripted.origin + "/wiki", [])
    with pytest.raises(AttachmentTooLarge, match="larger than the limit of 100000 bytes"):
        client.download("/download/attachments/1/stream.bin", max_bytes=100_000)
    assert scripted.done.wait(10)
    assert scripted.sent < total // 2
    assert client.calls == 1


def test_download_exactly_at_the_limit_and_errors(scripted: Scripted, waits: list[float]) -> None:
    body = b"y" * 1000
    scripted.routes["/wiki/download/attachments/1/ok.txt"] = lambda _: Reply(
        200, body, content_length=False
    )
    replies = iter([Reply.json({"message": "busy"}, 503), Reply(200, b"later")])
    scripted.routes["/wiki/download/attachments/1/flaky.txt"] = lambda _: next(replies)
    client = cloud_client(scripted.origin + "/wiki", waits)
    assert client.download("/download/attachments/1/ok.txt", max_bytes=1000) == body
    with pytest.raises(ConfluenceNotFound, match="-> 404: no route"):
        client.download("/download/attachments/1/missing.txt", max_bytes=1000)
    assert client.download("download/attachments/1/flaky.txt", max_bytes=10) == b"later"
    assert len(waits) == 1


# --------------------------------------------------------------------------- counter, threads


def test_calls_counter_under_concurrency(wiki: ConfluenceStandIn) -> None:
    pages = [wiki.add_page("ENG", f"P{i}", "<p/>") for i in range(10)]
    client = cloud_client(wiki.wiki_url, [])
    with ThreadPoolExecutor(max_workers=6) as pool:
        titles = list(pool.map(lambda n: client.get(f"content/{pages[n % 10].id}")["title"],
                               range(60)))
    assert titles == [f"P{n % 10}" for n in range(60)]
    assert client.calls == 60 == len(wiki.calls("/wiki/rest/api/"))
    client.close()
    with pytest.raises(ConfluenceError, match="closed"):
        client.get(f"content/{pages[0].id}")


# --------------------------------------------------------------------------- secrets


def _everything_said(exc: BaseException, client: ConfluenceClient, caplog: Any) -> str:
    return "\n".join(
        [str(exc), repr(exc), "".join(traceback.format_exception(exc)), repr(client),
         str(client), caplog.text]
    )


def test_secrets_never_appear_in_errors_reprs_or_logs(
    wiki: ConfluenceStandIn, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    page = wiki.add_page("ENG", "P", "<p/>")
    basic_value = base64.b64encode(f"{EMAIL}:{WRONG}".encode()).decode()
    client = cloud_client(wiki.wiki_url, [], token=WRONG)
    with pytest.raises(ConfluenceAuthError) as info:
        client.get(f"content/{page.id}")
    said = _everything_said(info.value, client, caplog)
    assert WRONG not in said and basic_value not in said
    assert "ATATT" not in said

    good = cloud_client(wiki.wiki_url, [], max_retries=1)
    wiki.fail_next(f"/wiki/rest/api/content/{page.id}", 503, times=2)  # retry logs, then give up
    with pytest.raises(ConfluenceError) as gave_up:
        good.get(f"content/{page.id}")
    said = _everything_said(gave_up.value, good, caplog)
    assert TOKEN not in said and "gave up after 2 attempts" in said
    assert "retrying" in caplog.text  # the retry was logged, without the token

    pat_client = ConfluenceClient(wiki.wiki_url, Credentials.bearer(WRONG), cloud=False)
    with pytest.raises(ConfluenceAuthError) as info:
        pat_client.get(f"content/{page.id}")
    assert WRONG not in _everything_said(info.value, pat_client, caplog)


def test_secrets_echoed_by_the_server_are_scrubbed(
    scripted: Scripted, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    scripted.routes["/wiki/rest/api/space/ENG"] = lambda seen: Reply.json(
        {"message": f"token {TOKEN} rejected; header was {seen.headers['Authorization']}"}, 400
    )
    client = cloud_client(scripted.origin + "/wiki", [])
    with pytest.raises(ConfluenceError) as info:
        client.get("space/ENG")
    said = _everything_said(info.value, client, caplog)
    assert TOKEN not in said
    assert base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode() not in said
    assert "[REDACTED]" in str(info.value)


def test_credentials_validate_and_hide_secrets() -> None:
    basic = Credentials.basic(EMAIL, TOKEN)
    assert repr(basic) == f"Credentials(email={EMAIL!r}, api_token=***)" == str(basic)
    assert PAT not in repr(Credentials.bearer(PAT)) and basic.kind == "basic"
    invalid: list[Callable[[], Credentials]] = [
        lambda: Credentials(),
        lambda: Credentials(email=EMAIL),
        lambda: Credentials(email=EMAIL, api_token=TOKEN, personal_access_token=PAT),
    ]
    for bad in invalid:
        with pytest.raises(ValueError) as info:
            bad()
        assert TOKEN not in str(info.value) and PAT not in str(info.value)
    with pytest.raises(ValueError, match="Cloud takes basic auth"):
        ConfluenceClient("https://x.atlassian.net/wiki", Credentials.bearer(PAT), cloud=True)
    with pytest.raises(ValueError):
        ConfluenceClient(f"https://{EMAIL}:{TOKEN}@x.atlassian.net/wiki", basic, cloud=True)


# --------------------------------------------------------------------------- end to end


def test_attachments_listed_by_offset_pages_and_downloaded(wiki: ConfluenceStandIn) -> None:
    page = wiki.add_page("ENG", "Specs", "<p/>")
    files = {f"spec {n}.pdf": f"%PDF-{n}".encode() for n in range(3)}
    for name, data in files.items():
        wiki.add_attachment(page.id, name, data, "application/pdf")
    client = cloud_client(wiki.wiki_url, [])
    listed = list(client.paged(f"content/{page.id}/child/attachment", {"limit": "2"}))
    assert sorted(a["title"] for a in listed) == sorted(files)
    for attachment in listed:
        link = attachment["_links"]["download"]
        assert link.startswith("/download/attachments/")  # relative to the wiki base
        assert client.download(link, max_bytes=100) == files[attachment["title"]]
    with pytest.raises(AttachmentTooLarge):
        client.download(listed[0]["_links"]["download"], max_bytes=3)
    assert all(c.path.startswith("/wiki/") for c in wiki.calls(""))
    assert len(wiki.calls("/wiki/rest/api/")) == 2  # two offset pages of attachments
