"""audience_of: who else reads a Teams answer, with Slack's policy (bot/audience.py)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.audience import scope_for
from bot.teams.audience import BadRosterMember, TeamsMember, audience_of
from bot.turn import Identity

TENANT = "aaaaaaaa-1111-4111-8111-111111111111"
OTHER = "bbbbbbbb-2222-4222-8222-222222222222"


def _json(n: int, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": f"29:1abc{n}", "name": f"Person {n}", "aadObjectId": f"00000000-0000-4000-8000-{n:012d}",
        "email": f"p{n}@contoso.com", "userPrincipalName": f"p{n}@contoso.com",
        "tenantId": TENANT, "userRole": "user", "givenName": "P", "surname": str(n),
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def _identity(n: int, org_member: bool = True) -> Identity:
    return Identity(email=f"p{n}@contoso.com", org_member=org_member)


def test_from_json_reads_a_teams_channel_account() -> None:
    member = TeamsMember.from_json(_json(1, userRole="Guest"))
    assert member.id == "29:1abc1" and member.tenant_id == TENANT and member.user_role == "guest"
    assert member.aad_object_id == "00000000-0000-4000-8000-000000000001"
    assert member.user_principal_name == "p1@contoso.com" and member.name == "Person 1"


@pytest.mark.parametrize("garbage", [None, [], "29:x", {}, {"id": ""}, {"id": 3},
                                     _json(1, tenantId=7), _json(1, aadObjectId=["x"]),
                                     _json(1, userRole={"r": 1})])
def test_from_json_refuses_garbage(garbage: object) -> None:
    with pytest.raises(BadRosterMember):
        TeamsMember.from_json(garbage)


def test_an_all_internal_roster_uses_org_members() -> None:
    members = [TeamsMember.from_json(_json(n)) for n in range(3)]
    audience = audience_of(members, TENANT, [_identity(n) for n in range(3)])
    assert audience.includes_outsiders is False and audience.members is None


@pytest.mark.parametrize("outsider", [
    _json(9, userRole="guest"),
    _json(9, userRole="anonymous", aadObjectId=None),
    _json(9, tenantId=OTHER),
    _json(9, userPrincipalName="x_fabrikam.com#EXT#@contoso.onmicrosoft.com"),
    _json(9, userRole=None),
], ids=["guest", "anonymous", "other tenant", "b2b upn", "no role"])
def test_a_roster_with_an_outsider_includes_outsiders(outsider: dict[str, Any]) -> None:
    members = [TeamsMember.from_json(_json(1)), TeamsMember.from_json(outsider)]
    identities = [_identity(1), _identity(9, org_member=False)]
    audience = audience_of(members, TENANT, identities)
    assert audience.includes_outsiders is True
    assert audience.members == tuple(identities)
    unresolved = audience_of(members, TENANT, None)
    assert unresolved.includes_outsiders is True and unresolved.members is None


def test_graph_saying_guest_overrules_a_roster_saying_user() -> None:
    members = [TeamsMember.from_json(_json(n)) for n in range(2)]
    audience = audience_of(members, TENANT, [_identity(0), _identity(1, org_member=False)])
    assert audience.includes_outsiders is True and audience.members is not None


def test_an_unresolved_or_empty_roster_searches_nothing() -> None:
    members = [TeamsMember.from_json(_json(n)) for n in range(2)]
    for audience in (audience_of(members, TENANT, None), audience_of(members, TENANT, [_identity(0)]),
                     audience_of([], TENANT, [])):
        assert audience.includes_outsiders is True and audience.members is None
        assert scope_for(False, ["user:p0@contoso.com", "org:members"], audience,
                         lambda i: [f"user:{i.email}"]).principals == []
