"""The platform-neutral conversation service: a `Turn` in, a stream of events out.

Every chat adapter (web chat, Slack, Teams) only translates its platform's events into a
:class:`Turn` and renders the events; identity, audience policy, retrieval, answering and limits
live here, once. Deny by default at every step: an unknown identity, an audience that cannot be
determined, a failing membership lookup all narrow what the answer may use, never widen it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot.audience import scope_for
from bot.audit import Auditor
from bot.citation_dates import DocumentFacts
from bot.closest import closest_pages
from bot.metrics import Metrics
from bot.question_audit import QuestionTrace, question_event
from bot.threads import ThreadMemory
from bot.turn import (
    UNKNOWN_AUDIENCE,
    Answer,
    Audience,
    AudienceResolver,
    Citation,
    ClosestPage,
    Delta,
    Event,
    Finished,
    Identity,
    IdentityResolver,
    Kind,
    Notice,
    PrincipalsFor,
    Refused,
    Reset,
    Status,
    Turn,
)
from core.audit.events import AuditEvent
from core.db import as_utc
from core.ratelimit import Decision, RateLimiter
from retrieval.answer.answerer import Answerer
from retrieval.answer.base import Done, Exchange
from retrieval.index.base import Hit
from retrieval.relevance import RelevanceGate, compute_signals
from retrieval.search import SearchDetail

if TYPE_CHECKING:
    from bot.admin.commands import AdminCommands

log = logging.getLogger("lore.conversation")

MAX_QUESTION_CHARS = 4000

# Question + principals -> the permitted hits and the lists they were fused from (the relevance
# gate reads those).
Search = Callable[[str, list[str]], SearchDetail]


def stale_note(since: datetime, after_days: int) -> str:
    """The sentence under an answer whose sources are all old (one wording for every surface)."""
    return (f"Every page this answer cites was last updated more than {after_days} days ago "
            f"(the newest on {since:%Y-%m-%d}); check that it is still current.")
DocumentFactsFor = Callable[[list[str]], Mapping[str, DocumentFacts]]  # document ids -> facts


class ConversationService:
    def __init__(
        self,
        *,
        search: Search,
        answerer: Answerer,
        identities: IdentityResolver,
        principals_for: PrincipalsFor,
        rate_limiter: RateLimiter,
        threads: ThreadMemory,
        metrics: Metrics,
        audiences: AudienceResolver | None = None,
        search_workers: int = 0,
        document_facts: DocumentFactsFor | None = None,
        stale_after_days: int = 365,
        relevance: RelevanceGate | None = None,
        audit: Auditor | None = None,
        redact: Callable[[str], str] = lambda text: text,
        admin: AdminCommands | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.search = search
        self.answerer = answerer
        self.identities = identities
        self.principals_for = principals_for
        self.rate_limiter = rate_limiter
        self.threads = threads
        self.metrics = metrics
        self.audiences = audiences
        self.document_facts = document_facts
        self.stale_after_days = stale_after_days
        self.relevance = relevance  # None: every permitted hit goes to the answerer
        self.audit = audit  # None: nothing recorded (tests of other behaviour)
        self.redact = redact  # the secret store's redactor, for what is kept beyond the answer
        self.admin = admin  # None: a message starting with "!" is an ordinary question
        self.now = now
        # Retrieval (query embedding + index searches) is CPU-bound and slow next to everything
        # else; on its own pool, sized to the cores, it cannot starve the quick lookups that use
        # the default pool (principals, audiences), and it queues instead of thrashing.
        self._search_pool = ThreadPoolExecutor(
            max_workers=search_workers or (os.cpu_count() or 2), thread_name_prefix="lore-search"
        )

    def close(self) -> None:
        self._search_pool.shutdown(wait=False, cancel_futures=True)

    async def ask(self, turn: Turn) -> AsyncGenerator[Event, None]:
        started = time.perf_counter()
        trace = QuestionTrace(turn)
        try:
            async for event in self._ask(turn, started, trace):
                if isinstance(event, Refused):
                    trace.outcome = f"refused_{event.code}"
                elif isinstance(event, Finished):
                    answer = event.answer
                    trace.outcome = "answered" if answer.found_sources else f"not_found_{answer.not_found_reason}"
                    trace.cited = [c.document_id for c in answer.citations]
                    trace.provider = answer.provider
                elif isinstance(event, Notice):
                    trace.outcome = "admin"
                yield event
        finally:
            trace.latency_ms = (time.perf_counter() - started) * 1000
            self.metrics.questions.labels(platform=turn.platform, outcome=trace.outcome).inc()
            if self.audit is not None and not trace.admin:  # admin commands audit themselves
                self.audit.record_later(lambda: self._record(trace))

    async def _record(self, trace: QuestionTrace) -> None:
        assert self.audit is not None
        audit = self.audit
        try:
            event = await question_event(trace, audit.question_fields, self._own_hits)
        except Exception as exc:  # noqa: BLE001 - the question is still recorded, without "withheld"
            log.warning("withheld documents not computed for the audit log", extra={"error": exc.__class__.__name__})
            event = await question_event(trace, audit.question_fields, None)
        await audit.record(event)
        turn = trace.turn
        if turn.private and turn.kind is not Kind.DIRECT:
            await audit.record(AuditEvent("private_answer", actor=event.actor, platform=turn.platform,
                                          details={"conversation": turn.kind.value,
                                                   "conversation_id": turn.conversation_id}))

    async def _own_hits(self, question: str, principals: list[str]) -> list[str]:
        loop = asyncio.get_running_loop()
        detail = await loop.run_in_executor(self._search_pool, self.search, question, principals)
        return [h.document_id for h in detail.hits]

    async def _ask(self, turn: Turn, started: float, trace: QuestionTrace) -> AsyncGenerator[Event, None]:
        text = turn.text.strip()
        if not text:
            yield Refused("Ask me a question about the company's documents.", "empty")
            return
        if len(text) > MAX_QUESTION_CHARS:
            yield Refused(f"That question is too long ({len(text)} characters; the limit is {MAX_QUESTION_CHARS}).", "too_long")
            return
        # Per account first, before any lookup: an account spamming questions must not spend
        # the platform's API quota (users.info) that everybody's identity lookups share.
        decision = await self.rate_limiter.acquire(f"account:{turn.platform}:{turn.workspace}:{turn.user_id}")
        if not decision.allowed:
            limited = self._limited(decision)
            if self.admin is not None and self.admin.wants(text):  # audited like any attempt
                yield await self.admin.run(turn, None, [], limited=limited)
            else:
                yield limited
            return
        t = time.perf_counter()
        try:
            identity = await self.identities.resolve(turn)
        except Exception:
            log.exception("identity lookup failed", extra={"platform": turn.platform})
            identity = None
        trace.identity = identity
        if self.admin is not None and self.admin.wants(text):
            trace.admin = True
            yield await self._admin(turn, identity)
            return
        if identity is None:
            yield Refused("I couldn't verify who you are, so I can't search documents for you.", "identity")
            return
        # Per person, not per chat account: one person with accounts on two surfaces (or in
        # two workspaces) shares one quota. Identities are cached, so lookups stay cheap.
        decision = await self.rate_limiter.acquire(f"person:{identity.email}")
        if not decision.allowed:
            yield self._limited(decision)
            return
        asker = await asyncio.to_thread(self.principals_for, identity)
        audience: Audience | None = None
        if not turn.private and turn.kind is not Kind.DIRECT:
            audience = await self._audience(turn)
        scope = scope_for(turn.private, asker, audience, self.principals_for)
        trace.asker_principals, trace.restricted = list(asker), scope.restricted_to_audience
        self.metrics.observe("identity", time.perf_counter() - t)

        thread_key = f"{turn.platform}:{turn.workspace}:{turn.conversation_id}:{turn.thread_id}:{turn.user_id}"
        history = await self.threads.questions(thread_key)
        question = trace.question = text
        if history:
            t = time.perf_counter()
            question = trace.question = await self.answerer.rewrite_question(text, [Exchange(q) for q in history])
            self.metrics.observe("rewrite", time.perf_counter() - t)

        yield Status("retrieving")
        t = time.perf_counter()
        hits: Sequence[Hit] = []
        passes = False
        if scope.principals:
            loop = asyncio.get_running_loop()
            detail = await loop.run_in_executor(self._search_pool, self.search, question, scope.principals)
            hits = detail.hits
            trace.retrieved = [h.document_id for h in hits]
            passes = bool(hits) and (self.relevance is None or self.relevance.answers(compute_signals(question, detail)))
        retrieval_s = time.perf_counter() - t
        self.metrics.observe("retrieval", retrieval_s)

        yield Status("answering")
        t_answer = time.perf_counter()
        first_token: float | None = None
        # Nothing likely to answer: no provider is asked (answer() with no hits is the honest
        # sentence); the hits still offer the closest pages.
        async for event in self.answerer.answer(question, hits if passes else []):
            if isinstance(event, Delta):
                if first_token is None:
                    first_token = time.perf_counter()
                    self.metrics.observe("first_token", first_token - started)
                yield event
            elif isinstance(event, Reset):
                yield event
            elif isinstance(event, Done):
                final = event.final
                if final.fell_back:
                    self.metrics.fallbacks.inc()
                    self.metrics.provider_errors.labels(provider=self.answerer.provider_name).inc()
                now = time.perf_counter()
                self.metrics.observe("answer", now - t_answer)
                self.metrics.observe("total", now - started)
                # Thread memory may be Redis, shared and persisted: a secret pasted into a
                # question is kept there masked, as in the logs.
                await self.threads.remember(thread_key, self.redact(question))
                closest_hits = [] if final.found_sources else list(hits)
                facts = await self._facts([c.document_id for c in final.citations] + [h.document_id for h in closest_hits])
                citations = tuple(replace(c, updated_at=facts[c.document_id].updated_at) if c.document_id in facts else c
                                  for c in final.citations)
                closest: tuple[ClosestPage, ...] = closest_pages(closest_hits, facts)
                reason = "" if final.found_sources else "none" if not hits else "declined" if passes else "gate"
                stale_since = self._stale_since(citations)
                yield Finished(
                    Answer(
                        text=final.text,
                        citations=citations,
                        found_sources=final.found_sources,
                        restricted_to_audience=scope.restricted_to_audience,
                        provider=final.provider,
                        fell_back=final.fell_back,
                        thread_id=turn.thread_id,
                        note=scope.note,
                        stale_since=stale_since,
                        stale_note=stale_note(stale_since, self.stale_after_days) if stale_since else "",
                        closest=closest,
                        not_found_reason=reason,
                        timing_ms={
                            "retrieval": round(retrieval_s * 1000, 2),
                            "answer": round(event.timings.total_ms, 2),
                            # everything else: limits, identity, audience, thread memory, events
                            "overhead": round((now - started - retrieval_s) * 1000 - event.timings.total_ms, 2),
                            "first_token": round(((first_token or now) - started) * 1000, 2),
                            "total": round((now - started) * 1000, 2),
                        },
                    )
                )

    async def _admin(self, turn: Turn, identity: Identity | None) -> Refused | Notice:
        """An admin command: rate limited per person like a question, refused or answered by
        bot.admin (which audits every attempt)."""
        assert self.admin is not None
        principals: list[str] = []
        if identity is not None:
            decision = await self.rate_limiter.acquire(f"person:{identity.email}")
            if not decision.allowed:
                return await self.admin.run(turn, identity, [], limited=self._limited(decision))
            principals = await asyncio.to_thread(self.principals_for, identity)
        return await self.admin.run(turn, identity, principals)

    def _limited(self, decision: Decision) -> Refused:
        self.metrics.rate_limited.inc()
        wait = max(1, round(decision.retry_after))
        return Refused(f"You're asking faster than I can answer; try again in {wait} s.", "rate_limited", decision.retry_after)

    async def _facts(self, document_ids: list[str]) -> Mapping[str, DocumentFacts]:
        """When each document last changed and who owns it, from the metadata database; nothing
        when the lookup fails (the answer then shows no dates, no stale note and no owners)."""
        if not document_ids or self.document_facts is None:
            return {}
        try:
            return await asyncio.to_thread(self.document_facts, sorted(set(document_ids)))
        except Exception:
            log.exception("document facts lookup failed")
            return {}

    def _stale_since(self, citations: tuple[Citation, ...]) -> datetime | None:
        """When the newest cited page last changed, if every cited page is older than
        ``stale_after_days`` (a page whose date is unknown is not called stale)."""
        if self.stale_after_days <= 0 or not citations or any(c.updated_at is None for c in citations):
            return None
        newest = max(as_utc(c.updated_at) for c in citations if c.updated_at is not None)
        return newest if newest < self.now() - timedelta(days=self.stale_after_days) else None

    async def _audience(self, turn: Turn) -> Audience:
        if self.audiences is None:
            return UNKNOWN_AUDIENCE
        try:
            return await self.audiences.audience(turn)
        except Exception:
            log.exception("audience lookup failed", extra={"platform": turn.platform})
            return UNKNOWN_AUDIENCE
