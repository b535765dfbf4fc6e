"""The conversation service over one :class:`~retrieval.runtime.Runtime`: hybrid search, the
membership store's principals, citation dates and the answer settings, wired the same way for
the server and ``lore ask``; the caller brings who is asking and the per-process state."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.audit import Auditor
from bot.citation_dates import DocumentFactsLookup
from bot.conversation import ConversationService
from bot.identity import PrincipalsLookup
from bot.metrics import Metrics
from bot.threads import ThreadMemory
from bot.turn import AudienceResolver, IdentityResolver
from core.errors import ConfigError
from core.ratelimit import RateLimiter
from retrieval.answer.answerer import Answerer
from retrieval.relevance import RelevanceGate, RelevanceSettings
from retrieval.runtime import Runtime
from retrieval.search import Mode

if TYPE_CHECKING:
    from bot.admin import AdminCommands


def conversation_service(
    runtime: Runtime,
    answerer: Answerer,
    *,
    identities: IdentityResolver,
    audiences: AudienceResolver | None = None,
    rate_limiter: RateLimiter,
    threads: ThreadMemory,
    metrics: Metrics,
    search_workers: int = 0,
    audit: Auditor | None = None,
    admin: AdminCommands | None = None,
    redact: Callable[[str], str] = lambda text: text,
) -> ConversationService:
    """``admin``: the admin commands (bot.admin.admin_commands, with the audit sink); None: a
    message starting with "!" is answered as a question."""
    try:
        gate = RelevanceGate(RelevanceSettings(min_score=runtime.config.answers.min_relevance))
    except ValueError as err:
        raise ConfigError(f"answers.min_relevance: {err}") from None
    return ConversationService(
        search=lambda q, principals: runtime.searcher.search_with_detail(q, principals, mode=Mode.HYBRID),
        relevance=gate,
        answerer=answerer,
        identities=identities,
        audiences=audiences,
        principals_for=PrincipalsLookup(runtime.db),
        document_facts=DocumentFactsLookup(runtime.db),
        stale_after_days=runtime.config.answers.stale_after_days,
        rate_limiter=rate_limiter,
        threads=threads,
        metrics=metrics,
        search_workers=search_workers,
        audit=audit,
        admin=admin,
        redact=redact,
    )
