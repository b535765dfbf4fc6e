"""Admin commands in Teams, end to end: a signed activity in, the command's output (or its
refusal) posted back through the Bot Connector stand-in, and the audit row."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from core.config import Config
from tests.bot.admin_helpers import ListSink
from tests.bot.teams.conftest import CHANNEL, PERSONAL, Teams, activity


@pytest.fixture
def teams_audit() -> ListSink:
    return ListSink()


@pytest.fixture
def teams_tweak() -> Callable[[Config], None]:
    def tweak(cfg: Config) -> None:
        cfg.admins.users = ["carol@northwind.example"]

    return tweak


async def test_an_admin_gets_the_access_list_in_a_one_to_one_chat(teams: Teams, teams_audit: ListSink) -> None:
    assert await teams.post(activity(teams.service_url, "personal", "!who can read hr/confidential/salary-bands.md")) == 200
    (reply,) = await teams.replies(PERSONAL)
    assert "**Salary bands 2026**" in reply["text"] and "`group:files:handbook:people-leads` (1 member)" in reply["text"]
    assert not reply.get("attachments")
    (row,) = teams_audit.events
    assert (row.actor, row.platform, row.details["allowed"]) == ("user:carol@northwind.example", "teams", True)


async def test_in_a_channel_the_admin_is_sent_to_a_direct_chat_and_others_refused(teams: Teams, teams_audit: ListSink) -> None:
    target = "!who can read hr/confidential/salary-bands.md"
    assert await teams.post(activity(teams.service_url, "channel", target)) == 200
    assert await teams.post(activity(teams.service_url, "channel", target, user="aad-erin")) == 200
    replies = await teams.replies(CHANNEL, count=2)
    texts = sorted(r["text"] for r in replies)
    assert len(texts) == 2 and all("Salary" not in t and "people-leads" not in t for t in texts)
    assert any("direct message" in t for t in texts) and any("admin command" in t for t in texts)
    assert sorted(e.details["reason"] for e in teams_audit.events) == ["not_admin", "shared_conversation"]
