"""Synthetic but realistic workloads for the benchmarks: chunk texts, ACLs and users.

Text comes from the shared MS MARCO passages (``../shared/eval/msmarco-5k``, or the folder
named by ``LORE_TEST_BENCH_CORPUS``). Larger corpora reuse those passages with a random tail of words
drawn from the corpus' own vocabulary with a Zipf distribution, so every chunk is distinct and
BM25 sees realistic term statistics. ACLs are spread over ``GROUPS`` groups, 1-3 clauses per
document, some of them ``org:members``. Everything is seeded: two runs build the same corpus.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.acl import ORG_MEMBERS, Acl
from core.models import Chunk
from retrieval.acl_fields import encode_acl
from retrieval.index.base import IndexedChunk

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
CORPUS_DIR = Path(os.environ.get("LORE_TEST_BENCH_CORPUS", REPO.parent / "shared" / "eval" / "msmarco-5k"))
GROUPS = [f"group:aad:g{i:03d}" for i in range(200)]
CHUNKS_PER_DOC = 5
NOISE = 0.025
_WORD = re.compile(r"[a-z][a-z'-]+")


@dataclass(frozen=True)
class Passage:
    title: str
    text: str

    @property
    def embed_text(self) -> str:
        """What Lore embeds: the title line (when there is one), then the text."""
        return f"{self.title}\n{self.text}" if self.title else self.text


def corpus_available() -> bool:
    return (CORPUS_DIR / "corpus.jsonl").is_file()


def load_passages(limit: int | None = None) -> list[Passage]:
    out: list[Passage] = []
    with open(CORPUS_DIR / "corpus.jsonl", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            out.append(Passage((row.get("title") or "").strip(), row["text"].strip()))
            if limit is not None and len(out) >= limit:
                break
    return out


def load_queries() -> list[str]:
    path = CORPUS_DIR / "queries.jsonl"
    if not path.is_file():
        return []
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line)["text"] for line in fh]


def zipf_vocabulary(passages: Sequence[Passage], size: int = 5000) -> tuple[list[str], np.ndarray]:
    """The ``size`` most frequent words of the passages and Zipf weights (1/rank) over them."""
    counts = Counter(w for p in passages for w in _WORD.findall(p.text.lower()))
    words = [w for w, _ in counts.most_common(size)]
    weights = 1.0 / np.arange(1, len(words) + 1)
    return words, weights / weights.sum()


def random_acl(rng: np.random.Generator) -> Acl:
    """1-3 clauses: a space-like clause (org:members for 45% of documents, else 1-3 groups),
    a page restriction for 35% (1-2 groups), a nested restriction for 10% (a group or a user)."""
    clauses: list[list[str]] = []
    if rng.random() < 0.45:
        clauses.append([ORG_MEMBERS])
    else:
        clauses.append(list(rng.choice(GROUPS, size=int(rng.integers(1, 4)), replace=False)))
    if rng.random() < 0.35:
        clauses.append(list(rng.choice(GROUPS, size=int(rng.integers(1, 3)), replace=False)))
        if rng.random() < 0.3:
            clauses.append([str(rng.choice(GROUPS)), f"user:u{int(rng.integers(0, 5000))}@example.com"])
    return Acl.of(clauses)


def user_principals(rng: np.random.Generator, n_groups: int = 18) -> list[str]:
    """A full member with ``n_groups`` groups: user:..., org:members and the groups."""
    groups = [str(g) for g in rng.choice(GROUPS, size=n_groups, replace=False)]
    return [f"user:u{int(rng.integers(0, 5000))}@example.com", ORG_MEMBERS, *groups]


def random_unit_vectors(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    v = rng.standard_normal((n, dim), dtype=np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


def _no_members(_group: str) -> list[str]:
    return []  # no ACL here has more than ACL_FIELDS clauses: nothing is expanded


def perturbed(base: np.ndarray, rng: np.random.Generator, noise: float = NOISE) -> np.ndarray:
    """Unit vectors near ``base`` rows: Gaussian noise of ``noise`` per dimension, renormalised
    (0.025 at 384 dimensions keeps a cosine of about 0.9 to the passage's real embedding)."""
    v = base + rng.standard_normal(base.shape, dtype=np.float32) * np.float32(noise)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v.astype(np.float32)


def synthetic_batches(
    n_chunks: int,
    dim: int,
    *,
    passages: Sequence[Passage],
    base_vectors: np.ndarray | None = None,
    batch_chunks: int = 5000,
    seed: int = 7,
) -> Iterator[tuple[list[str], list[IndexedChunk]]]:
    """(document ids, chunks) in batches of whole documents, ``CHUNKS_PER_DOC`` chunks each.

    Chunk text: a corpus passage plus 8-30 Zipf-distributed words. Vector: the passage's real
    embedding (``base_vectors``, one row per passage) with a little noise, so that dense search
    over the synthetic corpus has realistic neighbourhoods; random unit vectors when
    ``base_vectors`` is None (the scan costs the same, but neighbours are meaningless)."""
    rng = np.random.default_rng(seed)
    words, weights = zipf_vocabulary(passages)
    vocabulary = np.asarray(words, dtype=object)
    cdf = np.cumsum(weights)
    made = 0
    doc = 0
    while made < n_chunks:
        size = min(batch_chunks, n_chunks - made)
        picks = rng.integers(0, len(passages), size=size)
        if base_vectors is None:
            vectors = random_unit_vectors(rng, size, dim)
        else:
            vectors = perturbed(base_vectors[picks], rng)
        tail_lengths = rng.integers(8, 31, size=size)
        tail_words = vocabulary[np.minimum(np.searchsorted(cdf, rng.random(int(tail_lengths.sum()))), len(words) - 1)]
        tail_ends = np.cumsum(tail_lengths)
        doc_ids: list[str] = []
        items: list[IndexedChunk] = []
        while len(items) < size:
            name = f"doc{doc:06d}"
            doc += 1
            doc_id = f"bench:{name}"
            doc_ids.append(doc_id)
            acl = random_acl(rng)
            fields = encode_acl(acl, _no_members)
            title = " ".join(vocabulary[rng.integers(0, min(2000, len(words)), size=int(rng.integers(2, 6)))]).title()
            for ordinal in range(min(CHUNKS_PER_DOC, size - len(items))):
                i = len(items)
                tail = " ".join(tail_words[tail_ends[i] - tail_lengths[i] : tail_ends[i]])
                text = f"{passages[int(picks[i])].text} {tail}"
                chunk = Chunk(
                    id=f"{doc_id}:{ordinal}",
                    document_id=doc_id,
                    ordinal=ordinal,
                    source_id=f"{name}.md",
                    title=title,
                    url=f"https://wiki.example.com/{name}",
                    heading_path=("Overview",),
                    text=text,
                    embed_text=f"{title}\nOverview\n{text}",
                    acl=acl,
                )
                items.append(IndexedChunk(chunk, vectors[i], fields))
        made += len(items)
        yield doc_ids, items


def benchmark_queries(n: int, seed: int = 11) -> list[str]:
    """The corpus' real queries first, then 4-9 consecutive words of random passages."""
    rng = np.random.default_rng(seed)
    out = load_queries()[:n]
    passages = load_passages()
    while len(out) < n:
        words = passages[int(rng.integers(0, len(passages)))].text.split()
        k = int(rng.integers(4, 10))
        start = int(rng.integers(0, max(1, len(words) - k)))
        out.append(" ".join(words[start : start + k]))
    return out


def percentiles_ms(samples_s: Sequence[float]) -> dict[str, float]:
    a = np.asarray(samples_s) * 1000.0
    return {
        "p50_ms": round(float(np.percentile(a, 50)), 2),
        "p95_ms": round(float(np.percentile(a, 95)), 2),
        "p99_ms": round(float(np.percentile(a, 99)), 2),
        "mean_ms": round(float(a.mean()), 2),
        "n": len(a),
    }


def write_result(name: str, data: dict[str, object]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def bench_data_dir() -> Path:
    """Where benchmarks keep what is worth reusing between runs (``data/`` is not committed)."""
    root = Path(os.environ.get("LORE_TEST_BENCH_DATA", "data/bench"))
    return (root if root.is_absolute() else REPO / root) / "perf"


def passage_embeddings(passages: Sequence[Passage], embedder: Any) -> np.ndarray:
    """Real embeddings of the passages, computed once per model and passage set, then cached."""
    digest = hashlib.sha256(f"{embedder.name}\n{embedder.dimension}".encode())
    for p in passages:
        digest.update(p.embed_text.encode("utf-8") + b"\0")
    path = bench_data_dir() / f"passages-{digest.hexdigest()[:16]}.npy"
    if path.is_file():
        return np.load(path)
    vectors = embedder.embed_documents([p.embed_text for p in passages])
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


class CpuMonitor:
    """How busy the whole machine was during a measurement, and how much of that was us.

    Other work on a 2-core machine shows up directly in latency; the benchmarks record it so
    that a slow number can be told apart from a noisy neighbour."""

    def __init__(self) -> None:
        self._start = self._sample()

    @staticmethod
    def _sample() -> tuple[float, float, float]:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = [float(x) for x in fh.readline().split()[1:]]
        tick = os.sysconf("SC_CLK_TCK")
        idle = fields[3] + fields[4]  # idle + iowait
        busy = sum(fields[:8]) - idle  # user nice system idle iowait irq softirq steal
        t = os.times()
        own = t.user + t.system + t.children_user + t.children_system
        return time.monotonic(), busy / tick, own

    def stop(self) -> dict[str, float]:
        t1, busy1, own1 = self._sample()
        t0, busy0, own0 = self._start
        wall = max(t1 - t0, 1e-9)
        cores = os.cpu_count() or 1
        other = max(0.0, (busy1 - busy0) - (own1 - own0))
        return {
            "wall_s": round(wall, 2),
            "own_cpu_s": round(own1 - own0, 2),
            "machine_busy_fraction": round((busy1 - busy0) / (wall * cores), 3),
            "other_processes_busy_fraction": round(other / (wall * cores), 3),
        }


def machine() -> dict[str, object]:
    model = "unknown"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next(
            (line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")),
            model,
        )
    except (OSError, subprocess.CalledProcessError):
        pass
    with open("/proc/meminfo", encoding="ascii") as fh:
        mem_kb = int(fh.readline().split()[1])
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "python": sys.version.split()[0],
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "loadavg": os.getloadavg(),
    }


def build_synthetic_index(
    path: Path, n_chunks: int, dim: int, passages: Sequence[Passage], base_vectors: np.ndarray | None
) -> dict[str, float]:
    """A LanceIndex with ``n_chunks`` synthetic chunks, written as ingest does: replace_documents
    in batches of 5,000 chunks (1,000 documents), then optimize()."""
    from retrieval.index.lance import LanceIndex

    index = LanceIndex(path, dim)
    generate = write = 0.0
    batches = synthetic_batches(n_chunks, dim, passages=passages, base_vectors=base_vectors)
    while True:
        t = time.perf_counter()
        batch = next(batches, None)
        generate += time.perf_counter() - t
        if batch is None:
            break
        t = time.perf_counter()
        index.replace_documents(*batch)
        write += time.perf_counter() - t
    t = time.perf_counter()
    index.optimize()
    optimize = time.perf_counter() - t
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    return {
        "chunks": index.count_chunks(),
        "generate_s": round(generate, 1),
        "write_s": round(write, 1),
        "optimize_s": round(optimize, 1),
        "disk_mb": round(size / 1e6, 1),
    }
