"""Retrieval quality on a BEIR-format folder (corpus.jsonl, queries.jsonl, qrels/test.tsv).

The corpus is indexed once into its own store (keyed by folder, embedder and chunking), every
document readable by ``org:members``; queries run through the same ACL-filtered search as users'
questions, as an ``org:members`` searcher. nDCG@10 uses exponential gain ``2^rel - 1`` (Burges et
al.), the gain behind the reference figures in the shared eval README (with linear gain our
dense run scores 0.798 on msmarco-5k instead of 0.704); Recall@k counts documents with
relevance > 0; MRR@10 is the reciprocal rank of the first of them.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.acl import ORG_MEMBERS, Acl
from core.models import Document, Section
from retrieval.chunking import Chunker
from retrieval.embedding import Embedder
from retrieval.errors import RetrievalError
from retrieval.index.lance import LanceIndex
from retrieval.indexing import prepare, write_documents
from retrieval.search import Mode, Searcher

Qrels = dict[str, dict[str, int]]
EVAL_ACL = Acl.of([[ORG_MEMBERS]])


class EvalDataError(RetrievalError, ValueError):
    """An evaluation folder is missing or malformed."""


@dataclass(frozen=True)
class BeirSet:
    name: str
    corpus: Path
    queries: dict[str, str]
    qrels: Qrels


def load_beir(folder: Path, split: str = "test") -> BeirSet:
    corpus = folder / "corpus.jsonl"
    queries_file = folder / "queries.jsonl"
    qrels_file = folder / "qrels" / f"{split}.tsv"
    for f in (corpus, queries_file, qrels_file):
        if not f.is_file():
            raise EvalDataError(f"{folder} is not a BEIR folder: {f.relative_to(folder)} is missing")
    qrels: Qrels = {}
    with qrels_file.open(encoding="utf-8") as fh:
        reader = csv.reader(fh, delimiter="\t")
        header = next(reader, None)
        if header is None or header[:2] != ["query-id", "corpus-id"]:
            raise EvalDataError(f"{qrels_file}: expected a header row 'query-id corpus-id score'")
        for line_no, row in enumerate(reader, start=2):
            if len(row) < 3:
                raise EvalDataError(f"{qrels_file} line {line_no}: expected 3 tab-separated columns")
            qrels.setdefault(row[0], {})[row[1]] = int(row[2])
    queries: dict[str, str] = {}
    for line_no, obj in _jsonl(queries_file):
        if obj.get("_id") in qrels:
            queries[str(obj["_id"])] = str(obj.get("text", ""))
    if not queries:
        raise EvalDataError(f"{folder}: no query of queries.jsonl has judgements in {qrels_file.name}")
    return BeirSet(folder.name, corpus, queries, qrels)


def _jsonl(path: Path) -> Iterator[tuple[int, dict[str, object]]]:
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if line.strip():
                try:
                    yield line_no, json.loads(line)
                except json.JSONDecodeError as exc:
                    raise EvalDataError(f"{path} line {line_no}: {exc}") from None


def corpus_documents(data: BeirSet) -> Iterator[Document]:
    for _, obj in _jsonl(data.corpus):
        doc_id = str(obj["_id"])
        title = str(obj.get("title") or "")
        yield Document(
            id=doc_id,
            source=f"beir:{data.name}",
            source_id=doc_id,
            title=title,
            url="",
            sections=(Section((), str(obj.get("text") or "")),),
            acl=EVAL_ACL,
        )


def store_key(data: BeirSet, embedder: Embedder, chunker: Chunker) -> str:
    key = f"{data.corpus.resolve()}|{data.corpus.stat().st_size}|{embedder.name}|{chunker.max_tokens}|{chunker.min_tokens}"
    return f"{data.name}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def build_index(
    data: BeirSet,
    store: Path,
    embedder: Embedder,
    chunker: Chunker,
    progress: Callable[[int], None] | None = None,
    batch_docs: int = 128,
) -> LanceIndex:
    """Index the corpus into ``store`` unless a complete index is already there."""
    done = store / "complete"
    index = LanceIndex(store / "index", embedder.dimension)
    if done.exists():
        return index
    index.delete_documents(sorted(index.document_ids()))  # a half-built store from a crash
    batch = []
    for doc in corpus_documents(data):
        batch.append(prepare(doc, lambda _g: ()))
        if len(batch) >= batch_docs:
            write_documents(batch, chunker, embedder, index)
            if progress:
                progress(len(batch))
            batch = []
    if batch:
        write_documents(batch, chunker, embedder, index)
        if progress:
            progress(len(batch))
    index.optimize()
    done.write_text("ok\n")
    return index


def ndcg_at(ranked: Sequence[str], judged: dict[str, int], k: int = 10) -> float:
    dcg = sum((2 ** judged.get(d, 0) - 1) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted((r for r in judged.values() if r > 0), reverse=True)[:k]
    idcg = sum((2**r - 1) / math.log2(i + 2) for i, r in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked: Sequence[str], judged: dict[str, int], k: int) -> float:
    relevant = {d for d, r in judged.items() if r > 0}
    return len(relevant & set(ranked[:k])) / len(relevant) if relevant else 0.0


def mrr_at(ranked: Sequence[str], judged: dict[str, int], k: int = 10) -> float:
    for i, d in enumerate(ranked[:k]):
        if judged.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def ranked_documents(searcher: Searcher, query: str, mode: Mode, depth: int = 100) -> list[str]:
    """Document ids in rank order (a document's rank is that of its best chunk)."""
    hits = searcher.search(query, [ORG_MEMBERS], mode=mode, top_k=depth, candidates=depth)
    seen: dict[str, None] = {}
    for h in hits:
        seen.setdefault(h.document_id, None)
    return list(seen)[:depth]


def evaluate(data: BeirSet, searcher: Searcher, mode: Mode, depth: int = 100) -> dict[str, float]:
    """Mean metrics over the judged queries. ``depth`` is both the ranking depth and the
    candidates per retriever (at least 100 for Recall@100 to mean what it says)."""
    totals = {"ndcg@10": 0.0, "recall@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0}
    for qid, text in data.queries.items():
        ranked = ranked_documents(searcher, text, mode, depth)
        judged = data.qrels[qid]
        totals["ndcg@10"] += ndcg_at(ranked, judged)
        totals["recall@10"] += recall_at(ranked, judged, 10)
        totals["recall@100"] += recall_at(ranked, judged, 100)
        totals["mrr@10"] += mrr_at(ranked, judged)
    n = len(data.queries)
    return {name: round(value / n, 4) for name, value in totals.items()} | {"queries": n}
