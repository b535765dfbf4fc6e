"""Slack answer sinks driven by the answer stream, through slack_sdk, against the Web API stand-in."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import render
from bot.slack.replies import Recipient, ThreadReply
from bot.streaming import stream_answer
from bot.turn import Answer, Citation, Delta, Event, Finished, Reset, Status
from tests.fakes.slack_stand_in import SlackStandIn

TOKEN = "xoxb-lore-test"
CITED = Citation(1, "VPN access", "https://wiki.example/vpn", "it/vpn")
FINAL = Answer("Use the **Helpdesk** [1]. See [the page](https://evil.example/x).", (CITED,), True, False,
               "groq", False, "t1")
STREAMED = ["Use the **Helpdesk** [2] ", "today.\n\nSee [the page](https://evil.example/x) ", "now. "]


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    async with SlackStandIn.running(bot_token=TOKEN) as stand_in:
        stand_in.add_user("UCAROL", email="carol@northwind.example")
        stand_in.add_channel("CGENERAL", name="general", members=["UCAROL"])
        stand_in.add_channel("DCAROL", is_im=True, members=["UCAROL"])
        yield stand_in


async def events(script: Iterable[Event]) -> AsyncIterator[Event]:
    for event in script:
        yield event


def deltas(pieces: Iterable[str]) -> list[Event]:
    return [Delta(p) for p in pieces]


async def answer(slack: SlackStandIn, channel: str, script: list[Event], *, stream: bool = True) -> Any:
    question = slack.add_message(channel, "how do I get VPN access?", user="UCAROL")
    client = AsyncWebClient(token=TOKEN, base_url=slack.api_url)
    sink = ThreadReply(client, channel, question.ts, question.text, recipient=Recipient("UCAROL", "T0LORE0001"),
                       stream=stream)
    await stream_answer(events(script), sink, interval=0)
    (reply,) = slack.messages(channel, thread_ts=question.ts)
    return reply


async def test_channel_thread_streams_a_preview_then_becomes_the_final_answer(slack: SlackStandIn) -> None:
    script = [Status("retrieving"), Status("answering"), *deltas(STREAMED), Finished(FINAL)]
    reply = await answer(slack, "CGENERAL", script)
    (start,) = slack.calls("chat.startStream")
    assert start.args["recipient_user_id"] == "UCAROL" and start.args["recipient_team_id"] == "T0LORE0001"
    assert start.args["chunks"][0]["type"] == "task_update"
    streamed = "".join(c["text"] for call in slack.calls("chat.appendStream")
                       for c in call.args["chunks"] if c["type"] == "markdown_text")
    assert "Helpdesk" in streamed and "(evil.example)" in streamed
    assert "https://" not in streamed  # nothing to follow or fetch before links are checked
    assert [c.method for c in slack.calls()][-2:] == ["chat.stopStream", "chat.update"]
    ref = f"CGENERAL:{reply.ts}"
    assert reply.blocks == render.answer_blocks(FINAL, question="how do I get VPN access?", feedback_ref=ref,
                                                private_ref=ref)
    assert reply.text == render.answer_text(FINAL)  # the renumbered citation, not the streamed [2]
    assert "[2]" not in json.dumps(reply.blocks)


async def test_the_fallback_ends_with_the_same_message(slack: SlackStandIn) -> None:
    script = [Status("retrieving"), *deltas(STREAMED), Finished(FINAL)]
    native = await answer(slack, "DCAROL", script)
    edited = await answer(slack, "DCAROL", script, stream=False)
    assert json.dumps(native.blocks).replace(native.ts, "TS") == json.dumps(edited.blocks).replace(edited.ts, "TS")
    assert native.text == edited.text
    (post,) = slack.calls("chat.postMessage")  # only the fallback posts, with unfurling off
    assert post.args["unfurl_links"] is False and post.args["unfurl_media"] is False


@pytest.mark.parametrize("error", ["channel_type_not_supported", "not_allowed", "method_not_supported_for_channel_type",
                                   "missing_scope", "unknown_method"])
async def test_a_refused_stream_falls_back_to_post_and_edit(slack: SlackStandIn, error: str) -> None:
    if error == "channel_type_not_supported":
        slack.refuse_streaming("CGENERAL")
    else:
        slack.fail_next("chat.startStream", error, status=404 if error == "unknown_method" else 200)
    reply = await answer(slack, "CGENERAL", [Status("retrieving"), *deltas(STREAMED), Finished(FINAL)])
    (post,) = [c for c in slack.calls("chat.postMessage") if c.ok]
    assert post.args["unfurl_links"] is False
    assert len([c for c in slack.calls("chat.update") if c.ok]) >= 2  # partial edits, then the answer
    assert "lore_feedback" in json.dumps(reply.blocks)


async def test_reset_mid_stream_stops_the_stream_and_continues_by_edits(slack: SlackStandIn) -> None:
    script: list[Event] = [Status("answering"), Delta("The model said something wrong "), Delta("here. "),
              Reset("uncited"), Delta("Quoted from the documents. "), Delta("More. "), Finished(FINAL)]
    reply = await answer(slack, "DCAROL", script)
    methods = [c.method for c in slack.calls() if c.ok]
    assert methods.index("chat.stopStream") < methods.index("chat.update")
    assert methods.count("chat.stopStream") == 1  # once, at the reset
    texts = [e["text"] for e in reply.edits]
    assert render.status_text("answering") in texts  # the void text was taken away at once
    assert any("Quoted from the documents" in t for t in texts)
    assert reply.text == render.answer_text(FINAL)


async def test_a_failed_append_still_ends_with_the_final_answer(slack: SlackStandIn) -> None:
    slack.fail_next("chat.appendStream", "internal_error", times=10)
    reply = await answer(slack, "DCAROL", [Status("answering"), *deltas(STREAMED), Finished(FINAL)])
    assert len(slack.calls("chat.appendStream")) == 1  # no more tries once one failed
    assert reply.text == render.answer_text(FINAL)


async def test_a_long_answer_streams_at_most_12000_characters(slack: SlackStandIn) -> None:
    words = [f"word{k} " for k in range(4000)]
    await answer(slack, "DCAROL", [Status("answering"), *deltas(words), Finished(FINAL)])
    streamed = sum(len(c["text"]) for call in slack.calls("chat.appendStream")
                   for c in call.args["chunks"] if c["type"] == "markdown_text")
    assert 0 < streamed <= 12_000
    assert all(call.ok for call in slack.calls())


async def test_refusal_after_the_stream_started(slack: SlackStandIn) -> None:
    from bot.turn import Refused

    reply = await answer(slack, "DCAROL", [Refused("You're asking faster than I can answer <!here>.", "rate_limited")])
    assert reply.text == "You're asking faster than I can answer &lt;!here&gt;." and not reply.streaming


async def test_a_failed_stream_stop_still_ends_with_the_final_answer(slack: SlackStandIn) -> None:
    # chat.stopStream refused (a transient error past slack_sdk's retries): the message is still
    # streaming, so chat.update cannot replace it; the final answer must reach the thread anyway.
    slack.fail_next("chat.stopStream", "internal_error")
    question = slack.add_message("CGENERAL", "how do I get VPN access?", user="UCAROL")
    client = AsyncWebClient(token=TOKEN, base_url=slack.api_url)
    sink = ThreadReply(client, "CGENERAL", question.ts, question.text, recipient=Recipient("UCAROL", "T0LORE0001"))
    await stream_answer(events([Status("answering"), *deltas(STREAMED), Finished(FINAL)]), sink, interval=0)
    replies = slack.messages("CGENERAL", thread_ts=question.ts)
    assert replies[-1].text == render.answer_text(FINAL)
    assert "lore_feedback" in json.dumps(replies[-1].blocks)
    posted = [c for c in slack.calls("chat.postMessage") if c.ok]
    assert all(c.args["unfurl_links"] is False for c in posted)


async def test_a_failed_stream_stop_at_a_reset_continues_by_edits(slack: SlackStandIn) -> None:
    slack.fail_next("chat.stopStream", "internal_error")
    question = slack.add_message("DCAROL", "how do I get VPN access?", user="UCAROL")
    client = AsyncWebClient(token=TOKEN, base_url=slack.api_url)
    sink = ThreadReply(client, "DCAROL", question.ts, question.text)
    script: list[Event] = [Status("answering"), Delta("The model said something wrong "), Delta("here. "),
                           Reset("uncited"), Delta("Quoted from the documents. "), Finished(FINAL)]
    await stream_answer(events(script), sink, interval=0)
    replies = slack.messages("DCAROL", thread_ts=question.ts)
    assert replies[-1].text == render.answer_text(FINAL)


class Dropping:
    """slack_sdk's client whose streaming calls lose the connection (after slack_sdk's retries)."""

    def __init__(self, client: AsyncWebClient, methods: set[str]) -> None:
        self.client, self.methods = client, methods

    def __getattr__(self, name: str) -> Any:
        if name in self.methods:
            async def dropped(**_kwargs: Any) -> Any:
                import aiohttp

                raise aiohttp.ServerDisconnectedError()
            return dropped
        return getattr(self.client, name)


@pytest.mark.parametrize("dropped", [{"chat_startStream"}, {"chat_appendStream", "chat_stopStream"}],
                         ids=["start", "append-and-stop"])
async def test_a_dropped_connection_mid_stream_still_ends_with_the_final_answer(
        slack: SlackStandIn, dropped: set[str]) -> None:
    question = slack.add_message("CGENERAL", "how do I get VPN access?", user="UCAROL")
    client = Dropping(AsyncWebClient(token=TOKEN, base_url=slack.api_url), dropped)
    sink = ThreadReply(client, "CGENERAL", question.ts, question.text, recipient=Recipient("UCAROL", "T0LORE0001"))
    await stream_answer(events([Status("answering"), *deltas(STREAMED), Finished(FINAL)]), sink, interval=0)
    replies = slack.messages("CGENERAL", thread_ts=question.ts)
    assert "it/vpn" in json.dumps(replies[-1].blocks)  # the final answer, with its source
