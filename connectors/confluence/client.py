"""A small synchronous, thread-safe client for Confluence's REST API v1 (Cloud and Data Center).

The Confluence connector reads content, restrictions, spaces, groups and attachments through
:class:`ConfluenceClient`: :meth:`~ConfluenceClient.get` one JSON object,
:meth:`~ConfluenceClient.pages` / :meth:`~ConfluenceClient.paged` every ``results`` item of a
paged endpoint (cursor-paged ``content/search`` and offset-paged group members, attachments,
space lists alike: both give a relative ``_links.next``), :meth:`~ConfluenceClient.download` an
attachment with a size limit. Errors are :class:`ConfluenceError` subclasses whose message is
``GET <path> -> <status>: <Atlassian's message>``.

atlassian-python-api (pinned 5.0.5) is used only as the authenticated transport: a
``ConfluenceServer`` object sets up the ``requests`` session (basic auth ``email:api_token`` for
Cloud, ``Authorization: Bearer <PAT>`` for Data Center, no ``.netrc`` fallback) and this module
sends its requests through that session. URL building, pagination, retries and response checks
are done here, because of the library's traps (pinned down in
``tests/fakes/test_confluence_stand_in.py``):

- ``Confluence(cloud=True)`` returns its Cloud class, which lacks the v1 content methods, and its
  ``cql()`` requests ``/wiki/content/search`` without ``rest/api``: we build
  ``<wiki_url>/rest/api/<path>`` ourselves.
- Its pager (``_get_paged``) joins a relative ``_links.next`` such as
  ``/rest/api/content/search?cursor=...`` to the site root, dropping the ``/wiki`` context path
  (a 404 on Cloud). Atlassian documents ``next`` as relative to ``_links.base``, so we join it
  there (or to ``wiki_url``), without doubling a context path some Data Center versions already
  include, and refuse a next link to another host (the credentials would go with it) or one
  seen before (a server-side loop would otherwise page forever).
- Its retry handler retries a 429 only when it carries ``Retry-After`` (once, with a blocking
  ``time.sleep`` we cannot see), and never a 500/502/504 or a dropped connection. We switch it
  off (``retry_with_header=False``, ``backoff_and_retry=False``) and retry with
  ``core.retry.retry_sync`` instead: 429, 500, 502, 503, 504, connection errors and timeouts,
  honouring ``Retry-After`` (seconds or HTTP-date; Atlassian documents it on 429 and on some
  transient 5xx) and, on a 429 without it, ``X-RateLimit-Reset`` (an ISO 8601 time; documented
  for Atlassian Cloud REST APIs). 400/401/403/404 are never retried. A server asking for a wait
  longer than ``max_retry_wait`` ends the retries with an error saying so (a community report
  shows Confluence answering ``Retry-After: 9223372036854775807``).
- A 200 with a non-JSON body (an HTML proxy or login page) is handed back by the library as a
  ``str``; we raise :class:`ConfluenceBadResponse` naming the path and content type instead.
- Its ``request()`` reads the whole body (no streaming, so no size limit on downloads), logs
  every response body at DEBUG and truncates the timeout to whole seconds; we call the session
  directly, with ``stream=True`` for downloads.

``requests.Session`` is not documented as thread-safe, so each thread gets its own library
object (and session, and connection pool); :meth:`ConfluenceClient.close` closes them all. The
request counter is guarded by a lock.

Secrets (API token, PAT, the basic-auth header value) never appear in exceptions, reprs or logs:
error messages carry only the path, status and Atlassian's message (scrubbed of the client's own
secrets and well-known credential shapes), and transport errors are re-raised without their
``requests`` cause, which holds the prepared request and its ``Authorization`` header.
"""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, Self, TypeVar
from urllib.parse import urljoin, urlsplit

import requests
from atlassian.confluence import ConfluenceServer as _ConfluenceServer

from core.retry import RetryHint, parse_retry_after, retry_sync
from core.secrets.redaction import Redactor

