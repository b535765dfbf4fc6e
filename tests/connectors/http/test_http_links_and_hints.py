"""The HTTP layer's pure parts: joining links to a base, origins, base URLs, retry waits."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from connectors.http.errors import BadResponse, HttpError
from connectors.http.links import Links, base_url, join, origin
from connectors.http.retry_hints import retry_after, retry_hint

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("link", "base", "joined"),
    [
        ("/rest/api/x?c=1", "https://h.example/wiki", "https://h.example/wiki/rest/api/x?c=1"),
        ("/wiki/rest/api/x", "https://h.example/wiki", "https://h.example/wiki/rest/api/x"),
        ("/wiki", "https://h.example/wiki", "https://h.example/wiki"),
        ("/wikipedia/x", "https://h.example/wiki", "https://h.example/wiki/wikipedia/x"),
        ("rest/api/x", "https://h.example/wiki/", "https://h.example/wiki/rest/api/x"),
        ("/rest/api/x", "https://h.example", "https://h.example/rest/api/x"),
        ("https://h.example/other", "https://h.example/wiki", "https://h.example/other"),
    ],
)
def test_join_keeps_the_context_path_once(link: str, base: str, joined: str) -> None:
    assert join(link, base) == joined


def test_origins_use_default_ports_and_ignore_case() -> None:
    assert origin("https://H.Example/wiki") == origin("https://h.example:443/x") == (
        "https", "h.example", 443
    )
    assert origin("http://h.example") != origin("https://h.example")
    assert origin("http://h.example:8080") != origin("http://h.example")


def test_links_refuse_another_origin_and_name_it() -> None:
    links = Links("https://h.example/wiki", BadResponse, " (check the base URL)")
    assert links.resolve("/x", "link", "/wiki/a") == "https://h.example/wiki/x"
    # a base from the response body is used only when it is an http(s) URL
    assert links.resolve("/x", "link", "/a", base="javascript:x") == "https://h.example/wiki/x"
    with pytest.raises(BadResponse) as info:
        links.resolve("//evil.example/wiki/x", "next link", "/wiki/a")
    assert str(info.value) == (
        "GET /wiki/a: the next link points to another host (https://evil.example), not "
        "h.example; not following it with the credentials (check the base URL)"
    )
    with pytest.raises(BadResponse, match="empty next link"):
        links.resolve("  ", "next link", "/wiki/a")


def test_a_pager_refuses_a_link_it_followed_before() -> None:
    pager = Links("https://h.example", BadResponse).pager()
    assert pager.follow("/a?page=2", "/a") == "https://h.example/a?page=2"
    with pytest.raises(BadResponse, match="repeats an earlier one"):
        pager.follow("https://h.example/a?page=2", "/a")
    assert Links("https://h.example", BadResponse).pager().follow("/a?page=2", "/a")


@pytest.mark.parametrize(
    "bad", ["ftp://h.example", "h.example/wiki", "https://u:p@h.example", "https://h/x?a=1",
            "https://h/x#f", "https://"],
)
def test_base_urls_are_plain_http_urls(bad: str) -> None:
    with pytest.raises(ValueError, match="wiki_url"):
        base_url(bad, name="wiki_url")
    assert base_url(" https://h.example/wiki/ ") == "https://h.example/wiki"


def test_retry_after_seconds_or_http_date() -> None:
    assert retry_after({"Retry-After": "120"}, rate_limited=False, now=NOW) == 120
    assert retry_after({"Retry-After": "Sun, 01 Mar 2026 09:00:30 GMT"}, rate_limited=True,
                       now=NOW) == 30
    assert retry_after({"Retry-After": "Sun, 01 Mar 2026 08:00:00 GMT"}, rate_limited=True,
                       now=NOW) == 0  # a date in the past: now
    assert retry_after({}, rate_limited=True, now=NOW) is None


def test_rate_limit_reset_only_on_a_429_and_in_both_documented_forms() -> None:
    iso = {"X-RateLimit-Reset": "2026-03-01T09:01Z"}
    epoch = {"X-RateLimit-Reset": str(int(NOW.timestamp()) + 45)}
    assert retry_after(iso, rate_limited=True, now=NOW) == 60
    assert retry_after({"X-RateLimit-Reset": "2026-03-01T09:01"}, rate_limited=True, now=NOW) == 60
    assert retry_after(epoch, rate_limited=True, now=NOW) == 45
    assert retry_after(iso, rate_limited=False, now=NOW) is None
    assert retry_after({"X-RateLimit-Reset": "soon"}, rate_limited=True, now=NOW) is None
    assert retry_after({"X-RateLimit-Reset": "9" * 30}, rate_limited=True, now=NOW) == math.inf
    # an unusable Retry-After falls back to the reset time
    both = {"Retry-After": "later", **iso}
    assert retry_after(both, rate_limited=True, now=NOW) == 60


def test_only_errors_marked_retryable_are_retried() -> None:
    assert retry_hint(HttpError("x", retryable=True, retry_after=3.0)) == 3.0
    assert retry_hint(HttpError("x", retryable=True)) is None
    assert retry_hint(HttpError("x", status=400)) is False
    assert retry_hint(ValueError("x")) is False
