"""The local web chat as a chat surface: development mode, a loopback address, an identity picker."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.identity import StaticIdentityResolver
from bot.surface import Surface, SurfaceContext
from bot.turn import Identity, Turn
from bot.webchat.guard import is_loopback
from bot.webchat.routes import add_routes
from core.config import Config, ConfigError

log = logging.getLogger("lore.webchat")


def webchat_allowed(cfg: Config) -> bool:
    """The web chat's identity picker trusts the browser: development mode on loopback only."""
    if not cfg.webchat.enabled:
        return False
    if cfg.server.mode != "development":
        log.warning("webchat.enabled is ignored outside development mode (server.mode=%s)", cfg.server.mode)
        return False
    if not is_loopback(cfg.server.host):
        raise ConfigError(
            f"the web chat is a development surface and must listen on a loopback address, "
            f"not {cfg.server.host!r}: set server.host=127.0.0.1 or webchat.enabled=false"
        )
    return True


class WebChatSurface(Surface):
    platform = "webchat"

    def __init__(self, ctx: SurfaceContext) -> None:
        self.conversation = ctx.conversation
        self.users = StaticIdentityResolver.from_entries(ctx.config.webchat.users)

    async def resolve(self, turn: Turn) -> Identity | None:
        return await self.users.resolve(turn)

    def add_routes(self, app: web.Application) -> None:
        add_routes(app, self.conversation, self.users)


def build(ctx: SurfaceContext) -> WebChatSurface | None:
    return WebChatSurface(ctx) if webchat_allowed(ctx.config) else None
