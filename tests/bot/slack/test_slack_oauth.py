"""The multi-workspace install end to end: /slack/install -> Slack's consent (the stand-in
grants a code) -> /slack/oauth_redirect -> oauth.v2.access -> the installation stored with its
token encrypted -> a question from that workspace answered with that workspace's token."""

from __future__ import annotations

import asyncio
import base64
import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text

from bot.server import STATE_KEY, create_app
from bot.slack.app import BOT_SCOPES
from tests.bot.conftest import dev_config
from tests.fakes import slack_signing as sig
from tests.fakes.slack_stand_in import SlackStandIn

SECRET = "signing-secret-for-oauth-test-123"
CLIENT_ID = "1234.5678"
CLIENT_SECRET = "client-secret-for-oauth-test-0123"


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    async with SlackStandIn.running(team_id="T0NEWTEAM1", scopes=BOT_SCOPES) as stand_in:
        stand_in.register_oauth_app(CLIENT_ID, CLIENT_SECRET)
        stand_in.add_user("UERIN", email="erin@northwind.example")
        yield stand_in


async def test_install_then_answer(handbook_data: Path, tmp_path: Path, slack: SlackStandIn,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(handbook_data, tmp_path / "data")
    cfg = dev_config(tmp_path / "data")
    cfg.slack.enabled = True
    cfg.slack.api_url = slack.api_url
    cfg.slack.client_id = CLIENT_ID
    monkeypatch.setenv("LORE_SECRET_SLACK_SIGNING_SECRET", SECRET)
    monkeypatch.setenv("LORE_SECRET_SLACK_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("LORE_SECRET_SLACK_TOKEN_KEY", base64.b64encode(os.urandom(32)).decode())
    async with TestClient(TestServer(create_app(cfg))) as client:
        start = await client.get("/slack/install", allow_redirects=False)
        assert start.status in (200, 302)
        body = await start.text()
        found = re.search(r'href="(https://slack\.com/oauth/v2/authorize[^"]+)"', body)
        location = start.headers.get("Location") or (found.group(1).replace("&amp;", "&") if found else "")
        query = parse_qs(urlparse(location).query)
        assert query["client_id"] == [CLIENT_ID] and set(query["scope"][0].split(",")) == set(BOT_SCOPES)
        state = query["state"][0]
        cookies = {k: v.value for k, v in start.cookies.items()}

        slack.grant_code("code-1", team_id="T0NEWTEAM1", installer="UERIN", scopes=BOT_SCOPES)
        done = await client.get(f"/slack/oauth_redirect?code=code-1&state={state}", cookies=cookies, allow_redirects=False)
        assert done.status == 200, await done.text()
        (exchange,) = slack.calls("oauth.v2.access")
        assert exchange.response["ok"]
        issued = exchange.response["access_token"]

        db = client.server.app[STATE_KEY].runtime.db
        with db.engine.connect() as conn:
            dump = "\n".join(str(row) for table in ("slack_bots", "slack_installations")
                             for row in conn.execute(text(f"SELECT * FROM {table}")))
        assert "T0NEWTEAM1" in dump and issued not in dump and "xoxb-" not in dump  # encrypted at rest

        replay = await client.get(f"/slack/oauth_redirect?code=code-1&state={state}", cookies=cookies, allow_redirects=False)
        assert replay.status >= 400  # a state is single use

        slack.add_channel("DERIN", is_im=True, members=["UERIN"], team_id="T0NEWTEAM1")
        question = slack.add_message("DERIN", "how do I get VPN access?", user="UERIN")
        event = sig.message_im(user="UERIN", channel="DERIN", text=question.text, ts=question.ts, team="T0NEWTEAM1")
        signed = sig.signed_event(event, SECRET, team_id="T0NEWTEAM1")
        r = await client.post("/slack/events", data=signed.body, headers=signed.headers)
        assert r.status == 200
        for _ in range(200):
            if any(c.response.get("ok") for c in slack.calls("chat.update")):
                break
            await asyncio.sleep(0.05)
        answered = [c for c in slack.calls("chat.postMessage") if c.response.get("ok")]
        assert answered and all(c.headers.get("Authorization") == "(redacted)" for c in answered)
        assert any("general/it-vpn-access.md" in str(m.blocks) for m in slack.messages("DERIN"))

        uninstall = sig.signed_event({"type": "app_uninstalled"}, SECRET, team_id="T0NEWTEAM1")
        assert (await client.post("/slack/events", data=uninstall.body, headers=uninstall.headers)).status == 200
        for _ in range(100):
            with db.engine.connect() as conn:
                left = conn.execute(text("SELECT count(*) FROM slack_bots")).scalar_one() + \
                    conn.execute(text("SELECT count(*) FROM slack_installations")).scalar_one()
            if left == 0:
                break
            await asyncio.sleep(0.05)
        assert left == 0, "uninstalling removed the workspace's tokens"
