"""A small Microsoft Graph client: a user's email and kind, and the groups they belong to.

Two reads, with the app's own token (application permissions ``User.Read.All`` and
``GroupMember.Read.All``), per learn.microsoft.com/graph/api/user-get and
.../user-list-transitivememberof:

- ``GET /users/{id}?$select=id,mail,userPrincipalName,userType,displayName``
- ``GET /users/{id}/transitiveMemberOf/microsoft.graph.group?$select=id`` (the OData cast keeps
  only groups: directory roles and administrative units are not principals), following
  ``@odata.nextLink`` (the whole URL, learn.microsoft.com/graph/paging) on the same origin and
  under the same base path only, at most ``max_pages`` pages.

429, 503 and 504 are retried (core.retry) after ``Retry-After`` when Graph sends one
(learn.microsoft.com/graph/throttling), a bounded number of times and never waiting longer than
``max_retry_wait``. Every failure -- an error status (with Graph's ``error.code``), a timeout,
a body that is not the JSON Graph documents -- is a :class:`GraphError` whose message holds no
token.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

from bot.errors import BotError
from core.retry import RetryHint, parse_retry_after, with_retries

__all__ = ["DEFAULT_GRAPH_URL", "GRAPH_SCOPE", "GraphClient", "GraphError", "GraphUser"]

DEFAULT_GRAPH_URL = "https://graph.microsoft.com/v1.0"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
GROUP_TYPE = "#microsoft.graph.group"
USER_FIELDS = "id,mail,userPrincipalName,userType,displayName"
RETRIED = frozenset({429, 503, 504})
MAX_BODY = 4 * 1024 * 1024

# (tenant id, scope) -> an access token; AppCredentials.token
TokenFor = Callable[[str, str], Awaitable[str]]


class GraphError(BotError):
    """Microsoft Graph refused or failed a read, or answered something unreadable."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after

    @property
    def retryable(self) -> bool:
        return self.status in RETRIED


@dataclass(frozen=True)
class GraphUser:
    id: str
    user_principal_name: str
    mail: str | None
    user_type: str | None  # "Member", "Guest" (None: Graph did not say)
    display_name: str


