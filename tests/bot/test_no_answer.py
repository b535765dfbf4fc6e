"""Issue 11, items 1, 3 and 5: when nothing permitted answers, the honest reply without asking any
provider, the closest pages the asker may read and who owns them, the same on every surface; and
never a page or a person from a page the asker cannot read.

The handbook index of the conversation tests (hash embedder); the gate's floor is set per test,
since the calibrated default is for the bundled model (tests/retrieval/test_relevance_handbook.py
checks that one with the real model)."""

from __future__ import annotations

import io
import json
from collections.abc import AsyncGenerator, Sequence

from bot.citation_dates import DocumentFactsLookup
from bot.cli.ask import TerminalSink
from bot.conversation import ConversationService
from bot.identity import PrincipalsLookup, StaticIdentityResolver
from bot.metrics import Metrics
from bot.slack import render
from bot.threads import InProcessThreadMemory
from bot.turn import CLOSEST_LABEL, NO_SOURCES_ANSWER, WHO_TO_ASK_LABEL, Audience, Finished, Kind
from core.db import DocumentRow
from core.ratelimit import InProcessRateLimiter
from retrieval.answer.answerer import Answerer
from retrieval.answer.base import Source
from retrieval.answer.extractive import ExtractiveProvider
from retrieval.relevance import RelevanceGate, RelevanceSettings
from retrieval.runtime import Runtime
from retrieval.search import Mode
from tests.bot.test_conversation import CAROL, ERIN, FixedAudience, final, runtime, turn

__all__ = ["runtime"]  # the handbook runtime fixture of the conversation tests

SALARY = "what is the salary band for L5?"
PRIVATE_OWNER = "Joana Ferreira"  # owner of hr/confidential/salary-bands.md only (handbook README)


class Spy:
    """An answer provider that records being asked and declines, citing nothing."""

    name = "spy"

    def __init__(self, text: str = NO_SOURCES_ANSWER) -> None:
        self.text = text
        self.asked: list[str] = []

    async def stream(self, question: str, sources: Sequence[Source]) -> AsyncGenerator[str, None]:
        self.asked.append(question)
        yield self.text

    async def aclose(self) -> None:
        return


def service(
    rt: Runtime,
    provider: object,
    *,
    min_score: float,
    audiences: FixedAudience | None = None,
    facts: object | None = None,
) -> ConversationService:
    return ConversationService(
        search=lambda q, p: rt.searcher.search_with_detail(q, p, mode=Mode.HYBRID),
        answerer=Answerer(provider),  # type: ignore[arg-type]
        identities=StaticIdentityResolver({i.email: i for i in (CAROL, ERIN)}),
        principals_for=PrincipalsLookup(rt.db),
        rate_limiter=InProcessRateLimiter(100),
        threads=InProcessThreadMemory(),
        metrics=Metrics(),
        audiences=audiences,
        document_facts=facts if facts is not None else DocumentFactsLookup(rt.db),  # type: ignore[arg-type]
        relevance=RelevanceGate(RelevanceSettings(min_score=min_score)),
    )


def readable_by(rt: Runtime, email: str) -> set[str]:
    """The source ids of the documents ``email`` may read, from the metadata database."""
    principals = set(PrincipalsLookup(rt.db)(next(i for i in (CAROL, ERIN) if i.email == email)))
    with rt.db.session() as s:
        rows = s.query(DocumentRow.source_id, DocumentRow.acl).all()
    return {sid for sid, acl in rows if all(set(clause) & principals for clause in acl)}


async def test_the_gate_abstains_without_asking_the_provider_and_offers_the_closest_pages(runtime: Runtime) -> None:
    spy = Spy("This must never be shown.")
    result = await final(service(runtime, spy, min_score=2.0), turn(ERIN.email, "Can I bring my dog to the office?"))
    assert isinstance(result, Finished)
    answer = result.answer
    assert spy.asked == []  # no provider call, no quoted filler
    assert answer.text == NO_SOURCES_ANSWER and not answer.found_sources and answer.citations == ()
    assert answer.not_found_reason == "gate" and answer.provider == "none"
    assert 1 <= len(answer.closest) <= 3
    assert len({p.source_id for p in answer.closest}) == len(answer.closest)  # pages, not chunks
    assert {p.source_id for p in answer.closest} <= readable_by(runtime, ERIN.email)


async def test_a_question_that_passes_the_gate_is_answered_as_before(runtime: Runtime) -> None:
    result = await final(service(runtime, ExtractiveProvider(), min_score=0.0), turn(ERIN.email, "How do I get VPN access?"))
    assert isinstance(result, Finished)
    assert result.answer.found_sources and result.answer.citations
    assert result.answer.closest == () and result.answer.not_found_reason == ""


