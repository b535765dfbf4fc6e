"""Slack identity and audience rules (users.info / conversations.* shapes from Slack's docs)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.slack.people import SlackPeople, Workspace, identity_from_user
from bot.turn import Kind, Turn

HOME = Workspace("T1", "E1")


def user(uid: str, email: str | None = None, *, team: str = "T1", **flags: Any) -> dict[str, Any]:
    profile = {"email": email} if email else {}
    return {"id": uid, "team_id": team, "profile": profile, "real_name": uid} | flags


@pytest.mark.parametrize(
    "u, expected",
    [
        (user("U1", "Ann@Corp.example"), ("ann@corp.example", True)),
        (user("U2", "g@corp.example", is_restricted=True), ("g@corp.example", False)),
        (user("U3", "s@corp.example", is_ultra_restricted=True), ("s@corp.example", False)),
        (user("U4", "x@other.example", team="T9"), None),  # Slack Connect: another org's email names nobody
        (user("U5", "e@corp.example", team="T2", enterprise_user={"enterprise_id": "E1"}), ("e@corp.example", True)),
        (user("U6", None), None),  # email hidden (no users:read.email scope)
        (user("U7", "d@corp.example", deleted=True), None),
        (user("U8", "b@corp.example", is_bot=True), None),
    ],
)
def test_identity_from_user(u: dict[str, Any], expected: tuple[str, bool] | None) -> None:
    identity = identity_from_user(u, HOME)
    assert (None if identity is None else (identity.email, identity.org_member)) == expected


class FakeClient:
    """Answers like the Web API methods SlackPeople calls; counts users.info calls."""

    def __init__(self, users: list[dict[str, Any]], channel: dict[str, Any], page: int = 2) -> None:
        self.users = {u["id"]: u for u in users}
        self.channel = channel
        self.page = page
        self.user_calls = 0

    async def users_info(self, user: str) -> dict[str, Any]:
        self.user_calls += 1
        return {"ok": True, "user": self.users[user]}

    async def conversations_info(self, channel: str) -> dict[str, Any]:
        return {"ok": True, "channel": self.channel}

    async def conversations_members(self, channel: str, limit: int, cursor: str | None) -> dict[str, Any]:
        ids = list(self.users)
        start = int(cursor or 0)
        nxt = start + self.page
        return {"ok": True, "members": ids[start:nxt], "response_metadata": {"next_cursor": str(nxt) if nxt < len(ids) else ""}}


def people_for(client: FakeClient, **kw: Any) -> SlackPeople:
    async def client_for(turn: Turn) -> FakeClient:
        return client

    return SlackPeople(client_for, **kw)


TURN = Turn("slack", "E1:T1", "U1", Kind.CHANNEL, "C1", "1.0", "q")
ANN = user("U1", "ann@corp.example")
BOB = user("U2", "bob@corp.example")
LORE = user("U9", None, is_bot=True)


async def test_org_channel_with_a_bot_is_org_only() -> None:
    client = FakeClient([ANN, BOB, LORE], {"id": "C1"})
    audience = await people_for(client).audience(TURN)
    assert not audience.includes_outsiders


async def test_guest_or_shared_channel_returns_members() -> None:
    guest = user("U3", "g@corp.example", is_restricted=True)
    audience = await people_for(FakeClient([ANN, guest, LORE], {"id": "C1"})).audience(TURN)
    assert audience.includes_outsiders
    assert audience.members is not None and {m.email for m in audience.members} == {"ann@corp.example", "g@corp.example"}
    shared = await people_for(FakeClient([ANN, BOB], {"id": "C1", "is_ext_shared": True})).audience(TURN)
    assert shared.includes_outsiders and shared.members is not None


async def test_member_without_identity_means_unknown_audience() -> None:
    hidden = user("U6", None)
    audience = await people_for(FakeClient([ANN, hidden], {"id": "C1"})).audience(TURN)
    assert audience.includes_outsiders and audience.members is None


async def test_large_channel_fails_closed_without_scanning_everyone() -> None:
    many = [user(f"U{i}", f"u{i}@corp.example") for i in range(10)]
    client = FakeClient(many, {"id": "C1"}, page=3)
    audience = await people_for(client, max_scan=5).audience(TURN)
    assert audience.includes_outsiders and audience.members is None
    assert client.user_calls == 0


async def test_identity_is_cached_per_user() -> None:
    client = FakeClient([ANN, BOB], {"id": "C1"})
    people = people_for(client)
    first = await people.resolve(TURN)
    again = await people.resolve(TURN)
    assert first == again and first is not None and first.org_member
    assert client.user_calls == 1
    bob = await people.resolve(Turn("slack", "E1:T1", "U2", Kind.DIRECT, "D1", "1.0", "q"))
    assert bob is not None and bob.email == "bob@corp.example" and client.user_calls == 2
