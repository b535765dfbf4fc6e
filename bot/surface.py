"""The chat-surface contract, and the router that sends each turn to the surface it came from.

A surface (web chat, Slack, Teams) translates its platform's events into
:class:`~bot.turn.Turn` s, hands them to the conversation service and renders the answer events.
The server builds the configured surfaces from the table in :mod:`bot.surfaces` and then only
talks to them through :class:`Surface`:

- ``add_routes(app)``: its HTTP routes on the ``lore`` server (none for a Socket Mode app);
- ``start()`` once the server is warm, ``stop()`` before it drains (a WebSocket to the platform,
  say); a surface that cannot reach its platform keeps retrying in the background and reports
  it in ``readiness()`` instead of stopping the server;
- ``resolve(turn)`` the asker's identity (None: unknown, fail closed) and ``audience(turn)`` who
  else reads a reply in the conversation (default: unknown, so outsiders are assumed);
- ``readiness()`` one line for ``/readyz``: ``ok``, ``degraded: ...`` or ``error: ...``.

Optional capabilities have defaults here; a surface overrides what it has.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

from bot.audit import Auditor
from bot.conversation import ConversationService
from bot.metrics import Metrics
from bot.turn import UNKNOWN_AUDIENCE, Audience, Identity, Turn
from core.config import Config
from core.db import Database
from core.secrets import SecretStore


@dataclass(frozen=True)
class SurfaceContext:
    """What a surface may use from the server that hosts it."""

    config: Config
    secrets: SecretStore
    db: Database
    conversation: ConversationService
    metrics: Metrics
    redis: Any  # redis.asyncio client, or None (one replica, no Redis)
    # Counts an answer that runs outside an HTTP request (after a platform's ack) as in flight,
    # so a graceful shutdown waits for it.
    track: Callable[[], AbstractAsyncContextManager[None]]
    audit: Auditor | None = None  # authentication failures, feedback (None: not recorded)


class Surface(Protocol):
    platform: str  # the Turn.platform of the turns it produces

    async def resolve(self, turn: Turn) -> Identity | None:
        """The asker's identity, or None when the platform cannot vouch for it."""
        ...

    async def audience(self, turn: Turn) -> Audience:
        return UNKNOWN_AUDIENCE

    def add_routes(self, app: web.Application) -> None:
        return None

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def readiness(self) -> str:
        return "ok"


# A surface module's entry in the table: the configured surface, or None when it is off.
SurfaceFactory = Callable[[SurfaceContext], Surface | None]


class Surfaces:
    """The configured surfaces by platform: the conversation service's identity and audience
    resolver. A turn from a platform with no surface has no identity, and its audience is
    unknown: fail closed both ways."""

    def __init__(self, surfaces: Mapping[str, Surface] | None = None) -> None:
        self.by_platform: dict[str, Surface] = dict(surfaces or {})

    def add(self, surface: Surface) -> None:
        if surface.platform in self.by_platform:  # two tables entries answering for one platform
            raise ValueError(f"two chat surfaces for the platform {surface.platform!r}")
        self.by_platform[surface.platform] = surface

    def __iter__(self) -> Iterator[Surface]:
        return iter(self.by_platform.values())

    async def resolve(self, turn: Turn) -> Identity | None:
        surface = self.by_platform.get(turn.platform)
        return await surface.resolve(turn) if surface is not None else None

    async def audience(self, turn: Turn) -> Audience:
        surface = self.by_platform.get(turn.platform)
        return await surface.audience(turn) if surface is not None else UNKNOWN_AUDIENCE
