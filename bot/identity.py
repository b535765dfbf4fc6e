"""Who is asking: a verified identity -> the principals it holds.

Each chat surface resolves its own platform user to an :class:`~bot.turn.Identity` (Slack:
users.info; Teams: the Graph user); an identity the platform cannot vouch for is None, and the
conversation service then answers nothing (fail closed). This module turns identities into
principals through the membership store, and holds the fixed identity table of the development
surfaces (the web chat's picker, ``lore ask --as``).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.turn import Identity, Turn
from core.acl import PrincipalError
from core.db import Database
from core.memberships import principals_for

# The only group principals a chat platform's directory may add to a person's (Teams: Microsoft
# Entra groups). A platform can never vouch for a source's groups (``group:files:...``) or for
# ``org:members``: those come from the membership store and the platform's member/guest flag.
DIRECTORY_GROUP_PREFIX = "group:aad:"


class PrincipalsLookup:
    """Identity -> principals through the membership store."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def __call__(self, identity: Identity) -> list[str]:
        try:
            stored = principals_for(self.db, identity.email, org_member=identity.org_member)
        except PrincipalError:
            return []  # an email we cannot turn into a principal reads nothing
        vouched = [g for g in identity.groups if g.startswith(DIRECTORY_GROUP_PREFIX)]
        return sorted(set(stored) | set(vouched))


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
