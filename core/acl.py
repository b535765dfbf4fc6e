"""Principals and access control lists.

A principal is a namespaced lowercase string:

* ``user:<email>``
* ``group:<provider>:<id>`` with provider one of confluence, aad, sharepoint, files; for the
  providers whose group ids are only unique inside one source (a files root's ``groups.yaml``,
  Confluence Data Center's group names, a SharePoint site's group numbers) the id starts with
  the connector instance: ``group:files:<instance>:<name>``. Two sources that both define a
  group ``hr`` therefore never share a principal, and a source may only sync the memberships of
  its own namespace (core.memberships).
* ``org:members`` (every full member of the company; never guests or external users)

Principals are ASCII, compared case-insensitively by ASCII lower-casing only. Non-ASCII input is
refused rather than folded: Unicode case folding maps distinct strings onto one (the Kelvin
sign ``\u212a`` lower-cases to ``k``, so ``\u212aarol@...`` would become ``karol@...``), which
would let one source's identity pose as another's. Internationalised domains are written in
their ``xn--`` form.

An :class:`Acl` is a conjunction of allow-lists (conjunctive normal form): a reader must hold at
least one principal of *every* clause. An ACL with no clause allows nobody (deny by default).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from core.errors import CoreError

GROUP_PROVIDERS = frozenset({"confluence", "aad", "sharepoint", "files"})
# Group ids of these providers are unique only within one connector instance.
INSTANCE_SCOPED_PROVIDERS = frozenset({"confluence", "sharepoint", "files"})
ORG_MEMBERS = "org:members"
# What the metadata database can hold (group_memberships.group, .member_email): a principal
# that would not fit is refused here rather than failing a whole membership sync there.
MAX_PRINCIPAL = 512
MAX_EMAIL = 320
# Connector instance names as core.config accepts them: also the namespace of their groups.
INSTANCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")

# Deliberately simple: one @, no whitespace, a dot in the domain. Sources hand us addresses that
# their own systems validated; this check catches typos in hand-written rules.
_EMAIL = re.compile(r"^[^@\s:]+@[^@\s:]+\.[^@\s:]+$")
_GROUP_ID = re.compile(r"^[^\s]+$")


class PrincipalError(CoreError, ValueError):
    """A string that is not a valid principal."""


def parse_principal(raw: str) -> str:
    """Validate and normalise one principal; raise PrincipalError with the reason."""
    if not isinstance(raw, str):
        raise PrincipalError(f"principal must be a string, got {type(raw).__name__}")
    stripped = raw.strip()
    if not stripped.isascii():
        raise PrincipalError(
            f"{raw!r}: principals must be ASCII (write internationalised domains as xn--...)"
        )
    if not stripped.isprintable():
        raise PrincipalError(f"{raw!r}: principals contain no control characters")
    if len(stripped) > MAX_PRINCIPAL:
        raise PrincipalError(f"{raw[:40]!r}...: principals are at most {MAX_PRINCIPAL} characters")
    value = stripped.lower()
    if value == ORG_MEMBERS:
        return value
    kind, sep, rest = value.partition(":")
    if not sep:
        raise PrincipalError(
            f"{raw!r} is not a principal: expected user:<email>, group:<provider>:<id> "
            f"or {ORG_MEMBERS}"
        )
    if kind == "user":
        if len(rest) > MAX_EMAIL or not _EMAIL.match(rest):
            raise PrincipalError(f"{raw!r}: user:<email> needs an email address")
        return value
    if kind == "group":
        provider, sep, gid = rest.partition(":")
        if not sep or provider not in GROUP_PROVIDERS:
            raise PrincipalError(
                f"{raw!r}: group principals are group:<provider>:<id> with provider one of "
                f"{', '.join(sorted(GROUP_PROVIDERS))}"
            )
        if not gid or not _GROUP_ID.match(gid):
            raise PrincipalError(f"{raw!r}: group id must be non-empty and contain no spaces")
        return value
    if kind == "org":
        raise PrincipalError(f"{raw!r}: the only org principal is {ORG_MEMBERS}")
    raise PrincipalError(
        f"{raw!r}: unknown principal kind {kind!r} (expected user, group or org)"
    )


def user_principal(email: str) -> str:
    return parse_principal(f"user:{email}")


def group_namespace(provider: str, instance: str) -> str:
    """The prefix every group principal of one connector instance starts with, e.g.
    ``group:files:handbook:``. Raises PrincipalError for a name that cannot be a namespace."""
    if provider not in INSTANCE_SCOPED_PROVIDERS:
        raise PrincipalError(f"{provider!r} group ids are global; they have no instance namespace")
    if not INSTANCE_NAME.match(instance):
        raise PrincipalError(
            f"connector instance {instance!r} cannot name a group namespace: use lowercase "
            "letters, digits, - and _"
        )
    return f"group:{provider}:{instance}:"


def in_namespace(group: str, namespace: str) -> bool:
    """Whether ``group`` is a group of ``namespace`` (the namespace itself names no group)."""
    return group.startswith(namespace) and group != namespace


def lacks_instance(principal: str) -> bool:
    """A group principal of an instance-scoped provider that names no instance (the form
    before namespacing, or a hand-written mistake): nobody can ever hold it."""
    kind, _, rest = principal.partition(":")
    provider, _, gid = rest.partition(":")
    return kind == "group" and provider in INSTANCE_SCOPED_PROVIDERS and ":" not in gid


@dataclass(frozen=True)
class Acl:
    """Conjunction of allow-lists. ``clauses`` is sorted and deduplicated, so equal ACLs compare
    equal and hash the same whatever order their rules were written in."""

    clauses: tuple[frozenset[str], ...]

    @classmethod
    def of(cls, clauses: Iterable[Iterable[str]]) -> Acl:
        parsed: set[frozenset[str]] = set()
        for clause in clauses:
            members = frozenset(parse_principal(p) for p in clause)
            if not members:
                raise PrincipalError("an allow-list clause must name at least one principal")
            parsed.add(members)
        # A clause that is a superset of another adds nothing: anyone satisfying the smaller
        # one satisfies it. Dropping it keeps the clause count (and the index encoding) small.
        minimal = [c for c in parsed if not any(o < c for o in parsed)]
        return cls(tuple(sorted(minimal, key=lambda c: sorted(c))))

    def allows(self, principals: Iterable[str]) -> bool:
        held = set(principals)
        return bool(self.clauses) and all(held & clause for clause in self.clauses)

    def to_json(self) -> list[list[str]]:
        return [sorted(c) for c in self.clauses]

    @classmethod
    def from_json(cls, data: list[list[str]]) -> Acl:
        return cls.of(data)

    def __str__(self) -> str:
        return " AND ".join("(" + " OR ".join(sorted(c)) + ")" for c in self.clauses) or "(nobody)"
