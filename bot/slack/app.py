"""Slack on the `lore` server: the bolt app, its Web API client per workspace, and routes.

Bolt's aiohttp ``web_app()`` cannot be mounted as a sub-application, so the server routes
``POST /slack/events`` (events, commands, interactivity) to ``AsyncApp.async_dispatch`` itself,
and ``/slack/install`` + ``/slack/oauth_redirect`` to bolt's OAuth flow when the multi-workspace
install is configured. The route checks Slack's request signature itself, on the raw body,
before bolt parses anything (:mod:`bot.slack.signed_requests`), so bolt's own verification is
off; bolt acknowledges before the listener runs, within Slack's 3 seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.people import HomeFor, Workspace, home_from_turn, workspace_of
from bot.slack.signed_requests import OnRefused, bolt_request, log_bolt_error
from bot.slack.signing_secrets import SigningSecrets
from bot.slack.stores import DatabaseInstallationStore, DatabaseOAuthStateStore
from bot.turn import Turn
from core.config import ConfigError, SlackConfig
from core.db import Database
from core.secrets import SecretStore, SecretStoreError, require_secret
from core.tokens import TokenVault

log = logging.getLogger("lore.slack")

# Every scope Lore uses, and nothing more (manifest/slack/manifest.yaml lists the same).
BOT_SCOPES = [
    "app_mentions:read",  # app_mention events
    "chat:write",  # answers, status updates, ephemeral private answers
    "commands",  # /lore
    "im:history",  # message.im events
    "users:read",  # users.info: guests, deleted users, teams
    "users:read.email",  # users.info: the email that names the asker's principals
    "channels:read",  # conversations.info / members of public channels (audience)
    "groups:read",  # ... of private channels
    "mpim:read",  # ... of group DMs
    "im:read",  # ... of DMs
    "assistant:write",  # assistant threads: suggested prompts, status, titles
]

ClientFor = Callable[[Turn], Awaitable[Any]]


def retry_handlers() -> list[AsyncRetryHandler]:
    """429 (waits Retry-After), 5xx and dropped connections are retried; slack_sdk retries none
    of them by default, and Slack rate-limits chat.postMessage to about one message per second
    per channel."""
    return [
        AsyncRateLimitErrorRetryHandler(max_retry_count=3),
        AsyncServerErrorRetryHandler(max_retry_count=2),
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
    ]


def web_client(base_url: str, token: str | None = None) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=base_url, retry_handlers=retry_handlers())


@dataclass
class SlackApp:
    app: AsyncApp
    client_for: ClientFor
    home_for: HomeFor  # the organisation whose people are ours (see bot.slack.people)


def _bolt(**kwargs: Any) -> AsyncApp:
    # Signatures are checked by the route (add_routes) before bolt sees a request; Socket Mode
    # delivers over a websocket Lore opened itself, with nothing to verify. Unhandled requests
    # go to log_bolt_error rather than to bolt's warning, which prints the whole body.
    app = AsyncApp(request_verification_enabled=False, raise_error_for_unhandled_request=True, **kwargs)
    app.error(log_bolt_error)
    return app


def build_slack_app(cfg: SlackConfig, secrets: SecretStore, db: Database) -> SlackApp:
    base_url = cfg.api_url or AsyncWebClient.BASE_URL
    if cfg.client_id:
        vault = TokenVault(secrets, key_secret=cfg.token_key_secret)
        installs = DatabaseInstallationStore(db, vault)
        settings = AsyncOAuthSettings(
            client_id=cfg.client_id,
            client_secret=require_secret(secrets, cfg.client_secret_secret),
            scopes=BOT_SCOPES,
            installation_store=installs,
            state_store=DatabaseOAuthStateStore(db),
        )
        app = _bolt(oauth_settings=settings, installation_store=installs, client=web_client(base_url))

        # app_uninstalled / tokens_revoked: bolt deletes the stored installation and tokens.
        app.enable_token_revocation_listeners()

        async def client_for_install(turn: Turn) -> AsyncWebClient:
            ws = workspace_of(turn)
            bot = await installs.async_find_bot(enterprise_id=ws.enterprise_id, team_id=ws.team_id)
            if bot is None:
                bot = await installs.async_find_bot(enterprise_id=ws.enterprise_id, team_id=None, is_enterprise_install=True)
            if bot is None:
                raise LookupError("Lore is not installed in this Slack workspace")
            return web_client(base_url, bot.bot_token)

        # client_for_install refuses turns of workspaces Lore is not installed in.
        return SlackApp(app, client_for_install, home_from_turn)
    token = secrets.get(cfg.bot_token_secret)
    if not token:
        raise ConfigError(
            f"slack.enabled needs either the secret {cfg.bot_token_secret!r} (slack.bot_token_secret, "
            "one workspace) or slack.client_id (multi-workspace OAuth install)"
        )
    client = web_client(base_url, token)
    app = _bolt(client=client)

    async def token_gone(event: dict[str, Any]) -> None:
        # One configured token: nothing stored to delete; the operator must remove the secret.
        log.warning("Slack says the bot token is no longer valid; remove or replace the secret",
                    extra={"event": event.get("type"), "secret": cfg.bot_token_secret})

    app.event("app_uninstalled")(token_gone)
    app.event("tokens_revoked")(token_gone)

    async def client_for_token(_turn: Turn) -> AsyncWebClient:
        return client

    home: list[Workspace] = []

    async def home_for_token(_turn: Turn) -> Workspace:
        # One token is one installation: its workspace is home, whatever a request body says.
        if not home:
            info = await client.auth_test()
            home.append(Workspace(team_id=str(info["team_id"]), enterprise_id=info.get("enterprise_id") or None))
        return home[0]

    return SlackApp(app, client_for_token, home_for_token)


def add_routes(web_app: web.Application, slack: AsyncApp, signing: SigningSecrets,
               on_refused: OnRefused | None = None) -> None:
    async def dispatch(request: web.Request) -> web.Response:
        try:
            secrets = await asyncio.to_thread(signing.candidates)
        except SecretStoreError as exc:  # the vault is down and the cached secret expired
            log.error("Slack request not verified: the signing secret cannot be read",
                      extra={"error": exc.__class__.__name__})
            return web.json_response({"error": "temporarily unavailable"}, status=503)
        checked = await bolt_request(request, secrets, on_refused)
        if isinstance(checked, web.Response):
            return checked
        return await to_aiohttp_response(await slack.async_dispatch(checked))

    web_app.router.add_post("/slack/events", dispatch)
    flow = slack.oauth_flow
    if flow is not None:
        async def install(request: web.Request) -> web.Response:
            return await to_aiohttp_response(await flow.handle_installation(await to_bolt_request(request)))

        async def callback(request: web.Request) -> web.Response:
            return await to_aiohttp_response(await flow.handle_callback(await to_bolt_request(request)))

        web_app.router.add_get(flow.install_path, install)
        web_app.router.add_get(flow.redirect_uri_path, callback)
