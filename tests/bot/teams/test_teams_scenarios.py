"""Teams scenarios from the issue, through the real server and the stand-ins: what a channel may
read decides what a channel answer cites; every activity is answered exactly once under load."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from bot.identity import PrincipalsLookup
from bot.turn import Identity
from core.acl import Acl
from core.config import Config
from core.db.tables import DocumentRow
from tests.bot.teams.conftest import (
    CHANNEL,
    PEOPLE,
    Teams,
    activity,
    member,
    percentile,
    stream_latencies,
)

CHANNEL_QUESTIONS = [
    "what is the salary band for L5?",
    "how do I get VPN access?",
    "what are the salary bands for engineers in Berlin?",
    "how much is the parental leave?",
    "who approves expenses?",
]


@pytest.fixture
def teams_tweak() -> Callable[[Config], None]:
    def tweak(cfg: Config) -> None:
        cfg.ratelimit.questions_per_minute = 10_000  # one asker, a hundred questions
    return tweak


def cited_documents(teams: Teams, reply: dict[str, Any]) -> list[DocumentRow]:
    """The indexed documents a reply names (the Claim abstracts carry their source ids)."""
    claims = next(e for e in reply["entities"] if e.get("type") == "https://schema.org/Message").get("citation", [])
    text = json.dumps(claims)
    with teams.surface.events.feedback.db.session() as s:
        rows = s.execute(select(DocumentRow)).scalars().all()
        s.expunge_all()
    return [r for r in rows if r.source_id in text]


async def test_channel_answers_cite_only_what_every_member_may_read(teams: Teams) -> None:
    lookup = PrincipalsLookup(teams.surface.events.feedback.db)
    readers = [lookup(Identity(PEOPLE[aad][1], PEOPLE[aad][2])) for aad in ("aad-carol", "aad-erin")]
    cited_any = False
    for question in CHANNEL_QUESTIONS:
        body = activity(teams.service_url, "channel", question)
        assert await teams.post(body) == 200
        replies = await teams.replies(CHANNEL, count=CHANNEL_QUESTIONS.index(question) + 1)
        (reply,) = [r for r in replies if r["replyToId"] == body["id"]]
        for document in cited_documents(teams, reply):
            cited_any = True
            acl = Acl.from_json(document.acl)
            assert all(acl.allows(principals) for principals in readers), document.source_id
            assert acl.allows(["org:members"]), document.source_id
        assert "hr/confidential" not in json.dumps(reply)
    assert cited_any, "the channel got answers from the documents it may read"


async def test_the_restricted_document_is_cited_to_the_asker_in_private_but_never_in_the_channel(teams: Teams) -> None:
    body = activity(teams.service_url, "channel", "what is the salary band for L5?")
    assert await teams.post(body) == 200
    (public,) = await teams.replies(CHANNEL)
    assert "salary-bands" not in json.dumps(public)
    assert await teams.post(activity(teams.service_url, "personal", "what is the salary band for L5?")) == 200
    (direct,) = await teams.replies("a:personal-carol")
    assert "hr/confidential/salary-bands.md" in json.dumps(direct)


async def test_a_hundred_concurrent_activities_each_answered_once_with_redeliveries(teams: Teams) -> None:
    bodies = []
    for n in range(100):
        conversation = f"a:personal-load-{n}"
        teams.connector.add_conversation(conversation, "personal", [member("aad-carol")])
        bodies.append(activity(teams.service_url, "personal", "how do I get VPN access?", conversation=conversation))
    redelivered = bodies[::3]  # the Bot Connector retries what it saw no answer to in time
    statuses = await asyncio.gather(*(teams.post(b) for b in bodies + redelivered))
    assert set(statuses) == {200}
    for body in bodies:
        await teams.replies(body["conversation"]["id"], timeout=60)
    await asyncio.sleep(0.5)
    for body in bodies:
        finals = teams.connector.messages(body["conversation"]["id"])
        assert len(finals) == 1 and finals[0]["replyToId"] == body["id"]
        assert "general/it-vpn-access.md" in json.dumps(finals[0])
    assert not teams.connector.refused


async def test_twenty_concurrent_askers_see_the_stream_start_within_two_seconds(teams: Teams) -> None:
    """The issue's measure (hash embedder, extractive answers; bench/test_bench_teams_latency.py
    runs it with the real model): the stream must start within 2 s p95."""
    first, final = await stream_latencies(teams, 20)
    print(f"first update p50 {percentile(first, 50):.3f} s p95 {percentile(first, 95):.3f} s; "
          f"final p50 {percentile(final, 50):.3f} s p95 {percentile(final, 95):.3f} s")
    assert percentile(first, 95) < 2.0
