"""Is any permitted passage likely to answer the question? Signals from one search, and a gate.

The signals are computed from what the hybrid search already holds (:class:`SearchDetail`: the
permitted dense and BM25 candidate lists and the fused hits): no extra index query, no model
call, a few tens of microseconds of Python per question (docs/PERFORMANCE.md, "Relevance
gate"). Every signal is higher when an answer is more likely:

* ``dense_top``: cosine similarity of the question to its closest permitted chunk, measured
  against the question itself (before query feedback moves it toward its own top hits, which
  pulls every score up, most of all when nothing is close).
* ``fused_top``: the fused score of the first hit. With min-max convex fusion it is 1.0 exactly
  when the same chunk heads both lists, so it says more about agreement than about closeness.
* ``lexical_top``: the BM25 score of the best lexical hit (the engine's scale: it grows with the
  number and rarity of the matched words).
* ``agreement``: the share of the top ``agreement_k`` documents the dense and the BM25 lists
  have in common (documents, not chunks: two chunks of one page agree).
* ``coverage``: the largest share of the question's content words (stop words dropped, lightly
  stemmed, as the extractive answer matches them) that one of the best ``coverage_passages``
  fused hits contains in its title, headings or text.

The gate (:class:`RelevanceGate`) answers when ``score = dense_top + coverage`` reaches
``min_score`` (0 disables it): how close the question is to its best permitted chunk, plus how
much of its wording the best passages hold. The score and its default floor were chosen from the
trade-off curves measured on three kinds of data (bench/test_bench_relevance_gate.py,
docs/PERFORMANCE.md, "Relevance gate"): questions made unanswerable by construction on both
shared BEIR sets, and the written handbook set (employees' questions, real and near-miss
unanswerable ones). ``dense_top`` alone, the first choice on the BEIR sets, does not transfer: its
scale is lower for short chat questions against handbook pages, so a floor that suits BEIR
answers only about half of the handbook's questions; the sum with coverage holds on all three.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from retrieval.answer.extractive import terms
from retrieval.index.base import Hit
from retrieval.search import SearchDetail

AGREEMENT_K = 10
COVERAGE_PASSAGES = 3


@dataclass(frozen=True)
class Signals:
    """How well one question's permitted search results match it (see the module docstring)."""

    dense_top: float
    fused_top: float
    lexical_top: float
    agreement: float
    coverage: float
    question_terms: int  # content words in the question; coverage is 0.0 when there are none

    @property
    def score(self) -> float:
        """What the gate decides on: closeness to the best chunk plus word coverage (0 to 2)."""
        return self.dense_top + self.coverage

    @property
    def lexical_per_term(self) -> float:
        """``lexical_top`` per content word of the question: BM25 adds up over matched words,
        so a long question scores higher without matching any better."""
        return self.lexical_top / max(1, self.question_terms)


NO_SIGNALS = Signals(0.0, 0.0, 0.0, 0.0, 0.0, 0)


def content_terms(text: str) -> frozenset[str]:
    """The distinct content words of ``text``: lower case, stop words dropped, lightly stemmed."""
    return frozenset(terms(text))


def passage_text(hit: Hit) -> str:
    """What a reader (and BM25) sees of a chunk: its title, heading path and text."""
    return "\n".join((hit.title, *hit.heading_path, hit.text))


def coverage(question: frozenset[str], passages: Iterable[Hit]) -> float:
    """The largest share of ``question``'s content words one passage contains."""
    if not question:
        return 0.0
    best = 0
    for hit in passages:
        best = max(best, len(question & content_terms(passage_text(hit))))
        if best == len(question):
            break
    return best / len(question)


def top_documents(hits: Sequence[Hit], k: int) -> list[str]:
    """The first ``k`` distinct document ids of a ranked chunk list."""
    seen: dict[str, None] = {}
    for h in hits:
        seen.setdefault(h.document_id, None)
        if len(seen) == k:
            break
    return list(seen)


def agreement(dense: Sequence[Hit], lexical: Sequence[Hit], k: int = AGREEMENT_K) -> float:
    """Shared documents among the top ``k`` of each list, over ``k``; 0.0 when either is empty."""
    if k <= 0 or not dense or not lexical:
        return 0.0
    return len(set(top_documents(dense, k)) & set(top_documents(lexical, k))) / k


def compute_signals(
    question: str,
    detail: SearchDetail,
    *,
    agreement_k: int = AGREEMENT_K,
    coverage_passages: int = COVERAGE_PASSAGES,
) -> Signals:
    """The signals of one hybrid search; all zero when it found nothing. (A dense-only search
    has no BM25 list and a BM25-only one no dense list: their signals are 0.)"""
    if not detail.hits:
        return NO_SIGNALS
    question_terms = content_terms(question)
    return Signals(
        dense_top=max((h.score for h in detail.dense), default=0.0),
        fused_top=detail.hits[0].score,
        lexical_top=max((h.score for h in detail.lexical), default=0.0),
        agreement=agreement(detail.dense, detail.lexical, agreement_k),
        coverage=coverage(question_terms, detail.hits[:coverage_passages]),
        question_terms=len(question_terms),
    )


@dataclass
class RelevanceSettings:
    """The gate's floor on :attr:`Signals.score`; 0 answers everything. The default comes from
    the trade-off curve in docs/PERFORMANCE.md ("Relevance gate"), for the bundled model."""

    min_score: float = 0.70

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_score <= 2.0:
            raise ValueError(f"the relevance floor must be between 0 and 2 (dense similarity + coverage), not {self.min_score}")


class RelevanceGate:
    """Pure: the same signals always get the same decision. Signals come only from permitted
    passages, so the decision cannot depend on a document the asker may not read."""

    def __init__(self, settings: RelevanceSettings | None = None) -> None:
        self.settings = settings or RelevanceSettings()

    def answers(self, signals: Signals) -> bool:
        return signals.score >= self.settings.min_score
