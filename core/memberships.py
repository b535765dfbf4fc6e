"""The group membership store and a user's principals.

Memberships are owned by a group namespace (``group:files:handbook:``, see core.acl): a
connector's group sync replaces exactly the memberships of its own namespace and may write no
group outside it, so one source can never add members to another source's group, whatever the
groups are called. A user's principals are ``user:<email>``, every group they are a member of and, only
when the chat platform (or the caller) says they are a full member, ``org:members``.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import String, cast, delete, select

from core.acl import ORG_MEMBERS, PrincipalError, in_namespace, user_principal
from core.db import Database, DocumentRow, GroupMembership
from core.errors import CoreError


class MembershipError(CoreError, ValueError):
    """Memberships a source may not write (a group outside its namespace)."""


def replace_group_memberships(
    db: Database, source: str, namespace: str, groups: Mapping[str, frozenset[str]]
) -> bool:
    """Make the memberships of ``namespace`` exactly ``groups`` (written by ``source``); return
    whether anything changed. Raises MembershipError, writing nothing, when a group is outside
    the namespace."""
    if not namespace.startswith("group:") or not namespace.endswith(":"):
        raise MembershipError(f"{namespace!r} is not a group namespace")
    outside = sorted(g for g in groups if not in_namespace(g, namespace))
    if outside:
        raise MembershipError(f"{source} may only define groups {namespace}<name>, not {outside[:3]}")
    wanted = {(source, g, e.lower()) for g, members in groups.items() for e in members}
    namespace_rows = GroupMembership.group.startswith(namespace, autoescape=True)
    with db.session() as s:
        rows = s.execute(
            select(GroupMembership.source, GroupMembership.group, GroupMembership.member_email).where(namespace_rows)
        ).all()
        # Rows of another source in this namespace (the instance's folder moved, so its source
        # changed) are replaced too: the namespace, not the source string, owns them.
        have = {(r[0], r[1], r[2]) for r in rows}
        gone, new = have - wanted, wanted - have
        for owner, group, email in gone:
            s.execute(
                delete(GroupMembership).where(
                    GroupMembership.source == owner,
                    GroupMembership.group == group,
                    GroupMembership.member_email == email,
                )
            )
        s.add_all(GroupMembership(source=o, group=g, member_email=e) for o, g, e in sorted(new))
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


def known_to_sources(db: Database, email: str) -> bool:
    """Whether any source names this person: a group membership, or a document readable by
    ``user:<email>`` itself. A person no source knows reads only what is open to everyone."""
    me = user_principal(email)
    with db.session() as s:
        member = s.execute(
            select(GroupMembership.group).where(GroupMembership.member_email == email.lower()).limit(1)
        ).first()
        if member is not None:
            return True
        # ACLs are JSON lists of principal lists; principals are ASCII without quotes, so the
        # quoted principal appears verbatim in the stored text.
        named = s.execute(
            select(DocumentRow.id).where(cast(DocumentRow.acl, String).contains(f'"{me}"', autoescape=True)).limit(1)
        ).first()
        return named is not None


def principals_for(db: Database, email: str, *, org_member: bool) -> list[str]:
    """Principals of a person identified by a verified email. Raises PrincipalError for a
    malformed email: an identity we cannot name gets nothing (fail closed)."""
    me = user_principal(email)
    principals = {me} | groups_of(db, email)
    if org_member:
        principals.add(ORG_MEMBERS)
    return sorted(principals)


__all__ = ["MembershipError", "PrincipalError", "groups_of", "in_namespace", "known_to_sources", "members_of", "principals_for", "replace_group_memberships"]
