"""Confluence permissions -> Lore principals and CNF ACLs.

Confluence lets a person view a page when they hold the space's view permission AND satisfy
every view restriction on the page and on each of its ancestors: restrictions stack, the nearest
one alone is not enough (a child of a restricted page is restricted too). That is one clause per
level:

    (space readers) AND (page's restriction, if any) AND (each ancestor's restriction, if any)

Each clause lists users (``user:<email>``) and groups (``group:confluence:<instance>:<id>``,
in the connector instance's namespace so that two Confluence sites never share a group; by id
because Cloud group names can be renamed, by name on Data Center where groups have no id).
Data Center names are compared without case, as Confluence does: it requires lower-case group
names and looks groups up by their lower-cased name, so ``Admins`` and ``admins`` are one group
there and one principal here (confluence.atlassian.com/docm/latest/confluence-groups-for-
administrators-990544236.html: "Group names must be lower case"). The folding stays inside
one instance's namespace: it never merges two sources' groups.

Fail closed everywhere:

* A user whose email cannot be learned (Cloud hides it by profile visibility) and who is not in
  the admin-supplied mapping is left out of the clause. Leaving someone out of an allow-list
  can only take access away.
* A clause left empty that way means nobody may read the page: the ACL cannot be built and the
  page is not indexed.
* Anonymous access to a space grants ``org:members`` only when configured; otherwise it grants
  nothing (we cannot express "anyone on the internet").
* A result list that looks truncated (as many results as its limit) is used as it is, for the
  same reason: a shorter allow-list never grants more.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, unquote

from connectors.confluence.client import ConfluenceClient
from connectors.confluence.errors import ConfluenceNotFound
from connectors.errors import AclUnavailable
from core.acl import ORG_MEMBERS, Acl, PrincipalError, in_namespace, parse_principal

log = logging.getLogger("lore.confluence")


class People:
    """Confluence users -> ``user:<email>`` principals, cached for one run, and groups ->
    principals in ``namespace``. Thread-safe."""

    def __init__(
        self, client: ConfluenceClient, overrides: Mapping[str, str], *, cloud: bool, namespace: str
    ) -> None:
        self.namespace = namespace
        self._client = client
        self._overrides = {k: v.strip().lower() for k, v in overrides.items()}
        self._cloud = cloud
        self._cache: dict[str, str | None] = {}
        self._lock = threading.Lock()
        self.unmapped: set[str] = set()  # ids we could not map, reported once per run

    def principal(self, user: Mapping[str, Any]) -> str | None:
        key = str(user.get("accountId") or user.get("username") or user.get("userKey") or user.get("email") or "")
        if not key:
            return None
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        principal = self._resolve(key, user)
        with self._lock:
            self._cache[key] = principal
            if principal is None and key not in self.unmapped:
                self.unmapped.add(key)
                log.warning("Confluence user without a known email gets no access",
                            extra={"account": key})
        return principal

    def _resolve(self, key: str, user: Mapping[str, Any]) -> str | None:
        email = str(user.get("email") or "").strip().lower()
        for ref in ("accountId", "username", "userKey"):  # Cloud ids; Data Center names, keys
            if email:
                break
            email = self._overrides.get(str(user.get(ref) or ""), "")
        if not email and self._cloud and user.get("accountId"):
            try:
                found = self._client.get("user", {"accountId": key})
            except ConfluenceNotFound:
                found = {}
            email = str(found.get("email") or "").strip().lower()
        if not email:
            return None
        try:
            return parse_principal(f"user:{email}")
        except PrincipalError:
            return None


def group_principal(group: Mapping[str, Any], namespace: str) -> str | None:
    """``<namespace><id>`` (Cloud), or the percent-encoded name on Data Center, whose groups
    have no id and whose names may contain spaces (see group_ref)."""
    ref = str(group.get("id") or group.get("name") or "").strip()
    if not ref:
        return None
    try:
        return parse_principal(namespace + quote(ref, safe=""))
    except PrincipalError:
        return None


def group_ref(principal: str, namespace: str) -> str | None:
    """The group id or name a principal of ``namespace`` stands for (as the REST API wants
    it); None for a principal of another namespace."""
    if not in_namespace(principal, namespace):
        return None
    return unquote(principal.removeprefix(namespace))


def _results(container: Any) -> list[Mapping[str, Any]]:
    if not isinstance(container, Mapping):
        return []
    items = container.get("results")
    return [i for i in items if isinstance(i, Mapping)] if isinstance(items, list) else []


def restriction_clause(read: Mapping[str, Any] | None, people: People) -> frozenset[str] | None:
    """A view restriction (``restrictions.read`` of a page, or ``byOperation/read``) -> the
    clause it adds, or None when it restricts nothing. An empty clause: nobody may view."""
    if not isinstance(read, Mapping):
        return None
    restrictions = read.get("restrictions")
    if not isinstance(restrictions, Mapping):
        return None
    users = _results(restrictions.get("user"))
    groups = _results(restrictions.get("group"))
    if not users and not groups:
        return None
    clause = {p for p in (people.principal(u) for u in users) if p}
    clause |= {p for p in (group_principal(g, people.namespace) for g in groups) if p}
    return frozenset(clause)


def space_clause(space: Mapping[str, Any], people: People, *, anonymous_to_org: bool) -> frozenset[str]:
    """Who holds the space's view ("read" on target "space") permission."""
    clause: set[str] = set()
    permissions = space.get("permissions")
    for perm in permissions if isinstance(permissions, list) else []:
        if not isinstance(perm, Mapping):
            continue
        op = perm.get("operation")
        if not isinstance(op, Mapping) or op.get("operation") != "read" or op.get("targetType") != "space":
            continue
        if perm.get("anonymousAccess"):
            if anonymous_to_org:
                clause.add(ORG_MEMBERS)
            continue
        subjects = perm.get("subjects")
        if not isinstance(subjects, Mapping):
            continue
        clause |= {p for p in (people.principal(u) for u in _results(subjects.get("user"))) if p}
        clause |= {p for p in (group_principal(g, people.namespace) for g in _results(subjects.get("group"))) if p}
    return frozenset(clause)


def build_acl(what: str, space: frozenset[str], restrictions: Iterable[frozenset[str] | None]) -> Acl:
    """The page's ACL from its space clause and the restrictions of the page and its ancestors.
    Raises AclUnavailable when some level lets nobody in."""
    if not space:
        raise AclUnavailable(f"{what}: nobody we can name holds the space's view permission")
    clauses = [space]
    for clause in restrictions:
        if clause is None:
            continue
        if not clause:
            raise AclUnavailable(
                f"{what}: a view restriction names only users without a known email; nobody may read it"
            )
        clauses.append(clause)
    return Acl.of(clauses)
