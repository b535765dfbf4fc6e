"""An admin command's output (bot.turn.Notice) on every surface: Slack (a thread reply, a DM,
an ephemeral reply), Teams (a streamed 1:1 reply, a plain reply), the web chat's event stream
and `lore ask`; each shows the text and nothing of an answer (no sources, no buttons)."""

from __future__ import annotations

import io
import json
import shutil
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from slack_sdk.web.async_client import AsyncWebClient

from bot.cli.ask import TerminalSink
from bot.identity import StaticIdentityResolver
from bot.slack import render as slack_render
from bot.slack.replies import PrivateReply, Recipient, ThreadReply
from bot.streaming import stream_answer
from bot.teams import render as teams_render
from bot.teams.activities import Inbound, parse
from bot.teams.connector import BotConnector
from bot.teams.replies import ThreadReply as TeamsThreadReply
from bot.teams.streaming import StreamedReply
from bot.turn import Event, Notice, Status
from bot.webchat import routes
from retrieval.runtime import Runtime
from tests.bot.admin_helpers import CAROL, ListSink, commands, service
from tests.bot.conftest import dev_config
from tests.bot.teams.conftest import APP_TOKEN, GROUP, PERSONAL, AppTokens, activity, member
from tests.fakes.bot_connector import BotConnectorStandIn
from tests.fakes.slack_stand_in import SlackStandIn

TOKEN = "xoxb-lore-test"
TEXT = ("**Salary bands 2026** (`files:ef68`)\nReadable only by someone who satisfies all 2 of:\n"
        "1. any of: `group:files:handbook:people-leads` (1 member)\n2. any of: `org:members` <!channel>")
NOTICE = Notice(TEXT, "who-can-read")


async def events(script: Iterable[Event]) -> AsyncGenerator[Event, None]:
    for event in script:
        yield event


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    async with SlackStandIn.running(bot_token=TOKEN) as stand_in:
        stand_in.add_user("UCAROL", email="carol@northwind.example")
        stand_in.add_channel("CGENERAL", name="general", members=["UCAROL"])
        stand_in.add_channel("DCAROL", is_im=True, members=["UCAROL"])
        yield stand_in


def test_slack_rendering_escapes_and_keeps_the_structure() -> None:
    blocks = slack_render.notice_blocks(TEXT)
    assert [b["type"] for b in blocks] == ["section"]
    mrkdwn = blocks[0]["text"]["text"]
    assert "*Salary bands 2026*" in mrkdwn and "`group:files:handbook:people-leads`" in mrkdwn
    assert "<!channel>" not in mrkdwn and "&lt;!channel&gt;" in mrkdwn  # nobody is notified
    assert slack_render.notice_text(TEXT) == mrkdwn


@pytest.mark.parametrize("stream", [True, False])
async def test_slack_thread_reply_shows_the_notice(slack: SlackStandIn, stream: bool) -> None:
    question = slack.add_message("DCAROL", "!who can read x", user="UCAROL")
    client = AsyncWebClient(token=TOKEN, base_url=slack.api_url)
    sink = ThreadReply(client, "DCAROL", question.ts, question.text, recipient=Recipient("UCAROL", "T0LORE0001"),
                       stream=stream)
    assert await stream_answer(events([NOTICE]), sink, interval=0) == NOTICE
    (reply,) = slack.messages("DCAROL", thread_ts=question.ts)
    assert reply.blocks == slack_render.notice_blocks(TEXT)
    assert reply.text == slack_render.notice_text(TEXT)
    if stream:
        assert [c.method for c in slack.calls()][-2:] == ["chat.stopStream", "chat.update"]


async def test_slack_private_reply_is_ephemeral(slack: SlackStandIn) -> None:
    client = AsyncWebClient(token=TOKEN, base_url=slack.api_url)
    sink = PrivateReply(client, "CGENERAL", "UCAROL", None, "!status", "CGENERAL:private:x")
    await stream_answer(events([NOTICE]), sink, interval=0)
    (eph,) = slack.ephemerals("UCAROL")
    assert eph.blocks == slack_render.notice_blocks(TEXT) and slack.messages("CGENERAL") == []