class GraphClient:
    """Graph reads for the tenants ``token_for`` can get app tokens in."""

    def __init__(
        self,
        token_for: TokenFor,
        base_url: str = "",
        *,
        timeout: float = 10.0,
        max_pages: int = 20,
        attempts: int = 3,
        max_retry_wait: float = 10.0,
        session: aiohttp.ClientSession | None = None,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self._token_for = token_for
        self.base_url = (base_url or DEFAULT_GRAPH_URL).rstrip("/")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"teams.graph_url must be an http(s) URL, not {self.base_url!r}")
        self._origin = (parts.scheme, parts.netloc.lower())
        self._base_path = parts.path.rstrip("/") + "/"
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._max_pages = max_pages
        self._attempts = attempts
        self._max_retry_wait = max_retry_wait
        self._session = session
        self._own_session = session is None
        self._sleep = sleep

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
        self._session = None

    async def user(self, tenant_id: str, user_id: str) -> GraphUser:
        url = f"{self.base_url}/users/{quote(user_id, safe='')}?$select={USER_FIELDS}"
        body = await self._get(tenant_id, url)
        uid, upn = body.get("id"), body.get("userPrincipalName")
        mail, kind, name = body.get("mail"), body.get("userType"), body.get("displayName")
        if not isinstance(uid, str) or not isinstance(upn, str) or not upn:
            raise GraphError("Graph GET /users/{id}: the user has no id or userPrincipalName")
        if not all(v is None or isinstance(v, str) for v in (mail, kind, name)):
            raise GraphError("Graph GET /users/{id}: mail, userType or displayName is not text")
        return GraphUser(uid, upn, mail or None, kind, name or "")

    async def group_ids(self, tenant_id: str, user_id: str) -> list[str]:
        """Object ids of every group the user belongs to, directly or through nested groups."""
        url: str | None = (
            f"{self.base_url}/users/{quote(user_id, safe='')}/transitiveMemberOf/"
            f"microsoft.graph.group?$select=id"
        )
        ids: list[str] = []
        seen: set[str] = set()
        pages = 0
        while url is not None:
            if pages >= self._max_pages:
                raise GraphError(f"Graph transitiveMemberOf: more than {self._max_pages} pages")
            seen.add(url)
            body = await self._get(tenant_id, url)
            pages += 1
            items = body.get("value")
            if not isinstance(items, list):
                raise GraphError("Graph transitiveMemberOf: the page has no 'value' list")
            for item in items:
                if not isinstance(item, dict) or not isinstance(item.get("id"), str):
                    raise GraphError("Graph transitiveMemberOf: an entry has no id")
                kind = item.get("@odata.type", GROUP_TYPE)  # the cast answers groups only
                if kind == GROUP_TYPE:
                    ids.append(item["id"])
            url = self._next(body.get("@odata.nextLink"), seen)
        return ids

    # --- internals -------------------------------------------------------------------------

    def _next(self, link: object, seen: set[str]) -> str | None:
        if link is None:
            return None
        if not isinstance(link, str):
            raise GraphError("Graph transitiveMemberOf: @odata.nextLink is not a URL")
        parts = urlsplit(link)
        if (parts.scheme, parts.netloc.lower()) != self._origin or not (
            parts.path + "/"
        ).startswith(self._base_path):
            raise GraphError(
                "Graph transitiveMemberOf: @odata.nextLink leaves the configured Graph URL"
            )
        if link in seen:
            raise GraphError("Graph transitiveMemberOf: @odata.nextLink repeats a page")
        return link

    async def _get(self, tenant_id: str, url: str) -> dict[str, Any]:
        token = await self._token_for(tenant_id, GRAPH_SCOPE)

        async def once() -> dict[str, Any]:
            return await self._get_once(url, token)

        return await with_retries(
            once,
            retry_after_of=_hint,
            attempts=self._attempts,
            max_delay=self._max_retry_wait,
            what="Microsoft Graph read",
            sleep=self._sleep,
        )

    async def _get_once(self, url: str, token: str) -> dict[str, Any]:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        shown = urlsplit(url).path.removeprefix(self._base_path.rstrip("/"))
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        try:
            async with self._session.get(
                url, headers=headers, timeout=self._timeout, allow_redirects=False
            ) as response:
                status, ctype = response.status, response.content_type
                retry_after = response.headers.get("Retry-After")
                raw = await _read_bounded(response, shown)
        except TimeoutError:
            # Not retried: a turn waiting on the directory cannot wait several timeouts.
            raise GraphError(f"Graph GET {shown}: timed out") from None
        except aiohttp.ClientError as exc:
            raise GraphError(f"Graph GET {shown}: {type(exc).__name__}") from None
        body = _json(raw) if ctype == "application/json" else None
        if status != 200:
            wait = parse_retry_after(retry_after) if retry_after else None
            raise GraphError(
                f"Graph GET {shown} -> {status} {_code(body)}", status=status, retry_after=wait
            )
        if not isinstance(body, dict):
            raise GraphError(f"Graph GET {shown}: the answer is not a JSON object ({ctype})")
        return body


async def _read_bounded(response: aiohttp.ClientResponse, shown: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > MAX_BODY:
            raise GraphError(f"Graph GET {shown}: the answer is larger than {MAX_BODY} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _json(raw: bytes) -> object:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _code(body: object) -> str:
    """Graph's error code and message (learn.microsoft.com/graph/errors), shortened."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return "(no Graph error body)"
    code, message = error.get("code"), error.get("message")
    text = f"{code}" if isinstance(code, str) else "(no code)"
    if isinstance(message, str) and message:
        text += f": {message[:200]}"
    return text


def _hint(exc: BaseException) -> RetryHint:
    if isinstance(exc, GraphError) and exc.retryable:
        return exc.retry_after
    return False
