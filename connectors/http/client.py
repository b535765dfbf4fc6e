"""A synchronous, thread-safe HTTP client for a source's REST API.

:class:`HttpClient` sends GET requests through ``requests`` sessions that the source sets up
(its authentication) and does, once for every source, what vendor libraries get wrong or
leave out:

- retries with ``core.retry.retry_sync`` (retry_hints.py): 429, 500, 502, 503, 504, connection
  errors and timeouts, honouring ``Retry-After`` and ``X-RateLimit-Reset``; a server asking
  for a wait longer than ``max_retry_wait`` ends the retries with an error saying so (one has
  been seen answering ``Retry-After: 9223372036854775807``). Other statuses are never retried;
- paging by next links (links.py), :meth:`HttpClient.pages`;
- streamed downloads under a byte cap (download.py), :meth:`HttpClient.download`;
- errors (errors.py, or the source's own subclasses through ``ErrorKinds``) whose message is
  ``GET <path> -> <status>: <the service's message>``, scrubbed of secrets (messages.py), and
  transport errors re-raised without their ``requests`` cause, which holds the prepared
  request and its ``Authorization`` header;
- a 2xx whose body is not a JSON object is a BadResponse naming the path and content type.

``requests.Session`` is not documented as thread-safe, so each thread gets its own session
from ``open_session``; :meth:`HttpClient.close` closes them all. The request counter is guarded
by a lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit

import requests

from core.retry import retry_sync

from .download import read_bounded, read_some
from .errors import HTTP_ERRORS, ErrorKinds, HttpError
from .links import Links
from .messages import MessageOf, Scrubber, error_text, json_kind, no_message
from .retry_hints import RETRYABLE_STATUSES, retry_after, retry_hint

__all__ = ["HttpClient", "Paging", "Params", "query"]

T = TypeVar("T")

Params = Mapping[str, str | int | Sequence[str]]
Query = dict[str, str | list[str]]

BASE_DELAY = 1.0  # seconds; first backoff ceiling, doubled per retry (full jitter)
MAX_ERROR_BODY = 64 * 1024  # bytes of a streamed error body read to find the service's message


@dataclass(frozen=True)
class Paging:
    """How a paged endpoint's JSON says what it holds: ``items(body, path)`` the page's items,
    ``next_link(body, path)`` the next link and the base it is relative to (None: last page).
    Both raise the client's BadResponse for a body they cannot read."""

    items: Callable[[dict[str, Any], str], list[dict[str, Any]]]
    next_link: Callable[[dict[str, Any], str], tuple[str, str | None] | None]


