"""Query phase of the latency benchmark, in a fresh process: ``python -m bench._query_worker``.

Opens an existing index the way the server does (LanceIndex + the real embedder + Searcher),
times the reopen (construction + first query), then ~200 queries in every mode, and reports its
own peak RSS - so the memory of building the index never counts. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path


def _status_mb(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return round(int(line.split()[1]) / 1024, 1)  # kB
    raise RuntimeError(f"{field} not in /proc/self/status")


def _peak_rss_mb() -> float:
    # VmHWM, not getrusage's ru_maxrss: after fork+exec, ru_maxrss still carries the parent's
    # peak (the pytest process that built the index), VmHWM only this process's own.
    return _status_mb("VmHWM")


def _current_rss_mb() -> float:
    return _status_mb("VmRSS")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("index", type=Path)
    ap.add_argument("--dim", type=int, default=384)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--users", type=int, default=10)
    args = ap.parse_args(argv)

    out: dict[str, object] = {"rss_mb_at_start": _current_rss_mb()}
    import numpy as np

    from bench._workload import CpuMonitor, benchmark_queries, percentiles_ms, user_principals
    from core.config import EmbeddingConfig, SearchConfig
    from retrieval.embedding import SentenceTransformerEmbedder
    from retrieval.index.lance import LanceIndex, acl_predicate
    from retrieval.search import Mode, Searcher

    t = time.perf_counter()
    embedder = SentenceTransformerEmbedder(EmbeddingConfig())
    out["model_load_s"] = round(time.perf_counter() - t, 2)
    out["rss_mb_after_model"] = _current_rss_mb()

    rng = np.random.default_rng(3)
    users = [user_principals(rng) for _ in range(args.users)]
    queries = benchmark_queries(args.queries + args.warmup)
    warmup, queries = queries[args.queries :], queries[: args.queries]

    t = time.perf_counter()
    index = LanceIndex(args.index, args.dim)
    opened = time.perf_counter()
    searcher = Searcher(embedder, index, SearchConfig())
    first = searcher.search(warmup[0], users[0], mode=Mode.HYBRID)
    done = time.perf_counter()
    out["reopen"] = {
        "construct_ms": round((opened - t) * 1000, 1),
        "first_hybrid_query_ms": round((done - opened) * 1000, 1),
        "total_ms": round((done - t) * 1000, 1),
    }
    out["rss_mb_after_first_query"] = _current_rss_mb()
    if not first:
        print(json.dumps({"error": "first query returned nothing"}))
        return 1

    total = index.count_chunks()
    visible = [index._table.count_rows(acl_predicate(p)) / total for p in users]
    out["chunks"] = total
    out["principals_per_user"] = len(users[0])
    out["visible_fraction"] = {
        "mean": round(float(np.mean(visible)), 3),
        "min": round(min(visible), 3),
        "max": round(max(visible), 3),
    }

    candidates = searcher.config.candidates

    def run_embed(q: str, p: list[str]) -> object:
        return embedder.embed_query(q)

    def run_dense(q: str, p: list[str]) -> object:
        return searcher.search(q, p, mode=Mode.DENSE)

    def run_bm25(q: str, p: list[str]) -> object:
        return searcher.search(q, p, mode=Mode.BM25)

    def run_hybrid(q: str, p: list[str]) -> object:
        return searcher.search(q, p, mode=Mode.HYBRID)

    vectors = {q: embedder.embed_query(q) for q in queries + warmup}

    def run_dense_index(q: str, p: list[str]) -> object:
        return index.dense_search(vectors[q], p, candidates)

    def run_bm25_index(q: str, p: list[str]) -> object:
        return index.lexical_search(q, p, candidates)

    modes = {
        "hybrid": run_hybrid,
        "dense": run_dense,
        "bm25": run_bm25,
        "embed_query": run_embed,
        f"dense_index_only_{candidates}": run_dense_index,
        f"bm25_index_only_{candidates}": run_bm25_index,
    }
    for i, q in enumerate(warmup):
        for fn in modes.values():
            fn(q, users[i % len(users)])

    samples: dict[str, list[float]] = {name: [] for name in modes}
    empty = 0
    names = list(modes)
    monitor = CpuMonitor()
    for i, q in enumerate(queries):
        p = users[i % len(users)]
        # Rotate the order so that a burst of outside load does not always hit one mode.
        for name in names[i % len(names) :] + names[: i % len(names)]:
            t = time.perf_counter()
            result = modes[name](q, p)
            samples[name].append(time.perf_counter() - t)
            if name == "hybrid" and not result:
                empty += 1
    out["cpu"] = monitor.stop()
    out["latency"] = {name: percentiles_ms(s) for name, s in samples.items()}
    out["hybrid_empty_results"] = empty
    out["rss_mb_peak"] = _peak_rss_mb()
    out["ru_maxrss_mb_inherited"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["rss_mb_end"] = _current_rss_mb()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
