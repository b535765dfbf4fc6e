"""Inbound activities -> what Lore acts on: conversation kinds, mentions, threads, tenants."""

from __future__ import annotations

from bot.teams.activities import parse, tenant_of
from bot.turn import Kind
from tests.bot.teams.conftest import CHANNEL, TENANT, activity

URL = "https://smba.trafficmanager.net/emea/"


def test_kinds_and_thread_ids() -> None:
    personal = parse(activity(URL, "personal", "hi"))
    group = parse(activity(URL, "groupChat", "hi"))
    channel = parse(activity(URL, "channel", "hi", activity_id="1700"))
    assert personal and group and channel
    assert [i.kind for i in (personal, group, channel)] == [Kind.DIRECT, Kind.GROUP, Kind.CHANNEL]
    turn = channel.turn()
    assert turn is not None
    assert (turn.conversation_id, turn.thread_id) == (CHANNEL, f"{CHANNEL};messageid=1700")
    follow_up = parse(activity(URL, "channel", "and then?", conversation=f"{CHANNEL};messageid=1700"))
    assert follow_up is not None and follow_up.turn() is not None
    assert follow_up.turn().thread_id == turn.thread_id  # type: ignore[union-attr]  # one thread, one memory
    assert (turn.platform, turn.workspace, turn.user_id) == ("teams", TENANT, "aad-carol")


def test_the_mention_entity_decides_and_its_text_is_stripped() -> None:
    inbound = parse(activity(URL, "channel", "how do I get <at>Erin</at> VPN &amp; <b>access</b>?"))
    assert inbound is not None and inbound.mentioned
    assert inbound.text == "how do I get Erin VPN & access ?"
    typed = activity(URL, "channel", "x", mention=False)
    typed["text"] = "<at>Lore</at> x"
    typed_in = parse(typed)
    assert typed_in is not None and not typed_in.mentioned
    someone_else = activity(URL, "channel", "x", mention=False)
    someone_else["entities"] = [{"type": "mention", "text": "<at>Lore</at>", "mentioned": {"id": "28:another-bot", "name": "Lore"}}]
    someone_else["text"] = "<at>Lore</at> x"
    other = parse(someone_else)
    assert other is not None and not other.mentioned


def test_unknown_conversation_types_and_senders_without_entra_ids_make_no_turn() -> None:
    odd = parse(activity(URL, "personal", "hi", conversation="c1") | {"conversation": {"id": "c1", "conversationType": "meeting"}})
    assert odd is not None and odd.kind is None and odd.turn() is None
    anonymous = activity(URL, "personal", "hi")
    anonymous["from"] = {"id": "29:x", "name": "x"}
    parsed = parse(anonymous)
    assert parsed is not None and parsed.turn() is None


def test_tenant_from_channel_data_else_the_conversation() -> None:
    assert tenant_of({"channelData": {"tenant": {"id": "t1"}}, "conversation": {"tenantId": "t2"}}) == "t1"
    assert tenant_of({"conversation": {"tenantId": "t2"}}) == "t2"
    assert tenant_of({"channelData": "x", "conversation": []}) == ""
    assert tenant_of({"channelData": {"tenant": {"id": " ABCDEF01-aa "}}}) == "abcdef01-aa"  # GUIDs, any case