class HttpClient:
    """GETs on ``base`` (an http(s) URL, context path included; see links.base_url) and its
    origin only. ``service`` names the service in messages and logs; ``secrets`` are the
    values the sessions send (scrubbed from every message); ``message_of`` finds the service's
    message in an error body; a download whose final URL path ends with ``login_path`` was
    redirected to the service's login page (an auth error); ``link_hint`` ends the message
    refusing a link to another origin."""

    def __init__(
        self,
        base: str,
        *,
        service: str,
        open_session: Callable[[], requests.Session] = requests.Session,
        secrets: Iterable[str] = (),
        errors: ErrorKinds = HTTP_ERRORS,
        message_of: MessageOf = no_message,
        login_path: str = "",
        link_hint: str = "",
        timeout: float = 30.0,
        max_retries: int = 5,
        max_retry_wait: float = 120.0,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        if timeout <= 0 or max_retries < 0 or max_retry_wait < 0:
            raise ValueError("timeout must be > 0; max_retries and max_retry_wait >= 0")
        self.base = base
        self.service = service
        self.links = Links(base, errors.bad_response, link_hint)
        self._open_session = open_session
        self._scrubber = Scrubber(secrets, name=f"{service} credentials")
        self._errors = errors
        self._message_of = message_of
        self._login_path = login_path
        self._timeout = timeout
        self._max_retries = max_retries
        self._max_retry_wait = max_retry_wait
        self._sleep = sleep
        self._lock = threading.Lock()
        self._calls = 0
        self._closed = False
        self._local = threading.local()
        self._sessions: list[requests.Session] = []

    # ------------------------------------------------------------------ public

    @property
    def calls(self) -> int:
        """HTTP requests sent so far (retries and downloads included)."""
        with self._lock:
            return self._calls

    def get_json(self, url: str, params: Params | None = None) -> dict[str, Any]:
        """GET ``url`` (absolute on the base's origin, or relative to the base) and return its
        JSON object."""
        with self._redacting():
            target = self.links.resolve(url, "URL", urlsplit(url).path)
            return self._get_json(target, query(params))

    def pages(
        self, url: str, params: Params | None, paging: Paging
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield the items of each page, following next links until a page has none (a full
        page without one ends the walk: the server is trusted). A next link to another origin,
        or one followed before, raises BadResponse."""
        with self._redacting():
            target, q = self.links.resolve(url, "URL", urlsplit(url).path), query(params)
            pager = self.links.pager()
            while True:
                body = self._get_json(target, q)
                shown = urlsplit(target).path
                yield paging.items(body, shown)
                following = paging.next_link(body, shown)
                if following is None:
                    return
                link, base = following
                target, q = pager.follow(link, shown, base), None

    def download(self, link: str, max_bytes: int, *, what: str = "download") -> bytes:
        """Download ``link`` (relative to the base, or absolute on its origin), streamed; a
        ``what`` ("attachment") of more than ``max_bytes`` raises the too-large error without
        the rest being read. Redirects are followed; ``requests`` drops the ``Authorization``
        header when a redirect leaves the host."""
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        with self._redacting():
            url = self.links.resolve(link, "download link", urlsplit(self.base).path)
            shown = urlsplit(url).path
            return self._with_retries(
                shown, lambda: self._download_once(url, shown, max_bytes, what)
            )

    def close(self) -> None:
        """Close every session this client opened; later calls raise the failed-request error."""
        with self._lock:
            self._closed = True
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"HttpClient(base={self.base!r}, service={self.service!r}, calls={self.calls})"

    @contextmanager
    def _redacting(self) -> Iterator[None]:
        """Every error leaving the client, its message and the notes retries added, redacted."""
        try:
            yield
        except HttpError as exc:
            exc.args = tuple(self._scrubber.redact(a) if isinstance(a, str) else a for a in exc.args)
            notes: list[str] | None = getattr(exc, "__notes__", None)  # set by add_note only
            if notes:
                exc.__notes__ = [self._scrubber.redact(note) for note in notes]
            raise

    # ------------------------------------------------------------------ transport

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        with self._lock:
            if self._closed:
                raise self._errors.failed(f"the {self.service} client is closed")
            self._calls += 1
            if session is None:
                session = self._open_session()
                self._sessions.append(session)
        self._local.session = session
        return session

    def _send(
        self, url: str, q: Query | None, shown: str, *, stream: bool = False
    ) -> requests.Response:
        session = self._session()
        accept = "*/*" if stream else "application/json"
        try:
            return session.get(
                url, params=q, headers={"Accept": accept}, timeout=self._timeout, stream=stream
            )
        except requests.RequestException as exc:
            raise self._transport_error(exc, shown) from None

    def _transport_error(self, exc: requests.RequestException, shown: str) -> HttpError:
        retryable = isinstance(
            exc,
            requests.ConnectionError | requests.Timeout | requests.exceptions.ChunkedEncodingError,
        )
        detail = self._scrubber.transport(str(exc))
        return self._errors.failed(
            f"GET {shown} -> {type(exc).__name__}: {detail}", path=shown, retryable=retryable
        )

    # ------------------------------------------------------------------ requests

    def _get_json(self, url: str, q: Query | None) -> dict[str, Any]:
        shown = urlsplit(url).path
        return self._with_retries(shown, lambda: self._get_json_once(url, q, shown))

    def _get_json_once(self, url: str, q: Query | None, shown: str) -> dict[str, Any]:
        response = self._send(url, q, shown)
        with response:
            status = response.status_code
            if not 200 <= status < 300:
                raise self._http_error(response, shown, response.content)
            content_type = response.headers.get("Content-Type", "") or "no content type"
            try:
                data = response.json()
            except ValueError:
                raise self._errors.bad_response(
                    f"GET {shown} -> {status}: expected a JSON body, got "
                    f"{content_type} ({len(response.content)} bytes)",
                    status=status,
                    path=shown,
                ) from None
        if not isinstance(data, dict):
            raise self._errors.bad_response(
                f"GET {shown} -> {status}: expected a JSON object, got {json_kind(data)}",
                status=status,
                path=shown,
            )
        return data

    def _download_once(self, url: str, shown: str, max_bytes: int, what: str) -> bytes:
        response = self._send(url, None, shown, stream=True)
        with response:  # closing an unread streamed response drops the connection, unread
            status = response.status_code
            if not 200 <= status < 300:
                raise self._http_error(response, shown, read_some(response, MAX_ERROR_BODY))
            if self._login_path and urlsplit(response.url).path.endswith(self._login_path):
                raise self._errors.auth(
                    f"GET {shown} -> {status}: redirected to the login page",
                    status=401,
                    path=shown,
                )
            try:
                return read_bounded(
                    response, max_bytes, shown=shown, what=what, too_large=self._errors.too_large
                )
            except requests.RequestException as exc:
                raise self._transport_error(exc, shown) from None

    def _with_retries(self, shown: str, call: Callable[[], T]) -> T:
        attempts = 0

        def attempt() -> T:
            nonlocal attempts
            attempts += 1
            return call()

        try:
            return retry_sync(
                attempt,
                retry_after_of=retry_hint,
                attempts=self._max_retries + 1,
                base_delay=BASE_DELAY,
                max_delay=self._max_retry_wait,
                what=f"{self.service} GET {shown}",
                sleep=self._sleep,
            )
        except HttpError as exc:
            if exc.retryable:
                noun = "attempt" if attempts == 1 else "attempts"
                exc.args = (f"{exc.args[0]} (gave up after {attempts} {noun})",)
            raise

    def _http_error(self, response: requests.Response, shown: str, body: bytes) -> HttpError:
        status = response.status_code
        text = f"GET {shown} -> {status}: "
        text += error_text(response, body, self._message_of, self._scrubber)
        wait: float | None = None
        retryable = status in RETRYABLE_STATUSES
        if retryable:
            wait = retry_after(response.headers, rate_limited=status == 429)
            if wait is not None and wait > self._max_retry_wait:
                text += (
                    f" (gave up: {self.service} asked to retry after {wait:g} s, more than "
                    f"max_retry_wait {self._max_retry_wait:g} s)"
                )
                retryable = False
        kind = self._errors.failed
        if status == 404:
            kind = self._errors.not_found
        elif status in {401, 403}:
            kind = self._errors.auth
        return kind(text, status=status, path=shown, retry_after=wait, retryable=retryable)


def query(params: Params | None) -> Query | None:
    """``params`` as ``requests`` takes them: numbers as text, a sequence as a repeated key."""
    if not params:
        return None
    out: Query = {}
    for key, value in params.items():
        if isinstance(value, str):
            out[key] = value
        elif isinstance(value, int):
            out[key] = str(value)
        else:
            out[key] = [str(v) for v in value]
    return out
