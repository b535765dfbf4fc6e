"""Confluence permission shapes -> principals and ACLs (no HTTP: Data Center users carry no
account id, so no lookups happen)."""

from __future__ import annotations

from typing import Any

import pytest

from connectors.confluence.permissions import (
    People,
    build_acl,
    group_principal,
    group_ref,
    restriction_clause,
    space_clause,
)
from connectors.errors import AclUnavailable
from core.acl import ORG_MEMBERS, Acl

NS = "group:confluence:wiki:"

class NoHttp:
    def get(self, path: str, params: Any = None) -> dict[str, Any]:
        raise AssertionError(f"unexpected request {path}")


def people(**overrides: str) -> People:
    return People(NoHttp(), overrides, cloud=False, namespace=NS)  # type: ignore[arg-type]


def read(users: list[dict[str, Any]], groups: list[dict[str, Any]]) -> dict[str, Any]:
    return {"restrictions": {"user": {"results": users}, "group": {"results": groups}}}


def test_data_center_groups_are_names_and_round_trip() -> None:
    principal = group_principal({"type": "group", "name": "Site Admins/EU"}, NS)
    assert principal == "group:confluence:wiki:site%20admins%2feu"
    assert group_ref(principal, NS) == "site admins/eu"
    assert group_principal({"id": "5f0c-AB", "name": "renamed"}, NS) == "group:confluence:wiki:5f0c-ab"
    assert group_principal({"type": "group"}, NS) is None
    # Another instance's group is not this instance's to look up.
    assert group_ref("group:confluence:other:5f0c-ab", NS) is None


def test_users_by_email_or_admin_mapping_else_left_out() -> None:
    p = people(jdoe="J.Doe@Corp.example")
    clause = restriction_clause(
        read([{"username": "jdoe", "userKey": "8a1"}, {"username": "ghost"}, {"email": "ann@corp.example"}],
             [{"name": "eng"}]),
        p,
    )
    assert clause == frozenset({"user:j.doe@corp.example", "user:ann@corp.example", "group:confluence:wiki:eng"})
    assert p.unmapped == {"ghost"}


def test_no_restriction_versus_a_restriction_nobody_can_satisfy() -> None:
    assert restriction_clause(read([], []), people()) is None
    assert restriction_clause({}, people()) is None
    assert restriction_clause(read([{"username": "ghost"}], []), people()) == frozenset()
    with pytest.raises(AclUnavailable, match="nobody may read it"):
        build_acl("42", frozenset({"group:confluence:wiki:eng"}), [frozenset()])


def test_space_view_permission_and_anonymous_access() -> None:
    space = {"permissions": [
        {"operation": {"operation": "read", "targetType": "space"},
         "subjects": {"group": {"results": [{"name": "eng"}]}}},
        {"operation": {"operation": "administer", "targetType": "space"},
         "subjects": {"user": {"results": [{"email": "admin@corp.example"}]}}},
        {"operation": {"operation": "read", "targetType": "space"}, "anonymousAccess": True},
    ]}
    assert space_clause(space, people(), anonymous_to_org=False) == frozenset({"group:confluence:wiki:eng"})
    assert space_clause(space, people(), anonymous_to_org=True) == frozenset({"group:confluence:wiki:eng", ORG_MEMBERS})
    with pytest.raises(AclUnavailable, match="space's view permission"):
        build_acl("42", frozenset(), [])


def test_restrictions_stack_as_clauses() -> None:
    acl = build_acl("42", frozenset({"group:confluence:wiki:eng"}),
                    [None, frozenset({"user:a@corp.example"}), frozenset({"user:a@corp.example", "user:b@corp.example"})])
    # the ancestor's wider clause is implied by the page's narrower one and drops out
    assert acl == Acl.of([["group:confluence:wiki:eng"], ["user:a@corp.example"]])
    assert not acl.allows(["user:a@corp.example"])  # not in the space
    assert acl.allows(["user:a@corp.example", "group:confluence:wiki:eng"])
