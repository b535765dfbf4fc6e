"""Principals -> ACL-filtered hybrid search.

The principal list goes into both index queries; fusion happens here, once, above the backend.
An empty principal list returns nothing (fail closed) rather than reaching the index.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from core.config import SearchConfig
from retrieval import fusion
from retrieval.embedding import Embedder
from retrieval.index.base import Hit, IndexBackend

MAX_QUERY_CHARS = 2000  # longer questions are cut: the model sees 256 tokens anyway


class Mode(str, enum.Enum):
    HYBRID = "hybrid"
    DENSE = "dense"
    BM25 = "bm25"


class Searcher:
    def __init__(self, embedder: Embedder, index: IndexBackend, config: SearchConfig) -> None:
        if config.fusion not in ("convex", "rrf"):
            raise ValueError(f"unknown search.fusion {config.fusion!r} (use convex or rrf)")
        self.embedder = embedder
        self.index = index
        self.config = config

    def search(
        self,
        query: str,
        principals: Sequence[str],
        *,
        mode: Mode = Mode.HYBRID,
        top_k: int | None = None,
        candidates: int | None = None,
    ) -> list[Hit]:
        query = query.strip()[:MAX_QUERY_CHARS]
        if not query or not principals:
            return []
        k = top_k or self.config.top_k
        n = max(candidates or self.config.candidates, k)
        if mode is Mode.DENSE:
            return self.index.dense_search(self.embedder.embed_query(query), principals, k)
        if mode is Mode.BM25:
            return self.index.lexical_search(query, principals, k)
        dense = self.index.dense_search(self.embedder.embed_query(query), principals, n)
        lexical = self.index.lexical_search(query, principals, n)
        if self.config.fusion == "rrf":
            return fusion.rrf(dense, lexical, self.config.rrf_k, k)
        return fusion.convex(dense, lexical, self.config.dense_weight, k)
