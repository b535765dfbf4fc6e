"""Item 8: with Redis down, Slack events were acked and then silently dropped ("Redis did not
answer the event de-duplication check"): no reply, no metric, /readyz ready. Now the database
de-duplicates instead, the fallback is counted, and /readyz shows Redis as degraded."""

from __future__ import annotations

import socket
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


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens here once the socket is closed


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    async with SlackStandIn.running(bot_token=TOKEN, scopes=BOT_SCOPES) as stand_in:
        stand_in.add_user("UERIN", email="erin@northwind.example")
        stand_in.add_channel("CGENERAL", name="general", members=["UERIN"])
        yield stand_in


async def test_redis_down_falls_back_to_the_database(
    handbook_data: Path, tmp_path: Path, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = slack_config(handbook_data, tmp_path, slack.api_url, monkeypatch)
    cfg.redis.url = f"redis://127.0.0.1:{_closed_port()}/0"  # Redis is down
    async with TestClient(TestServer(create_app(cfg))) as client:
        question = slack.add_message("CGENERAL", "<@U0LOREBOT> how do I get VPN access?", user="UERIN")
        event = sig.app_mention(user="UERIN", channel="CGENERAL", text="<@U0LOREBOT> how do I get VPN access?",
                                ts=question.ts)
        first = sig.signed_event(event, SECRET, event_id="EvREDISDOWN1")
        assert (await client.post("/slack/events", data=first.body, headers=first.headers)).status == 200
        await settle(slack, "chat.update")
        (reply,) = slack.messages("CGENERAL", thread_ts=question.ts)
        assert "it-vpn-access" in str(reply.blocks)
        # Slack's retry of the same event is still answered only once: the database remembers it.
        retry = first.retried(1)
        assert (await client.post("/slack/events", data=retry.body, headers=retry.headers)).status == 200
        await settle(slack, "chat.update")
        assert len(slack.messages("CGENERAL", thread_ts=question.ts)) == 1
        metrics = await (await client.get("/metrics")).text()
        assert "lore_dedupe_fallbacks_total 2.0" in metrics
        ready = await client.get("/readyz")
        body = await ready.json()
        assert ready.status == 200, body
        assert body["checks"]["redis"].startswith("degraded: ")
