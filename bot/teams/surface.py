"""Microsoft Teams as a chat surface: ``POST /api/messages`` on the ``lore`` server.

Built when ``teams.enabled``. Everything the surface cannot work without is checked when the
server starts, each as one :class:`~core.config.ConfigError` line: the app id, at least one tenant,
and the client secret (or the certificate, when ``teams.certificate_secret`` names one) in the
secret store.

Who is asking and who else reads a reply come from two collaborators with small contracts
(:class:`IdentityLookup`, :class:`AudiencePolicy`): the Teams directory (the member, then
Microsoft Graph) and the roster policy. Until they are configured, both fail closed: no identity
(no answer), and an audience of unknown outsiders (a channel answer uses nothing).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from typing import Any, Protocol

from aiohttp import web

from bot.feedback import FeedbackRecorder
from bot.surface import Surface, SurfaceContext
from bot.teams.activities import Inbound
from bot.teams.audience import BadRosterMember, TeamsMember, audience_of
from bot.teams.auth import InboundAuth
from bot.teams.connector import BotConnector, ConnectorError, TokenProvider
from bot.teams.credentials import AppCredentials
from bot.teams.directory import TeamsDirectory
from bot.teams.events import TeamsEvents
from bot.turn import UNKNOWN_AUDIENCE, Audience, Identity, Kind, Turn
from core.config import ConfigError
from core.dedupe import (
    DatabaseDeduplicator,
    EventDeduplicator,
    FallbackDeduplicator,
    RedisDeduplicator,
)
from core.secrets import SecretNotFound, require_secret

log = logging.getLogger("lore.teams")

ROUTE = "/api/messages"
REMEMBERED_CONVERSATIONS = 10_000


class IdentityLookup(Protocol):
    async def identity(self, tenant_id: str, aad_object_id: str) -> Identity | None:
        """The person, or None when the directory cannot vouch for them (fail closed)."""
        ...

    async def close(self) -> None:
        """Release its HTTP clients (when the server stops)."""
        return


class AudiencePolicy(Protocol):
    async def audience(self, tenant_id: str, members: list[dict[str, Any]]) -> Audience:
        """Who reads a reply in a conversation with these roster entries (Bot Connector
        ``TeamsChannelAccount`` JSON)."""
        ...


class NoDirectory(IdentityLookup):
    async def identity(self, tenant_id: str, aad_object_id: str) -> Identity | None:
        return None


class UnknownAudience:
    async def audience(self, tenant_id: str, members: list[dict[str, Any]]) -> Audience:
        return UNKNOWN_AUDIENCE


class NoCredentials:
    async def token(self, tenant_id: str, scope: str) -> str:
        raise ConnectorError(0, "no_credentials", "no app credentials are configured for Teams")


def check_config(ctx: SurfaceContext) -> None:
    cfg = ctx.config.teams
    if not cfg.app_id.strip():
        raise ConfigError("teams.enabled needs teams.app_id (the bot's Microsoft Entra application id)")
    if not [t for t in cfg.tenant_ids if t.strip()]:
        raise ConfigError("teams.enabled needs teams.tenant_ids (the Microsoft Entra tenants Lore serves)")
    name, setting = ((cfg.certificate_secret, "teams.certificate_secret") if cfg.certificate_secret
                     else (cfg.app_password_secret, "teams.app_password_secret"))
    try:
        require_secret(ctx.secrets, name)
    except SecretNotFound as exc:
        raise ConfigError(f"teams.enabled needs the secret {name!r} ({setting}): {exc}") from None


class TeamsSurface(Surface):
    platform = "teams"

    def __init__(self, ctx: SurfaceContext, *, tokens: TokenProvider | None = None,
                 directory: IdentityLookup | None = None, audience_policy: AudiencePolicy | None = None) -> None:
        check_config(ctx)
        cfg = ctx.config.teams
        self.config = cfg
        self.shutdown_timeout = ctx.config.server.shutdown_timeout_seconds
        self.directory: IdentityLookup = directory or NoDirectory()
        self.audience_policy: AudiencePolicy = audience_policy or UnknownAudience()
        self.connector = BotConnector(tokens or NoCredentials(), multi_tenant=cfg.app_type == "multi-tenant")
        dedupe: EventDeduplicator = DatabaseDeduplicator(ctx.db)
        if ctx.redis is not None:
            dedupe = FallbackDeduplicator(
                RedisDeduplicator(ctx.redis, prefix=f"{ctx.config.redis.key_prefix}event:"), dedupe,
                on_fallback=ctx.metrics.dedupe_fallbacks.inc,
            )
        self.service_urls: OrderedDict[str, str] = OrderedDict()  # conversation -> serviceUrl
        self.events = TeamsEvents(
            auth=InboundAuth(cfg.app_id.strip(), cfg.openid_metadata_url), dedupe=dedupe,
            tenants=frozenset(t.strip().lower() for t in cfg.tenant_ids if t.strip()),
            conversation=ctx.conversation, connector=self.connector,
            feedback=FeedbackRecorder(ctx.db, ctx.metrics, ctx.audit), track=ctx.track, remember=self._remember,
            on_dedupe_error=ctx.metrics.dedupe_errors.inc, audit=ctx.audit,
        )

    def _remember(self, inbound: Inbound) -> None:
        """The roster is read at the activity's serviceUrl (the region Teams serves it from)."""
        self.service_urls[inbound.base_conversation_id] = inbound.service_url
        self.service_urls.move_to_end(inbound.base_conversation_id)
        while len(self.service_urls) > REMEMBERED_CONVERSATIONS:
            self.service_urls.popitem(last=False)

    async def resolve(self, turn: Turn) -> Identity | None:
        try:
            return await self.directory.identity(turn.workspace, turn.user_id)
        except Exception:
            log.exception("Teams identity lookup failed")
            return None

    async def audience(self, turn: Turn) -> Audience:
        if turn.kind is Kind.DIRECT:
            return Audience(includes_outsiders=False)
        service_url = self.service_urls.get(turn.conversation_id)
        if service_url is None:
            return UNKNOWN_AUDIENCE
        try:
            members = await self.connector.members(service_url, turn.workspace, turn.conversation_id)
        except ConnectorError as exc:
            log.warning("Teams roster not read; nothing is shared here",
                        extra={"status": exc.status, "code": exc.code})
            return UNKNOWN_AUDIENCE
        return await self.audience_policy.audience(turn.workspace, members)

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post(ROUTE, self.events.handle)

    async def stop(self) -> None:
        """Answers already running finish (the server drains them too), then the HTTP session closes."""
        if self.events.tasks:
            await asyncio.wait(set(self.events.tasks), timeout=self.shutdown_timeout)
        await self.connector.close()
        await self.directory.close()


class RosterAudience:
    """A conversation's roster -> who reads a reply there, through the Teams directory. A roster
    entry that cannot be read makes the audience unknown (nothing is shared)."""

    def __init__(self, directory: TeamsDirectory) -> None:
        self.directory = directory

    async def audience(self, tenant_id: str, members: list[dict[str, Any]]) -> Audience:
        try:
            roster = [TeamsMember.from_json(m) for m in members]
        except BadRosterMember:
            log.warning("Teams roster entry unreadable; nothing is shared here")
            return UNKNOWN_AUDIENCE
        return audience_of(roster, tenant_id, await self.directory.identities(tenant_id, roster))


def build(ctx: SurfaceContext) -> TeamsSurface | None:
    if not ctx.config.teams.enabled:
        return None
    check_config(ctx)
    directory = TeamsDirectory.build(ctx.config.teams, ctx.secrets)
    return TeamsSurface(ctx, tokens=AppCredentials(ctx.config.teams, ctx.secrets), directory=directory,
                        audience_policy=RosterAudience(directory))
