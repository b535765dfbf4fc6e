"""Admin commands: how a chat message is read as one, and who may run them where."""

from __future__ import annotations

import pytest

from bot.admin import AdminPolicy, Command, parse_command
from bot.admin.parse import HELP, STATUS, SYNC, UNKNOWN, WHO_CAN_READ, WHY
from bot.admin.policy import GUEST, IDENTITY, NOT_ADMIN, SHARED
from bot.turn import Identity, Kind
from tests.bot.admin_helpers import ADMINS, BOB, CAROL, ERIN, GINA, turn


@pytest.mark.parametrize(("text", "expected"), [
    ("!status", Command(STATUS)),
    ("  !STATUS  ", Command(STATUS)),
    ("!help", Command(HELP)),
    ("!sync now", Command(SYNC)),
    ("!sync now handbook", Command(SYNC, "handbook")),
    ("!sync handbook", Command(SYNC, "handbook")),
    ("!who can read https://wiki.example/x?a=1", Command(WHO_CAN_READ, "https://wiki.example/x?a=1")),
    ("!Who Can Read hr/benefits.md", Command(WHO_CAN_READ, "hr/benefits.md")),
    ("!who can read", Command(WHO_CAN_READ, "")),
    ("!why is the VPN slow", Command(WHY, "is the VPN slow")),
    ("!status please", Command(UNKNOWN, typed="status")),
    ("!sync now a b", Command(UNKNOWN, typed="sync")),
    ("!who reads it", Command(UNKNOWN, typed="who")),
    ("!frobnicate now", Command(UNKNOWN, typed="frobnicate")),
    ("!", Command(UNKNOWN)),
])
def test_commands_are_parsed(text: str, expected: Command) -> None:
    assert parse_command(text) == expected


@pytest.mark.parametrize("text", ["why is the VPN slow", "status", "what does ! mean", "sync now", ""])
def test_questions_are_not_commands(text: str) -> None:
    assert parse_command(text) is None


def principals(identity: Identity) -> list[str]:
    return {CAROL.email: ["user:carol@northwind.example", "group:files:handbook:people-leads", "org:members"],
            BOB.email: ["user:bob@northwind.example", "group:files:handbook:security", "org:members"],
            ERIN.email: ["user:erin@northwind.example", "org:members"],
            GINA.email: ["user:gina@northwind.example", "group:files:handbook:security"]}[identity.email]


def test_admin_by_email_any_case_and_by_group() -> None:
    policy = AdminPolicy(ADMINS)
    for who in (CAROL, BOB):
        assert policy.decide("status", turn(who.email, "!status"), who, principals(who)).allowed
    upper = Identity("CAROL@northwind.example", org_member=True)
    assert policy.is_admin(upper, [])


def test_everyone_else_is_refused_with_the_reason() -> None:
    policy = AdminPolicy(ADMINS)
    erin = policy.decide("status", turn(ERIN.email, "!status"), ERIN, principals(ERIN))
    assert (erin.allowed, erin.reason) == (False, NOT_ADMIN)
    assert erin.message == "!status is an admin command; admins are configured in [admins]."
    # A guest is never an admin, listed by e-mail and holding an admin group as she is.
    gina = policy.decide("status", turn(GINA.email, "!status"), GINA, principals(GINA))
    assert (gina.allowed, gina.reason) == (False, GUEST)
    unknown = policy.decide("status", turn("nobody", "!status"), None, [])
    assert (unknown.allowed, unknown.reason) == (False, IDENTITY)
    for refusal in (erin.message, gina.message, unknown.message):
        assert "carol" not in refusal.lower() and "security" not in refusal  # never who the admins are


@pytest.mark.parametrize("kind", [Kind.CHANNEL, Kind.GROUP])
def test_shared_conversations_are_refused_private_replies_allowed(kind: Kind) -> None:
    policy = AdminPolicy(ADMINS)
    shared = policy.decide("who-can-read", turn(CAROL.email, "!who can read x", kind), CAROL, principals(CAROL))
    assert (shared.allowed, shared.reason) == (False, SHARED)
    assert "direct message" in shared.message and shared.message.startswith("!who can read")
    private = turn(CAROL.email, "!who can read x", kind, private=True)  # a Slack slash command, say
    assert policy.decide("who-can-read", private, CAROL, principals(CAROL)).allowed


def test_no_admins_configured_means_nobody() -> None:
    from core.sections import AdminsConfig

    policy = AdminPolicy(AdminsConfig())
    assert not policy.decide("status", turn(CAROL.email, "!status"), CAROL, principals(CAROL)).allowed