async def test_a_declined_answer_also_offers_the_closest_pages(runtime: Runtime) -> None:
    spy = Spy()  # the model says the sources do not answer
    result = await final(service(runtime, spy, min_score=0.0), turn(ERIN.email, "How do I get VPN access?"))
    assert isinstance(result, Finished) and spy.asked
    assert not result.answer.found_sources and result.answer.not_found_reason == "declined"
    assert result.answer.closest and result.answer.closest[0].source_id == "general/it-vpn-access.md"


async def test_who_to_ask_names_the_owners_of_the_closest_pages(runtime: Runtime) -> None:
    result = await final(service(runtime, Spy(), min_score=2.0), turn(ERIN.email, "How do I get VPN access?"))
    assert isinstance(result, Finished)
    vpn = next(p for p in result.answer.closest if p.source_id == "general/it-vpn-access.md")
    assert vpn.owner == "Rui Almeida (IT)"
    who = result.answer.as_json()["who_to_ask"]
    assert {"owner": "Rui Almeida (IT)", "pages": [vpn.title]} in who or any(
        w["owner"] == "Rui Almeida (IT)" and vpn.title in w["pages"] for w in who
    )


async def test_never_a_page_or_a_person_the_asker_cannot_read(runtime: Runtime) -> None:
    # Only the confidential salary page answers; erin may not read it (nor learn its owner).
    result = await final(service(runtime, Spy(), min_score=2.0), turn(ERIN.email, SALARY))
    assert isinstance(result, Finished)
    shown = json.dumps(result.answer.as_json())
    assert result.answer.closest
    assert {p.source_id for p in result.answer.closest} <= readable_by(runtime, ERIN.email)
    assert "confidential" not in shown and PRIVATE_OWNER not in shown
    # Carol may read it: the same question offers her the page and its owner.
    carol = await final(service(runtime, Spy(), min_score=2.0), turn(CAROL.email, SALARY))
    assert isinstance(carol, Finished)
    assert any(PRIVATE_OWNER in (p.owner or "") for p in carol.answer.closest)


async def test_in_a_channel_the_closest_pages_are_what_everyone_there_may_read(runtime: Runtime) -> None:
    svc = service(runtime, Spy(), min_score=2.0, audiences=FixedAudience(Audience(includes_outsiders=False)))
    result = await final(svc, turn(CAROL.email, SALARY, Kind.CHANNEL))
    assert isinstance(result, Finished) and result.answer.restricted_to_audience
    shown = json.dumps(result.answer.as_json())
    assert "confidential" not in shown and PRIVATE_OWNER not in shown


async def test_a_failing_facts_lookup_still_gives_the_pages_without_owners(runtime: Runtime) -> None:
    def broken(ids: list[str]) -> dict[str, object]:
        raise TimeoutError("database unavailable")

    result = await final(service(runtime, Spy(), min_score=2.0, facts=broken), turn(ERIN.email, "How do I get VPN access?"))
    assert isinstance(result, Finished)
    assert result.answer.closest and all(p.owner is None and p.updated_at is None for p in result.answer.closest)


async def test_every_surface_shows_the_same_labels_pages_and_people(runtime: Runtime) -> None:
    result = await final(service(runtime, Spy(), min_score=2.0), turn(ERIN.email, "How do I get VPN access?"))
    assert isinstance(result, Finished)
    answer = result.answer
    titles = [p.title for p in answer.closest]

    data = answer.as_json()  # the web chat renders this
    assert data["closest_label"] == CLOSEST_LABEL and data["who_to_ask_label"] == WHO_TO_ASK_LABEL
    assert [p["title"] for p in data["closest"]] == titles

    slack = json.dumps(render.answer_blocks(answer, feedback_ref="r1"))
    assert CLOSEST_LABEL in slack and WHO_TO_ASK_LABEL in slack and "Rui Almeida (IT)" in slack
    assert all(t in slack for t in titles)
    assert "Sources" not in slack

    out = io.StringIO()
    sink = TerminalSink(as_json=False, out=out)
    await sink.finish(answer)
    text = out.getvalue()
    assert CLOSEST_LABEL in text and WHO_TO_ASK_LABEL in text and "Rui Almeida (IT)" in text
    assert all(t in text for t in titles) and "Sources:" not in text


def test_owner_and_title_text_cannot_ping_or_format_in_slack() -> None:
    from bot.turn import Answer, ClosestPage

    hostile = ClosestPage("<!channel> *Urgent*", "https://wiki.example/p", "p.md", owner="<!here> <@U123> _x_")
    answer = Answer(NO_SOURCES_ANSWER, (), found_sources=False, restricted_to_audience=False,
                    provider="none", fell_back=False, thread_id="t", closest=(hostile,))
    texts = [e["text"] for b in render.answer_blocks(answer) if b["type"] == "context" for e in b["elements"]]
    joined = " ".join(texts)
    assert "<!channel>" not in joined and "<!here>" not in joined and "<@U123>" not in joined
    assert "&lt;!here&gt;" in joined and "&lt;!channel&gt;" in joined
    assert all(e.get("verbatim") is True for b in render.answer_blocks(answer) if b["type"] == "context"
               for e in b["elements"])