@pytest.fixture
async def connector() -> AsyncIterator[BotConnectorStandIn]:
    async with BotConnectorStandIn.running({APP_TOKEN}) as stand_in:
        stand_in.add_conversation(PERSONAL, "personal", [member("aad-carol")])
        stand_in.add_conversation(GROUP, "groupChat", [member("aad-carol")])
        yield stand_in


async def test_teams_streamed_and_plain_replies_show_the_notice(connector: BotConnectorStandIn) -> None:
    expected = teams_render.notice_activity(TEXT)
    assert expected["textFormat"] == "markdown" and "<!channel>" not in expected["text"]
    assert "**Salary bands 2026**" in expected["text"]
    inbound = parse(activity(connector.base_url, "personal", "!status"))
    assert isinstance(inbound, Inbound)
    client = BotConnector(AppTokens())
    try:
        await stream_answer(events([Status("retrieving"), NOTICE]), StreamedReply(client, inbound), interval=0)
        await stream_answer(events([NOTICE]), TeamsThreadReply(client, inbound, offer_private=False), interval=0)
    finally:
        await client.close()
    sent = [a for a in connector.conversations[PERSONAL].activities if a.get("type") == "message"]
    assert [a["text"] for a in sent] == [expected["text"], expected["text"]]
    assert all(not a.get("attachments") for a in sent)  # no private-answer card, no citations


async def test_web_chat_streams_a_notice_event(handbook_data: Path, tmp_path: Path) -> None:
    shutil.copytree(handbook_data, tmp_path / "data")
    rt = Runtime(dev_config(tmp_path / "data"))
    app = web.Application()
    svc = service(rt, commands(rt, ListSink()))
    routes.add_routes(app, svc, StaticIdentityResolver({CAROL.email: CAROL}))
    try:
        async with TestClient(TestServer(app)) as client:
            r = await client.post("/api/webchat/ask", json={"user": CAROL.email, "text": "!help"})
            assert r.status == 200 and r.headers["Content-Type"].startswith("text/event-stream")
            blocks = [b for b in (await r.text()).split("\n\n") if b.strip()]
            (block,) = blocks
            name, data = block.split("\n")[:2]
            assert name == "event: notice"
            payload: dict[str, Any] = json.loads(data.removeprefix("data: "))
            assert payload["command"] == "help" and "`!why <question>`" in payload["text"]
    finally:
        svc.close()
        rt.close()
    script = (Path(routes.__file__).parent / "static" / "app.js").read_text()
    assert 'ev.event === "notice"' in script and "view.notice(data.text)" in script


async def test_lore_ask_prints_the_notice() -> None:
    out = io.StringIO()
    await stream_answer(events([NOTICE]), TerminalSink(as_json=False, out=out), interval=0)
    assert out.getvalue() == TEXT + "\n"
    out = io.StringIO()
    await stream_answer(events([Notice("a\x1b]52;c;x\x07b", "status")]), TerminalSink(as_json=False, out=out),
                        interval=0)
    assert "\x1b" not in out.getvalue() and "\x07" not in out.getvalue()


async def test_the_server_wires_admin_commands_when_given_an_audit_sink(handbook_data: Path, tmp_path: Path) -> None:
    from bot.server import build_state, create_app

    shutil.copytree(handbook_data, tmp_path / "data")
    cfg = dev_config(tmp_path / "data")
    cfg.admins.users = ["carol@northwind.example"]
    audit = ListSink()
    async with TestClient(TestServer(create_app(cfg, build_state(cfg, audit_sink=audit)))) as client:
        r = await client.post("/api/webchat/ask", json={"user": "carol@northwind.example",
                                                         "text": "!who can read hr/benefits.md"})
        assert r.status == 200 and (await r.text()).startswith("event: notice")
        r = await client.post("/api/webchat/ask", json={"user": "erin@northwind.example", "text": "!status"})
        assert r.status == 403 and "admin command" in (await r.json())["error"]
    assert [(e.actor, e.platform, e.details["allowed"]) for e in audit.events] == [
        ("user:carol@northwind.example", "webchat", True), ("user:erin@northwind.example", "webchat", False)]
