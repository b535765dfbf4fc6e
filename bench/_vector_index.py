"""The vector index this benchmark proposes for LanceIndex - kept here, apart from the product.

``retrieval/index/lance.py`` has no vector index: every dense query is a flat scan over the rows
the ACL prefilter lets through. At 100k chunks that scan dominates the hybrid latency (hybrid
search runs it twice, for Rocchio feedback). The proposal: an IVF_HNSW_SQ index on ``vector``
(cosine, LanceDB defaults: sqrt(n) partitions, m=20, ef_construction=300, 8-bit scalar
quantisation), built by ``optimize()`` once the table holds enough rows. Queries need no change:
LanceDB uses the index when it exists, still applies the ACL predicate as a prefilter, and
searches rows added after the index was built by flat scan until the next optimize() folds them
in. This module builds it and measures what it costs in recall against the flat scan.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from retrieval.index.lance import LanceIndex, acl_predicate


def build_vector_index(index: LanceIndex) -> dict[str, float]:
    from lancedb.index import HnswSq

    table = index._table
    t = time.perf_counter()
    table.create_index("vector", config=HnswSq(distance_type="cosine"), replace=True)
    seconds = time.perf_counter() - t
    size = next((ix.size_bytes for ix in table.list_indices() if ix.columns == ["vector"]), 0) or 0
    return {"build_s": round(seconds, 1), "size_mb": round(size / 1e6, 1)}


def flat_top_ids(index: LanceIndex, vector: np.ndarray, principals: Sequence[str], k: int) -> list[str]:
    """Exact filtered top-k: the same query with the vector index bypassed."""
    rows = (
        index._table.search(np.asarray(vector, dtype=np.float32), vector_column_name="vector")
        .distance_type("cosine")
        .where(acl_predicate(principals), prefilter=True)
        .bypass_vector_index()
        .select(["chunk_id", "_distance"])
        .limit(k)
        .to_arrow()
    )
    return [str(x) for x in rows.column("chunk_id").to_pylist()]


def recall_vs_flat(
    index: LanceIndex, vectors: Sequence[np.ndarray], users: Sequence[Sequence[str]], limit: int = 50
) -> dict[str, Any]:
    """Overlap of LanceIndex.dense_search (which uses the index) with the exact filtered top-10
    and top-``limit``, averaged over queries; query i runs as user i mod len(users)."""
    r10: list[float] = []
    rk: list[float] = []
    timings: list[float] = []
    for i, v in enumerate(vectors):
        p = users[i % len(users)]
        exact = flat_top_ids(index, v, p, limit)
        t = time.perf_counter()
        got = [h.chunk_id for h in index.dense_search(v, p, limit)]
        timings.append(time.perf_counter() - t)
        if exact:
            r10.append(len(set(got[:10]) & set(exact[:10])) / len(exact[:10]))
            rk.append(len(set(got) & set(exact)) / len(exact))
    return {
        "queries": len(r10),
        "recall_at_10": round(float(np.mean(r10)), 4),
        "recall_at_10_min": round(float(np.min(r10)), 2),
        f"recall_at_{limit}": round(float(np.mean(rk)), 4),
        "dense_search_ms_p50": round(float(np.percentile(timings, 50)) * 1000, 2),
        "dense_search_ms_p95": round(float(np.percentile(timings, 95)) * 1000, 2),
    }


def recall_by_refine(
    index: LanceIndex,
    vectors: Sequence[np.ndarray],
    users: Sequence[Sequence[str]],
    factors: Sequence[int | None] = (None, 1, 2),
    limit: int = 50,
) -> dict[str, dict[str, float]]:
    """The same filtered query as LanceIndex.dense_search, with LanceDB's refine_factor: the
    index proposes ``factor * limit`` rows, which are re-ranked by exact cosine distance. This
    also fixes the score scale (see docs/PERFORMANCE.md: without refine, HNSW_SQ returns
    ``2 * (1 - cos)`` as ``_distance``, the flat scan ``1 - cos``)."""
    table = index._table
    exact = [flat_top_ids(index, v, users[i % len(users)], limit) for i, v in enumerate(vectors)]
    out: dict[str, dict[str, float]] = {}
    for factor in factors:
        r10: list[float] = []
        rk: list[float] = []
        timings: list[float] = []
        for i, v in enumerate(vectors):
            query = (
                table.search(np.asarray(v, dtype=np.float32), vector_column_name="vector")
                .distance_type("cosine")
                .where(acl_predicate(users[i % len(users)]), prefilter=True)
            )
            if factor:
                query = query.refine_factor(factor)
            t = time.perf_counter()
            got = query.select(["chunk_id", "_distance"]).limit(limit).to_arrow().column("chunk_id").to_pylist()
            timings.append(time.perf_counter() - t)
            if exact[i]:
                r10.append(len(set(got[:10]) & set(exact[i][:10])) / len(exact[i][:10]))
                rk.append(len(set(got) & set(exact[i])) / len(exact[i]))
        out[f"refine_{factor or 'none'}"] = {
            "recall_at_10": round(float(np.mean(r10)), 4),
            f"recall_at_{limit}": round(float(np.mean(rk)), 4),
            "ms_p50": round(float(np.percentile(timings, 50)) * 1000, 2),
            "ms_p95": round(float(np.percentile(timings, 95)) * 1000, 2),
        }
    return out
