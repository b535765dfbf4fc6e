"""Principals -> ACL-filtered hybrid search.

The principal list goes into every index query; fusion happens here, once, above the backend.
An empty principal list returns nothing (fail closed) rather than reaching the index. With a
guard (retrieval.guard), every candidate is also checked against the metadata database before
feedback and fusion see it, so a document the index holds but the database does not vouch for
can neither be shown nor steer the ranking.

Hybrid search is: dense search -> Rocchio query feedback (the query vector moved toward the
mean of its top permitted hits, and the dense candidates re-scored against it) -> convex fusion
with BM25. Feedback only ever sees documents the searcher may read, because it is built from an
ACL-filtered result. Re-scoring the candidates instead of searching again gives the same ranking
on both evaluation sets at half the dense cost (the moved query's best matches are already among
the first candidates).
The choice is measured in docs/PERFORMANCE.md ("Retrieval quality").
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

from core.config import SearchConfig
from retrieval import fusion
from retrieval.embedding import Embedder
from retrieval.guard import DocumentGuard
from retrieval.index.base import Hit, IndexBackend

MAX_QUERY_CHARS = 2000  # longer questions are cut: the model sees 256 tokens anyway


class Mode(str, enum.Enum):
    HYBRID = "hybrid"
    DENSE = "dense"
    BM25 = "bm25"


@dataclass(frozen=True)
class SearchDetail:
    """One search and the permitted lists it was fused from, for the relevance gate
    (retrieval.relevance). ``dense`` is scored by cosine similarity to the question itself
    (before query feedback moved it) and may carry the stored vectors; ``lexical`` by BM25.
    A dense-only or BM25-only search leaves the other list empty."""

    hits: list[Hit]
    dense: list[Hit] = field(default_factory=list)
    lexical: list[Hit] = field(default_factory=list)


class Searcher:
    def __init__(
        self, embedder: Embedder, index: IndexBackend, config: SearchConfig, guard: DocumentGuard | None = None
    ) -> None:
        self.embedder = embedder
        self.index = index
        self.config = config
        self.guard = guard

    def _guarded(self, principals: Sequence[str], *lists: list[Hit]) -> list[list[Hit]]:
        if self.guard is None:
            return list(lists)
        allowed = self.guard.permitted({h.document_id for hits in lists for h in hits}, principals)
        return [[h for h in hits if h.document_id in allowed] for hits in lists]

    def search(
        self,
        query: str,
        principals: Sequence[str],
        *,
        mode: Mode = Mode.HYBRID,
        top_k: int | None = None,
        candidates: int | None = None,
    ) -> list[Hit]:
        return self.search_with_detail(query, principals, mode=mode, top_k=top_k, candidates=candidates).hits

    def search_with_detail(
        self,
        query: str,
        principals: Sequence[str],
        *,
        mode: Mode = Mode.HYBRID,
        top_k: int | None = None,
        candidates: int | None = None,
    ) -> SearchDetail:
        """What :meth:`search` returns, plus the lists it already computed: no extra query."""
        query = query.strip()[:MAX_QUERY_CHARS]
        if not query or not principals:
            return SearchDetail([])
        k = top_k or self.config.top_k
        n = max(candidates or self.config.candidates, k)
        if mode is Mode.DENSE:
            hits = self.index.dense_search(self.embedder.embed_query(query), principals, k)
            dense = self._guarded(principals, hits)[0]
            return SearchDetail(dense, dense=dense)
        if mode is Mode.BM25:
            lexical = self._guarded(principals, self.index.lexical_search(query, principals, k))[0]
            return SearchDetail(lexical, lexical=lexical)
        vector = self.embedder.embed_query(query)
        dense, lexical = self._guarded(
            principals,
            self.index.dense_search(vector, principals, n, with_vectors=self._feedback_on()),
            self.index.lexical_search(query, principals, n),
        )
        moved = self._feedback(vector, dense)
        if self.config.fusion == "rrf":
            return SearchDetail(fusion.rrf(moved, lexical, self.config.rrf_k, k), dense, lexical)
        return SearchDetail(fusion.convex(moved, lexical, self.config.dense_weight, k), dense, lexical)

    def _feedback_on(self) -> bool:
        return self.config.feedback_docs > 0 and self.config.feedback_weight > 0

    def _feedback(self, vector: npt.NDArray[np.float32], hits: list[Hit]) -> list[Hit]:
        """Rocchio: the dense candidates re-scored against the query moved toward its top hits."""
        k, beta = self.config.feedback_docs, self.config.feedback_weight
        if not self._feedback_on():
            return hits
        feedback = [h.vector for h in hits[:k] if h.vector is not None]
        moved = vector + beta * np.mean(feedback, axis=0) if feedback else vector
        norm = float(np.linalg.norm(moved))
        if norm == 0.0:
            return [replace(h, vector=None) for h in hits]
        moved = moved / norm
        rescored = [
            replace(h, score=float(np.dot(h.vector, moved)) if h.vector is not None else h.score, vector=None)
            for h in hits
        ]
        return sorted(rescored, key=lambda h: (-h.score, h.chunk_id))
