"""The one ACL encoding every index backend filters on.

A document's CNF ACL becomes ``ACL_FIELDS`` lists of principals. Unused fields hold ``ANY``, a
sentinel that every query's principal list includes; the filter is "some principal of the user in
field 1 AND ... AND in field k" - expressible as a terms/array-contains-any filter in LanceDB,
Qdrant and Elasticsearch alike, so the filter is always inside the index query.

An ACL with more clauses than fields is rewritten, exactly for the memberships known at index
time, into at most ``ACL_FIELDS`` fields:

* clauses naming ``org:members`` (whose members nobody can enumerate) merge into one field by
  distributivity: ``(org or X) and (org or Y) = org or (X and Y)``, with ``X and Y`` expanded to
  the users in both;
* the narrowest of the other clauses keep fields of their own;
* the rest are intersected into one list of users, expanding groups through the membership
  store.

Such an encoding must be recomputed when memberships change (:func:`needs_expansion`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from core.acl import ORG_MEMBERS, Acl
from retrieval.errors import RetrievalError

ACL_FIELDS = 4
ANY = "acl:any"  # in every query's principal list; cannot collide with a valid principal
NOBODY = "acl:nobody"  # in no query's principal list

AclFields = tuple[tuple[str, ...], ...]
GroupMembers = Callable[[str], Iterable[str]]  # group principal -> member emails


class AclEncodingError(RetrievalError, ValueError):
    """An ACL that does not fit the index's clause fields: the document is not indexed."""


def needs_expansion(acl: Acl) -> bool:
    return len(acl.clauses) > ACL_FIELDS


def _users_satisfying(clause: frozenset[str], members: GroupMembers) -> set[str]:
    users: set[str] = set()
    for principal in clause:
        if principal.startswith("user:"):
            users.add(principal)
        elif principal.startswith("group:"):
            users.update(f"user:{email.lower()}" for email in members(principal))
    return users


def _intersect_users(clauses: list[frozenset[str]], members: GroupMembers) -> set[str]:
    users = _users_satisfying(clauses[0], members)
    for clause in clauses[1:]:
        users &= _users_satisfying(clause, members)
    return users


def encode_acl(acl: Acl, members: GroupMembers) -> AclFields:
    if not acl.clauses:
        raise AclEncodingError("an ACL without clauses allows nobody; refusing to index")
    if len(acl.clauses) <= ACL_FIELDS:
        fields = [tuple(sorted(c)) for c in acl.clauses]
        return tuple(fields + [(ANY,)] * (ACL_FIELDS - len(fields)))
    org = [c - {ORG_MEMBERS} for c in acl.clauses if ORG_MEMBERS in c]
    rest = sorted((c for c in acl.clauses if ORG_MEMBERS not in c), key=lambda c: (len(c), sorted(c)))
    out: list[tuple[str, ...]] = []
    if org:
        # Acl.of drops supersets, so a bare {org:members} clause is alone here: org has one entry.
        remainder = _intersect_users(org, members) if all(org) else set()
        out.append(tuple(sorted({ORG_MEMBERS} | (remainder if len(org) > 1 else set(org[0])))))
    room = ACL_FIELDS - 1 - len(out)
    out.extend(tuple(sorted(c)) for c in rest[:room])
    if rest[room:]:
        out.append(tuple(sorted(_intersect_users(rest[room:], members))) or (NOBODY,))
    return tuple(out + [(ANY,)] * (ACL_FIELDS - len(out)))


def query_principals(principals: Iterable[str]) -> list[str]:
    """The searcher's principals as the filter matches them: with ``ANY``, and without anything
    in the sentinels' ``acl:`` space (no valid principal is there, and ``NOBODY`` must match
    nobody, whatever a caller passes)."""
    return sorted({p for p in principals if not p.startswith("acl:")} | {ANY})
