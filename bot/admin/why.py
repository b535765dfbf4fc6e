"""``!why <question>``: what a search with the admin's own access retrieves, and why an answer
came out as it did.

For each retrieved document: its title, id and best passage score, and whether a shared
conversation of full members would withhold it (the audience policy, bot.audience, lets such a
conversation use only what ``org:members`` may read); then whether the relevance gate would let
the language model answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import select

from bot.admin.messages import WHY_USAGE
from bot.audience import scope_for
from bot.turn import Audience
from core.acl import Acl, PrincipalError
from core.db import Database, DocumentRow
from retrieval.relevance import RelevanceGate, compute_signals
from retrieval.search import SearchDetail

Search = Callable[[str, list[str]], SearchDetail]  # as bot.conversation.Search
FULL_MEMBERS_ONLY = Audience(includes_outsiders=False)


def _acls(db: Database, document_ids: Sequence[str]) -> dict[str, Acl | None]:
    with db.session() as s:
        rows = s.execute(select(DocumentRow.id, DocumentRow.acl).where(DocumentRow.id.in_(list(document_ids)))).all()
    out: dict[str, Acl | None] = {}
    for doc_id, acl in rows:
        try:
            out[doc_id] = Acl.from_json(acl or [])
        except (PrincipalError, TypeError):
            out[doc_id] = None  # unreadable: treated as withheld
    return out


def _gate(relevance: RelevanceGate | None, question: str, detail: SearchDetail) -> str:
    if not detail.hits:
        return "no permitted passage: would say nothing was found"
    if relevance is None:
        return "no gate configured: the passages go to the language model"
    signals = compute_signals(question, detail)
    verdict = "would answer" if relevance.answers(signals) else "would not answer (the reply says nothing was found)"
    return f"score {signals.score:.3f} against a minimum of {relevance.settings.min_score:.3f}: {verdict}"


def explain(db: Database, search: Search, relevance: RelevanceGate | None, question: str,
            principals: Sequence[str], *, whose: str = "your") -> str:
    """``whose``: whose access the search used, as the text names it ("your", "erin@...'s")."""
    question = question.strip()
    if not question:
        return WHY_USAGE
    detail = search(question, list(principals))
    if not detail.hits:
        return f"A search with {whose} access retrieves nothing for that question, so I would say I found nothing."
    best: dict[str, tuple[str, float]] = {}
    for hit in detail.hits:  # best passage per document, in rank order
        if hit.document_id not in best or hit.score > best[hit.document_id][1]:
            best[hit.document_id] = (hit.title or hit.source_id, hit.score)
    shared = scope_for(False, principals, FULL_MEMBERS_ONLY, lambda _identity: [])
    acls = _acls(db, list(best))
    noun = "document" if len(best) == 1 else "documents"
    lines = [f"A search with {whose} access retrieves {len(best)} {noun} ({len(detail.hits)} passages):"]
    withheld = 0
    for doc_id, (title, score) in best.items():
        acl = acls.get(doc_id)
        kept = acl is not None and bool(shared.principals) and acl.allows(shared.principals)
        withheld += not kept
        note = "" if kept else " — withheld in a shared conversation (not readable by every full member)"
        lines.append(f"- **{title}** (`{doc_id}`) score {score:.3f}{note}")
    if withheld:
        lines.append(f"{withheld} of them would be left out of an answer in a channel or group chat.")
    else:
        lines.append("Every one of them may also be used in a channel of full members.")
    lines.append(f"Relevance gate, privately: {_gate(relevance, question, detail)}.")
    # A channel searches with the shared principals: its own ranking, so its own gate decision.
    in_channel = search(question, shared.principals) if shared.principals else SearchDetail(hits=[])
    lines.append(f"Relevance gate, in a channel of full members: {_gate(relevance, question, in_channel)}.")
    return "\n".join(lines)
