"""Who a Teams user is, from Microsoft Graph: email, full member or not, Entra groups.

``identity(tenant, aad_object_id)``: Graph ``users/{id}`` (email = ``mail``, else the UPN) and
``transitiveMemberOf`` groups (``group:aad:<object id>``). A user is a full member of the company
(``org:members``) only when Graph says ``userType`` is ``Member`` and the UPN is not a B2B one
(``#EXT#``), and when the Teams activity does not place them in another home tenant. Only the
tenants in ``teams.tenant_ids`` are looked up; every other tenant, and every failure (Graph
down, 403, 404, a token refused, an unreadable answer), gives None: the conversation service
then answers from nothing (fail closed). Failures are logged by kind and message (messages of
TeamsAuthError and GraphError hold no token or secret) and not cached.

Identities are cached per (tenant, object id) for ``teams.identity_cache_seconds``, at most
``max_entries``: one person's entry never serves another.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from bot.teams.audience import TeamsMember, audience_of
from bot.teams.credentials import AppCredentials, TeamsAuthError
from bot.teams.graph import GraphClient, GraphError, GraphUser
from bot.turn import Audience, Identity
from core.secrets.base import SecretStore
from core.sections import TeamsConfig

__all__ = ["TeamsDirectory", "identity_from"]

log = logging.getLogger("lore.teams.directory")

# Entra object ids are GUIDs; anything else is not looked up (nor put in a Graph URL).
_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")


def identity_from(user: GraphUser, groups: Sequence[str], *, home_tenant_differs: bool) -> Identity:
    guest = (
        user.user_type or ""
    ).lower() != "member" or "#ext#" in user.user_principal_name.lower()
    email = (user.mail or user.user_principal_name).strip().lower()
    return Identity(
        email=email,
        org_member=not guest and not home_tenant_differs,
        display_name=user.display_name,
        groups=tuple(f"group:aad:{g.lower()}" for g in sorted(set(groups))),
    )


class TeamsDirectory:
    def __init__(
        self,
        config: TeamsConfig,
        graph: GraphClient,
        *,
        max_entries: int = 50_000,
        max_members: int = 2_000,
        concurrency: int = 8,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._tenants = {t.strip().lower() for t in config.tenant_ids if t.strip()}
        self._ttl = config.identity_cache_seconds
        self._graph = graph
        self._max_entries = max_entries
        self._max_members = max_members
        self._concurrency = concurrency
        self._clock = clock
        self._cache: OrderedDict[tuple[str, str], tuple[float, Identity]] = OrderedDict()
        self._pending: dict[tuple[str, str], asyncio.Future[Identity | None]] = {}

    @classmethod
    def build(cls, config: TeamsConfig, secrets: SecretStore) -> TeamsDirectory:
        """The directory with msal credentials and a Graph client from the settings."""
        credentials = AppCredentials(config, secrets)
        return cls(config, GraphClient(credentials.token, config.graph_url))

    async def close(self) -> None:
        await self._graph.close()

    async def identity(
        self, tenant_id: str, aad_object_id: str, *, home_tenant_id: str | None = None
    ) -> Identity | None:
        """The user ``aad_object_id`` of ``tenant_id`` (the tenant the conversation is in);
        ``home_tenant_id``: the user's own tenant where the activity names it."""
        tenant = tenant_id.strip().lower()
        if tenant not in self._tenants:
            log.info("Teams tenant not served: no identity", extra={"tenant": tenant_id[:64]})
            return None
        if not _GUID.fullmatch(aad_object_id or ""):
            log.warning(
                "Teams user without a valid Entra object id: no identity", extra={"tenant": tenant}
            )
            return None
        differs = home_tenant_id is not None and home_tenant_id.strip().lower() != tenant
        key = (tenant, aad_object_id.lower())
        found = self._cached(key)
        if found is None:
            # One lookup per person at a time: concurrent turns (Teams redelivers, a busy
            # channel) share it instead of each asking Graph.
            pending = self._pending.get(key)
            if pending is None:
                pending = asyncio.ensure_future(self._lookup(key))
                self._pending[key] = pending
                pending.add_done_callback(lambda _: self._pending.pop(key, None))
            found = await asyncio.shield(pending)
        if found is None:
            return None
        return _demoted(found) if differs else found

    async def _lookup(self, key: tuple[str, str]) -> Identity | None:
        tenant, object_id = key
        try:
            user, groups = await asyncio.gather(
                self._graph.user(tenant, object_id), self._graph.group_ids(tenant, object_id)
            )
        except (TeamsAuthError, GraphError) as exc:
            log.warning(
                "Teams identity lookup failed: no identity (%s)",
                exc,
                extra={"tenant": tenant, "user": object_id, "error": type(exc).__name__},
            )
            return None
        except Exception as exc:  # noqa: BLE001 - anything else fails closed too
            log.warning(
                "Teams identity lookup failed: no identity (%s)",
                type(exc).__name__,
                extra={"tenant": tenant, "user": object_id, "error": type(exc).__name__},
            )
            return None
        if user.id.lower() != object_id:
            log.warning(
                "Graph answered for another user: no identity",
                extra={"tenant": tenant, "user": object_id},
            )
            return None
        found = identity_from(user, groups, home_tenant_differs=False)
        self._store(key, found)
        return found

    async def identities(
        self, tenant_id: str, members: Sequence[TeamsMember]
    ) -> list[Identity] | None:
        """Every roster member's identity, in roster order; None when any cannot be named (a
        member of another tenant, anonymous, no object id, a failed lookup) or the roster is
        larger than ``max_members``. A member the roster calls a guest is never a full member,
        whatever Graph says."""
        if len(members) > self._max_members:
            log.info("Teams roster too large to resolve", extra={"members": len(members)})
            return None
        tenant = tenant_id.strip().lower()
        if any(
            not m.aad_object_id or (m.tenant_id or "").strip().lower() != tenant for m in members
        ):
            return None  # someone Lore's directory cannot vouch for
        limit = asyncio.Semaphore(self._concurrency)

        async def one(member: TeamsMember) -> Identity | None:
            async with limit:
                found = await self.identity(tenant, member.aad_object_id or "")
            if found is not None and member.is_outsider(tenant):
                return _demoted(found)
            return found

        found = await asyncio.gather(*(one(m) for m in members))
        if any(i is None for i in found):
            return None
        return [i for i in found if i is not None]

    async def audience(self, tenant_id: str, members: Sequence[TeamsMember]) -> Audience:
        """``audience_of`` the roster with its members' identities (an empty roster, or one
        with anyone unresolvable, searches nothing)."""
        identities = await self.identities(tenant_id, members) if members else None
        return audience_of(members, tenant_id, identities)

    def _cached(self, key: tuple[str, str]) -> Identity | None:
        entry = self._cache.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._cache[key]
            return None
        self._cache.move_to_end(key)
        return entry[1]

    def _store(self, key: tuple[str, str], value: Identity) -> None:
        if self._ttl <= 0:
            return
        self._cache[key] = (self._clock() + self._ttl, value)
        self._cache.move_to_end(key)
        while len(self._cache) > self._max_entries:
            self._cache.popitem(last=False)


def _demoted(identity: Identity) -> Identity:
    return Identity(identity.email, False, identity.display_name, identity.groups)
