"""connectors.http.HttpClient against a scripted aiohttp server on loopback (tests/fakes/loopback):
retries and their waits, paging, bounded downloads, and what error messages may say."""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import requests
from aiohttp import web

from connectors.errors import DocumentUnreadable, SourceAuthError, SourceUnavailable
from connectors.http.client import HttpClient, Paging
from connectors.http.errors import (
    BadResponse,
    DownloadTooLarge,
    ErrorKinds,
    HttpAuthError,
    HttpError,
    HttpNotFound,
)
from tests.fakes.loopback import serving

SECRET = "lore-http-test-token-6f1e2d9c"
# A credential shape the client was never told about (a Groq key), echoed by a server.
FOREIGN = "gsk_" + "A1b2C3d4E5f6G7h8J9k0"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Server:
    """``routes[path]`` answers in turn with each handler of its list (the last one repeats);
    ``seen`` records every request path and query; ``sent`` counts streamed body bytes."""

    port: int = 0
    routes: dict[str, list[Handler]] = field(default_factory=dict)
    seen: list[str] = field(default_factory=list)
    sent: int = 0

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.seen.append(request.path_qs)
        replies = self.routes.get(request.path)
        if not replies:
            return web.json_response({"message": "no route"}, status=404)
        reply = replies.pop(0) if len(replies) > 1 else replies[0]
        return await reply(request)


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    state = Server()
    app = web.Application()
    app.router.add_route("GET", "/{tail:.*}", state.handle)
    async with serving(app) as port:
        state.port = port
        yield state


def json(data: Any, status: int = 200, **headers: str) -> Handler:
    async def reply(request: web.Request) -> web.StreamResponse:
        return web.json_response(data, status=status, headers=headers)

    return reply


def raw(body: bytes, content_type: str, status: int = 200) -> Handler:
    async def reply(request: web.Request) -> web.StreamResponse:
        return web.Response(body=body, status=status, content_type=content_type)

    return reply


