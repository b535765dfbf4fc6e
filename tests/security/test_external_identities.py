"""Item 4: users of another organisation were trusted by their email.

A Slack Connect user from team ``TOTHER`` whose profile email is ``alice@northwind.example`` got
``group:files:engineering`` documents in a shared channel (``org:members`` was correctly
withheld). Another organisation's admin can set any email on its own users, so by default such
a person now gets no principals at all; ``slack.trusted_teams`` names organisations to trust.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.server import create_app
from bot.slack.app import BOT_SCOPES
from tests.bot.slack.conftest import SECRET, TOKEN, slack_config
from tests.bot.slack.test_slack_events import settle
from tests.fakes import slack_signing as sig
from tests.fakes.slack_stand_in import SlackStandIn

DEPLOY = "how does the canary rollout of a deploy work?"  # engineering/deploy-process.md


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    async with SlackStandIn.running(bot_token=TOKEN, scopes=BOT_SCOPES) as stand_in:
        stand_in.add_workspace("TOTHER")
        # Their admin gave their user our engineer's address.
        stand_in.add_user("UFAKEALICE", team_id="TOTHER", email="alice@northwind.example")
        stand_in.add_user("UBOB", email="bob@northwind.example")
        stand_in.add_channel("CSHARED", name="shared-with-other", members=["UFAKEALICE"], is_ext_shared=True)
        yield stand_in


async def server(handbook_data: Path, tmp_path: Path, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch,
                 trusted: list[str]) -> TestClient:
    cfg = slack_config(handbook_data, tmp_path, slack.api_url, monkeypatch)
    cfg.slack.trusted_teams = trusted
    return TestClient(TestServer(create_app(cfg)))


async def ask_in_shared_channel(client: TestClient, slack: SlackStandIn, user: str) -> str:
    question = slack.add_message("CSHARED", f"<@U0LOREBOT> {DEPLOY}", user=user)
    event = sig.app_mention(user=user, channel="CSHARED", text=f"<@U0LOREBOT> {DEPLOY}", ts=question.ts)
    r = await client.post("/slack/events", **_request(sig.signed_event(event, SECRET)))
    assert r.status == 200
    await settle(slack, "chat.update")
    (reply,) = slack.messages("CSHARED", thread_ts=question.ts)
    return json.dumps(reply.blocks) + reply.text


async def ask_privately(client: TestClient, slack: SlackStandIn, user: str) -> str:
    signed = sig.signed_form(sig.slash_command(command="/lore", text=DEPLOY, user_id=user, channel_id="CSHARED"), SECRET)
    r = await client.post("/slack/events", **_request(signed))
    assert r.status == 200
    await settle(slack, "chat.postEphemeral")
    (private,) = slack.ephemerals(user)
    return json.dumps(private.blocks) + private.text


def _request(signed: sig.SignedRequest) -> dict[str, object]:
    return {"data": signed.body, "headers": signed.headers}


async def test_an_outsider_with_our_email_reads_nothing(
    handbook_data: Path, tmp_path: Path, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with await server(handbook_data, tmp_path, slack, monkeypatch, trusted=[]) as client:
        public = await ask_in_shared_channel(client, slack, "UFAKEALICE")
        assert "deploy-process" not in public
        private = await ask_privately(client, slack, "UFAKEALICE")
        assert "deploy-process" not in private and "verify who you are" in private


async def test_a_trusted_organisation_is_trusted_by_email_but_never_as_members(
    handbook_data: Path, tmp_path: Path, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with await server(handbook_data, tmp_path, slack, monkeypatch, trusted=["TOTHER"]) as client:
        private = await ask_privately(client, slack, "UFAKEALICE")
        assert "engineering/deploy-process.md" in private  # trusted: their alice is our alice
        # ... but not a full member: documents for everyone in the company stay closed.
        signed = sig.signed_form(sig.slash_command(command="/lore", text="how do I get VPN access?",
                                                   user_id="UFAKEALICE", channel_id="CSHARED"), SECRET)
        assert (await client.post("/slack/events", **_request(signed))).status == 200
        await settle(slack, "chat.postEphemeral", count=2)
        assert "general/it-vpn-access.md" not in json.dumps(slack.ephemerals("UFAKEALICE")[-1].blocks)
