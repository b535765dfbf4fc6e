"""The Bot Connector stand-in is as strict as the documentation it follows (driven over HTTP,
mostly through Lore's own REST client)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from bot.teams.connector import BotConnector, ConnectorError
from tests.fakes.bot_connector import BotConnectorStandIn

TOKEN = "app-token"


class Tokens:
    async def token(self, tenant_id: str, scope: str) -> str:
        return TOKEN


@pytest.fixture
async def stand_in() -> AsyncIterator[BotConnectorStandIn]:
    async with BotConnectorStandIn.running({TOKEN}) as s:
        s.add_conversation("a:chat", "personal", [{"id": "29:u", "aadObjectId": "aad-u"}])
        s.add_conversation("19:c@thread.tacv2", "channel", [{"id": f"29:{n}"} for n in range(7)])
        yield s


async def test_paged_members_follow_the_continuation_token(stand_in: BotConnectorStandIn) -> None:
    client = BotConnector(Tokens())
    members = await client.members(stand_in.base_url, "t", "19:c@thread.tacv2", page_size=3)
    await client.close()
    assert [m["id"] for m in members] == [f"29:{n}" for n in range(7)]
    pages = [c for c in stand_in.calls if c[1].endswith("/pagedmembers")]
    assert len(pages) == 3


async def test_no_or_unknown_bearer_token_is_401_with_the_error_shape(stand_in: BotConnectorStandIn) -> None:
    async with aiohttp.ClientSession() as http:
        for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {TOKEN}"}):
            async with http.post(stand_in.base_url + "v3/conversations/a:chat/activities", json={"type": "message", "text": "x"},
                                 headers=headers) as r:
                assert r.status == 401
                body = await r.json()
                assert set(body["error"]) == {"code", "message"}


async def test_429_carries_retry_after_and_the_client_honours_it(stand_in: BotConnectorStandIn) -> None:
    stand_in.throttle(1, retry_after=0)
    client = BotConnector(Tokens())
    assert await client.send(stand_in.base_url, "t", "a:chat", {"type": "message", "text": "hi"})
    stand_in.throttle(1, retry_after=0)
    with pytest.raises(ConnectorError) as raised:
        await client.send(stand_in.base_url, "t", "a:chat", {"type": "message", "text": "hi"}, retry_429=False)
    await client.close()
    assert raised.value.status == 429 and raised.value.code == "Throttled"


async def test_bad_activities_and_unknown_targets_are_refused(stand_in: BotConnectorStandIn) -> None:
    client = BotConnector(Tokens())
    with pytest.raises(ConnectorError) as no_text:
        await client.send(stand_in.base_url, "t", "a:chat", {"type": "message"})
    with pytest.raises(ConnectorError) as unknown:
        await client.send(stand_in.base_url, "t", "a:nowhere", {"type": "message", "text": "x"})
    with pytest.raises(ConnectorError) as not_ours:
        await client.update(stand_in.base_url, "t", "a:chat", "act-999", {"type": "message", "text": "x"})
    posted = await client.reply(stand_in.base_url, "t", "a:chat", "1", {"type": "message", "text": "x", "replyToId": "1"})
    await client.update(stand_in.base_url, "t", "a:chat", posted, {"type": "message", "text": "y"})
    await client.close()
    assert (no_text.value.status, unknown.value.status, not_ours.value.status) == (400, 404, 404)
    assert stand_in.messages("a:chat")[0]["text"] == "y"


async def test_streaming_rules(stand_in: BotConnectorStandIn) -> None:
    client = BotConnector(Tokens())
    url = stand_in.base_url

    def typing(kind: str, seq: int, stream: str | None = None, text: str = "x") -> dict[str, object]:
        info: dict[str, object] = {"type": "streaminfo", "streamType": kind, "streamSequence": seq}
        if stream:
            info["streamId"] = stream
        return {"type": "typing", "text": text, "entities": [info]}

    with pytest.raises(ConnectorError) as channel:
        await client.send(url, "t", "19:c@thread.tacv2", typing("informative", 1))
    with pytest.raises(ConnectorError) as long_informative:
        await client.send(url, "t", "a:chat", typing("informative", 1, text="x" * 1001))
    stream = await client.send(url, "t", "a:chat", typing("informative", 1))
    with pytest.raises(ConnectorError) as skipped:
        await client.send(url, "t", "a:chat", typing("streaming", 3, stream))
    await client.send(url, "t", "a:chat", typing("streaming", 2, stream, "Hello"))
    with pytest.raises(ConnectorError) as shrunk:
        await client.send(url, "t", "a:chat", typing("streaming", 3, stream, "Bye"))
    final = {"type": "message", "text": "Hello world", "entities": [{"type": "streaminfo", "streamType": "final", "streamId": stream}]}
    await client.send(url, "t", "a:chat", final)
    with pytest.raises(ConnectorError) as after_end:
        await client.send(url, "t", "a:chat", typing("streaming", 3, stream, "Hello world!"))
    await client.close()
    assert (channel.value.status, channel.value.code) == (403, "ContentStreamNotAllowed")
    assert long_informative.value.status == 400 and skipped.value.status == 400
    assert (shrunk.value.status, shrunk.value.code) == (403, "ContentStreamNotAllowed")
    assert (after_end.value.status, after_end.value.code) == (403, "ContentStreamNotAllowed")


async def test_a_stream_older_than_two_minutes_is_closed(stand_in: BotConnectorStandIn) -> None:
    now = [0.0]
    stand_in.clock = lambda: now[0]
    client = BotConnector(Tokens())
    info = {"type": "streaminfo", "streamType": "informative", "streamSequence": 1}
    stream = await client.send(stand_in.base_url, "t", "a:chat", {"type": "typing", "text": "x", "entities": [info]})
    now[0] = 121.0
    final = {"type": "message", "text": "late", "entities": [{"type": "streaminfo", "streamType": "final", "streamId": stream}]}
    with pytest.raises(ConnectorError) as late:
        await client.send(stand_in.base_url, "t", "a:chat", final)
    await client.close()
    assert late.value.status == 403 and "exceeded streaming time" in str(late.value)


async def test_create_conversation_needs_the_bot_one_member_and_the_tenant(stand_in: BotConnectorStandIn) -> None:
    client = BotConnector(Tokens())
    made = await client.create_conversation(stand_in.base_url, "t", {"bot": {"id": "28:b"}, "members": [{"id": "29:u"}],
                                                                   "isGroup": False, "tenantId": "t"})
    with pytest.raises(ConnectorError):
        await client.create_conversation(stand_in.base_url, "t", {"bot": {"id": "28:b"}, "members": [{"id": "29:u"}]})
    await client.close()
    assert made in stand_in.conversations
