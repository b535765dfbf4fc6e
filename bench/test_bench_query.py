"""Query latency, memory and reopen time at 10k and 100k chunks.

Run: ``make bench``, or one case:
``python -m pytest -q -m bench -p no:cacheprovider -s "bench/test_bench_query.py::test_query_latency_and_memory[100000]"``

The corpus is synthetic (see bench/_workload.py): MS MARCO passages with a random Zipf-word tail,
1-3 ACL clauses over 200 groups, 5 chunks per document. Stored vectors are the passages' real
embeddings plus a little noise (embedding 100k chunks on 2 cores would take about 20 minutes);
every *query* is embedded by the real model inside the measured time. The index is written the
way ingest writes it (replace_documents, 5,000 chunks per call, then optimize()); the query phase
runs in a fresh process (bench/_query_worker.py) that opens the index like the server does and
reports its own peak RSS.

Two tests:

* ``test_query_latency_and_memory`` - the product as shipped: `optimize()` builds an IVF_HNSW_SQ
  vector index from 50,000 chunks on (so at 100k, not at 10k), and torch's OpenMP threads do
  not spin (OMP_WAIT_POLICY=PASSIVE, as the CLI, the Makefile and the Dockerfile set it).
* ``test_query_latency_with_vector_index_100k`` - the comparison in the same run: the shipped
  index's recall against the exact (flat) filtered search, the flat scan as a baseline (vector
  index dropped), and the thread settings (PASSIVE, OMP_NUM_THREADS=1).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from bench._workload import (
    REPO,
    CpuMonitor,
    build_synthetic_index,
    corpus_available,
    load_passages,
    machine,
    passage_embeddings,
    user_principals,
    write_result,
)

DIM = 384
QUERIES = 200
TARGET_P95_MS = 50.0  # full hybrid path at 100k chunks (the target)
TARGET_RSS_MB = 1024.0  # query process at 100k chunks
# Regression guards, from measurements on the 2-core machine with margin (docs/PERFORMANCE.md).
MAX_HYBRID_P50_MS = {10_000: 60.0, 100_000: 250.0}
MAX_REOPEN_MS = 2000.0
MIN_RECALL_AT_10 = 0.95
# Latency is not judged when other processes kept more than this share of the 2 cores busy
# during the query phase (another session's test run, say): the numbers are still written.
MAX_OTHER_LOAD = 0.25
# torch's OpenMP pool spins between parallel regions; on 2 cores shared with LanceDB's threads and
# any other work, a query embedding then sometimes waits ~0.5 s. Either setting removes that.
THREAD_SETTINGS = {
    "OMP_WAIT_POLICY=PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
    "OMP_NUM_THREADS=1": {"OMP_NUM_THREADS": "1"},
}
RECOMMENDED = "OMP_WAIT_POLICY=PASSIVE"

pytestmark = [
    pytest.mark.bench,
    pytest.mark.timeout(1800),
    pytest.mark.skipif(not corpus_available(), reason="MS MARCO passages absent: set LORE_TEST_BENCH_CORPUS"),
]


@pytest.fixture(scope="module")
def corpus() -> tuple[list, np.ndarray]:
    from core.config import EmbeddingConfig
    from retrieval.embedding import SentenceTransformerEmbedder

    passages = load_passages()
    embedder = SentenceTransformerEmbedder(EmbeddingConfig())
    return passages, passage_embeddings(passages, embedder)  # cached after the first run


@pytest.fixture(scope="module")
def indexes(tmp_path_factory: pytest.TempPathFactory, corpus: tuple[list, np.ndarray]) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("bench-index")
    built: dict[int, tuple[Path, dict[str, float]]] = {}

    def get(n: int) -> tuple[Path, dict[str, float]]:
        if n not in built:
            path = root / f"n{n}"
            monitor = CpuMonitor()
            stats = build_synthetic_index(path, n, DIM, *corpus)
            stats["cpu"] = monitor.stop()  # type: ignore[assignment]
            built[n] = (path, stats)
        return built[n]

    yield {"get": get}
    shutil.rmtree(root, ignore_errors=True)


def run_worker(path: Path, env: dict[str, str] | None = None) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "bench._query_worker", str(path), "--dim", str(DIM), "--queries", str(QUERIES)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    if proc.returncode != 0:
        raise AssertionError(f"query worker failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def skip_if_noisy(result: dict) -> None:
    other = result["cpu"]["other_processes_busy_fraction"]
    if other > MAX_OTHER_LOAD:
        pytest.skip(
            f"latency not judged: other processes kept {other:.0%} of the CPU busy during the query "
            f"phase (limit {MAX_OTHER_LOAD:.0%}); numbers are in bench/results/ - rerun on a quiet machine"
        )


def report(title: str, result: dict) -> None:
    print(f"\n== {title}")
    print(f"   chunks {result['chunks']:,}; user sees {result['visible_fraction']['mean']:.1%} of them "
          f"({result['principals_per_user']} principals); other processes kept "
          f"{result['cpu']['other_processes_busy_fraction']:.0%} of the CPU busy")
    for name, s in result["latency"].items():
        print(f"   {name:<24} p50 {s['p50_ms']:7.1f}  p95 {s['p95_ms']:7.1f}  p99 {s['p99_ms']:7.1f} ms")
    r = result["reopen"]
    print(f"   reopen: LanceIndex() {r['construct_ms']} ms + first hybrid query {r['first_hybrid_query_ms']} ms")
    print(f"   RSS: after model {result['rss_mb_after_model']} MB, peak {result['rss_mb_peak']} MB, "
          f"at the end {result['rss_mb_end']} MB")


@pytest.mark.parametrize("n", [10_000, 100_000])
def test_query_latency_and_memory(n: int, indexes: dict) -> None:
    path, build = indexes["get"](n)
    result = run_worker(path, env={"OMP_WAIT_POLICY": "PASSIVE"})
    shipped = "IVF_HNSW_SQ vector index" if n >= 50_000 else "flat vector scan (below index.lance.vector_index_min_chunks)"
    result.update(build=build, machine=machine(), config=f"as shipped: {shipped}, OMP_WAIT_POLICY=PASSIVE")
    write_result(f"query_{n // 1000}k", result)
    report(f"query latency, {n:,} chunks, as shipped", result)

    hybrid = result["latency"]["hybrid"]
    assert result["hybrid_empty_results"] == 0
    assert result["rss_mb_peak"] < TARGET_RSS_MB, f"peak RSS {result['rss_mb_peak']} MB"
    skip_if_noisy(result)
    assert result["reopen"]["total_ms"] < MAX_REOPEN_MS
    assert hybrid["p50_ms"] < MAX_HYBRID_P50_MS[n], f"hybrid p50 {hybrid['p50_ms']} ms: regression"
    assert hybrid["p95_ms"] < TARGET_P95_MS, f"hybrid p95 {hybrid['p95_ms']} ms at {n:,} chunks"


def test_query_latency_with_vector_index_100k(
    indexes: dict, corpus: tuple[list, np.ndarray], tmp_path: Path
) -> None:
    from bench._vector_index import build_vector_index, recall_by_refine, recall_vs_flat
    from bench._workload import benchmark_queries
    from core.config import EmbeddingConfig
    from retrieval.embedding import SentenceTransformerEmbedder
    from retrieval.index.lance import LanceIndex

    source, build = indexes["get"](100_000)
    path = tmp_path / "n100000-hnsw"
    shutil.copytree(source, path)
    index = LanceIndex(path, DIM)
    vector_index = build_vector_index(index)

    embedder = SentenceTransformerEmbedder(EmbeddingConfig())
    vectors = [embedder.embed_query(q) for q in benchmark_queries(QUERIES)]
    rng = np.random.default_rng(3)
    users = [user_principals(rng) for _ in range(10)]
    narrow = [["user:narrow@example.com", "group:aad:g001", "group:aad:g002"]]  # sees ~1%
    recall = {
        "20_principals": recall_vs_flat(index, vectors, users),
        "3_principals_narrow": recall_vs_flat(index, vectors, narrow),
    }
    refine = recall_by_refine(index, vectors, users)
    del index

    print(f"\n   vector index: built in {vector_index['build_s']} s, {vector_index['size_mb']} MB")
    for who, r in recall.items():
        print(f"   recall vs flat ({who}): @10 {r['recall_at_10']:.3f} (worst query {r['recall_at_10_min']}), "
              f"@50 {r['recall_at_50']:.3f}")
    for name, r in refine.items():
        print(f"   {name}: recall@10 {r['recall_at_10']:.3f}, @50 {r['recall_at_50']:.3f}, "
              f"query p50 {r['ms_p50']} ms, p95 {r['ms_p95']} ms")
    runs = {}
    flat_path = tmp_path / "n100000-flat"
    shutil.copytree(path, flat_path)
    flat = LanceIndex(flat_path, DIM, vector_index_min_chunks=0)
    flat._table.drop_index(flat._vector_index().name)
    del flat
    baseline = run_worker(flat_path, env={"OMP_WAIT_POLICY": "PASSIVE"})
    baseline.update(build=build, machine=machine(), config="baseline: flat vector scan + OMP_WAIT_POLICY=PASSIVE")
    report("query latency, 100,000 chunks, flat scan baseline", baseline)
    runs["flat baseline"] = baseline
    for label, env in THREAD_SETTINGS.items():
        result = run_worker(path, env=env)
        result.update(
            build=build,
            vector_index={"type": "IVF_HNSW_SQ", "distance": "cosine", **vector_index},
            recall_vs_flat=recall,
            recall_by_refine_factor=refine,
            machine=machine(),
            config=f"proposed: IVF_HNSW_SQ vector index + {label} in the query process",
        )
        report(f"query latency, 100,000 chunks, IVF_HNSW_SQ + {label}", result)
        runs[label] = result
    write_result("query_100k_vector_index", runs)

    for who, r in recall.items():
        assert r["recall_at_10"] >= MIN_RECALL_AT_10, f"{who}: recall@10 {r['recall_at_10']}"
    speedup = baseline["latency"]["hybrid"]["p95_ms"] / runs[RECOMMENDED]["latency"]["hybrid"]["p95_ms"]
    print(f"   hybrid p95: flat baseline / vector index = {speedup:.1f}x (same run)")
    for label, result in runs.items():
        assert result["hybrid_empty_results"] == 0
        assert result["rss_mb_peak"] < TARGET_RSS_MB, f"{label}: peak RSS {result['rss_mb_peak']} MB"
    # The target is asserted for the recommended setting; OMP_NUM_THREADS=1 is recorded for
    # comparison (it halves ingest throughput when the server also embeds documents).
    recommended = runs[RECOMMENDED]
    skip_if_noisy(recommended)
    hybrid = recommended["latency"]["hybrid"]
    assert hybrid["p95_ms"] < TARGET_P95_MS, f"{RECOMMENDED}: hybrid p95 {hybrid['p95_ms']} ms"