__all__ = [
    "AttachmentTooLarge",
    "ConfluenceAuthError",
    "ConfluenceBadResponse",
    "ConfluenceClient",
    "ConfluenceError",
    "ConfluenceNotFound",
    "Credentials",
    "Params",
]

T = TypeVar("T")

# atlassian-python-api is untyped.
ConfluenceServer: Any = _ConfluenceServer

Params = Mapping[str, str | int | Sequence[str]]

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_MESSAGE = 300  # characters of Atlassian's error message kept in ours
BASE_DELAY = 1.0  # seconds; first backoff ceiling, doubled per retry (full jitter)
_CHUNK = 64 * 1024
_MAX_ERROR_BODY = 64 * 1024  # bytes of a streamed error body read to find Atlassian's message


# --------------------------------------------------------------------------- errors


class ConfluenceError(RuntimeError):
    """A failed Confluence request. ``status`` is the HTTP status (None for transport errors);
    ``retryable`` and ``retry_after`` (seconds the server asked for) drive the retries."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        path: str = "",
        retry_after: float | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.path = path
        self.retry_after = retry_after
        self.retryable = retryable


class ConfluenceNotFound(ConfluenceError):
    """404: unknown, purged, or (on Cloud) unreadable by the integration's user."""


class ConfluenceAuthError(ConfluenceError):
    """401/403: wrong or expired credentials, or no permission. Never retried."""


class ConfluenceBadResponse(ConfluenceError):
    """A 2xx whose body is not what the API documents (an HTML page, a JSON array, a next link
    to another host or one already followed)."""


class AttachmentTooLarge(ConfluenceError):
    """An attachment larger than the caller's ``max_bytes``."""


# --------------------------------------------------------------------------- credentials


@dataclass(frozen=True, repr=False)
class Credentials:
    """Cloud: ``Credentials.basic(email, api_token)`` (basic auth). Data Center:
    ``Credentials.bearer(personal_access_token)`` (``Authorization: Bearer``), or basic auth with
    a username in ``email`` and a password in ``api_token``. The repr never shows a secret."""

    email: str = ""
    api_token: str = ""
    personal_access_token: str = ""

    def __post_init__(self) -> None:
        basic = bool(self.email) or bool(self.api_token)
        if basic and self.personal_access_token:
            raise ValueError("Credentials take email + api_token or a personal_access_token, not both")
        if basic and not (self.email and self.api_token):
            raise ValueError("basic-auth Credentials need both an email and an api_token")
        if not basic and not self.personal_access_token:
            raise ValueError("Credentials need email + api_token (Cloud) or a personal_access_token")

    @classmethod
    def basic(cls, email: str, api_token: str) -> Credentials:
        return cls(email=email, api_token=api_token)

    @classmethod
    def bearer(cls, personal_access_token: str) -> Credentials:
        return cls(personal_access_token=personal_access_token)

    @property
    def kind(self) -> Literal["basic", "bearer"]:
        return "bearer" if self.personal_access_token else "basic"

    def secret_values(self) -> tuple[str, ...]:
        """Every form in which the secret travels: the token and the basic-auth header value."""
        if self.kind == "bearer":
            return (self.personal_access_token,)
        pair = base64.b64encode(f"{self.email}:{self.api_token}".encode()).decode("ascii")
        return (self.api_token, pair)

    def __repr__(self) -> str:
        if self.kind == "bearer":
            return "Credentials(personal_access_token=***)"
        return f"Credentials(email={self.email!r}, api_token=***)"

    __str__ = __repr__


# --------------------------------------------------------------------------- client


