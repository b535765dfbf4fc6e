"""The one ACL encoding every index backend filters on.

A document's CNF ACL becomes ``ACL_FIELDS`` lists of principals. Unused fields hold ``ANY``, a
sentinel that every query's principal list includes; the filter is "some principal of the user in
field 1 AND ... AND in field k" - expressible as a terms/array-contains-any filter in LanceDB,
Qdrant and Elasticsearch alike, so the filter is always inside the index query.

An ACL with more clauses than fields keeps the clauses that cannot be expanded (those naming
``org:members``, whose members nobody can enumerate) and as many others as fit; the rest are
intersected at index time into one list of users, expanding groups through the membership store.
That list must be recomputed when memberships change (:func:`needs_expansion`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from core.acl import ORG_MEMBERS, Acl

ACL_FIELDS = 4
ANY = "acl:any"  # in every query's principal list; cannot collide with a valid principal
NOBODY = "acl:nobody"  # in no query's principal list

AclFields = tuple[tuple[str, ...], ...]
GroupMembers = Callable[[str], Iterable[str]]  # group principal -> member emails


class AclEncodingError(ValueError):
    pass


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


def encode_acl(acl: Acl, members: GroupMembers) -> AclFields:
    if not acl.clauses:
        raise AclEncodingError("an ACL without clauses allows nobody; refusing to index")
    if len(acl.clauses) <= ACL_FIELDS:
        fields = [tuple(sorted(c)) for c in acl.clauses]
    else:
        # Clauses with org:members cannot be expanded into users, so they keep a field of
        # their own; the narrowest of the others fill the remaining fields first.
        fixed = [c for c in acl.clauses if ORG_MEMBERS in c]
        rest = sorted((c for c in acl.clauses if ORG_MEMBERS not in c), key=lambda c: (len(c), sorted(c)))
        if len(fixed) > ACL_FIELDS - 1:
            raise AclEncodingError(
                f"ACL has {len(fixed)} clauses naming {ORG_MEMBERS}; at most {ACL_FIELDS - 1} "
                "can be encoded"
            )
        direct = fixed + rest[: ACL_FIELDS - 1 - len(fixed)]
        surplus = rest[ACL_FIELDS - 1 - len(fixed) :]
        users = _users_satisfying(surplus[0], members)
        for clause in surplus[1:]:
            users &= _users_satisfying(clause, members)
        fields = [tuple(sorted(c)) for c in direct] + [tuple(sorted(users)) or (NOBODY,)]
    return tuple(fields + [(ANY,)] * (ACL_FIELDS - len(fields)))


def query_principals(principals: Iterable[str]) -> list[str]:
    return sorted(set(principals) | {ANY})
