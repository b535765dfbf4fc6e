"""A small synchronous, thread-safe client for Confluence's REST API v1 (Cloud and Data Center).

The Confluence connector reads content, restrictions, spaces, groups and attachments through
:class:`ConfluenceClient`: :meth:`~ConfluenceClient.get` one JSON object,
:meth:`~ConfluenceClient.pages` / :meth:`~ConfluenceClient.paged` every ``results`` item of a
paged endpoint (cursor-paged ``content/search`` and offset-paged group members, attachments,
space lists alike: both give a relative ``_links.next``), :meth:`~ConfluenceClient.download` an
attachment with a size limit. Retries, paging, downloads and secret-free messages are the
shared HTTP layer's (connectors.http); errors are the ConfluenceError family (errors.py).

What is Confluence's own is here. atlassian-python-api (pinned 5.0.5) is used only as the
authenticated transport: a ``ConfluenceServer`` object sets up the ``requests`` session (basic
auth ``email:api_token`` for Cloud, ``Authorization: Bearer <PAT>`` for Data Center, no
``.netrc`` fallback) and the HTTP layer sends its requests through that session, because of
the library's traps (pinned down in ``tests/fakes/test_confluence_stand_in.py``):

- ``Confluence(cloud=True)`` returns its Cloud class, which lacks the v1 content methods, and its
  ``cql()`` requests ``/wiki/content/search`` without ``rest/api``: we build
  ``<wiki_url>/rest/api/<path>`` ourselves.
- Its pager (``_get_paged``) joins a relative ``_links.next`` such as
  ``/rest/api/content/search?cursor=...`` to the site root, dropping the ``/wiki`` context path
  (a 404 on Cloud). Atlassian documents ``next`` as relative to ``_links.base``, so we join it
  there (or to ``wiki_url``), without doubling a context path some Data Center versions already
  include.
- Its retry handler retries a 429 only when it carries ``Retry-After`` (once, with a blocking
  ``time.sleep`` we cannot see), and never a 500/502/504 or a dropped connection. We switch it
  off (``retry_with_header=False``, ``backoff_and_retry=False``): the HTTP layer's retries are
  the only ones (Atlassian documents ``Retry-After`` on 429 and some transient 5xx, and
  ``X-RateLimit-Reset`` for Cloud REST APIs).
- A 200 with a non-JSON body (an HTML proxy or login page) is handed back by the library as a
  ``str``; the HTTP layer raises :class:`ConfluenceBadResponse` naming the path and content type.
- Its ``request()`` reads the whole body (no streaming, so no size limit on downloads), logs
  every response body at DEBUG and truncates the timeout to whole seconds; we call the session
  directly, with ``stream=True`` for downloads.

Data Center answers an unauthenticated download with a redirect to its login page (a 200 HTML
page), not with a 401: that is a :class:`ConfluenceAuthError`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import Any, Self

import requests
from atlassian.confluence import ConfluenceServer as _ConfluenceServer

from connectors.http.client import HttpClient, Paging, Params
from connectors.http.links import base_url

from .credentials import Credentials
from .errors import CONFLUENCE_ERRORS, ConfluenceBadResponse, atlassian_message

__all__ = ["ConfluenceClient"]

# atlassian-python-api is untyped.
ConfluenceServer: Any = _ConfluenceServer


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
        self.wiki_url = base_url(wiki_url, name="wiki_url", example="https://x.atlassian.net/wiki")
        if cloud and credentials.kind == "bearer":
            raise ValueError(
                "Confluence Cloud takes basic auth (email + API token), not a personal access token"
            )
        self.cloud = cloud
        self._credentials = credentials
        self._timeout = timeout
        self._http = HttpClient(
            self.wiki_url,
            service="Confluence",
            open_session=self._new_session,
            secrets=credentials.secret_values(),
            errors=CONFLUENCE_ERRORS,
            message_of=atlassian_message,
            login_path="/login.action",
            link_hint=" (is the Confluence base URL set to wiki_url?)",
            timeout=timeout,
            max_retries=max_retries,
            max_retry_wait=max_retry_wait,
            sleep=sleep,
        )

    @property
    def calls(self) -> int:
        """HTTP requests sent so far (retries and downloads included)."""
        return self._http.calls

    def get(self, path: str, params: Params | None = None) -> dict[str, Any]:
        """GET ``<wiki_url>/rest/api/<path>`` and return its JSON object."""
        return self._http.get_json(self._rest_url(path), params)

    def pages(self, path: str, params: Params | None = None) -> Iterator[list[dict[str, Any]]]:
        """Yield the ``results`` of each HTTP page, following ``_links.next`` until it is absent
        (a full page without one ends the walk: the server is trusted)."""
        yield from self._http.pages(self._rest_url(path), params, _PAGING)

    def paged(self, path: str, params: Params | None = None) -> Iterator[dict[str, Any]]:
        """Yield every item of ``results`` across all pages."""
        for page in self.pages(path, params):
            yield from page

    def download(self, link: str, max_bytes: int) -> bytes:
        """Download an attachment from its ``_links.download`` (relative to the wiki base, e.g.
        ``/download/attachments/123/a.pdf?version=1&api=v2``, or absolute on the wiki's host).

        Raises :class:`AttachmentTooLarge` when ``Content-Length`` says more than ``max_bytes``
        or as soon as more than ``max_bytes`` arrive, without reading the rest. Redirects are
        followed (Cloud sends attachments from its media host); ``requests`` drops the
        ``Authorization`` header when a redirect leaves the wiki's host."""
        return self._http.download(link, max_bytes, what="attachment")

    def close(self) -> None:
        """Close every session this client opened; later calls raise :class:`ConfluenceError`."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"ConfluenceClient(wiki_url={self.wiki_url!r}, cloud={self.cloud}, "
            f"credentials={self._credentials!r}, calls={self.calls})"
        )

    def _new_session(self) -> requests.Session:
        """The authenticated session of a new atlassian-python-api object (one per thread);
        the library's own retries are off so that the HTTP layer's are the only ones."""
        options: dict[str, Any] = {
            "cloud": self.cloud,
            "timeout": max(1, math.ceil(self._timeout)),  # unused: ours goes with each request
            "backoff_and_retry": False,
            "retry_with_header": False,
        }
        creds = self._credentials
        if creds.kind == "bearer":
            server = ConfluenceServer(self.wiki_url, token=creds.personal_access_token, **options)
        else:
            server = ConfluenceServer(
                self.wiki_url, username=creds.email, password=creds.api_token, **options
            )
        session: requests.Session = server.session
        return session

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


def _results(body: dict[str, Any], shown: str) -> list[dict[str, Any]]:
    results = body.get("results")
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        raise ConfluenceBadResponse(
            f"GET {shown} -> 200: expected \"results\" to be a list of objects",
            status=200,
            path=shown,
        )
    return results


def _next_link(body: dict[str, Any], shown: str) -> tuple[str, str | None] | None:
    """``_links.next`` and ``_links.base``, which Atlassian documents it as relative to."""
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
    return following, base if isinstance(base, str) else None


_PAGING = Paging(items=_results, next_link=_next_link)
