"""Who is asking: platform user -> verified email and membership -> principals.

Each chat platform implements :class:`IdentityResolver` (Slack: users.info; Teams: the Graph
user). An identity the platform cannot vouch for resolves to None, and the conversation service
then answers nothing (fail closed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import select

from bot.audience import Audience
from core.acl import PrincipalError
from core.db import Database, DocumentRow
from core.memberships import principals_for

if TYPE_CHECKING:
    from bot.conversation import Turn


@dataclass(frozen=True)
class Identity:
    email: str
    org_member: bool  # full member of the company (not a guest, not from another organisation)
    display_name: str = ""


class IdentityResolver(Protocol):
    async def resolve(self, turn: Turn) -> Identity | None:
        """The asker's identity, or None when it cannot be established."""
        ...


class PrincipalsLookup:
    """Identity -> principals through the membership store."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def __call__(self, identity: Identity) -> list[str]:
        try:
            return principals_for(self.db, identity.email, org_member=identity.org_member)
        except PrincipalError:
            return []  # an email we cannot turn into a principal reads nothing


@dataclass(frozen=True)
class StaticIdentityResolver:
    """A fixed user table: the web chat's identity picker (development only) and tests."""

    users: dict[str, Identity]

    @classmethod
    def from_entries(cls, entries: list[str]) -> StaticIdentityResolver:
        """Entries as in ``webchat.users``: "email" or "email guest"."""
        users = {}
        for entry in entries:
            parts = entry.split()
            if not parts or len(parts) > 2 or (len(parts) == 2 and parts[1].lower() != "guest"):
                raise ValueError(f"webchat.users entry {entry!r}: expected 'email' or 'email guest'")
            email = parts[0].lower()
            users[email] = Identity(email=email, org_member=len(parts) == 1)
        return cls(users)

    async def resolve(self, turn: Turn) -> Identity | None:
        return self.users.get(turn.user_id.lower())


PrincipalsFor = Callable[[Identity], list[str]]


class DocumentDatesLookup:
    """Document ids -> when each last changed at its source (the metadata database)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def __call__(self, document_ids: list[str]) -> dict[str, datetime]:
        with self.db.session() as s:
            rows = s.execute(
                select(DocumentRow.id, DocumentRow.updated_at).where(DocumentRow.id.in_(document_ids))
            ).all()
        return {doc_id: updated for doc_id, updated in rows if updated is not None}


class ByPlatform:
    """One identity (and audience) resolver per chat platform, chosen by ``turn.platform``.
    A turn from a platform with no resolver has no identity, and a conversation whose platform
    cannot tell its audience is treated as including outsiders: fail closed both ways."""

    def __init__(self, resolvers: dict[str, IdentityResolver]) -> None:
        self.resolvers = resolvers

    async def resolve(self, turn: Turn) -> Identity | None:
        resolver = self.resolvers.get(turn.platform)
        return await resolver.resolve(turn) if resolver is not None else None

    async def audience(self, turn: Turn) -> Audience:
        resolver = self.resolvers.get(turn.platform)
        if resolver is None or not hasattr(resolver, "audience"):
            return Audience(includes_outsiders=True, members=None)
        result: Audience = await resolver.audience(turn)
        return result
