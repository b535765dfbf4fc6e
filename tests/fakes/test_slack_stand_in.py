"""The Slack stand-in driven through the real slack_sdk AsyncWebClient."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from tests.fakes import slack_signing
from tests.fakes.slack_stand_in import Budget, SlackStandIn

TOKEN = "xoxb-lore-test"
TEAM = "T0LORE0001"
BOT = "U0LOREBOT"


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    async with SlackStandIn.running(team_id=TEAM, bot_token=TOKEN, bot_user_id=BOT) as s:
        s.add_user("U0ALICE", name="alice", email="alice@northwind.example")
        s.add_user("U0BOB", name="bob", email="bob@northwind.example", is_restricted=True)
        s.add_channel("C0GENERAL", name="general", members=["U0ALICE", "U0BOB"])
        s.add_channel("C0NOBOT", name="random", members=["U0ALICE"], bot_is_member=False)
        s.add_channel(
            "C0SECRET", name="secret", members=["U0ALICE"], is_private=True, bot_is_member=False
        )
        s.add_channel("D0ALICE", members=["U0ALICE"], is_im=True)
        yield s


def client_for(slack: SlackStandIn, token: str = TOKEN, **kwargs: Any) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=slack.api_url, **kwargs)


async def api_error(call: Any) -> SlackApiError:
    with pytest.raises(SlackApiError) as info:
        await call
    return info.value


# -- auth ----------------------------------------------------------------------------------------


async def test_auth_test_answers_identity_and_grid_enterprise() -> None:
    async with SlackStandIn.running(enterprise_id="E0LOREORG") as s:
        r = await client_for(s, "xoxb-lore-test").auth_test()
        assert r["team_id"] == "T0LORE0001" and r["user_id"] == "U0LOREBOT"
        assert r["bot_id"] == "B0LOREBOT" and r["enterprise_id"] == "E0LOREORG"
        assert r["url"].startswith("https://")
        assert s.calls("auth.test")[0].headers["Authorization"] == "(redacted)"


async def test_auth_errors(slack: SlackStandIn) -> None:
    e = await api_error(client_for(slack, "xoxb-nope").auth_test())
    assert e.response["error"] == "invalid_auth" and e.response.status_code == 200
    e = await api_error(AsyncWebClient(base_url=slack.api_url).auth_test())
    assert e.response["error"] == "not_authed"
    slack.revoke(TOKEN)
    e = await api_error(client_for(slack).auth_test())
    assert e.response["error"] == "token_revoked"


async def test_token_as_form_field_but_not_inside_json(slack: SlackStandIn) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(slack.api_url + "auth.test", data={"token": TOKEN}) as r:
            assert (await r.json())["ok"] is True
        async with http.post(
            slack.api_url + "chat.postMessage",
            json={"token": TOKEN, "channel": "C0GENERAL", "text": "hi"},
        ) as r:
            assert (await r.json())["error"] == "not_authed"
        async with http.post(
            slack.api_url + "auth.test",
            data=b"{",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
        ) as r:
            assert (await r.json())["error"] == "invalid_json"
        async with http.post(slack.api_url + "nope.nope", data={"token": TOKEN}) as r:
            assert r.status == 404 and (await r.json())["error"] == "unknown_method"


# -- chat.postMessage ---------------------------------------------------------------------------


async def test_post_message_records_and_increasing_ts(slack: SlackStandIn) -> None:
    client = client_for(slack)
    q = slack.add_message("C0GENERAL", "what is the leave policy?", user="U0ALICE")
    r1 = await client.chat_postMessage(
        channel="C0GENERAL",
        text="Answer",
        thread_ts=q.ts,
        mrkdwn=True,
        unfurl_links=False,
        some_future_arg="ignored",
    )
    r2 = await client.chat_postMessage(channel="C0GENERAL", text="Second")
    assert r1["channel"] == "C0GENERAL" and r1["message"]["text"] == "Answer"
    assert r1["message"]["thread_ts"] == q.ts and r1["message"]["bot_id"] == "B0LOREBOT"
    ts1, ts2 = r1["ts"], r2["ts"]
    assert len(ts1.split(".")[1]) == 6 and float(q.ts) < float(ts1) < float(ts2)
    assert [m.text for m in slack.messages("C0GENERAL", thread_ts=q.ts)] == ["Answer"]
    assert slack.messages("C0GENERAL")[1].args["unfurl_links"] is False
    assert slack.calls("chat.postMessage")[0].content_type.startswith("application/json")


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
async def test_post_message_channel_errors(slack: SlackStandIn) -> None:
    client = client_for(slack)
    for channel, error in [
        ("C0MISSING", "channel_not_found"),
        ("C0NOBOT", "not_in_channel"),
        ("C0SECRET", "channel_not_found"),  # private and the bot is not in it
    ]:
        e = await api_error(client.chat_postMessage(channel=channel, text="x"))
        assert e.response["error"] == error, channel
    e = await api_error(client.api_call("chat.postMessage", json={"text": "x"}))
    assert e.response["error"] == "channel_not_found"
    e = await api_error(client.chat_postMessage(channel="C0GENERAL"))
    assert e.response["error"] == "no_text"
    slack.set_scopes(TOKEN, {"chat:write", "chat:write.public"})
    assert (await client.chat_postMessage(channel="C0NOBOT", text="x"))["ok"]
    slack.set_scopes(TOKEN, {"users:read"})
    e = await api_error(client.chat_postMessage(channel="C0GENERAL", text="x"))
    assert e.response["error"] == "missing_scope" and e.response["needed"] == "chat:write"


async def test_msg_too_long_and_truncation(slack: SlackStandIn) -> None:
    client = client_for(slack)
    assert (await client.chat_postMessage(channel="C0GENERAL", text="a" * 40_000))["ok"]
    e = await api_error(client.chat_postMessage(channel="C0GENERAL", text="a" * 40_001))
    assert e.response["error"] == "msg_too_long"
    slack.truncate_long_text = True
    r = await client.chat_postMessage(channel="C0GENERAL", text="a" * 40_001)
    assert len(r["message"]["text"]) == 40_000


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _button(text: str = "Helpful", action_id: str = "feedback_up") -> dict[str, Any]:
    return {"type": "button", "text": {"type": "plain_text", "text": text}, "action_id": action_id}


@pytest.mark.parametrize(
    ("blocks", "pointer"),
    [
        ([_section("x")] * 51, "/blocks"),
        ([_section("x" * 3001)], "/blocks/0/text/text"),
        (
            [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
            "/blocks/0/text/text",
        ),
        ([{"type": "header", "text": {"type": "mrkdwn", "text": "h"}}], "/blocks/0/text/type"),
        (
            [{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}],
            "/blocks/0/elements",
        ),
        (
            [{"type": "actions", "elements": [_button(action_id=f"a{i}") for i in range(26)]}],
            "/blocks/0/elements",
        ),
        ([{"type": "actions", "elements": [_button("b" * 76)]}], "/blocks/0/elements/0/text/text"),
        (
            [{"type": "actions", "elements": [_button(action_id="a" * 256)]}],
            "/blocks/0/elements/0/action_id",
        ),
        (
            [{"type": "actions", "elements": [_button(), _button()]}],
            "/blocks/0/elements/1/action_id",
        ),
        ([{"type": "bogus"}], "/blocks/0/type"),
    ],
)
async def test_block_limits_rejected(
    slack: SlackStandIn, blocks: list[dict[str, Any]], pointer: str
) -> None:
    e = await api_error(
        client_for(slack).chat_postMessage(channel="C0GENERAL", text="t", blocks=blocks)
    )
    assert e.response["error"] == "invalid_blocks"
    messages = e.response["response_metadata"]["messages"]
    assert any(m.startswith("[ERROR] ") and f"[json-pointer:{pointer}]" in m for m in messages), (
        messages
    )
    assert slack.messages("C0GENERAL") == []


async def test_blocks_at_the_limits_accepted_also_as_form_string(slack: SlackStandIn) -> None:
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "h" * 150}},
        _section("s" * 3000),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 10},
        {"type": "actions", "elements": [_button("b" * 75, f"a{i}") for i in range(25)]},
        {"type": "divider"},
    ]
    r = await client_for(slack).chat_postMessage(channel="C0GENERAL", text="t", blocks=blocks)
    assert r["message"]["blocks"] == blocks
    await client_for(slack).api_call(
        "chat.postMessage", data={"channel": "C0GENERAL", "text": "t", "blocks": json.dumps(blocks)}
    )
    assert slack.messages("C0GENERAL")[-1].blocks == blocks
    e = await api_error(
        client_for(slack).api_call(
            "chat.postMessage", data={"channel": "C0GENERAL", "blocks": "[{"}
        )
    )
    assert e.response["error"] == "invalid_blocks_format"


# -- chat.update, chat.postEphemeral ------------------------------------------------------------


async def test_update_keeps_edit_history(slack: SlackStandIn) -> None:
    client = client_for(slack)
    r = await client.chat_postMessage(channel="C0GENERAL", text="Thinking…")
    u = await client.chat_update(channel="C0GENERAL", ts=r["ts"], text="Final answer")
    assert u["ts"] == r["ts"] and u["text"] == "Final answer"
    (msg,) = slack.messages("C0GENERAL")
    assert msg.text == "Final answer" and [e["text"] for e in msg.edits] == ["Thinking…"]
    e = await api_error(client.chat_update(channel="C0GENERAL", ts="1.000001", text="x"))
    assert e.response["error"] == "message_not_found"
    theirs = slack.add_message("C0GENERAL", "mine", user="U0ALICE")
    e = await api_error(client.chat_update(channel="C0GENERAL", ts=theirs.ts, text="x"))
    assert e.response["error"] == "cant_update_message"


async def test_post_ephemeral(slack: SlackStandIn) -> None:
    client = client_for(slack)
    r = await client.chat_postEphemeral(channel="C0GENERAL", user="U0ALICE", text="only you", link_names=False)
    assert "." in r["message_ts"]
    (eph,) = slack.ephemerals("U0ALICE")
    assert eph.text == "only you" and eph.channel == "C0GENERAL"
    assert eph.args["link_names"] is False and eph.args["user"] == "U0ALICE"
    assert slack.messages("C0GENERAL") == [] and slack.ephemerals("U0BOB") == []
    slack.add_user("U0CAROL", name="carol")
    e = await api_error(client.chat_postEphemeral(channel="C0GENERAL", user="U0CAROL", text="x"))
    assert e.response["error"] == "user_not_in_channel"


# -- streaming -----------------------------------------------------------------------------------


async def test_stream_start_append_stop(slack: SlackStandIn) -> None:
    client = client_for(slack)
    q = slack.add_message("C0GENERAL", "question", user="U0ALICE")
    e = await api_error(client.chat_startStream(channel="C0GENERAL", thread_ts=q.ts))
    assert e.response["error"] == "missing_recipient_team_id"
    e = await api_error(
        client.chat_startStream(channel="C0GENERAL", thread_ts=q.ts, recipient_team_id=TEAM)
    )
    assert e.response["error"] == "missing_recipient_user_id"
    s = await client.chat_startStream(
        channel="C0GENERAL",
        thread_ts=q.ts,
        recipient_team_id=TEAM,
        recipient_user_id="U0ALICE",
        markdown_text="Hello",
    )
    e = await api_error(client.chat_update(channel="C0GENERAL", ts=s["ts"], text="x"))
    assert e.response["error"] == "streaming_state_conflict"
    await client.chat_appendStream(channel="C0GENERAL", ts=s["ts"], markdown_text=", world")
    stop = await client.chat_stopStream(
        channel="C0GENERAL",
        ts=s["ts"],
        markdown_text=" [1]",
        blocks=[{"type": "context", "elements": [{"type": "mrkdwn", "text": "Sources"}]}],
    )
    assert stop["message"]["text"] == "Hello, world [1]"
    (reply,) = slack.messages("C0GENERAL", thread_ts=q.ts)
    assert reply.stream_chunks == [", world", " [1]"] and not reply.streaming
    e = await api_error(
        client.chat_appendStream(channel="C0GENERAL", ts=s["ts"], markdown_text="x")
    )
    assert e.response["error"] == "message_not_in_streaming_state"
    e = await api_error(client.chat_stopStream(channel="C0GENERAL", ts="1.000002"))
    assert e.response["error"] == "message_not_found"
    e = await api_error(
        client.chat_startStream(
            channel="C0GENERAL",
            thread_ts=q.ts,
            recipient_team_id=TEAM,
            recipient_user_id="U0ALICE",
            markdown_text="m" * 12_001,
        )
    )
    assert e.response["error"] == "msg_too_long"


async def test_slack_sdk_chat_stream_helper_in_a_dm(slack: SlackStandIn) -> None:
    client = client_for(slack)
    q = slack.add_message("D0ALICE", "question", user="U0ALICE")
    streamer = await client.chat_stream(channel="D0ALICE", thread_ts=q.ts, buffer_size=4)
    for piece in ["The ", "answer ", "is 42."]:
        await streamer.append(markdown_text=piece)
    await streamer.stop()
    (reply,) = slack.messages("D0ALICE", thread_ts=q.ts)
    assert reply.text == "The answer is 42." and not reply.streaming
    methods = [c.method for c in slack.calls()]
    assert methods[0] == "chat.startStream" and methods[-1] == "chat.stopStream"


async def test_stream_rules_thread_ownership_once_and_size(slack: SlackStandIn) -> None:
    client = client_for(slack)
    q = slack.add_message("D0ALICE", "question", user="U0ALICE")
    e = await api_error(client.api_call("chat.startStream", json={"channel": "D0ALICE", "markdown_text": "x"}))
    assert e.response.data == {
        "ok": False, "error": "invalid_arguments",
        "response_metadata": {"messages": ["[ERROR] missing required field: thread_ts"]},
    }
    s = await client.chat_startStream(channel="D0ALICE", thread_ts=q.ts, markdown_text="a")  # DM: no recipient
    # Another app in the same workspace may not touch the stream.
    slack.add_token("xoxb-other-app", team_id=TEAM, user_id="U0OTHERBOT", bot_id="B0OTHER")
    slack.channels["D0ALICE"].members.append("U0OTHERBOT")
    other = client_for(slack, "xoxb-other-app")
    for call in (other.chat_appendStream(channel="D0ALICE", ts=s["ts"], markdown_text="b"),
                 other.chat_stopStream(channel="D0ALICE", ts=s["ts"])):
        assert (await api_error(call)).response.data == {"ok": False, "error": "message_not_owned_by_app"}
    e = await api_error(client.chat_appendStream(channel="D0ALICE", ts=s["ts"], markdown_text="m" * 12_001))
    assert e.response["error"] == "msg_too_long"
    e = await api_error(client.chat_appendStream(
        channel="D0ALICE", ts=s["ts"], chunks=[{"type": "markdown_text", "text": "m" * 6_001}],
        markdown_text="m" * 6_000))
    assert e.response["error"] == "msg_too_long"  # the limit counts the whole call
    await client.chat_appendStream(channel="D0ALICE", ts=s["ts"], markdown_text="m" * 12_000)
    await client.chat_stopStream(channel="D0ALICE", ts=s["ts"])
    e = await api_error(client.chat_stopStream(channel="D0ALICE", ts=s["ts"]))
    assert e.response.data == {"ok": False, "error": "message_not_in_streaming_state"}
    # Once stopped the message is an ordinary one again: chat.update may replace it.
    await client.chat_update(channel="D0ALICE", ts=s["ts"], text="final")
    assert slack.messages("D0ALICE", thread_ts=q.ts)[0].text == "final"


async def test_stream_chunks_are_validated(slack: SlackStandIn) -> None:
    client = client_for(slack)
    q = slack.add_message("D0ALICE", "question", user="U0ALICE")
    task = {"type": "task_update", "id": "search", "title": "Searching", "status": "in_progress"}
    s = await client.chat_startStream(channel="D0ALICE", thread_ts=q.ts, chunks=[task])
    bad_chunks: list[Any] = [{**task, "status": "running"}, {"type": "markdown_text"}, {"type": "sparkles"}, "text"]
    for bad in bad_chunks:
        e = await api_error(client.api_call("chat.appendStream", json={"channel": "D0ALICE", "ts": s["ts"],
                                                                        "chunks": [bad]}))
        assert e.response["error"] == "invalid_chunks", bad
    await client.chat_appendStream(channel="D0ALICE", ts=s["ts"],
                                   chunks=[{**task, "status": "complete"}, {"type": "markdown_text", "text": "Hi"}])
    assert slack.messages("D0ALICE", thread_ts=q.ts)[0].text == "Hi"


async def test_streaming_refused_for_a_channel(slack: SlackStandIn) -> None:
    client = client_for(slack)
    q = slack.add_message("C0GENERAL", "question", user="U0ALICE")
    slack.refuse_streaming("C0GENERAL")
    e = await api_error(client.chat_startStream(channel="C0GENERAL", thread_ts=q.ts, recipient_team_id=TEAM,
                                                recipient_user_id="U0ALICE", markdown_text="x"))
    assert e.response.data == {"ok": False, "error": "channel_type_not_supported"}
    assert slack.messages("C0GENERAL", thread_ts=q.ts) == []
    await client.chat_postMessage(channel="C0GENERAL", thread_ts=q.ts, text="the fallback still posts")


async def test_feedback_buttons_in_a_context_actions_block(slack: SlackStandIn) -> None:
    client = client_for(slack)

    def feedback(**changes: Any) -> list[dict[str, Any]]:
        element = {"type": "feedback_buttons", "action_id": "lore_feedback",
                   "positive_button": {"text": {"type": "plain_text", "text": "Helpful"}, "value": "up:r"},
                   "negative_button": {"text": {"type": "plain_text", "text": "Not helpful"}, "value": "down:r"}}
        element.update(changes)
        return [{"type": "context_actions", "elements": [element]}]

    await client.chat_postMessage(channel="C0GENERAL", text="ok", blocks=feedback())
    bad_button = {"text": {"type": "mrkdwn", "text": "*no*"}, "value": "v" * 2001}
    e = await api_error(client.chat_postMessage(channel="C0GENERAL", text="x", blocks=feedback(negative_button=bad_button)))
    assert e.response["errors"] == [
        "must be one of plain_text [json-pointer:/blocks/0/elements/0/negative_button/text/type]",
        "must be less than 2001 characters [json-pointer:/blocks/0/elements/0/negative_button/value]",
    ]
    six = [{"type": "context_actions", "elements": feedback()[0]["elements"] * 6}]
    e = await api_error(client.chat_postMessage(channel="C0GENERAL", text="x", blocks=six))
    assert "no more than 5 items allowed [json-pointer:/blocks/0/elements]" in e.response["errors"]


# -- users, conversations -----------------------------------------------------------------------


async def test_users_info_hides_email_without_scope(slack: SlackStandIn) -> None:
    client = client_for(slack)
    user = (await client.users_info(user="U0BOB"))["user"]
    assert user["id"] == "U0BOB" and user["team_id"] == TEAM and user["is_restricted"] is True
    assert user["deleted"] is False and user["is_bot"] is False
    assert "email" not in user["profile"] and "enterprise_user" not in user
    slack.set_scopes(TOKEN, {"users:read", "users:read.email"})
    user = (await client.users_info(user="U0BOB"))["user"]
    assert user["profile"]["email"] == "bob@northwind.example"
    e = await api_error(client.users_info(user="U0NOBODY"))
    assert e.response["error"] == "user_not_found"
    slack.add_workspace("T0OTHER")
    slack.add_user("U0STRANGER", team_id="T0OTHER")
    e = await api_error(client.users_info(user="U0STRANGER"))
    assert e.response["error"] == "user_not_found"


async def test_users_info_enterprise_user_on_grid() -> None:
    async with SlackStandIn.running(enterprise_id="E0LOREORG") as s:
        s.add_user("W0ALICE", name="alice")
        user = (await client_for(s, "xoxb-lore-test").users_info(user="W0ALICE"))["user"]
        assert user["enterprise_user"]["enterprise_id"] == "E0LOREORG"


async def test_conversations_info(slack: SlackStandIn) -> None:
    client = client_for(slack)
    general = (await client.conversations_info(channel="C0GENERAL"))["channel"]
    assert general["is_private"] is False and "num_members" not in general
    general = (await client.conversations_info(channel="C0GENERAL", include_num_members=True))[
        "channel"
    ]
    assert general["num_members"] == 3 and general["is_member"] is True
    dm = (await client.conversations_info(channel="D0ALICE"))["channel"]
    assert dm["is_im"] is True and dm["user"] == "U0ALICE" and dm["is_private"] is True
    slack.add_channel("C0SHARED", members=["U0ALICE"], is_ext_shared=True)
    shared = (await client.conversations_info(channel="C0SHARED"))["channel"]
    assert shared["is_shared"] and shared["is_ext_shared"] and not shared["is_org_shared"]
    for channel in ("C0SECRET", "C0MISSING"):
        e = await api_error(client.conversations_info(channel=channel))
        assert e.response["error"] == "channel_not_found"


async def test_conversations_members_pagination(slack: SlackStandIn) -> None:
    members = [f"U{i:04d}" for i in range(7)]
    slack.add_channel("C0BIG", members=members)
    client = client_for(slack)
    seen: list[str] = []
    pages = 0
    async for page in await client.conversations_members(channel="C0BIG", limit=3):
        seen.extend(page["members"])
        pages += 1
    assert seen == [*members, BOT] and pages == 3
    last = await client.conversations_members(
        channel="C0BIG",
        limit=3,
        cursor=(await client.conversations_members(channel="C0BIG", limit=6))["response_metadata"][
            "next_cursor"
        ],
    )
    assert last["members"] == ["U0006", BOT] and last["response_metadata"]["next_cursor"] == ""
    e = await api_error(client.conversations_members(channel="C0BIG", cursor="bm9wZQ=="))
    assert e.response["error"] == "invalid_cursor"
    e = await api_error(client.conversations_members(channel="C0BIG", limit=1001))
    assert e.response["error"] == "invalid_limit"


# -- assistant threads --------------------------------------------------------------------------


async def test_assistant_threads(slack: SlackStandIn) -> None:
    client = client_for(slack)
    q = slack.add_message("D0ALICE", "question", user="U0ALICE")
    await client.assistant_threads_setStatus(
        channel_id="D0ALICE", thread_ts=q.ts, status="is searching…", loading_messages=["a", "b"]
    )
    assert slack.thread_status("D0ALICE", q.ts) == "is searching…"
    await client.assistant_threads_setSuggestedPrompts(
        channel_id="D0ALICE",
        thread_ts=q.ts,
        title="Try",
        prompts=[{"title": "Leave", "message": "How much leave do I get?"}],
    )
    await client.assistant_threads_setTitle(channel_id="D0ALICE", thread_ts=q.ts, title="Leave")
    assert slack.suggested_prompts("D0ALICE", q.ts)[0]["title"] == "Leave"
    assert slack.thread_titles("D0ALICE", q.ts) == ["Leave"]
    await client.chat_postMessage(channel="D0ALICE", thread_ts=q.ts, text="answer")
    assert slack.thread_status("D0ALICE", q.ts) == ""  # posting a reply clears the status
    e = await api_error(
        client.assistant_threads_setStatus(channel_id="D0ALICE", thread_ts="1.000003", status="x")
    )
    assert e.response["error"] == "invalid_thread_ts"
    e = await api_error(
        client.assistant_threads_setStatus(channel_id="D0NOPE", thread_ts=q.ts, status="x")
    )
    assert e.response["error"] == "channel_not_found"
    e = await api_error(
        client.assistant_threads_setStatus(
            channel_id="D0ALICE", thread_ts=q.ts, status="x", loading_messages=["m"] * 11
        )
    )
    assert e.response["error"] == "invalid_arguments"
    e = await api_error(
        client.api_call(
            "assistant.threads.setTitle", params={"channel_id": "D0ALICE", "thread_ts": q.ts}
        )
    )
    assert e.response["error"] == "invalid_arguments"
    assert "title" in e.response["response_metadata"]["messages"][0]


# -- rate limits ---------------------------------------------------------------------------------


async def test_scripted_429_retried_after_retry_after(slack: SlackStandIn) -> None:
    slack.rate_limit_next("chat.postMessage", retry_after=1)
    e = await api_error(client_for(slack).chat_postMessage(channel="C0GENERAL", text="x"))
    assert e.response.status_code == 429 and e.response["error"] == "ratelimited"
    assert e.response.headers["Retry-After"] == "1"
    slack.rate_limit_next("chat.postMessage", retry_after=1)
    client = client_for(slack, retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)])
    r = await client.chat_postMessage(channel="C0GENERAL", text="x")
    assert r["ok"]
    first, second = slack.calls("chat.postMessage")[-2:]
    assert first.status == 429 and second.ok and second.at - first.at >= 1.0
    assert len(slack.messages("C0GENERAL")) == 1


async def test_built_in_budgets(slack: SlackStandIn) -> None:
    slack.enforce_rate_limits({"chat.update": Budget(2, 60.0)})
    client = client_for(slack)
    await client.chat_postMessage(channel="C0GENERAL", text="1")
    await client.chat_postMessage(channel="D0ALICE", text="other channel: own budget")
    e = await api_error(client.chat_postMessage(channel="C0GENERAL", text="2"))
    assert e.response.status_code == 429 and e.response.headers["Retry-After"] == "1"
    ts = slack.messages("C0GENERAL")[0].ts
    await client.chat_update(channel="C0GENERAL", ts=ts, text="a")
    await client.chat_update(channel="C0GENERAL", ts=ts, text="b")
    e = await api_error(client.chat_update(channel="C0GENERAL", ts=ts, text="c"))
    assert e.response["error"] == "ratelimited" and int(e.response.headers["Retry-After"]) >= 59


async def test_fail_next_any_error(slack: SlackStandIn) -> None:
    slack.fail_next("users.info", "fatal_error")
    e = await api_error(client_for(slack).users_info(user="U0ALICE"))
    assert e.response["error"] == "fatal_error"
    assert (await client_for(slack).users_info(user="U0ALICE"))["ok"]


# -- signing helpers -----------------------------------------------------------------------------


def test_signature_verified_by_slack_sdk() -> None:
    secret = "8f742231b10e8888abcd99yyyzzz85a5"
    now = int(time.time())
    verifier = SignatureVerifier(secret)
    event = slack_signing.app_mention(
        user="U0ALICE", channel="C0GENERAL", text="<@U0LOREBOT> hi", ts="1732412345.000100"
    )
    req = slack_signing.signed_event(event, secret, timestamp=now)
    assert verifier.is_valid_request(req.body, req.headers)
    assert not SignatureVerifier("wrong").is_valid_request(req.body, req.headers)
    assert not verifier.is_valid_request(req.body + b" ", req.headers)
    stale = slack_signing.signed_event(event, secret, timestamp=now - 301)
    assert not verifier.is_valid_request(stale.body, stale.headers)
    envelope = req.json()
    assert envelope["type"] == "event_callback" and envelope["event_id"].startswith("Ev")
    assert envelope["authorizations"][0]["user_id"] == "U0LOREBOT"
    retry = req.retried(1, "http_timeout")
    assert retry.headers["X-Slack-Retry-Num"] == "1" and retry.body == req.body
    assert verifier.is_valid_request(retry.body, retry.headers)
    # a known vector: the signature is hex HMAC-SHA256 of "v0:<ts>:<body>"
    assert slack_signing.sign(b"body", "secret", 1)["X-Slack-Signature"] == (
        SignatureVerifier("secret").generate_signature(timestamp="1", body=b"body")
    )


def test_form_payloads() -> None:
    secret = "s3cr3t"
    im = slack_signing.message_im(user="U0ALICE", channel="D0ALICE", text="hi", ts="1.000001")
    assert im["channel_type"] == "im" and im["type"] == "message"
    cmd = slack_signing.signed_form(
        slack_signing.slash_command(
            command="/lore", text="leave policy", user_id="U0ALICE", channel_id="C0GENERAL"
        ),
        secret,
    )
    assert SignatureVerifier(secret).is_valid_request(cmd.body, cmd.headers)
    fields = parse_qs(cmd.body.decode())
    assert fields["command"] == ["/lore"] and fields["text"] == ["leave policy"]
    action = slack_signing.signed_block_actions(
        slack_signing.block_actions(
            user_id="U0ALICE",
            channel_id="C0GENERAL",
            message_ts="1.000001",
            actions=[
                {"action_id": "feedback_up", "block_id": "fb", "type": "button", "value": "up"}
            ],
        ),
        secret,
    )
    payload = json.loads(parse_qs(action.body.decode())["payload"][0])
    assert (
        payload["type"] == "block_actions" and payload["actions"][0]["action_id"] == "feedback_up"
    )
    assert action.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert slack_signing.url_verification("abc")["challenge"] == "abc"
