"""Slack over Socket Mode: events, commands and actions arrive on a WebSocket, no public URL.

For development (and deployments behind a firewall): the app connects out to Slack with an
app-level token (``xapp-...``, scope ``connections:write``). Slack's ``apps.connections.open``
hands out a short-lived WebSocket URL; bolt's aiohttp handler then acknowledges each envelope
(``{"envelope_id"}``) before the listener runs, as over HTTP, and reconnects when Slack asks
(``disconnect``) or the connection goes stale. The same ``AsyncApp`` and listeners serve both
transports; request signatures do not apply here (the token authenticates the connection).
"""

from __future__ import annotations

import asyncio

from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.app import web_client
from core.config import ConfigError

_HINTS = {
    "not_allowed_token_type": "Socket Mode needs an app-level token (xapp-..., created under Basic "
    "Information > App-Level Tokens with the connections:write scope), not a bot or user token",
    "invalid_auth": "the app-level token is not valid (revoked, or from another app)",
    "not_authed": "no app-level token was given",
}


class SocketMode:
    """bolt's handler with typed ``connect_async`` / ``close_async`` (bolt leaves them untyped)."""

    def __init__(self, handler: AsyncSocketModeHandler) -> None:
        self.handler = handler

    async def connect_async(self) -> None:
        await self.handler.connect_async()  # type: ignore[no-untyped-call]

    async def close_async(self) -> None:
        """Close the WebSocket and its aiohttp session (listeners already running are not cancelled)."""
        await self.handler.close_async()  # type: ignore[no-untyped-call]


CONNECT_TIMEOUT_SECONDS = 15.0


async def start_socket_mode(app: AsyncApp, app_token: str, api_url: str | None = None,
                            *, ping_interval: float = 10,
                            connect_timeout: float = CONNECT_TIMEOUT_SECONDS) -> SocketMode:
    """Connect ``app`` to Slack over Socket Mode; ``close_async()`` the result on shutdown.

    ``api_url`` is the Web API base URL (``slack.api_url``; Slack's own when None) that
    ``apps.connections.open`` is called on. The first WebSocket URL is fetched here, so a
    refused token raises :class:`ConfigError` at once instead of slack_sdk retrying forever.
    slack_sdk's ``connect()`` also retries a failed WebSocket handshake forever, on that same
    (single-use, short-lived) URL: a connection not open within ``connect_timeout`` seconds
    raises TimeoutError, so that the caller retries with a fresh URL.
    """
    client = web_client(api_url or AsyncWebClient.BASE_URL)  # the app token is sent per call
    handler = SocketMode(AsyncSocketModeHandler(app, app_token, web_client=client, ping_interval=ping_interval))
    try:
        handler.handler.client.wss_uri = await handler.handler.client.issue_new_wss_url()
        await asyncio.wait_for(handler.connect_async(), connect_timeout)
    except SlackApiError as e:
        await handler.close_async()
        error = str(e.response.get("error", "unknown_error"))
        raise ConfigError(f"Slack refused to open a Socket Mode connection ({error}): "
                          f"{_HINTS.get(error, 'see apps.connections.open')}") from e
    except BaseException:
        await handler.close_async()
        raise
    return handler
