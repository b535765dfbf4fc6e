"""Admin commands in Slack, end to end: signed events to the real server, the output posted to
the Web API stand-in, and the audit row of each attempt."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.server import build_state, create_app
from bot.slack.app import BOT_SCOPES
from tests.bot.admin_helpers import ListSink
from tests.bot.slack.conftest import SECRET, TOKEN, slack_config
from tests.bot.slack.test_slack_events import post, settle
from tests.fakes import slack_signing as sig
from tests.fakes.slack_stand_in import SlackStandIn

WHO = "!who can read hr/confidential/salary-bands.md"


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    async with SlackStandIn.running(bot_token=TOKEN, scopes=BOT_SCOPES) as stand_in:
        for uid, email, guest in [("UCAROL", "carol", False), ("UERIN", "erin", False), ("UGINA", "gina", True)]:
            stand_in.add_user(uid, email=f"{email}@northwind.example", is_restricted=guest)
        stand_in.add_channel("CGENERAL", name="general", members=["UCAROL", "UERIN"])
        stand_in.add_channel("DCAROL", is_im=True, members=["UCAROL"])
        stand_in.add_channel("DGINA", is_im=True, members=["UGINA"])
        yield stand_in


@pytest.fixture
def audit() -> ListSink:
    return ListSink()


@pytest.fixture
async def client(handbook_data: Path, tmp_path: Path, slack: SlackStandIn, audit: ListSink,
                 monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TestClient]:
    cfg = slack_config(handbook_data, tmp_path, slack.api_url, monkeypatch)
    cfg.admins.users = ["carol@northwind.example", "gina@northwind.example"]  # gina: a guest
    async with TestClient(TestServer(create_app(cfg, build_state(cfg, audit_sink=audit)))) as c:
        yield c


async def test_an_admin_gets_the_access_list_in_a_dm(client: TestClient, slack: SlackStandIn, audit: ListSink) -> None:
    question = slack.add_message("DCAROL", WHO, user="UCAROL")
    event = sig.message_im(user="UCAROL", channel="DCAROL", text=WHO, ts=question.ts)
    assert await post(client, sig.signed_event(event, SECRET)) == 200
    await settle(slack, "chat.update")
    (reply,) = [m for m in slack.messages("DCAROL") if m.user != "UCAROL"]
    shown = json.dumps(reply.blocks)
    assert "*Salary bands 2026*" in shown and "people-leads" in shown
    assert "lore_feedback" not in shown and "lore_private_answer" not in shown  # not an answer
    (row,) = audit.events
    assert (row.actor, row.platform, row.details["allowed"]) == ("user:carol@northwind.example", "slack", True)


async def test_a_listed_guest_is_refused(client: TestClient, slack: SlackStandIn, audit: ListSink) -> None:
    question = slack.add_message("DGINA", WHO, user="UGINA")
    event = sig.message_im(user="UGINA", channel="DGINA", text=WHO, ts=question.ts)
    assert await post(client, sig.signed_event(event, SECRET)) == 200
    await settle(slack, "chat.update")
    (reply,) = [m for m in slack.messages("DGINA") if m.user != "UGINA"]
    assert "admin command" in reply.text and "Salary" not in json.dumps(reply.blocks) + reply.text
    assert [e.details["reason"] for e in audit.events] == ["guest"]


async def test_a_channel_mention_is_refused_the_slash_command_answers_privately(
    client: TestClient, slack: SlackStandIn, audit: ListSink
) -> None:
    text = f"<@U0LOREBOT> {WHO}"
    question = slack.add_message("CGENERAL", text, user="UCAROL")
    assert await post(client, sig.signed_event(sig.app_mention(user="UCAROL", channel="CGENERAL", text=text,
                                                               ts=question.ts), SECRET)) == 200
    await settle(slack, "chat.update")
    (reply,) = slack.messages("CGENERAL", thread_ts=question.ts)
    assert "direct message" in reply.text and "Salary" not in reply.text
    signed = sig.signed_form(sig.slash_command(command="/lore", text=WHO, user_id="UCAROL", channel_id="CGENERAL"),
                             SECRET)
    r = await client.post("/slack/events", data=signed.body, headers=signed.headers)
    assert r.status == 200
    await settle(slack, "chat.postEphemeral")
    (private,) = slack.ephemerals("UCAROL")
    assert "*Salary bands 2026*" in json.dumps(private.blocks) and slack.ephemerals("UERIN") == []
    assert [e.details["reason"] for e in audit.events] == ["shared_conversation", ""]
