"""Retrieval quality on the shared BEIR sets: every fusion we considered, in one run.

`make bench` runs it (or: python -m pytest -m bench bench/test_bench_quality.py -s). The corpus
of each set is embedded once with the real model into data/bench/eval/ and reused on later runs.
Numbers go to bench/results/quality.json and are reported in docs/PERFORMANCE.md.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from core.config import Config
from retrieval.chunking import Chunker
from retrieval.embedding import SentenceTransformerEmbedder
from retrieval.eval import build_index, evaluate, load_beir, store_key
from retrieval.search import Mode, Searcher

EVAL = Path(os.environ.get("LORE_TEST_EVAL_DIR", Path(__file__).resolve().parents[2] / "shared" / "eval"))
SETS = ["msmarco-5k", "dbpedia-5k"]
RESULTS = Path(__file__).parent / "results"

# name -> (mode, search config overrides)
VARIANTS: dict[str, tuple[Mode, dict[str, object]]] = {
    "bm25": (Mode.BM25, {}),
    "dense": (Mode.DENSE, {}),
    "dense + feedback": (Mode.HYBRID, {"dense_weight": 1.0}),
    "rrf k=60": (Mode.HYBRID, {"fusion": "rrf", "feedback_weight": 0.0}),
    "convex w=0.8": (Mode.HYBRID, {"feedback_weight": 0.0}),
    "hybrid (chosen)": (Mode.HYBRID, {}),
    "hybrid, 50 candidates": (Mode.HYBRID, {"candidates": 50}),
}


@pytest.mark.bench
@pytest.mark.parametrize("name", SETS)
def test_retrieval_quality(name: str) -> None:
    folder = EVAL / name
    if not folder.is_dir():
        pytest.skip(f"evaluation set {folder} is absent (expected ../shared/eval/{name}; set LORE_TEST_EVAL_DIR)")
    cfg = Config(data_dir=Path(os.environ.get("LORE_TEST_BENCH_DATA", "data/bench")))
    data = load_beir(folder)
    embedder = SentenceTransformerEmbedder(cfg.embedding)
    chunker = Chunker(embedder.token_counts, cfg.chunking.max_tokens, cfg.chunking.min_tokens)
    index = build_index(data, cfg.data_dir / "eval" / store_key(data, embedder, chunker), embedder, chunker)
    results: dict[str, dict[str, float]] = {}
    for variant, (mode, overrides) in VARIANTS.items():
        search_cfg = replace(cfg.search, **overrides)  # type: ignore[arg-type]
        depth = 50 if "50 candidates" in variant else 100
        results[variant] = evaluate(data, Searcher(embedder, index, search_cfg), mode, depth=depth)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"quality-{name}.json").write_text(json.dumps(results, indent=2))
    print(f"\n{name}: {len(data.queries)} judged queries")
    print(f"{'variant':24} {'nDCG@10':>8} {'R@10':>7} {'R@100':>7} {'MRR@10':>7}")
    for variant, m in results.items():
        print(f"{variant:24} {m['ndcg@10']:8.4f} {m['recall@10']:7.4f} {m['recall@100']:7.4f} {m['mrr@10']:7.4f}")
    best_single = max(results["dense"]["ndcg@10"], results["bm25"]["ndcg@10"])
    assert results["hybrid (chosen)"]["ndcg@10"] > best_single, "hybrid no longer beats the best single retriever"
