"""The Bot Connector REST API (v3): how Lore posts, updates and reads in a Teams conversation.

Rule: every call goes to the ``serviceUrl`` of a verified activity (its token's ``serviceurl``
claim vouched for it), with an app token for ``https://api.botframework.com/.default`` from the
:class:`TokenProvider`; the activity JSON is sent exactly as rendered.

Why not hosting-core's ``ConnectorClient``: its pydantic ``Activity`` does not serialise the
entities exactly (a schema.org ``Message`` entity gains an ``atId`` field on the way out), it
binds one token to one session, and it keeps no ``Retry-After``. Endpoints (Bot Connector API
reference, learn.microsoft.com/azure/bot-service/rest-api/bot-framework-rest-connector-api-reference):
``POST /v3/conversations/{id}/activities`` (send), ``POST .../activities/{activityId}`` (reply),
``PUT .../activities/{activityId}`` (update), ``GET /v3/conversations/{id}/pagedmembers``
(``pageSize``, ``continuationToken``), ``POST /v3/conversations`` (create). 429 answers carry
``Retry-After``; errors carry ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp

from bot.errors import BotError

log = logging.getLogger("lore.teams.connector")

BOT_CONNECTOR_SCOPE = "https://api.botframework.com/.default"
# Where a multi-tenant bot registration gets its Bot Connector tokens (a single-tenant one: in
# the tenant it serves), per "Authentication with the Bot Connector API" (Bot Framework docs).
BOT_FRAMEWORK_TENANT = "botframework.com"
MAX_RETRY_AFTER_SECONDS = 30.0
RETRIES_ON_429 = 3
TIMEOUT_SECONDS = 15.0


# Past this many members a roster is not read further: the directory resolves at most 2,000
# (bot/teams/directory.py) and answers such a conversation from nothing anyway.
MAX_ROSTER = 2_000


class TokenProvider(Protocol):
    async def token(self, tenant_id: str, scope: str) -> str:
        """An app access token for ``scope`` (client credentials), from the tenant's authority."""
        ...


class ConnectorError(BotError):
    """The Bot Connector refused a call: ``status``, its error ``code``, and, for 429, how long
    it asked to wait. Never carries the token."""

    def __init__(self, status: int, code: str, message: str, retry_after: float = 0.0) -> None:
        super().__init__(f"Bot Connector answered {status} {code}: {message}"[:300])
        self.status = status
        self.code = code
        self.retry_after = retry_after


def _retry_after(headers: Mapping[str, str]) -> float:
    try:
        return max(0.0, float(headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


class BotConnector:
    """Calls on one shared HTTP session; each call asks the provider for a token (it caches)."""

    def __init__(self, tokens: TokenProvider, *, multi_tenant: bool = False,
                 session: aiohttp.ClientSession | None = None,
                 max_retry_after: float = MAX_RETRY_AFTER_SECONDS) -> None:
        self.tokens = tokens
        self.multi_tenant = multi_tenant
        self._session = session
        self.max_retry_after = max_retry_after

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _call(self, method: str, service_url: str, path: str, tenant_id: str, *,
                    body: Any = None, params: Mapping[str, str] | None = None,
                    retry_429: bool = True) -> Any:
        url = service_url.rstrip("/") + path
        for attempt in range(RETRIES_ON_429 + 1):
            token = await self.tokens.token(BOT_FRAMEWORK_TENANT if self.multi_tenant else tenant_id,
                                            BOT_CONNECTOR_SCOPE)
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            async with self._http().request(method, url, json=body, params=params, headers=headers) as response:
                text = await response.text()
                if response.status < 300:
                    return json.loads(text) if text.strip() else {}
                code, message = _error_of(text)
                wait = _retry_after(response.headers) if response.status == 429 else 0.0
                if response.status == 429 and retry_429 and attempt < RETRIES_ON_429 and wait <= self.max_retry_after:
                    log.info("Bot Connector throttled; waiting", extra={"retry_after_s": wait, "path": path})
                    await asyncio.sleep(wait)
                    continue
                raise ConnectorError(response.status, code, message, wait)
        raise AssertionError("unreachable")

    async def send(self, service_url: str, tenant_id: str, conversation_id: str, activity: Mapping[str, Any],
                   *, retry_429: bool = True) -> str:
        """Post ``activity`` to the conversation; the new activity's id."""
        path = f"/v3/conversations/{quote(conversation_id, safe='')}/activities"
        result = await self._call("POST", service_url, path, tenant_id, body=activity, retry_429=retry_429)
        return str(result.get("id", ""))

    async def reply(self, service_url: str, tenant_id: str, conversation_id: str, activity_id: str,
                    activity: Mapping[str, Any], *, retry_429: bool = True) -> str:
        path = f"/v3/conversations/{quote(conversation_id, safe='')}/activities/{quote(activity_id, safe='')}"
        result = await self._call("POST", service_url, path, tenant_id, body=activity, retry_429=retry_429)
        return str(result.get("id", ""))

    async def update(self, service_url: str, tenant_id: str, conversation_id: str, activity_id: str,
                     activity: Mapping[str, Any]) -> None:
        path = f"/v3/conversations/{quote(conversation_id, safe='')}/activities/{quote(activity_id, safe='')}"
        await self._call("PUT", service_url, path, tenant_id, body=activity)

    async def members(self, service_url: str, tenant_id: str, conversation_id: str,
                      page_size: int = 100, limit: int = MAX_ROSTER) -> list[dict[str, Any]]:
        """Every member of the conversation, page by page (``continuationToken``); reading stops
        past ``limit`` (the caller then knows the roster is too large to vouch for)."""
        path = f"/v3/conversations/{quote(conversation_id, safe='')}/pagedmembers"
        members: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            params = {"pageSize": str(page_size)}
            if token:
                params["continuationToken"] = token
            page = await self._call("GET", service_url, path, tenant_id, params=params)
            members.extend(m for m in page.get("members") or [] if isinstance(m, dict))
            token = page.get("continuationToken")
            if not token or len(members) > limit:
                return members

    async def create_conversation(self, service_url: str, tenant_id: str, parameters: Mapping[str, Any]) -> str:
        """A new conversation (a 1:1 chat with a user, for a proactive message); its id."""
        result = await self._call("POST", service_url, "/v3/conversations", tenant_id, body=parameters)
        return str(result.get("id", ""))


def _error_of(text: str) -> tuple[str, str]:
    try:
        error = json.loads(text).get("error") or {}
        return str(error.get("code", "")), str(error.get("message", ""))[:200]
    except (ValueError, AttributeError):
        return "", text[:200]