class ConfluenceClient:
    """See the module docstring. ``wiki_url`` is the base URL including the context path:
    ``https://x.atlassian.net/wiki`` on Cloud, ``https://confluence.corp`` or
    ``https://corp.example/confluence`` on Data Center."""

    def __init__(
        self,
        wiki_url: str,
        credentials: Credentials,
        *,
        cloud: bool,
        timeout: float = 30.0,
        max_retries: int = 5,
        max_retry_wait: float = 120.0,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        parts = urlsplit(wiki_url.strip())
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise ValueError("wiki_url must be an http(s) URL such as https://x.atlassian.net/wiki")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("wiki_url must not carry a query, a fragment or credentials")
        if cloud and credentials.kind == "bearer":
            raise ValueError(
                "Confluence Cloud takes basic auth (email + API token), not a personal access token"
            )
        if timeout <= 0 or max_retries < 0 or max_retry_wait < 0:
            raise ValueError("timeout must be > 0; max_retries and max_retry_wait >= 0")
        self.wiki_url = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"
        self.cloud = cloud
        self._credentials = credentials
        self._timeout = timeout
        self._max_retries = max_retries
        self._max_retry_wait = max_retry_wait
        self._sleep = sleep
        self._origin = _origin(self.wiki_url)
        self._redactor = Redactor()
        for value in credentials.secret_values():
            self._redactor.register(value, name="confluence credentials")
        self._lock = threading.Lock()
        self._calls = 0
        self._closed = False
        self._local = threading.local()
        self._transports: list[Any] = []

    # ------------------------------------------------------------------ public

    @property
    def calls(self) -> int:
        """HTTP requests sent so far (retries and downloads included)."""
        with self._lock:
            return self._calls

    def get(self, path: str, params: Params | None = None) -> dict[str, Any]:
        """GET ``<wiki_url>/rest/api/<path>`` and return its JSON object."""
        return self._get_json(self._rest_url(path), _query(params))

    def pages(self, path: str, params: Params | None = None) -> Iterator[list[dict[str, Any]]]:
        """Yield the ``results`` of each HTTP page, following ``_links.next`` until it is absent
        (a full page without one ends the walk: the server is trusted)."""
        url = self._rest_url(path)
        query = _query(params)
        seen: set[str] = set()
        while True:
            body = self._get_json(url, query)
            shown = urlsplit(url).path
            results = body.get("results")
            if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
                raise ConfluenceBadResponse(
                    f"GET {shown} -> 200: expected \"results\" to be a list of objects",
                    status=200,
                    path=shown,
                )
            yield results
            following = self._next_url(body, shown)
            if following is None:
                return
            if following in seen:
                raise ConfluenceBadResponse(
                    f"GET {shown} -> 200: the next link repeats an earlier one "
                    f"({urlsplit(following).path}); stopping a paging loop",
                    status=200,
                    path=shown,
                )
            seen.add(following)
            url, query = following, None

    def paged(self, path: str, params: Params | None = None) -> Iterator[dict[str, Any]]:
        """Yield every item of ``results`` across all pages."""
        for page in self.pages(path, params):
            yield from page

    def download(self, link: str, max_bytes: int) -> bytes:
        """Download an attachment from its ``_links.download`` (relative to the wiki base, e.g.
        ``/download/attachments/123/a.pdf?version=1&api=v2``, or absolute on the wiki's host).

        Streams; raises :class:`AttachmentTooLarge` when ``Content-Length`` says more than
        ``max_bytes`` or as soon as more than ``max_bytes`` arrive, without reading the rest.
        Redirects are followed (Cloud sends attachments from its media host); ``requests`` drops
        the ``Authorization`` header when a redirect leaves the wiki's host."""
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        url = self._resolve(link, self.wiki_url, "download link", urlsplit(self.wiki_url).path)
        shown = urlsplit(url).path
        return self._with_retries(shown, lambda: self._download_once(url, shown, max_bytes))

    def close(self) -> None:
        """Close every session this client opened; later calls raise :class:`ConfluenceError`."""
        with self._lock:
            self._closed = True
            transports, self._transports = self._transports, []
        for transport in transports:
            transport.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"ConfluenceClient(wiki_url={self.wiki_url!r}, cloud={self.cloud}, "
            f"credentials={self._credentials!r}, calls={self.calls})"
        )

    # ------------------------------------------------------------------ transport

    def _session(self) -> requests.Session:
        transport = getattr(self._local, "transport", None)
        with self._lock:
            if self._closed:
                raise ConfluenceError("the Confluence client is closed")
            self._calls += 1
            if transport is None:
                transport = self._new_transport()
                self._transports.append(transport)
        self._local.transport = transport
        session: requests.Session = transport.session
        return session

    def _new_transport(self) -> Any:
        """An atlassian-python-api object used for its authenticated session only; its own
        retries are off so that ours are the only ones."""
        options: dict[str, Any] = {
            "cloud": self.cloud,
            "timeout": max(1, math.ceil(self._timeout)),  # unused: we pass ours per request
            "backoff_and_retry": False,
            "retry_with_header": False,
        }
        creds = self._credentials
        if creds.kind == "bearer":
            return ConfluenceServer(self.wiki_url, token=creds.personal_access_token, **options)
        return ConfluenceServer(
            self.wiki_url, username=creds.email, password=creds.api_token, **options
        )

    def _send(
        self,
        url: str,
        query: dict[str, str | list[str]] | None,
        shown: str,
        *,
        stream: bool = False,
    ) -> requests.Response:
        session = self._session()
        accept = "*/*" if stream else "application/json"
        try:
            return session.get(
                url,
                params=query,
                headers={"Accept": accept},
                timeout=self._timeout,
                stream=stream,
            )
        except requests.RequestException as exc:
            raise self._transport_error(exc, shown) from None

    def _transport_error(self, exc: requests.RequestException, shown: str) -> ConfluenceError:
        retryable = isinstance(
            exc,
            requests.ConnectionError | requests.Timeout | requests.exceptions.ChunkedEncodingError,
        )
        detail = self._clean(str(exc))
        return ConfluenceError(
            f"GET {shown} -> {type(exc).__name__}: {detail}", path=shown, retryable=retryable
        )

    # ------------------------------------------------------------------ requests

    def _get_json(
        self, url: str, query: dict[str, str | list[str]] | None
    ) -> dict[str, Any]:
        shown = urlsplit(url).path
        return self._with_retries(shown, lambda: self._get_json_once(url, query, shown))

    def _get_json_once(
        self, url: str, query: dict[str, str | list[str]] | None, shown: str
    ) -> dict[str, Any]:
        response = self._send(url, query, shown)
        with response:
            if not 200 <= response.status_code < 300:
                raise self._http_error(response, shown, response.content)
            content_type = response.headers.get("Content-Type", "") or "no content type"
            try:
                data = response.json()
            except ValueError:
                raise ConfluenceBadResponse(
                    f"GET {shown} -> {response.status_code}: expected a JSON body, got "
                    f"{content_type} ({len(response.content)} bytes)",
                    status=response.status_code,
                    path=shown,
                ) from None
        if not isinstance(data, dict):
            raise ConfluenceBadResponse(
                f"GET {shown} -> {response.status_code}: expected a JSON object, got "
                f"{_json_kind(data)}",
                status=response.status_code,
                path=shown,
            )
        return data

    def _download_once(self, url: str, shown: str, max_bytes: int) -> bytes:
        response = self._send(url, None, shown, stream=True)
        with response:  # closing an unread streamed response drops the connection, unread
            status = response.status_code
            if not 200 <= status < 300:
                raise self._http_error(response, shown, _read_some(response, _MAX_ERROR_BODY))
            if urlsplit(response.url).path.endswith("/login.action"):
                # Data Center answers an unauthenticated download with a redirect to its login
                # page (a 200 HTML page), not with a 401.
                raise ConfluenceAuthError(
                    f"GET {shown} -> {status}: redirected to the login page",
                    status=401,
                    path=shown,
                )
            declared = response.headers.get("Content-Length", "").strip()
            if declared.isdigit() and int(declared) > max_bytes:
                raise AttachmentTooLarge(
                    f"GET {shown} -> {status}: the attachment is {int(declared)} bytes, "
                    f"more than the limit of {max_bytes}",
                    status=status,
                    path=shown,
                )
            received = bytearray()
            try:
                for chunk in response.iter_content(chunk_size=_CHUNK):
                    received += chunk
                    if len(received) > max_bytes:
                        raise AttachmentTooLarge(
                            f"GET {shown} -> {status}: the attachment is larger than the limit "
                            f"of {max_bytes} bytes (stopped reading)",
                            status=status,
                            path=shown,
                        )
            except requests.RequestException as exc:
                raise self._transport_error(exc, shown) from None
            return bytes(received)

    def _with_retries(self, shown: str, call: Callable[[], T]) -> T:
        attempts = 0

        def attempt() -> T:
            nonlocal attempts
            attempts += 1
            return call()

        try:
            return retry_sync(
                attempt,
                retry_after_of=_retry_hint,
                attempts=self._max_retries + 1,
                base_delay=BASE_DELAY,
                max_delay=self._max_retry_wait,
                what=f"Confluence GET {shown}",
                sleep=self._sleep,
            )
        except ConfluenceError as exc:
            if exc.retryable:
                noun = "attempt" if attempts == 1 else "attempts"
                exc.args = (f"{exc.args[0]} (gave up after {attempts} {noun})",)
            raise

    # ------------------------------------------------------------------ responses

    def _http_error(
        self, response: requests.Response, shown: str, body: bytes
    ) -> ConfluenceError:
        status = response.status_code
        message = self._atlassian_message(response, body)
        text = f"GET {shown} -> {status}: {message}"
        retry_after: float | None = None
        retryable = status in RETRYABLE_STATUSES
        if retryable:
            retry_after = _retry_after(response.headers, rate_limited=status == 429)
            if retry_after is not None and retry_after > self._max_retry_wait:
                text += (
                    f" (gave up: Confluence asked to retry after {retry_after:g} s, more than "
                    f"max_retry_wait {self._max_retry_wait:g} s)"
                )
                retryable = False
        kind: type[ConfluenceError] = ConfluenceError
        if status == 404:
            kind = ConfluenceNotFound
        elif status in {401, 403}:
            kind = ConfluenceAuthError
        return kind(text, status=status, path=shown, retry_after=retry_after, retryable=retryable)

    def _atlassian_message(self, response: requests.Response, body: bytes) -> str:
        """Atlassian's JSON error message (``message``; ``errorMessages`` / ``errors`` as other
        Atlassian APIs send them), else the reason phrase and content type."""
        data: Any = None
        try:
            data = _loads(body)
        except ValueError:
            pass
        message = ""
        if isinstance(data, dict):
            if isinstance(data.get("message"), str):
                message = data["message"]
            elif isinstance(data.get("errorMessages"), list):
                message = "; ".join(str(m) for m in data["errorMessages"])
            elif isinstance(data.get("errors"), list):
                message = "; ".join(
                    str(e.get("title") or e.get("detail") or e.get("message") or "")
                    if isinstance(e, dict)
                    else str(e)
                    for e in data["errors"]
                )
        if not message.strip():
            message = response.reason or "error"
            if data is None and body:
                message += f" ({response.headers.get('Content-Type') or 'no content type'})"
        return self._clean(message)

    def _clean(self, text: str) -> str:
        """One line, without the client's secrets or credential shapes, at most MAX_MESSAGE."""
        text = self._redactor.redact(" ".join(text.split()))
        return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."

    # ------------------------------------------------------------------ URLs

    def _rest_url(self, path: str) -> str:
        clean = path.strip().lstrip("/")
        resource = clean.split("?", 1)[0]
        if (
            not resource
            or "://" in clean
            or resource.startswith("rest/")
            or ".." in resource.split("/")
        ):
            raise ValueError(
                f"path must be relative to the REST root, like 'content/search', not {path!r}"
            )
        return f"{self.wiki_url}/rest/api/{clean}"

    def _next_url(self, body: dict[str, Any], shown: str) -> str | None:
        links = body.get("_links")
        if links is None:
            return None
        if not isinstance(links, dict):
            raise ConfluenceBadResponse(
                f"GET {shown} -> 200: \"_links\" is not an object", status=200, path=shown
            )
        following = links.get("next")
        if following is None or following == "":
            return None
        if not isinstance(following, str):
            raise ConfluenceBadResponse(
                f"GET {shown} -> 200: \"_links.next\" is not a string", status=200, path=shown
            )
        base = links.get("base")
        if not (isinstance(base, str) and urlsplit(base).scheme in {"http", "https"}):
            base = self.wiki_url
        return self._resolve(following, base, "next link", shown)

    def _resolve(self, link: str, base: str, what: str, shown: str) -> str:
        """``link`` made absolute: relative links are joined to ``base`` keeping its context path
        (``/wiki``) and not doubling it when ``link`` already starts with it; the result must be
        on the wiki's own host."""
        link = link.strip()
        if not link:
            raise ConfluenceBadResponse(f"GET {shown}: empty {what}", path=shown)
        parts = urlsplit(link)
        if parts.scheme or parts.netloc:
            resolved = urljoin(base, link)
        else:
            root = urlsplit(base)
            context = root.path.rstrip("/")
            relative = link if link.startswith("/") else "/" + link
            if not (context and (relative == context or relative.startswith(context + "/"))):
                relative = context + relative
            resolved = f"{root.scheme}://{root.netloc}{relative}"
        if _origin(resolved) != self._origin:
            target = urlsplit(resolved)
            raise ConfluenceBadResponse(
                f"GET {shown}: the {what} points to another host ({target.scheme}://"
                f"{target.hostname}), not {urlsplit(self.wiki_url).hostname}; not following it "
                "with the credentials (is the Confluence base URL set to wiki_url?)",
                path=shown,
            )
        return resolved


