"""Issue 11, item 4: an answer whose cited pages all last changed more than
``answers.stale_after_days`` ago says so under the answer, with the date, on every surface."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.citation_dates import DocumentFacts
from bot.conversation import ConversationService
from bot.identity import PrincipalsLookup, StaticIdentityResolver
from bot.metrics import Metrics
from bot.slack import render
from bot.threads import InProcessThreadMemory
from bot.turn import Finished
from core.ratelimit import InProcessRateLimiter
from retrieval.answer.answerer import Answerer
from retrieval.answer.extractive import ExtractiveProvider
from retrieval.runtime import Runtime
from retrieval.search import Mode
from tests.bot.test_conversation import CAROL, final, runtime, turn

__all__ = ["runtime"]  # the handbook runtime fixture of the conversation tests

NOW = datetime(2026, 12, 4, tzinfo=UTC)


def service(rt: Runtime, dates: dict[str, datetime | None], *, after_days: int = 365) -> ConversationService:
    """The service with each document's last change at ``dates[id]`` (else ``dates["*"]``; None:
    unknown)."""

    def document_facts(ids: list[str]) -> dict[str, DocumentFacts]:
        found = {i: dates.get(i, dates.get("*")) for i in ids}
        return {i: DocumentFacts(updated_at=d, owner=None) for i, d in found.items() if d is not None}

    return ConversationService(
        search=lambda q, p: rt.searcher.search_with_detail(q, p, mode=Mode.HYBRID),
        answerer=Answerer(ExtractiveProvider()),
        identities=StaticIdentityResolver({CAROL.email: CAROL}),
        principals_for=PrincipalsLookup(rt.db),
        rate_limiter=InProcessRateLimiter(100),
        threads=InProcessThreadMemory(),
        metrics=Metrics(),
        document_facts=document_facts,
        stale_after_days=after_days,
        now=lambda: NOW,
    )


async def answer_with(rt: Runtime, dates: dict[str, datetime | None], **kw: int) -> Finished:
    svc = service(rt, dates, **kw)
    try:
        result = await final(svc, turn(CAROL.email, "How do I get VPN access?"))
    finally:
        svc.close()
    assert isinstance(result, Finished) and result.answer.citations
    return result


async def test_all_old_sources_say_so_with_the_newest_date(runtime: Runtime) -> None:
    old = NOW - timedelta(days=500)
    answer = (await answer_with(runtime, {"*": old})).answer
    assert answer.stale_since == old
    assert f"the newest on {old:%Y-%m-%d}" in answer.stale_note and "365 days" in answer.stale_note
    assert answer.as_json()["stale_note"] == answer.stale_note  # the web chat's final event
    blocks = render.answer_blocks(answer)
    assert any(answer.stale_note in str(b) for b in blocks if b["type"] == "context")


async def test_one_recent_or_undated_source_means_not_stale(runtime: Runtime) -> None:
    old, recent = NOW - timedelta(days=500), NOW - timedelta(days=3)
    first = await answer_with(runtime, {"*": old})
    cited = first.answer.citations[0].document_id
    assert (await answer_with(runtime, {"*": old, cited: recent})).answer.stale_note == ""
    # A page whose date is unknown is not called stale.
    undated = (await answer_with(runtime, {"*": old, cited: None})).answer
    assert any(c.updated_at is None for c in undated.citations) and undated.stale_note == ""


@pytest.mark.parametrize("after_days", [0, -1])
async def test_zero_days_means_never(runtime: Runtime, after_days: int) -> None:
    answer = (await answer_with(runtime, {"*": NOW - timedelta(days=5000)}, after_days=after_days)).answer
    assert answer.stale_since is None and answer.stale_note == ""
