"""A Slack signing-secret rotation without a restart: the new secret is read from the store, the
previous one keeps verifying for `slack.signing_secret_grace_seconds`, and a store that cannot
be read refuses requests with 503 (Slack retries), never lets them through. Signature failures
are audited."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.server import build_state, create_app
from bot.slack.app import BOT_SCOPES, _bolt, add_routes
from bot.slack.signing_secrets import SigningSecrets
from core.audit.events import AuditEvent
from core.secrets import SecretStoreError
from tests.bot.slack.conftest import SECRET, TOKEN, slack_config
from tests.fakes import slack_signing as sig
from tests.fakes.slack_stand_in import SlackStandIn

NEW_SECRET = "f" * 32
BODY = json.dumps({"type": "url_verification", "challenge": "c-123"}).encode()


class ListSink:
    def __init__(self) -> None:
        self.events: list[AuditEvent] = []

    def record(self, event: AuditEvent) -> None:
        self.events.append(event)


def signed_with(secret: str) -> dict[str, str]:
    return {**sig.sign(BODY, secret, int(time.time())), "Content-Type": "application/json"}


def test_the_previous_secret_verifies_only_within_the_grace_period() -> None:
    value, now = ["old-secret-1"], [100.0]
    signing = SigningSecrets(lambda: value[0], grace_seconds=60, clock=lambda: now[0])
    assert signing.candidates() == ("old-secret-1",)
    value[0] = "new-secret-2"
    now[0] = 110.0
    assert signing.candidates() == ("new-secret-2", "old-secret-1")
    now[0] = 169.0
    assert signing.candidates() == ("new-secret-2", "old-secret-1")
    now[0] = 171.0
    assert signing.candidates() == ("new-secret-2",)
    assert "secret" not in repr(signing)


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    async with SlackStandIn.running(bot_token=TOKEN, scopes=BOT_SCOPES) as stand_in:
        yield stand_in


async def test_rotation_while_the_server_runs(handbook_data: Path, tmp_path: Path, slack: SlackStandIn,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = slack_config(handbook_data, tmp_path, slack.api_url, monkeypatch)
    cfg.slack.signing_secret_grace_seconds = 3600
    sink = ListSink()
    state = build_state(cfg, audit_sink=sink)
    async with TestClient(TestServer(create_app(cfg, state))) as client:
        assert (await client.post("/slack/events", data=BODY, headers=signed_with(SECRET))).status == 200
        monkeypatch.setenv("LORE_SECRET_SLACK_SIGNING_SECRET", NEW_SECRET)  # rotated in the store
        assert (await client.post("/slack/events", data=BODY, headers=signed_with(NEW_SECRET))).status == 200
        assert (await client.post("/slack/events", data=BODY, headers=signed_with(SECRET))).status == 200
        assert (await client.post("/slack/events", data=BODY, headers=signed_with("x" * 32))).status == 401
        assert state.audit is not None
        await state.audit.drain()
    [event] = [e for e in sink.events if e.kind == "auth_failure"]
    assert (event.kind, event.platform, event.details["reason"]) == ("auth_failure", "slack", "signature mismatch")
    assert SECRET not in repr(sink.events) and NEW_SECRET not in repr(sink.events)


async def test_without_a_grace_period_the_old_secret_is_refused_at_once(
        handbook_data: Path, tmp_path: Path, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = slack_config(handbook_data, tmp_path, slack.api_url, monkeypatch)
    cfg.slack.signing_secret_grace_seconds = 0
    async with TestClient(TestServer(create_app(cfg))) as client:
        assert (await client.post("/slack/events", data=BODY, headers=signed_with(SECRET))).status == 200
        monkeypatch.setenv("LORE_SECRET_SLACK_SIGNING_SECRET", NEW_SECRET)
        assert (await client.post("/slack/events", data=BODY, headers=signed_with(SECRET))).status == 401
        assert (await client.post("/slack/events", data=BODY, headers=signed_with(NEW_SECRET))).status == 200


async def test_a_store_that_cannot_be_read_refuses_with_503() -> None:
    def unreadable() -> str:
        raise SecretStoreError("the vault is unreachable and the cached value expired")

    app = web.Application()
    add_routes(app, _bolt(token="xoxb-not-used"), SigningSecrets(unreadable, 60))
    async with TestClient(TestServer(app)) as client:
        r = await client.post("/slack/events", data=BODY, headers=signed_with(SECRET))
        assert r.status == 503 and "vault" not in await r.text()
