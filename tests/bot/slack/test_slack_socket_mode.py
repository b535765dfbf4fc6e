"""Slack over Socket Mode end to end: the real server state (bolt app + SlackEvents) connected
to the loopback Socket Mode stand-in; envelopes pushed on the WebSocket must be acked within
Slack's 3 seconds and answered through the Web API stand-in, once per event."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.server import AppState, build_state
from bot.slack.app import BOT_SCOPES
from bot.slack.socket_mode import SocketMode, start_socket_mode
from bot.slack.surface import SlackSurface
from core.config import ConfigError
from tests.bot.slack.conftest import TOKEN, slack_config
from tests.fakes import slack_signing as sig
from tests.fakes.slack_socket_mode import SlackSocketMode
from tests.fakes.slack_stand_in import SlackStandIn

APP_TOKEN = "xapp-1-A0LORE0001-1-lore"
QUESTION = "<@U0LOREBOT> how do I get VPN access?"


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    async with SlackStandIn.running(bot_token=TOKEN, scopes=BOT_SCOPES) as stand_in:
        for uid, email in [("UCAROL", "carol"), ("UERIN", "erin")]:
            stand_in.add_user(uid, email=f"{email}@northwind.example")
        stand_in.add_channel("CGENERAL", name="general", members=["UCAROL", "UERIN"])
        yield stand_in


@pytest.fixture
async def socket_mode() -> AsyncIterator[SlackSocketMode]:
    async with SlackSocketMode.running(app_token=APP_TOKEN, other_tokens=[TOKEN]) as stand_in:
        yield stand_in


@pytest.fixture
async def state(handbook_data: Path, tmp_path: Path, slack: SlackStandIn,
                monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[AppState]:
    built = build_state(slack_config(handbook_data, tmp_path, slack.api_url, monkeypatch))
    try:
        yield built
    finally:
        built.conversation.close()
        await built.answerer.aclose()
        built.runtime.close()


@pytest.fixture
async def handler(state: AppState, socket_mode: SlackSocketMode) -> AsyncIterator[SocketMode]:
    started = await start_socket_mode(slack_app(state), APP_TOKEN, socket_mode.api_url, ping_interval=1)
    await socket_mode.wait_connected()
    try:
        yield started
    finally:
        await started.close_async()


def slack_app(state: AppState) -> Any:
    surface = state.surfaces.by_platform["slack"]
    assert isinstance(surface, SlackSurface)
    return surface.slack.app


async def settle(slack: SlackStandIn, method: str, count: int = 1, timeout: float = 10) -> list[Any]:
    for _ in range(int(timeout * 20)):
        calls = [c for c in slack.calls(method) if c.response.get("ok")]
        if len(calls) >= count:
            await asyncio.sleep(0.3)  # let stray duplicates show up before asserting on counts
            return [c for c in slack.calls(method) if c.response.get("ok")]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {method} within {timeout} s: {[c.method for c in slack.calls()]}")


async def test_hello_then_mention_is_acked_fast_and_answered_in_thread(
        handler: SocketMode, slack: SlackStandIn, socket_mode: SlackSocketMode) -> None:
    assert [o.response["ok"] for o in socket_mode.opens] == [True]  # one URL, fetched up front
    question = slack.add_message("CGENERAL", QUESTION, user="UCAROL")
    event = sig.app_mention(user="UCAROL", channel="CGENERAL", text=QUESTION, ts=question.ts)
    envelope = await socket_mode.push(sig.event_callback(event))
    ack = await socket_mode.wait_ack(envelope.envelope_id, timeout=3)
    assert socket_mode.ack_latency(envelope.envelope_id) < 3
    assert ack.payload is None  # events_api: a bare {"envelope_id"} ack
    updates = await settle(slack, "chat.update")
    # In a channel thread the reply is a native stream (chat.startStream), then the final edit.
    (post,) = [c for c in slack.calls() if c.method in ("chat.postMessage", "chat.startStream") and c.ok]
    assert post.args["channel"] == "CGENERAL" and post.args["thread_ts"] == question.ts
    (reply,) = slack.messages("CGENERAL", thread_ts=question.ts)
    assert reply.edits, "the status message was replaced by the answer"
    assert len(updates) == 1


async def test_redelivered_envelope_is_acked_but_answered_once(
        handler: SocketMode, slack: SlackStandIn, socket_mode: SlackSocketMode) -> None:
    question = slack.add_message("CGENERAL", QUESTION, user="UERIN")
    payload = sig.event_callback(sig.app_mention(user="UERIN", channel="CGENERAL", text=QUESTION, ts=question.ts),
                                 event_id="EvSOCKETRETRY1")
    first = await socket_mode.push(payload)
    await socket_mode.wait_ack(first.envelope_id)
    again = await socket_mode.push(payload, retry_attempt=1, retry_reason="timeout")
    await socket_mode.wait_ack(again.envelope_id)
    assert socket_mode.ack_latency(again.envelope_id) < 3
    await settle(slack, "chat.update")
    assert len(slack.messages("CGENERAL", thread_ts=question.ts)) == 1
    assert len([c for c in slack.calls() if c.method in ("chat.postMessage", "chat.startStream") and c.ok]) == 1


async def test_reconnects_when_slack_asks_and_keeps_answering(
        handler: SocketMode, slack: SlackStandIn, socket_mode: SlackSocketMode) -> None:
    await socket_mode.disconnect("refresh_requested")
    await socket_mode.wait_connected(count=2)
    assert [o.response["ok"] for o in socket_mode.opens] == [True, True]  # a fresh URL
    question = slack.add_message("CGENERAL", QUESTION, user="UCAROL")
    envelope = await socket_mode.push(
        sig.event_callback(sig.app_mention(user="UCAROL", channel="CGENERAL", text=QUESTION, ts=question.ts)))
    assert envelope.connection == 1
    await socket_mode.wait_ack(envelope.envelope_id)
    await settle(slack, "chat.update")
    assert len(slack.messages("CGENERAL", thread_ts=question.ts)) == 1


async def test_bot_token_is_refused_with_a_clear_error(state: AppState, socket_mode: SlackSocketMode) -> None:
    with pytest.raises(SlackApiError) as refused:
        await AsyncWebClient(base_url=socket_mode.api_url).apps_connections_open(app_token=TOKEN)
    assert refused.value.response["error"] == "not_allowed_token_type"
    with pytest.raises(ConfigError, match="not_allowed_token_type.*app-level token"):
        await start_socket_mode(slack_app(state), TOKEN, socket_mode.api_url)
    with pytest.raises(ConfigError, match="invalid_auth"):
        await start_socket_mode(slack_app(state), "xapp-1-A0OTHER-1-nope", socket_mode.api_url)
    assert socket_mode.connections == []


async def test_slash_command_ack_carries_the_response_payload(
        handler: SocketMode, slack: SlackStandIn, socket_mode: SlackSocketMode) -> None:
    form = sig.slash_command(command="/lore", text="how do I get VPN access?", user_id="UCAROL", channel_id="CGENERAL")
    envelope = await socket_mode.push(dict(form), type="slash_commands")
    ack = await socket_mode.wait_ack(envelope.envelope_id)
    assert ack.payload is not None and ack.payload.get("text")  # the status shown to the asker
    await settle(slack, "chat.postEphemeral")
    assert len(slack.ephemerals("UCAROL")) == 1 and slack.ephemerals("UERIN") == []


class _FirstTicketLost(set[str]):
    """The stand-in's tickets, except that the first WebSocket URL it hands out is refused (401),
    as a URL that expired or a proxy that refused the upgrade would be."""

    lost = False

    def add(self, ticket: str) -> None:
        if not self.lost:
            self.lost = True
            return
        super().add(ticket)


async def test_a_refused_websocket_url_fails_the_attempt_and_the_next_one_connects(
        state: AppState, socket_mode: SlackSocketMode) -> None:
    # slack_sdk's connect() retries a failed WebSocket handshake forever, on the same URL: the
    # attempt must end instead, so that the surface's own retry fetches a fresh URL.
    socket_mode._tickets = _FirstTicketLost()
    surface = state.surfaces.by_platform["slack"]
    assert isinstance(surface, SlackSurface)
    surface.config.socket_mode = True
    surface.config.api_url = socket_mode.api_url
    surface.app_token = APP_TOKEN
    surface.retry_first = 0.1
    surface.connect_timeout = 2.0
    await surface.start()
    try:
        await socket_mode.wait_connected(timeout=20)
        for _ in range(100):
            if surface.readiness().startswith("ok"):
                break
            await asyncio.sleep(0.05)
        assert surface.readiness() == "ok (Socket Mode connected)"
        assert [o.response["ok"] for o in socket_mode.opens] == [True, True]  # a fresh URL the second time
    finally:
        await surface.stop()
