"""Slack as a chat surface: the bolt app, its listeners, and HTTP routes or Socket Mode.

Over HTTP the server routes ``/slack/events`` (and the OAuth install pages) to bolt. Over Socket
Mode (``slack.socket_mode``) Lore connects out to Slack once the server is warm; when Slack cannot
be reached, or refuses the app-level token, the attempt is logged and retried with exponential
backoff (``RETRY_FIRST_SECONDS`` doubling up to ``RETRY_MAX_SECONDS``) while the rest of the
server keeps serving, and ``readiness()`` reports the surface as degraded with the reason.
Once connected, slack_sdk's client reconnects by itself when Slack asks or the link goes stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiohttp import web

from bot.feedback import FeedbackRecorder
from bot.slack.app import add_routes, build_slack_app
from bot.slack.events import SlackEvents
from bot.slack.people import SlackPeople
from bot.slack.signing_secrets import SigningSecrets
from bot.slack.socket_mode import CONNECT_TIMEOUT_SECONDS, SocketMode, start_socket_mode
from bot.surface import Surface, SurfaceContext
from bot.turn import Audience, Identity, Turn
from core.config import ConfigError
from core.dedupe import (
    DatabaseDeduplicator,
    EventDeduplicator,
    FallbackDeduplicator,
    RedisDeduplicator,
)
from core.secrets import SecretNotFound, SecretStore, require_secret

log = logging.getLogger("lore.slack")

RETRY_FIRST_SECONDS = 1.0
RETRY_MAX_SECONDS = 60.0


def needed_secret(secrets: SecretStore, name: str, setting: str) -> str:
    """A secret Slack cannot work without, or one line saying which and where to set it."""
    try:
        return require_secret(secrets, name)
    except SecretNotFound as exc:
        raise ConfigError(f"slack.enabled needs the secret {name!r} ({setting}): {exc}") from None


class SlackSurface(Surface):
    platform = "slack"

    def __init__(self, ctx: SurfaceContext) -> None:
        cfg = ctx.config.slack
        self.config = cfg
        self.slack = build_slack_app(cfg, ctx.secrets, ctx.db)
        self.people = SlackPeople(self.slack.client_for, trusted_teams=frozenset(cfg.trusted_teams),
                                  home_for=self.slack.home_for)
        dedupe: EventDeduplicator = DatabaseDeduplicator(ctx.db)
        if ctx.redis is not None:
            dedupe = FallbackDeduplicator(
                RedisDeduplicator(ctx.redis, prefix=f"{ctx.config.redis.key_prefix}event:"), dedupe,
                on_fallback=ctx.metrics.dedupe_fallbacks.inc,
            )
        self.events = SlackEvents(self.slack.app, ctx.conversation, dedupe, FeedbackRecorder(ctx.db, ctx.metrics, ctx.audit),
                                  track=ctx.track, on_dedupe_error=ctx.metrics.dedupe_errors.inc,
                                  native_streaming=cfg.native_streaming)
        # Read now: a missing secret stops the server at start with one line, not at the first event.
        if cfg.socket_mode:
            self.app_token = needed_secret(ctx.secrets, cfg.app_token_secret, "slack.app_token_secret")
        else:
            needed_secret(ctx.secrets, cfg.signing_secret_secret, "slack.signing_secret_secret")
            name = cfg.signing_secret_secret
            self.signing = SigningSecrets(lambda: require_secret(ctx.secrets, name),
                                          cfg.signing_secret_grace_seconds)
        self.audit = ctx.audit
        self.socket: SocketMode | None = None
        self.problem = "not connected yet" if cfg.socket_mode else ""
        self._connecting: asyncio.Task[None] | None = None
        self.retry_first = RETRY_FIRST_SECONDS
        self.retry_max = RETRY_MAX_SECONDS
        self.connect_timeout = CONNECT_TIMEOUT_SECONDS

    async def resolve(self, turn: Turn) -> Identity | None:
        return await self.people.resolve(turn)

    async def audience(self, turn: Turn) -> Audience:
        return await self.people.audience(turn)

    def add_routes(self, app: web.Application) -> None:
        if not self.config.socket_mode:
            add_routes(app, self.slack.app, self.signing, self._refused)

    async def _refused(self, reason: str, remote: str | None) -> None:
        if self.audit is not None:
            await self.audit.auth_failure("slack", reason, remote)

    async def start(self) -> None:
        if self.config.socket_mode:
            self._connecting = asyncio.create_task(self._connect_until_up())

    async def stop(self) -> None:
        """Disconnect before the server drains: no new envelopes while answers finish."""
        if self._connecting is not None:
            self._connecting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connecting
        if self.socket is not None:
            await self.socket.close_async()
            self.socket = None

    def readiness(self) -> str:
        if not self.config.socket_mode:
            return "ok"
        if self.socket is not None and not self.problem:
            return "ok (Socket Mode connected)"
        return f"degraded: Socket Mode {self.problem}"

    async def _connect_until_up(self) -> None:
        wait = self.retry_first
        attempt = 0
        while True:
            attempt += 1
            try:
                self.socket = await start_socket_mode(self.slack.app, self.app_token, self.config.api_url or None,
                                                      connect_timeout=self.connect_timeout)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Slack unreachable or refusing: retry, keep serving
                reason = str(exc) if isinstance(exc, ConfigError) else exc.__class__.__name__
                self.problem = f"cannot connect ({reason}); retrying in {wait:.0f} s"
                log.warning("Slack Socket Mode connection failed; retrying",
                            extra={"error": reason, "attempt": attempt, "retry_in_s": wait})
                await asyncio.sleep(wait)
                wait = min(wait * 2, self.retry_max)
                continue
            self.problem = ""
            log.info("Slack Socket Mode connected", extra={"attempt": attempt})
            return


def build(ctx: SurfaceContext) -> SlackSurface | None:
    return SlackSurface(ctx) if ctx.config.slack.enabled else None
