"""Slack end to end: signed Events API requests to the real server, answers posted to the Slack
Web API stand-in through slack_sdk. Asserts what the bot posted, to whom, and in which thread."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.server import create_app
from bot.slack.app import BOT_SCOPES
from core.config import ConfigError
from tests.bot.slack.conftest import SECRET, TOKEN, slack_config
from tests.fakes import slack_signing as sig
from tests.fakes.slack_stand_in import SlackStandIn

SALARY = "what is the salary band for L5?"


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    async with SlackStandIn.running(bot_token=TOKEN, scopes=BOT_SCOPES) as stand_in:
        for uid, email, guest in [("UCAROL", "carol", False), ("UERIN", "erin", False), ("UGINA", "gina", True)]:
            stand_in.add_user(uid, email=f"{email}@northwind.example", is_restricted=guest)
        stand_in.add_channel("CGENERAL", name="general", members=["UCAROL", "UERIN"])
        stand_in.add_channel("CGUESTS", name="with-guests", members=["UCAROL", "UGINA"])
        stand_in.add_channel("DCAROL", is_im=True, members=["UCAROL"])
        stand_in.add_channel("DGINA", is_im=True, members=["UGINA"])
        yield stand_in


@pytest.fixture
async def client(handbook_data: Path, tmp_path: Path, slack: SlackStandIn,
                 monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[TestClient]:
    cfg = slack_config(handbook_data, tmp_path, slack.api_url, monkeypatch)
    async with TestClient(TestServer(create_app(cfg))) as c:
        yield c


async def post(client: TestClient, req: sig.SignedRequest) -> int:
    r = await client.post("/slack/events", data=req.body, headers=req.headers)
    return r.status


async def settle(slack: SlackStandIn, method: str, count: int = 1, timeout: float = 20) -> list[Any]:
    for _ in range(int(timeout * 20)):
        calls = [c for c in slack.calls(method) if c.response.get("ok")]
        if len(calls) >= count:
            await asyncio.sleep(0.2)  # let stray duplicates show up before asserting on counts
            return [c for c in slack.calls(method) if c.response.get("ok")]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {method} within {timeout} s: {[c.method for c in slack.calls()]}")


def cited(blocks: Any) -> str:
    return json.dumps(blocks)


async def test_channel_mention_answers_in_thread_from_org_documents_only(client: TestClient, slack: SlackStandIn) -> None:
    question = slack.add_message("CGENERAL", f"<@U0LOREBOT> {SALARY}", user="UCAROL")
    event = sig.app_mention(user="UCAROL", channel="CGENERAL", text=f"<@U0LOREBOT> {SALARY}", ts=question.ts)
    assert await post(client, sig.signed_event(event, SECRET)) == 200
    updates = await settle(slack, "chat.update")
    (reply,) = slack.messages("CGENERAL", thread_ts=question.ts)
    assert reply.edits, "the status message was replaced by the answer"
    assert "salary-bands" not in cited(reply.blocks) and "confidential" not in cited(reply.blocks)
    assert "lore_private_answer" in cited(reply.blocks)  # restricted: the private answer is offered
    assert len(updates) == 1


async def test_channel_mention_streams_natively_for_the_asker(client: TestClient, slack: SlackStandIn) -> None:
    question = slack.add_message("CGENERAL", "<@U0LOREBOT> how do I get VPN access?", user="UERIN")
    event = sig.app_mention(user="UERIN", channel="CGENERAL", text=question.text, ts=question.ts)
    assert await post(client, sig.signed_event(event, SECRET)) == 200
    await settle(slack, "chat.update")
    (start,) = slack.calls("chat.startStream")
    assert (start.args["thread_ts"], start.args["recipient_user_id"]) == (question.ts, "UERIN")
    assert start.args["recipient_team_id"] == "T0LORE0001"
    assert [c.method for c in slack.calls() if c.method.startswith("chat.")][-2:] == ["chat.stopStream", "chat.update"]
    (reply,) = slack.messages("CGENERAL", thread_ts=question.ts)
    assert "general/it-vpn-access.md" in cited(reply.blocks) and "lore_feedback" in cited(reply.blocks)


async def test_a_channel_that_refuses_streaming_gets_the_post_and_edit_answer(
        client: TestClient, slack: SlackStandIn) -> None:
    slack.refuse_streaming("CGENERAL")
    question = slack.add_message("CGENERAL", "<@U0LOREBOT> how do I get VPN access?", user="UERIN")
    event = sig.app_mention(user="UERIN", channel="CGENERAL", text=question.text, ts=question.ts)
    assert await post(client, sig.signed_event(event, SECRET)) == 200
    await settle(slack, "chat.update")
    assert [c.ok for c in slack.calls("chat.startStream")] == [False]
    (status,) = [c for c in slack.calls("chat.postMessage") if c.ok]
    assert status.args["thread_ts"] == question.ts and status.args["unfurl_links"] is False
    (reply,) = slack.messages("CGENERAL", thread_ts=question.ts)
    assert reply.edits and "general/it-vpn-access.md" in cited(reply.blocks)


async def test_native_streaming_off_posts_and_edits_with_unfurling_off(
        handbook_data: Path, tmp_path: Path, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = slack_config(handbook_data, tmp_path, slack.api_url, monkeypatch)
    cfg.slack.native_streaming = False
    async with TestClient(TestServer(create_app(cfg))) as client:
        question = slack.add_message("CGENERAL", "<@U0LOREBOT> how do I get VPN access?", user="UERIN")
        event = sig.app_mention(user="UERIN", channel="CGENERAL", text=question.text, ts=question.ts)
        assert await post(client, sig.signed_event(event, SECRET)) == 200
        await settle(slack, "chat.update")
    assert slack.calls("chat.startStream") == []
    (status,) = [c for c in slack.calls("chat.postMessage") if c.ok]
    assert status.args["unfurl_links"] is False and status.args["unfurl_media"] is False
    (reply,) = slack.messages("CGENERAL", thread_ts=question.ts)
    assert reply.edits and "general/it-vpn-access.md" in cited(reply.blocks)


async def test_retried_event_is_answered_once(client: TestClient, slack: SlackStandIn) -> None:
    question = slack.add_message("CGENERAL", "<@U0LOREBOT> how do I get VPN access?", user="UERIN")
    event = sig.app_mention(user="UERIN", channel="CGENERAL", text="<@U0LOREBOT> how do I get VPN access?", ts=question.ts)
    first = sig.signed_event(event, SECRET, event_id="EvRETRY0001")
    assert await post(client, first) == 200
    assert await post(client, first.retried(1)) == 200
    assert await post(client, first.retried(2, "http_error")) == 200
    await settle(slack, "chat.update")
    assert len(slack.messages("CGENERAL", thread_ts=question.ts)) == 1
    started = [c for c in slack.calls() if c.method in ("chat.postMessage", "chat.startStream") and c.ok]
    assert len(started) == 1


async def test_direct_message_uses_the_askers_own_access(client: TestClient, slack: SlackStandIn) -> None:
    question = slack.add_message("DCAROL", SALARY, user="UCAROL")
    assert await post(client, sig.signed_event(sig.message_im(user="UCAROL", channel="DCAROL", text=SALARY, ts=question.ts), SECRET)) == 200
    await settle(slack, "chat.update")
    (reply,) = [m for m in slack.messages("DCAROL") if m.user != "UCAROL"]
    assert "hr/confidential/salary-bands.md" in cited(reply.blocks)


async def test_guest_gets_no_org_documents(client: TestClient, slack: SlackStandIn) -> None:
    question = slack.add_message("DGINA", "how do I get VPN access?", user="UGINA")
    await post(client, sig.signed_event(sig.message_im(user="UGINA", channel="DGINA", text="how do I get VPN access?", ts=question.ts), SECRET))
    await settle(slack, "chat.update")
    (reply,) = [m for m in slack.messages("DGINA") if m.user != "UGINA"]
    assert "general/" not in cited(reply.blocks) and "hr/" not in cited(reply.blocks)


async def test_channel_with_a_guest_cites_nothing_the_guest_cannot_read(client: TestClient, slack: SlackStandIn) -> None:
    question = slack.add_message("CGUESTS", "<@U0LOREBOT> how do I get VPN access?", user="UCAROL")
    event = sig.app_mention(user="UCAROL", channel="CGUESTS", text="<@U0LOREBOT> how do I get VPN access?", ts=question.ts)
    await post(client, sig.signed_event(event, SECRET))
    await settle(slack, "chat.update")
    (reply,) = slack.messages("CGUESTS", thread_ts=question.ts)
    assert "general/" not in cited(reply.blocks) and "hr/" not in cited(reply.blocks)


async def test_private_answer_goes_only_to_the_asker(client: TestClient, slack: SlackStandIn) -> None:
    question = slack.add_message("CGENERAL", f"<@U0LOREBOT> {SALARY}", user="UCAROL")
    event = sig.app_mention(user="UCAROL", channel="CGENERAL", text=f"<@U0LOREBOT> {SALARY}", ts=question.ts)
    await post(client, sig.signed_event(event, SECRET))
    await settle(slack, "chat.update")
    (reply,) = slack.messages("CGENERAL", thread_ts=question.ts)
    block, button = next((b, e) for b in reply.blocks if b.get("type") == "actions"
                         for e in b["elements"] if e["action_id"] == "lore_private_answer")
    action = {"action_id": button["action_id"], "block_id": block.get("block_id", "actions"), "type": "button", "value": button["value"]}
    payload = sig.block_actions(user_id="UCAROL", channel_id="CGENERAL", message_ts=reply.ts, actions=[action],
                                message={"ts": reply.ts, "thread_ts": question.ts, "blocks": reply.blocks})
    assert await post(client, sig.signed_block_actions(payload, SECRET)) == 200
    await settle(slack, "chat.postEphemeral")
    (private,) = slack.ephemerals("UCAROL")
    assert "hr/confidential/salary-bands.md" in cited(private.blocks)
    assert slack.ephemerals("UERIN") == []


async def test_slash_command_answers_privately(client: TestClient, slack: SlackStandIn) -> None:
    signed = sig.signed_form(sig.slash_command(command="/lore", text=SALARY, user_id="UCAROL", channel_id="CGENERAL"), SECRET)
    r = await client.post("/slack/events", data=signed.body, headers=signed.headers)
    assert r.status == 200
    await settle(slack, "chat.postEphemeral")
    (private,) = slack.ephemerals("UCAROL")
    assert "hr/confidential/salary-bands.md" in cited(private.blocks)
    signed = sig.signed_form(sig.slash_command(command="/lore", text="help", user_id="UERIN", channel_id="CGENERAL"), SECRET)
    r = await client.post("/slack/events", data=signed.body, headers=signed.headers)
    assert r.status == 200 and "/lore" in await r.text()


async def test_slash_command_mentioning_payload_is_answered(client: TestClient, slack: SlackStandIn) -> None:
    # bolt's own body parser takes any form containing "payload" for an interactivity payload
    # and drops the command (404 to Slack, a failed command for the asker).
    text = "what is the payload limit for uploads?"
    signed = sig.signed_form(sig.slash_command(command="/lore", text=text, user_id="UCAROL", channel_id="CGENERAL"), SECRET)
    r = await client.post("/slack/events", data=signed.body, headers=signed.headers)
    assert r.status == 200
    await settle(slack, "chat.postEphemeral")
    assert slack.ephemerals("UCAROL")


async def test_bad_or_stale_signature_is_401(client: TestClient, slack: SlackStandIn) -> None:
    event = sig.app_mention(user="UCAROL", channel="CGENERAL", text="<@U0LOREBOT> hi", ts="1.000001")
    assert await post(client, sig.signed_event(event, "wrong-secret")) == 401
    assert await post(client, sig.signed_event(event, SECRET, timestamp=1_000_000_000)) == 401
    await asyncio.sleep(0.3)
    assert slack.calls("chat.postMessage") == []


async def test_uninstall_and_revocation_events_are_acknowledged(client: TestClient, slack: SlackStandIn) -> None:
    for event in ({"type": "app_uninstalled"}, {"type": "tokens_revoked", "tokens": {"bot": ["U0LOREBOT"]}}):
        assert await post(client, sig.signed_event(event, SECRET)) == 200


async def test_load_100_mentions_acked_fast_and_answered_once(client: TestClient, slack: SlackStandIn) -> None:
    import time

    questions = [slack.add_message("CGENERAL", f"<@U0LOREBOT> question {i} about VPN access", user="UERIN") for i in range(100)]
    requests = [
        sig.signed_event(sig.app_mention(user="UERIN", channel="CGENERAL", text=q.text, ts=q.ts), SECRET)
        for q in questions
    ]

    async def deliver(req: sig.SignedRequest) -> float:
        started = time.perf_counter()
        assert await post(client, req) == 200
        return time.perf_counter() - started

    started = time.perf_counter()
    ack_times = await asyncio.gather(*(deliver(r) for r in requests))
    sent_in = time.perf_counter() - started
    # Slack's own retries of a few of them must not produce second answers.
    await asyncio.gather(*(post(client, r.retried(1)) for r in requests[:10]))
    assert sent_in < 10 and max(ack_times) < 3.0, (sent_in, max(ack_times))
    await settle(slack, "chat.update", count=100, timeout=60)
    for q in questions:
        assert len(slack.messages("CGENERAL", thread_ts=q.ts)) == 1, q.text


async def test_rate_limited_update_is_retried_after_retry_after(client: TestClient, slack: SlackStandIn) -> None:
    slack.rate_limit_next("chat.update", retry_after=1)
    question = slack.add_message("DCAROL", "how do I get VPN access?", user="UCAROL")
    await post(client, sig.signed_event(sig.message_im(user="UCAROL", channel="DCAROL", text=question.text, ts=question.ts), SECRET))
    (update,) = await settle(slack, "chat.update")
    limited = [c for c in slack.calls("chat.update") if not c.response.get("ok")]
    assert len(limited) == 1 and update.at - limited[0].at >= 0.95


async def test_feedback_is_recorded(client: TestClient, slack: SlackStandIn) -> None:
    from sqlalchemy import select

    from bot.server import STATE_KEY
    from core.db.tables import AnswerFeedback

    question = slack.add_message("DCAROL", "how do I get VPN access?", user="UCAROL")
    await post(client, sig.signed_event(sig.message_im(user="UCAROL", channel="DCAROL", text=question.text, ts=question.ts), SECRET))
    await settle(slack, "chat.update")
    (reply,) = [m for m in slack.messages("DCAROL") if m.user != "UCAROL"]
    block, element = next((b, e) for b in reply.blocks if b.get("type") == "context_actions"
                          for e in b["elements"] if e["type"] == "feedback_buttons")
    # What Slack sends for a press of a feedback button: the element's action_id and the pressed
    # button's value and text (docs.slack.dev bolt-js reference, FeedbackButtonsAction).
    pressed = element["negative_button"]
    action = {"type": "feedback_buttons", "action_id": element["action_id"], "block_id": block.get("block_id", "b"),
              "value": pressed["value"], "text": pressed["text"]}
    payload = sig.block_actions(user_id="UCAROL", channel_id="DCAROL", message_ts=reply.ts, actions=[action])
    assert await post(client, sig.signed_block_actions(payload, SECRET)) == 200
    db = client.server.app[STATE_KEY].runtime.db
    for _ in range(100):
        with db.session() as s:
            rows = s.execute(select(AnswerFeedback)).scalars().all()
        if rows:
            break
        await asyncio.sleep(0.05)
    (row,) = rows
    assert (row.platform, row.user_id, row.helpful, row.answer_ref) == ("slack", "UCAROL", False, f"DCAROL:{reply.ts}")
    assert 'lore_feedback_total{helpful="false",platform="slack"} 1.0' in await (await client.get("/metrics")).text()


async def test_a_slow_llm_answer_streams_by_rate_limited_edits(
    handbook_data: Path, tmp_path: Path, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fakes.llm_stand_in import LlmStandIn, Reply

    key = "gsk_slack_stream_test_key_0123456789"
    cfg = slack_config(handbook_data, tmp_path, slack.api_url, monkeypatch)
    monkeypatch.setenv("LORE_SECRET_GROQ_API_KEY", key)
    async with LlmStandIn.running(api_keys=[key]) as llm:
        llm.script(Reply("Request VPN access in the Helpdesk portal [1]. Approval takes one business day [1].",
                         chunks=6, chunk_delay=0.5))
        cfg.llm.provider = "groq"
        cfg.llm.base_url = llm.groq_base_url
        async with TestClient(TestServer(create_app(cfg))) as c:
            question = slack.add_message("DCAROL", "how do I get VPN access?", user="UCAROL")
            event = sig.message_im(user="UCAROL", channel="DCAROL", text=question.text, ts=question.ts)
            assert await post(c, sig.signed_event(event, SECRET)) == 200
            for _ in range(200):
                final = [m for m in slack.messages("DCAROL") if m.user != "UCAROL" and "lore_feedback" in cited(m.blocks)]
                if final:
                    break
                await asyncio.sleep(0.05)
    (reply,) = final
    updates = [c for c in slack.calls("chat.update") if c.response.get("ok")]
    assert 2 <= len(updates) <= 4  # at least one partial edit, then the final one; never one per chunk
    assert all(b - a >= 1.0 for a, b in zip([u.at for u in updates[:-2]], [u.at for u in updates[1:-1]]))
    assert "Helpdesk" in cited(reply.blocks) and "general/it-vpn-access.md" in cited(reply.blocks)


async def test_assistant_thread_prompts_status_and_title(client: TestClient, slack: SlackStandIn) -> None:
    opener = slack.add_message("DCAROL", "", user="U0LOREBOT")  # Slack opens the thread with the app
    started = {"type": "assistant_thread_started", "event_ts": opener.ts,
               "assistant_thread": {"user_id": "UCAROL", "channel_id": "DCAROL", "thread_ts": opener.ts, "context": {}}}
    assert await post(client, sig.signed_event(started, SECRET)) == 200
    await settle(slack, "assistant.threads.setSuggestedPrompts")
    assert [p["title"] for p in slack.suggested_prompts("DCAROL", opener.ts)][:1] == ["Find a policy"]
    for n, text in enumerate(("how do I get VPN access?", "and how long does approval take?"), start=1):
        question = slack.add_message("DCAROL", text, user="UCAROL", thread_ts=opener.ts)
        event = sig.message_im(user="UCAROL", channel="DCAROL", text=text, ts=question.ts, thread_ts=opener.ts)
        assert await post(client, sig.signed_event(event, SECRET)) == 200
        await settle(slack, "chat.update", count=n)  # a follow-up comes after the answer
    assert slack.status_history("DCAROL", opener.ts)[:1] == ["is searching documents you can access…"]
    assert slack.thread_titles("DCAROL", opener.ts) == ["how do I get VPN access?"]  # once per thread
    replies = [m for m in slack.messages("DCAROL", thread_ts=opener.ts) if m.user != "UCAROL"]
    (first,) = [m for m in replies if "how do I get VPN access?" in cited(m.blocks)]  # answers run concurrently
    assert len(replies) == 2 and "general/it-vpn-access.md" in cited(first.blocks)
    assert all("lore_feedback" in cited(m.blocks) for m in replies)  # both are finished answers


async def test_citations_show_when_the_document_last_changed(client: TestClient, slack: SlackStandIn) -> None:
    question = slack.add_message("DCAROL", "how do I get VPN access?", user="UCAROL")
    await post(client, sig.signed_event(sig.message_im(user="UCAROL", channel="DCAROL", text=question.text, ts=question.ts), SECRET))
    await settle(slack, "chat.update")
    (reply,) = [m for m in slack.messages("DCAROL") if m.user != "UCAROL"]
    assert "Updated 20" in cited(reply.blocks)


async def test_socket_mode_serves_no_http_route_and_needs_the_app_token(
    handbook_data: Path, tmp_path: Path, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = slack_config(handbook_data, tmp_path, slack.api_url, monkeypatch)
    cfg.slack.socket_mode = True
    monkeypatch.delenv("LORE_SECRET_SLACK_SIGNING_SECRET")  # not needed in Socket Mode
    with pytest.raises(ConfigError, match="slack.enabled needs the secret 'slack-app-token' .slack.app_token_secret."):
        create_app(cfg)
    monkeypatch.setenv("LORE_SECRET_SLACK_APP_TOKEN", "xapp-1-test")
    app = create_app(cfg)
    assert not any(r.resource is not None and r.resource.canonical == "/slack/events" for r in app.router.routes())


async def test_shutdown_waits_for_slack_answers_in_flight(
    handbook_data: Path, tmp_path: Path, slack: SlackStandIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.fakes.llm_stand_in import LlmStandIn, Reply

    key = "gsk_slack_drain_test_key_0123456789"
    cfg = slack_config(handbook_data, tmp_path, slack.api_url, monkeypatch)
    monkeypatch.setenv("LORE_SECRET_GROQ_API_KEY", key)
    async with LlmStandIn.running(api_keys=[key]) as llm:
        llm.script(Reply("Request VPN access in the Helpdesk portal [1].", chunks=3, first_token_delay=1.5))
        cfg.llm.provider = "groq"
        cfg.llm.base_url = llm.groq_base_url
        client = TestClient(TestServer(create_app(cfg)))
        await client.start_server()
        question = slack.add_message("DCAROL", "how do I get VPN access?", user="UCAROL")
        event = sig.message_im(user="UCAROL", channel="DCAROL", text=question.text, ts=question.ts)
        assert await post(client, sig.signed_event(event, SECRET)) == 200
        await settle(slack, "chat.postMessage")  # the status is up: the answer is in flight
        await client.close()  # graceful shutdown: drains before closing
    updates = [c for c in slack.calls("chat.update") if c.response.get("ok")]
    assert updates and "Helpdesk" in str(updates[-1].args)
