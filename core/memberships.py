"""The group membership store and a user's principals.

Memberships are owned by the source that synced them: one source's group sync replaces only its
own rows. A user's principals are ``user:<email>``, every group they are a member of and, only
when the chat platform (or the caller) says they are a full member, ``org:members``.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import delete, select

from core.acl import ORG_MEMBERS, PrincipalError, user_principal
from core.db import Database, GroupMembership


def replace_group_memberships(db: Database, source: str, groups: Mapping[str, frozenset[str]]) -> bool:
    """Make ``source``'s memberships exactly ``groups``; return whether anything changed."""
    wanted = {(g, e.lower()) for g, members in groups.items() for e in members}
    with db.session() as s:
        rows = s.execute(
            select(GroupMembership.group, GroupMembership.member_email).where(GroupMembership.source == source)
        ).all()
        have = {(r[0], r[1]) for r in rows}
        gone, new = have - wanted, wanted - have
        for group, email in gone:
            s.execute(
                delete(GroupMembership).where(
                    GroupMembership.source == source,
                    GroupMembership.group == group,
                    GroupMembership.member_email == email,
                )
            )
        s.add_all(GroupMembership(source=source, group=g, member_email=e) for g, e in sorted(new))
    return bool(gone or new)


def groups_of(db: Database, email: str) -> set[str]:
    with db.session() as s:
        rows = s.execute(
            select(GroupMembership.group).where(GroupMembership.member_email == email.lower())
        ).scalars()
        return set(rows)


def members_of(db: Database, group: str) -> set[str]:
    with db.session() as s:
        rows = s.execute(select(GroupMembership.member_email).where(GroupMembership.group == group)).scalars()
        return set(rows)


def principals_for(db: Database, email: str, *, org_member: bool) -> list[str]:
    """Principals of a person identified by a verified email. Raises PrincipalError for a
    malformed email: an identity we cannot name gets nothing (fail closed)."""
    me = user_principal(email)
    principals = {me} | groups_of(db, email)
    if org_member:
        principals.add(ORG_MEMBERS)
    return sorted(principals)


__all__ = ["PrincipalError", "groups_of", "members_of", "principals_for", "replace_group_memberships"]
