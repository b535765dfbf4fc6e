"""Fusing the dense and the lexical ranked lists, once, above the backends.

* ``convex``: each list's scores min-max normalised to [0, 1] over its candidates, then
  ``w * dense + (1 - w) * lexical`` (a candidate missing from one list scores 0 there).
  Score-based fusion keeps how *much* better the top dense hit is, which rank-based RRF throws
  away; on both shared evaluation sets it beat dense-only where RRF lost (docs/PERFORMANCE.md).
* ``rrf``: reciprocal rank fusion, ``sum 1 / (k + rank)``, kept for comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from retrieval.index.base import Hit


def _normalised(hits: Sequence[Hit]) -> dict[str, float]:
    if not hits:
        return {}
    scores = [h.score for h in hits]
    lo, hi = min(scores), max(scores)
    if hi - lo < 1e-12:
        return {h.chunk_id: 1.0 for h in hits}
    return {h.chunk_id: (h.score - lo) / (hi - lo) for h in hits}


def _by_id(*lists: Sequence[Hit]) -> dict[str, Hit]:
    out: dict[str, Hit] = {}
    for hits in lists:
        for h in hits:
            out.setdefault(h.chunk_id, h)
    return out


def _ranked(hits: dict[str, Hit], scores: dict[str, float], limit: int) -> list[Hit]:
    order = sorted(scores, key=lambda cid: (-scores[cid], cid))[:limit]
    return [replace(hits[cid], score=scores[cid]) for cid in order]


def convex(dense: Sequence[Hit], lexical: Sequence[Hit], dense_weight: float, limit: int) -> list[Hit]:
    if not 0.0 <= dense_weight <= 1.0:
        raise ValueError("search.dense_weight must be between 0 and 1")
    d, lx = _normalised(dense), _normalised(lexical)
    scores = {
        cid: dense_weight * d.get(cid, 0.0) + (1.0 - dense_weight) * lx.get(cid, 0.0)
        for cid in d.keys() | lx.keys()
    }
    return _ranked(_by_id(dense, lexical), scores, limit)


def rrf(dense: Sequence[Hit], lexical: Sequence[Hit], k: int, limit: int) -> list[Hit]:
    scores: dict[str, float] = {}
    for hits in (dense, lexical):
        for rank, h in enumerate(hits, start=1):
            scores[h.chunk_id] = scores.get(h.chunk_id, 0.0) + 1.0 / (k + rank)
    return _ranked(_by_id(dense, lexical), scores, limit)
