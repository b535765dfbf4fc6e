"""Microsoft Graph and SharePoint REST for the SharePoint connector, on the shared HTTP layer
(connectors.http: retries honouring ``Retry-After`` on 429/503, bounded streamed downloads,
secret-free messages).

Two HttpClients, one per origin, each sending ``Authorization: Bearer`` with an app-only token
for its resource (``https://graph.microsoft.com/.default``, ``https://<host>/.default``) taken
from msal's cache on every request, so an expired token is replaced without a failed request.

- Graph collections are paged by ``@odata.nextLink`` (an absolute URL, followed as is:
  learn.microsoft.com/graph/paging); items are in ``value``.
- SharePoint REST is asked for ``application/json;odata=nometadata``: items in ``value``, the
  next page in ``odata.nextLink`` (learn.microsoft.com/sharepoint/dev/sp-add-ins/
  working-with-lists-and-list-items-with-rest).
- A file's content is ``GET /drives/{d}/items/{i}/content``, which answers 302 to a
  pre-authenticated download URL (learn.microsoft.com/graph/api/driveitem-get-content);
  ``requests`` follows it and drops the Authorization header when the host changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import requests

from connectors.http.client import HttpClient, Paging, Params
from connectors.http.links import base_url

from .credentials import AppTokens
from .errors import SHAREPOINT_ERRORS, SharePointBadResponse, microsoft_message

GRAPH_SCOPE = "https://graph.microsoft.com/.default"


class _Bearer(requests.auth.AuthBase):
    def __init__(self, tokens: AppTokens, scope: str, accept: str | None) -> None:
        self._tokens = tokens
        self._scope = scope
        self._accept = accept

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._tokens.token(self._scope)}"
        if self._accept and request.headers.get("Accept") == "application/json":
            request.headers["Accept"] = self._accept
        return request


def _session(tokens: AppTokens, scope: str, accept: str | None = None) -> Callable[[], requests.Session]:
    def open_session() -> requests.Session:
        session = requests.Session()
        session.auth = _Bearer(tokens, scope, accept)
        return session
    return open_session


class SharePointClient:
    """GETs on Graph (``graph_url``, e.g. ``https://graph.microsoft.com/v1.0``) and on
    SharePoint REST (``rest_url``, e.g. ``https://contoso.sharepoint.com``)."""

    def __init__(self, tokens: AppTokens, *, graph_url: str, rest_url: str, host: str,
                 timeout: float = 30.0, max_retries: int = 5, max_retry_wait: float = 120.0,
                 sleep: Callable[[float], object] = time.sleep) -> None:
        self.graph_url = base_url(graph_url, name="graph_url", example="https://graph.microsoft.com/v1.0")
        self.rest_url = base_url(rest_url, name="rest_url", example="https://contoso.sharepoint.com")
        self.host = host
        common: dict[str, Any] = {
            "secrets": tokens.secret_values(), "errors": SHAREPOINT_ERRORS, "message_of": microsoft_message,
            "timeout": timeout, "max_retries": max_retries, "max_retry_wait": max_retry_wait, "sleep": sleep,
        }
        self._graph = HttpClient(self.graph_url, service="Microsoft Graph",
                                 open_session=_session(tokens, GRAPH_SCOPE), **common)
        self._rest = HttpClient(self.rest_url, service="SharePoint REST",
                                open_session=_session(tokens, f"https://{host}/.default",
                                                      "application/json;odata=nometadata"), **common)

    @property
    def calls(self) -> int:
        return self._graph.calls + self._rest.calls

    # -- Graph --------------------------------------------------------------------------------

    def get(self, path_or_url: str, params: Params | None = None) -> dict[str, Any]:
        """One Graph object: ``path`` relative to the Graph root, or an absolute Graph URL (a
        next or delta link)."""
        return self._graph.get_json(self._graph_target(path_or_url), params)

    def paged(self, path: str, params: Params | None = None) -> Iterator[dict[str, Any]]:
        for page in self._graph.pages(self._graph_target(path), params, _GRAPH_PAGING):
            yield from page

    def download(self, drive_id: str, item_id: str, max_bytes: int) -> bytes:
        return self._graph.download(self._graph_target(f"drives/{drive_id}/items/{item_id}/content"),
                                    max_bytes, what="file")

    # -- SharePoint REST ----------------------------------------------------------------------

    def rest_paged(self, site_path: str, api: str, params: Params | None = None) -> Iterator[dict[str, Any]]:
        """Every item of ``<rest_url><site_path>/_api/<api>`` (``site_path`` is the site's
        server-relative path, ``/sites/hr``)."""
        url = f"{self.rest_url}{site_path.rstrip('/')}/_api/{api.lstrip('/')}"
        for page in self._rest.pages(url, params, _REST_PAGING):
            yield from page

    def rest_get(self, site_path: str, api: str, params: Params | None = None) -> dict[str, Any]:
        """One object of ``<rest_url><site_path>/_api/<api>``."""
        return self._rest.get_json(f"{self.rest_url}{site_path.rstrip('/')}/_api/{api.lstrip('/')}", params)

    def close(self) -> None:
        self._graph.close()
        self._rest.close()

    def __repr__(self) -> str:
        return f"SharePointClient(graph_url={self.graph_url!r}, rest_url={self.rest_url!r}, calls={self.calls})"

    def _graph_target(self, path_or_url: str) -> str:
        if urlsplit(path_or_url).scheme:
            return path_or_url
        return f"{self.graph_url}/{path_or_url.lstrip('/')}"


def _value(body: dict[str, Any], shown: str) -> list[dict[str, Any]]:
    value = body.get("value")
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise SharePointBadResponse(f'GET {shown} -> 200: expected "value" to be a list of objects',
                                    status=200, path=shown)
    return value


def _link(key: str) -> Callable[[dict[str, Any], str], tuple[str, str | None] | None]:
    def next_link(body: dict[str, Any], shown: str) -> tuple[str, str | None] | None:
        link = body.get(key)
        if link is None or link == "":
            return None
        if not isinstance(link, str):
            raise SharePointBadResponse(f'GET {shown} -> 200: "{key}" is not a string', status=200, path=shown)
        return link, None
    return next_link


_GRAPH_PAGING = Paging(items=_value, next_link=_link("@odata.nextLink"))
_REST_PAGING = Paging(items=_value, next_link=_link("odata.nextLink"))
