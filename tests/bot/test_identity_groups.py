"""A chat platform's directory may add its own group principals (Teams: Microsoft Entra groups)
to a person's, and nothing else: never a source's groups, never org:members."""

from __future__ import annotations

from bot.identity import PrincipalsLookup
from bot.turn import Identity
from core.acl import ORG_MEMBERS
from core.db import Database
from core.memberships import replace_group_memberships


def test_directory_groups_are_added_and_nothing_else_is(database: Database) -> None:
    replace_group_memberships(database, "files:/h", "group:files:h:", {"group:files:h:hr": frozenset({"a@x.io"})})
    lookup = PrincipalsLookup(database)
    guest = Identity("a@x.io", org_member=False,
                     groups=("group:aad:1111", "group:files:h:eng", ORG_MEMBERS, "user:ceo@x.io"))
    assert lookup(guest) == sorted({"user:a@x.io", "group:files:h:hr", "group:aad:1111"})
    assert ORG_MEMBERS in lookup(Identity("a@x.io", org_member=True))
