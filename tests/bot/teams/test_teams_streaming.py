"""Teams streaming in 1:1 chats, driven by a fake clock against the Bot Connector stand-in (which
enforces the documented sequence rules), and end to end through the server."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable
from itertools import pairwise
from typing import Any

import pytest

from bot.streaming import stream_answer
from bot.teams.activities import Inbound, parse
from bot.teams.connector import BotConnector
from bot.teams.streaming import MIN_GAP_SECONDS, StreamedReply
from bot.turn import Answer, Delta, Event, Finished, Reset, Status
from tests.bot.teams.conftest import APP_TOKEN, GROUP, PERSONAL, AppTokens, Teams, activity, member
from tests.fakes.bot_connector import BotConnectorStandIn

ANSWER = Answer("VPN needs MFA and a ticket.", (), True, False, "extractive", False, "t1")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def timed(clock: Clock, script: Iterable[tuple[float, Event]]) -> AsyncIterator[Event]:
    for wait, event in script:
        clock.now += wait
        yield event


@pytest.fixture
async def connector() -> AsyncIterator[BotConnectorStandIn]:
    async with BotConnectorStandIn.running({APP_TOKEN}) as stand_in:
        stand_in.add_conversation(PERSONAL, "personal", [member("aad-carol")])
        stand_in.add_conversation(GROUP, "groupChat", [member("aad-carol")])
        yield stand_in


async def run(stand_in: BotConnectorStandIn, script: list[tuple[float, Event]], conversation: str = "personal",
              clock: Clock | None = None) -> list[dict[str, Any]]:
    clock = clock or Clock()
    stand_in.clock = clock
    inbound = parse(activity(stand_in.base_url, conversation, "q"))
    assert isinstance(inbound, Inbound)
    client = BotConnector(AppTokens())
    try:
        await stream_answer(timed(clock, script), StreamedReply(client, inbound, clock=clock),
                            interval=MIN_GAP_SECONDS, clock=clock)
    finally:
        await client.close()
    return stand_in.conversations[PERSONAL if conversation == "personal" else GROUP].activities


def stream_of(activity_: dict[str, Any]) -> dict[str, Any] | None:
    return next((e for e in activity_.get("entities", []) if e.get("type") == "streaminfo"), None)


async def test_informative_then_growing_chunks_then_final(connector: BotConnectorStandIn) -> None:
    script: list[tuple[float, Event]] = [
        (0, Status("retrieving")), (0.5, Status("answering")), (1.0, Delta("VPN needs ")), (0.2, Delta("MFA ")),
        (0.5, Delta("and ")), (1.0, Delta("a ticket.")), (0.1, Finished(ANSWER))]
    sent = await run(connector, script)
    infos = [stream_of(a) for a in sent]
    assert [i["streamType"] if i else None for i in infos] == ["informative", "streaming", "streaming", "final"]
    assert [i.get("streamSequence") for i in infos if i] == [1, 2, 3, None]
    stream_id = sent[0]["id"].split("#")[0]
    assert all(i and i["streamId"] == stream_id for i in infos[1:])
    # Coalesced, and cut after the last whitespace (the final message has the whole text).
    assert [a["text"] for a in sent[1:3]] == ["VPN needs ", "VPN needs MFA and a "]
    gaps = [b["_at"] - a["_at"] for a, b in pairwise(sent[:-1])]  # the updates
    assert all(g >= MIN_GAP_SECONDS for g in gaps)
    final = sent[-1]
    assert final["type"] == "message" and final["text"] == ANSWER.text
    assert final["entities"][1]["additionalType"] == ["AIGeneratedContent"]
    assert final["channelData"] == {"feedbackLoopEnabled": True}


async def test_informative_text_is_within_1000_characters(connector: BotConnectorStandIn) -> None:
    sent = await run(connector, [(0, Finished(ANSWER))])
    assert len(sent[0]["text"]) <= 1000 and stream_of(sent[0])["streamType"] == "informative"  # type: ignore[index]


async def test_content_stream_not_allowed_falls_back_to_one_message(connector: BotConnectorStandIn) -> None:
    sent = await run(connector, [(0, Delta("VPN ")), (2, Delta("needs")), (2, Finished(ANSWER))], conversation="groupChat")
    assert [(a["type"], stream_of(a)) for a in sent] == [("message", None)]
    assert ("ContentStreamNotAllowed" in {code for _, _, code in connector.refused})


async def test_throttled_stream_falls_back_to_one_message(connector: BotConnectorStandIn) -> None:
    clock = Clock()
    script: list[tuple[float, Event]] = [(0, Status("retrieving")), (2, Delta("VPN ")), (2, Delta("needs")), (2, Finished(ANSWER))]

    async def throttled() -> AsyncIterator[Event]:
        async for event in timed(clock, script):
            if isinstance(event, Delta):
                connector.throttle(1, retry_after=0)
            yield event

    inbound = parse(activity(connector.base_url, "personal", "q"))
    assert inbound is not None
    connector.clock = clock
    client = BotConnector(AppTokens())
    await stream_answer(throttled(), StreamedReply(client, inbound, clock=clock), interval=MIN_GAP_SECONDS, clock=clock)
    await client.close()
    sent = connector.conversations[PERSONAL].activities
    assert [stream_of(a)["streamType"] if stream_of(a) else a["type"] for a in sent] == ["informative", "message"]  # type: ignore[index]


async def test_a_stream_ends_within_two_minutes(connector: BotConnectorStandIn) -> None:
    script: list[tuple[float, Event]] = [(0, Status("retrieving")), (2, Delta("a ")), (99, Delta("b ")), (2, Delta("c ")),
                                         (30, Finished(ANSWER))]
    sent = await run(connector, script)
    # No chunk after 100 s; the final at 133 s is refused (the stream expired) -> one plain message.
    assert [stream_of(a)["streamType"] if stream_of(a) else "plain" for a in sent] == ["informative", "streaming", "plain"]  # type: ignore[index]
    assert sent[-1]["text"] == ANSWER.text


async def test_a_reset_stops_the_chunks_and_the_final_replaces_them(connector: BotConnectorStandIn) -> None:
    script: list[tuple[float, Event]] = [(0, Status("retrieving")), (2, Delta("wrong ")), (0, Reset("x")), (2, Delta("VPN ")),
                                         (2, Finished(ANSWER))]
    sent = await run(connector, script)
    assert [stream_of(a)["streamType"] for a in sent] == ["informative", "streaming", "final"]  # type: ignore[index]
    assert sent[-1]["text"] == ANSWER.text


async def test_one_to_one_answer_streams_end_to_end(teams: Teams) -> None:
    assert await teams.post(activity(teams.service_url, "personal", "how do I get VPN access?")) == 200
    (final,) = await teams.replies(PERSONAL)
    sent = teams.connector.conversations[PERSONAL].activities
    assert stream_of(sent[0])["streamType"] == "informative"  # type: ignore[index]
    assert stream_of(final)["streamType"] == "final" and stream_of(final)["streamId"] == sent[0]["id"].split("#")[0]  # type: ignore[index]
    assert not teams.connector.refused


async def test_streaming_turned_off_falls_back_to_one_message(connector: BotConnectorStandIn) -> None:
    connector.streaming_enabled = False
    sent = await run(connector, [(0, Status("retrieving")), (2, Delta("VPN")), (2, Finished(ANSWER))])
    assert [(a["type"], stream_of(a)) for a in sent] == [("message", None)]


async def test_a_stream_the_user_stopped_ends_with_one_message(connector: BotConnectorStandIn) -> None:
    clock = Clock()
    script: list[tuple[float, Event]] = [(0, Status("retrieving")), (2, Delta("VPN ")), (2, Delta("needs")), (2, Finished(ANSWER))]

    async def stopped() -> AsyncIterator[Event]:
        async for event in timed(clock, script):
            if isinstance(event, Delta) and connector.streams:
                connector.cancel(next(iter(connector.streams)))
            yield event

    inbound = parse(activity(connector.base_url, "personal", "q"))
    assert inbound is not None
    connector.clock = clock
    client = BotConnector(AppTokens())
    await stream_answer(stopped(), StreamedReply(client, inbound, clock=clock), interval=MIN_GAP_SECONDS, clock=clock)
    await client.close()
    sent = connector.conversations[PERSONAL].activities
    assert [stream_of(a)["streamType"] if stream_of(a) else a["type"] for a in sent] == ["informative", "message"]  # type: ignore[index]


async def test_streamed_text_cannot_mention_link_or_format_and_each_chunk_extends_the_last(connector: BotConnectorStandIn) -> None:
    pieces = ["Ask <at>Every", "one</at> or see [the ", "portal](https://evil.example) ", "**now** [1", "2] and [3]. ", "1. done "]
    script: list[tuple[float, Event]] = [(0, Status("retrieving"))] + [(2, Delta(p)) for p in pieces] + [(2, Finished(ANSWER))]
    sent = await run(connector, script)
    chunks = [a["text"] for a in sent if (stream_of(a) or {}).get("streamType") == "streaming"]
    assert len(chunks) >= 4 and not [r for r in connector.refused]
    for chunk in chunks:
        assert "<" not in chunk and not re.search(r"(?<!\\)\]\(", chunk) and "**" not in chunk
    assert "[12]" in chunks[-1] and "[3]" in chunks[-1]  # citation markers stay for Teams