def stream(total: int, *, declare: bool, server: Server) -> Handler:
    """``total`` bytes in 64 KB chunks, with or without a Content-Length."""

    async def reply(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        if declare:
            response.content_length = total
        else:
            response.enable_chunked_encoding()
        await response.prepare(request)
        block = b"x" * (64 * 1024)
        server.sent = 0
        try:
            for _ in range(total // len(block)):
                await response.write(block)
                server.sent += len(block)
        except (ConnectionResetError, ConnectionError):
            pass
        return response

    return reply


def bearer_session() -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {SECRET}"
    return session


def client(server: Server, waits: list[float] | None = None, **kwargs: Any) -> HttpClient:
    options: dict[str, Any] = {
        "service": "Example",
        "open_session": bearer_session,
        "secrets": [SECRET],
        "sleep": (waits if waits is not None else []).append,
        **kwargs,
    }
    return HttpClient(server.origin + "/api", **options)


async def call(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Runs the blocking client off the loop that serves its requests."""
    return await asyncio.to_thread(function, *args, **kwargs)


async def failure(function: Callable[..., Any], *args: Any) -> HttpError:
    with pytest.raises(HttpError) as info:
        await call(function, *args)
    return info.value


# --------------------------------------------------------------------------- retries


async def test_retry_after_seconds_is_waited_exactly(server: Server) -> None:
    server.routes["/api/things"] = [json({"message": "slow down"}, 429, **{"Retry-After": "7"}),
                                    json({"ok": True})]
    waits: list[float] = []
    http = client(server, waits)
    assert await call(http.get_json, "things") == {"ok": True}
    assert waits == [7.0] and http.calls == 2


async def test_retry_after_http_date_and_rate_limit_reset(server: Server) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    epoch = str(int(time.time()) + 40)  # GitHub's form: Unix seconds
    iso = (datetime.now(UTC) + timedelta(seconds=60)).strftime("%Y-%m-%dT%H:%M:%SZ")  # Atlassian's
    server.routes["/api/a"] = [json({}, 503, **{"Retry-After": when}), json({"a": 1})]
    server.routes["/api/b"] = [json({}, 429, **{"X-RateLimit-Reset": epoch}), json({"b": 1})]
    server.routes["/api/c"] = [json({}, 429, **{"X-RateLimit-Reset": iso}), json({"c": 1})]
    waits: list[float] = []
    http = client(server, waits)
    assert [await call(http.get_json, p) for p in ("a", "b", "c")] == [{"a": 1}, {"b": 1}, {"c": 1}]
    assert 17 <= waits[0] <= 20 and 37 <= waits[1] <= 40 and 57 <= waits[2] <= 60


async def test_a_wait_longer_than_max_retry_wait_gives_up_at_once(server: Server) -> None:
    server.routes["/api/x"] = [json({}, 429, **{"Retry-After": "3600"})]
    waits: list[float] = []
    http = client(server, waits, max_retry_wait=60)
    error = await failure(http.get_json, "x")
    assert error.status == 429 and error.retry_after == 3600 and not error.retryable
    assert "Example asked to retry after 3600 s, more than max_retry_wait 60 s" in str(error)
    assert waits == [] and server.seen == ["/api/x"]


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_server_errors_are_retried_with_backoff(server: Server, status: int) -> None:
    server.routes["/api/x"] = [json({}, status), json({}, status), json({"ok": 1})]
    waits: list[float] = []
    assert await call(client(server, waits).get_json, "x") == {"ok": 1}
    assert len(waits) == 2 and 0 <= waits[0] <= 1 and 0 <= waits[1] <= 2


async def test_giving_up_says_after_how_many_attempts(server: Server) -> None:
    server.routes["/api/x"] = [json({}, 503)]
    error = await failure(client(server, max_retries=2).get_json, "x")
    assert str(error) == "GET /api/x -> 503: Service Unavailable (gave up after 3 attempts)"
    assert isinstance(error, SourceUnavailable) and len(server.seen) == 3


@pytest.mark.parametrize(
    ("status", "kind"),
    [(400, HttpError), (401, HttpAuthError), (403, HttpAuthError), (404, HttpNotFound)],
)
async def test_client_errors_are_never_retried(
    server: Server, status: int, kind: type[HttpError]
) -> None:
    server.routes["/api/x"] = [json({}, status, **{"Retry-After": "1"})]
    waits: list[float] = []
    error = await failure(client(server, waits).get_json, "x")
    assert type(error) is kind and error.status == status and not error.retryable
    assert waits == [] and server.seen == ["/api/x"]
    assert isinstance(error, SourceAuthError) == (status in (401, 403))


async def test_connection_errors_are_retried_and_lose_their_requests_cause() -> None:
    app = web.Application()
    async with serving(app) as port:
        pass  # the port is free again: nobody listens
    waits: list[float] = []
    http = HttpClient(f"http://127.0.0.1:{port}/api", service="Example",
                      open_session=bearer_session, secrets=[SECRET], max_retries=2,
                      sleep=waits.append)
    error = await failure(http.get_json, "x")
    assert error.status is None and "ConnectionError" in str(error)
    assert "gave up after 3 attempts" in str(error) and len(waits) == 2
    # requests' exception holds the prepared request, Authorization header included
    assert error.__cause__ is None and error.__suppress_context__
    assert SECRET not in "".join(traceback.format_exception(error))


# --------------------------------------------------------------------------- bodies


async def test_a_non_json_200_is_a_bad_response_naming_path_and_type(server: Server) -> None:
    server.routes["/api/page"] = [raw(b"<html>proxy login</html>", "text/html")]
    error = await failure(client(server).get_json, "page")
    assert isinstance(error, BadResponse)
    assert str(error).startswith("GET /api/page -> 200: expected a JSON body, got text/html")
    assert "proxy" not in str(error)


async def test_json_that_is_not_an_object_is_a_bad_response(server: Server) -> None:
    server.routes["/api/list"] = [json([1, 2])]
    error = await failure(client(server).get_json, "list")
    assert isinstance(error, BadResponse) and "expected a JSON object, got a JSON array" in str(error)


# --------------------------------------------------------------------------- paging

ITEMS = Paging(
    items=lambda body, shown: list(body["items"]),
    next_link=lambda body, shown: (body["next"], body.get("base")) if body.get("next") else None,
)


async def test_relative_next_links_keep_the_context_path_once(server: Server) -> None:
    server.routes["/api/items"] = [
        json({"items": [{"n": 1}], "next": "/items?page=2"}),  # relative to the base /api
        json({"items": [{"n": 2}], "next": "/api/items?page=3"}),  # already carries it
        json({"items": [{"n": 3}], "next": "items?page=4", "base": server.origin + "/api"}),
        json({"items": [{"n": 4}]}),
    ]
    pages = await call(lambda: list(client(server).pages("items", {"limit": 1}, ITEMS)))
    assert pages == [[{"n": 1}], [{"n": 2}], [{"n": 3}], [{"n": 4}]]
    assert server.seen == ["/api/items?limit=1", "/api/items?page=2", "/api/items?page=3",
                           "/api/items?page=4"]


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:1", "evil.example"])
async def test_a_next_link_to_another_origin_is_refused(server: Server, host: str) -> None:
    port = "" if ":" in host else f":{server.port}"
    server.routes["/api/items"] = [json({"items": [], "next": f"http://{host}{port}/api/items"})]
    error = await failure(lambda: list(client(server).pages("items", None, ITEMS)))
    assert isinstance(error, BadResponse) and "points to another host" in str(error)
    assert server.seen == ["/api/items"]  # the credentials went nowhere else


async def test_a_next_link_loop_is_refused(server: Server) -> None:
    server.routes["/api/items"] = [json({"items": [{"n": 1}], "next": "/items?cursor=same"})]
    error = await failure(lambda: list(client(server).pages("items", None, ITEMS)))
    assert isinstance(error, BadResponse) and "repeats an earlier one" in str(error)
    assert server.seen == ["/api/items", "/api/items?cursor=same"]


# --------------------------------------------------------------------------- downloads


async def test_download_within_the_cap_and_at_it(server: Server) -> None:
    server.routes["/api/files/a.bin"] = [raw(b"y" * 1000, "application/octet-stream")]
    http = client(server)
    assert await call(http.download, "/files/a.bin", 1000) == b"y" * 1000
    assert await call(http.download, server.origin + "/api/files/a.bin", 5000) == b"y" * 1000


@pytest.mark.parametrize("declare", [True, False], ids=["content-length", "chunked"])
async def test_download_over_the_cap_stops_reading(server: Server, declare: bool) -> None:
    total = 32 * 1024 * 1024
    server.routes["/api/files/big.bin"] = [stream(total, declare=declare, server=server)]
    waits: list[float] = []
    http = client(server, waits)
    with pytest.raises(DownloadTooLarge) as info:
        await call(http.download, "/files/big.bin", 100_000, what="file")
    assert isinstance(info.value, DocumentUnreadable) and waits == []
    expected = f"the file is {total} bytes, more than" if declare else "the file is larger than"
    assert expected in str(info.value) and "limit of 100000" in str(info.value)
    for _ in range(100):  # the server notices the hang-up
        if server.sent < total:
            break
        await asyncio.sleep(0.05)
    assert server.sent < total // 2


async def test_download_from_another_origin_is_refused_before_any_request(server: Server) -> None:
    http = client(server)
    with pytest.raises(BadResponse, match="another host"):
        await call(http.download, "https://evil.example/api/files/a.bin", 100)
    assert server.seen == [] and http.calls == 0


async def test_a_redirect_to_the_login_page_is_an_auth_error(server: Server) -> None:
    async def to_login(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/api/login.action")

    server.routes["/api/files/a.pdf"] = [to_login]
    server.routes["/api/login.action"] = [raw(b"<html>log in</html>", "text/html")]
    http = client(server, login_path="/login.action")
    error = await failure(http.download, "/files/a.pdf", 100)
    assert isinstance(error, HttpAuthError) and error.status == 401
    assert "redirected to the login page" in str(error)


# --------------------------------------------------------------------------- messages, kinds


async def test_secrets_echoed_by_the_server_are_not_in_the_error(server: Server) -> None:
    async def echo(request: web.Request) -> web.StreamResponse:
        said = f"token {SECRET} and {FOREIGN} refused; header {request.headers['Authorization']}"
        return web.json_response({"message": said}, status=400)

    server.routes["/api/x"] = [echo]
    http = client(server, message_of=lambda data: data.get("message", "") if data else "")
    error = await failure(http.get_json, "x")
    said = "\n".join([str(error), repr(error), "".join(traceback.format_exception(error)),
                      repr(http)])
    assert SECRET not in said and FOREIGN not in said
    assert str(error).startswith("GET /api/x -> 400: token [REDACTED] and [REDACTED] refused")


async def test_a_secret_in_a_link_the_server_sent_is_not_in_the_error(server: Server) -> None:
    page = json({"items": [], "next": f"/items/{SECRET}"})
    server.routes["/api/items"] = server.routes[f"/api/items/{SECRET}"] = [page]
    error = await failure(lambda: list(client(server).pages("items", None, ITEMS)))
    assert "repeats an earlier one" in str(error)
    assert SECRET not in "".join(traceback.format_exception(error))


async def test_messages_are_one_line_of_at_most_300_characters(server: Server) -> None:
    server.routes["/api/x"] = [json({"message": "bad\n" + "x" * 5000}, 400)]
    http = client(server, message_of=lambda data: data["message"])
    message = str(await failure(http.get_json, "x")).split(": ", 1)[1]
    assert len(message) == 300 and message.startswith("bad xxx") and message.endswith("...")


async def test_a_source_gets_its_own_error_classes(server: Server) -> None:
    class SourceFailed(HttpError):
        pass

    class SourceMissing(SourceFailed, HttpNotFound):
        pass

    server.routes["/api/gone"] = [json({}, 404)]
    server.routes["/api/bad"] = [json({}, 400)]
    kinds = ErrorKinds(failed=SourceFailed, not_found=SourceMissing)
    http = client(server, errors=kinds)
    assert type(await failure(http.get_json, "gone")) is SourceMissing
    assert type(await failure(http.get_json, "bad")) is SourceFailed
    http.close()
    closed = await failure(http.get_json, "bad")
    assert type(closed) is SourceFailed and str(closed) == "the Example client is closed"


async def test_a_transport_error_names_the_path_not_the_query() -> None:
    # requests' own message carries the URL with its query ("Max retries exceeded with url:
    # /api/x?..."): a pre-signed download link's signature (Azure SAS ``sig``, S3's
    # ``X-Amz-Signature``) must not reach the error, whose path alone names the request.
    app = web.Application()
    async with serving(app) as port:
        pass  # nobody listens
    http = HttpClient(f"http://127.0.0.1:{port}/api", service="Example", max_retries=0, sleep=lambda _s: None)
    signature = "q8ZKv0mE3eXhq1aHs7Lw"
    for call in (lambda: http.get_json("x", {"sig": signature, "se": "2030-01-01"}),
                 lambda: http.download(f"/api/file.pdf?X-Amz-Signature={signature}&x=1", 1000)):
        error = await failure(call)
        assert "ConnectionError" in str(error) and "/api/" in str(error)
        assert signature not in "".join(traceback.format_exception(error)), str(error)