# --------------------------------------------------------------------------- helpers


def _retry_hint(exc: BaseException) -> RetryHint:
    if isinstance(exc, ConfluenceError) and exc.retryable:
        return exc.retry_after
    return False


def _retry_after(headers: Mapping[str, str], *, rate_limited: bool) -> float | None:
    """Seconds the server asks us to wait: ``Retry-After`` (seconds or HTTP-date), else on a
    429 ``X-RateLimit-Reset`` (an ISO 8601 time such as ``2026-03-01T09:00Z``)."""
    value = headers.get("Retry-After")
    if value is not None:
        seconds = parse_retry_after(value)
        if seconds is not None:
            return seconds
    reset = headers.get("X-RateLimit-Reset") if rate_limited else None
    if reset:
        try:
            when = datetime.fromisoformat(reset.strip())
        except ValueError:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max((when - datetime.now(UTC)).total_seconds(), 0.0)
    return None


def _query(params: Params | None) -> dict[str, str | list[str]] | None:
    if not params:
        return None
    out: dict[str, str | list[str]] = {}
    for key, value in params.items():
        if isinstance(value, str):
            out[key] = value
        elif isinstance(value, int):
            out[key] = str(value)
        else:
            out[key] = [str(v) for v in value]
    return out


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = -1
    if port is None:
        port = {"http": 80, "https": 443}.get(scheme)
    return scheme, (parts.hostname or "").lower(), port


def _read_some(response: requests.Response, limit: int) -> bytes:
    received = bytearray()
    try:
        for chunk in response.iter_content(chunk_size=min(limit, _CHUNK)):
            received += chunk
            if len(received) >= limit:
                break
    except requests.RequestException:
        pass  # the status is what matters; the message is a nicety
    return bytes(received[:limit])


def _loads(body: bytes) -> Any:
    return json.loads(body) if body else None


def _json_kind(data: Any) -> str:
    if isinstance(data, list):
        return "a JSON array"
    if data is None:
        return "null"
    return f"a JSON {type(data).__name__}"
