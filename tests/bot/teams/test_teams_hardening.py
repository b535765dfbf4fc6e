"""Defects found by reviewing the Teams surface as an attacker, each reproduced here: an activity
from another channel of the same bot, links disguised in answers, message ids that repeat
across conversations, a malformed mention, feedback from nobody."""

from __future__ import annotations

import json

from sqlalchemy import select

from bot.teams.markdown import escape, to_teams_markdown
from core.db.tables import AnswerFeedback
from tests.bot.teams.conftest import PERSONAL, Teams, activity, member
from tests.fakes.bot_tokens import new_key

VPN = "How do I get VPN access?"


async def test_an_activity_from_another_channel_of_the_bot_is_refused(teams: Teams) -> None:
    # The Bot Framework's keys are endorsed for many channels; Web Chat / Direct Line clients
    # write from.aadObjectId, channelData.tenant and the conversation themselves.
    shared = new_key("key-shared", ["msteams", "webchat", "directline"])
    teams.issuer.published.append(shared)
    body = activity(teams.service_url, "personal", VPN, channelId="webchat")
    assert await teams.post(body, teams.issuer.token(teams.service_url, key=shared)) == 403
    assert teams.connector.messages(PERSONAL) == []
    teams_body = activity(teams.service_url, "personal", VPN)  # the same key, from Teams: answered
    assert await teams.post(teams_body, teams.issuer.token(teams.service_url, key=shared)) == 200
    assert await teams.replies(PERSONAL)


def test_a_link_to_an_uncited_host_shows_the_host() -> None:
    text = to_teams_markdown("[Sign in to VPN](https://evil.example/login) or [the portal](https://it.example/vpn) [1]",
                             ["https://it.example/vpn"])
    assert "[Sign in to VPN (evil.example)](https://evil.example/login)" in text
    assert "[the portal](https://it.example/vpn)" in text  # a cited source stays as it is
    assert "[1 (evil.example)](https://evil.example)" in to_teams_markdown("[1](https://evil.example)")


def test_a_citation_marker_cannot_become_a_link() -> None:
    for hostile in ("See [1](https://evil.example/x)", "[1][x]", "[1]: https://evil.example"):
        assert "[1](" not in escape(hostile) and "[1][" not in escape(hostile) and "[1]:" not in escape(hostile)
    assert escape("as the handbook says [2].") == "as the handbook says [2]."


async def test_the_same_message_id_in_two_conversations_is_answered_in_both(teams: Teams) -> None:
    other = "a:personal-erin"
    teams.connector.add_conversation(other, "personal", [member("aad-erin")])
    first = activity(teams.service_url, "personal", VPN, activity_id="1675173753869")
    second = activity(teams.service_url, "personal", VPN, user="aad-erin", conversation=other,
                      activity_id="1675173753869")
    assert await teams.post(first) == 200 and await teams.post(second) == 200
    assert await teams.replies(PERSONAL) and await teams.replies(other)


async def test_a_mention_without_text_is_a_bad_request_not_a_server_error(teams: Teams) -> None:
    body = activity(teams.service_url, "channel", VPN)
    body["entities"] = [{"type": "mention", "mentioned": {"id": body["recipient"]["id"]}}]
    assert await teams.post(body) in (200, 400)


async def test_feedback_from_no_one_is_not_recorded(teams: Teams) -> None:
    invoke = activity(teams.service_url, "personal", "", type="invoke", name="message/submitAction", replyToId="act-8",
                      value={"actionName": "feedback", "actionValue": {"reaction": "like", "feedback": "{}"}})
    invoke["from"] = {"id": "29:someone"}  # no Microsoft Entra object id
    assert await teams.post(invoke) == 200
    with teams.surface.events.feedback.db.session() as s:
        assert s.execute(select(AnswerFeedback)).scalars().all() == []
    assert json.dumps(invoke)  # the body itself was well-formed
