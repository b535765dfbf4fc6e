"""Teams end to end: signed activities to the real server, answers to the Bot Connector stand-in.
Asserts what the bot posted, where (conversation, thread, replyToId), from whose access, and the
exact shape of the answer activity."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from sqlalchemy import select

from core.db.tables import AnswerFeedback
from tests.bot.teams.conftest import (
    APP_TOKEN,
    BOT,
    CHANNEL,
    GROUP,
    PERSONAL,
    TENANT,
    Teams,
    activity,
)

SALARY = "what is the salary band for L5?"
VPN = "how do I get VPN access?"


def dumped(message: dict[str, Any]) -> str:
    return json.dumps(message)


def ai_entity(message: dict[str, Any]) -> dict[str, Any]:
    (entity,) = [e for e in message["entities"] if e.get("type") == "https://schema.org/Message"]
    return entity


async def test_personal_chat_answer_is_a_reply_with_citations_ai_label_and_feedback(teams: Teams) -> None:
    body = activity(teams.service_url, "personal", VPN)
    assert await teams.post(body) == 200
    (reply,) = await teams.replies(PERSONAL)
    assert reply["replyToId"] == body["id"]
    assert reply["from"] == BOT and reply["recipient"]["id"] == "29:carol"
    assert reply["conversation"] == {"id": PERSONAL}
    assert reply["textFormat"] == "markdown" and reply["channelData"] == {"feedbackLoopEnabled": True}
    entity = ai_entity(reply)
    assert entity["additionalType"] == ["AIGeneratedContent"] and entity["@type"] == "Message"
    positions = [c["position"] for c in entity["citation"]]
    assert positions and set(positions) <= {int(n) for n in re.findall(r"\[(\d+)\]", reply["text"])}
    for claim in entity["citation"]:
        assert claim["@type"] == "Claim" and claim["appearance"]["@type"] == "DigitalDocument"
        assert len(claim["appearance"]["name"]) <= 80 and len(claim["appearance"]["abstract"]) <= 160
    assert teams.tokens.asked and all(t == (TENANT, "https://api.botframework.com/.default") for t in teams.tokens.asked)


async def test_typing_is_shown_before_the_answer(teams: Teams) -> None:
    body = activity(teams.service_url, "personal", VPN)
    assert await teams.post(body) == 200
    await teams.replies(PERSONAL)
    kinds = [a["type"] for a in teams.connector.conversations[PERSONAL].activities]
    assert kinds[0] == "typing" and kinds[-1] == "message"


async def test_direct_chat_uses_the_askers_own_access(teams: Teams) -> None:
    assert await teams.post(activity(teams.service_url, "personal", SALARY)) == 200
    (reply,) = await teams.replies(PERSONAL)
    assert "hr/confidential/salary-bands.md" in dumped(reply)


async def test_channel_mention_answers_in_the_thread_from_org_documents_only(teams: Teams) -> None:
    body = activity(teams.service_url, "channel", SALARY)
    assert await teams.post(body) == 200
    (reply,) = await teams.replies(CHANNEL)
    assert reply["_conversation"] == body["conversation"]["id"]  # the thread: ;messageid=<root>
    assert reply["replyToId"] == body["id"]
    assert "salary-bands" not in dumped(reply) and "confidential" not in dumped(reply)
    card = reply["attachments"][0]["content"]["buttons"][0]
    assert card["type"] == "messageBack" and card["value"] == {"action": "lore_private_answer", "question": SALARY}
    assert ("GET", f"/v3/conversations/{CHANNEL}/pagedmembers") in teams.connector.calls


async def test_a_channel_message_without_a_mention_entity_is_not_a_question(teams: Teams) -> None:
    body = activity(teams.service_url, "channel", VPN, mention=False)
    body["text"] = f"<at>Lore</at> {VPN}"  # typed, not a mention: Teams adds no entity for it
    assert await teams.post(body) == 200
    await asyncio.sleep(0.5)
    assert not teams.connector.messages(CHANNEL)


async def test_group_chat_with_a_guest_uses_nothing_only_members_may_read(teams: Teams) -> None:
    assert await teams.post(activity(teams.service_url, "groupChat", SALARY)) == 200
    (reply,) = await teams.replies(GROUP)
    assert "salary-bands" not in dumped(reply)
    assert "guests" in reply["text"]


async def test_private_answer_goes_to_a_new_one_to_one_chat_with_the_askers_access(teams: Teams) -> None:
    body = activity(teams.service_url, "channel", "", mention=False, value={"action": "lore_private_answer", "question": SALARY})
    assert await teams.post(body) == 200
    (private,) = await teams.replies("a:personal-29:carol")
    assert "hr/confidential/salary-bands.md" in dumped(private)
    assert "replyToId" not in private
    assert not teams.connector.messages(CHANNEL)
    # The question is the 1:1 chat's thread now: a follow-up asked there continues it.
    chat = "a:personal-29:carol"
    threads = teams.surface.events.conversation.threads
    assert await threads.questions(f"teams:{TENANT}:{chat}:{chat}:aad-carol") == [SALARY]


async def test_feedback_invoke_is_recorded(teams: Teams) -> None:
    invoke = activity(teams.service_url, "personal", "", type="invoke", name="message/submitAction", replyToId="act-7",
                      value={"actionName": "feedback", "actionValue": {"reaction": "dislike", "feedback": '{"feedbackText":"x"}'}})
    assert await teams.post(invoke) == 200
    with teams.surface.events.feedback.db.session() as s:
        rows = s.execute(select(AnswerFeedback)).scalars().all()
        assert [(r.platform, r.workspace, r.user_id, r.answer_ref, r.helpful) for r in rows] == [
            ("teams", TENANT, "aad-carol", f"{PERSONAL}:act-7", False)]


async def test_a_redelivered_activity_is_answered_once(teams: Teams) -> None:
    body = activity(teams.service_url, "personal", VPN)
    assert await teams.post(body) == 200
    assert await teams.post(body) == 200
    await teams.replies(PERSONAL)
    await asyncio.sleep(0.5)
    assert len(teams.connector.messages(PERSONAL)) == 1


async def test_a_throttled_reply_waits_for_retry_after(teams: Teams) -> None:
    teams.connector.throttle(2, retry_after=0)
    assert await teams.post(activity(teams.service_url, "personal", VPN)) == 200
    (reply,) = await teams.replies(PERSONAL)
    assert [code for _, status, code in teams.connector.refused] == ["Throttled", "Throttled"]
    assert reply["type"] == "message"


async def test_the_bot_connector_refuses_a_reply_without_the_app_token(teams: Teams) -> None:
    teams.connector.tokens.discard(APP_TOKEN)
    assert await teams.post(activity(teams.service_url, "personal", VPN)) == 200
    await asyncio.sleep(1.0)
    assert not teams.connector.messages(PERSONAL)
    assert {s for _, s, _ in teams.connector.refused} == {401}


async def test_the_request_is_acknowledged_before_the_answer_is_written(teams: Teams) -> None:
    gate = asyncio.Event()
    original = teams.tokens.token

    async def slow(tenant_id: str, scope: str) -> str:
        await gate.wait()  # the Bot Connector token (and so every reply) waits
        return await original(tenant_id, scope)

    teams.tokens.token = slow  # type: ignore[method-assign]
    started = asyncio.get_running_loop().time()
    assert await teams.post(activity(teams.service_url, "personal", VPN)) == 200
    assert asyncio.get_running_loop().time() - started < 2.0
    assert not teams.connector.messages(PERSONAL)
    gate.set()
    assert len(await teams.replies(PERSONAL)) == 1


async def test_a_multi_tenant_bot_gets_its_connector_tokens_from_botframework_com(teams: Teams) -> None:
    teams.surface.connector.multi_tenant = True
    assert await teams.post(activity(teams.service_url, "personal", VPN)) == 200
    await teams.replies(PERSONAL)
    assert {t for t, _ in teams.tokens.asked} == {"botframework.com"}
