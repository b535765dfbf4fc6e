"""Searcher.search_with_detail returns what search() returns, plus the lists it fused, and
search() itself is unchanged: the same hits as the pre-detail implementation."""

from pathlib import Path

import pytest

from core.acl import ORG_MEMBERS, Acl
from core.config import SearchConfig
from core.models import Chunk
from retrieval import fusion
from retrieval.acl_fields import encode_acl
from retrieval.embedding import HashEmbedder
from retrieval.index.base import Hit, IndexedChunk
from retrieval.index.lance import LanceIndex
from retrieval.search import Mode, Searcher

EMB = HashEmbedder(64)
TEXTS = {
    "vpn": ["request vpn access from the service desk", "the vpn client runs on linux and mac"],
    "leave": ["annual leave is 25 days", "carry over five days of leave"],
    "laptop": ["request a new laptop every three years", "laptop security and disk encryption"],
    "wifi": ["office wifi password is on your badge"],
    "expenses": ["submit travel expenses within 30 days", "expenses need a receipt"],
}
QUESTIONS = ["how do I request vpn access", "leave days", "new laptop request", "wifi", "travel receipt rules", "zebra"]


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> LanceIndex:
    ix = LanceIndex(Path(tmp_path_factory.mktemp("ix")), EMB.dimension)
    acl = Acl.of([[ORG_MEMBERS]])
    fields = encode_acl(acl, lambda _g: ())
    for doc, texts in TEXTS.items():
        vectors = EMB.embed_documents(texts)
        ix.replace_documents(
            [doc],
            [IndexedChunk(Chunk(f"{doc}:{i}", doc, i, doc, doc, "", (), t, t, acl), vectors[i], fields) for i, t in enumerate(texts)],
        )
    ix.optimize()
    return ix


def reference_search(s: Searcher, query: str, principals: list[str], mode: Mode) -> list[Hit]:
    """Searcher.search as it was before search_with_detail (commit 4b02953)."""
    query = query.strip()
    k, n = s.config.top_k, max(s.config.candidates, s.config.top_k)
    if mode is Mode.DENSE:
        return s._guarded(principals, s.index.dense_search(s.embedder.embed_query(query), principals, k))[0]
    if mode is Mode.BM25:
        return s._guarded(principals, s.index.lexical_search(query, principals, k))[0]
    vector = s.embedder.embed_query(query)
    dense, lexical = s._guarded(
        principals,
        s.index.dense_search(vector, principals, n, with_vectors=s._feedback_on()),
        s.index.lexical_search(query, principals, n),
    )
    dense = s._feedback(vector, dense)
    if s.config.fusion == "rrf":
        return fusion.rrf(dense, lexical, s.config.rrf_k, k)
    return fusion.convex(dense, lexical, s.config.dense_weight, k)


CONFIGS = [SearchConfig(), SearchConfig(fusion="rrf"), SearchConfig(feedback_weight=0.0), SearchConfig(top_k=3, candidates=4)]


@pytest.mark.parametrize("config", CONFIGS, ids=["convex", "rrf", "no-feedback", "few-candidates"])
@pytest.mark.parametrize("mode", list(Mode))
def test_search_results_are_unchanged(index: LanceIndex, config: SearchConfig, mode: Mode) -> None:
    searcher = Searcher(EMB, index, config)
    for q in QUESTIONS:
        expected = reference_search(searcher, q, [ORG_MEMBERS], mode)
        got = searcher.search(q, [ORG_MEMBERS], mode=mode)
        assert [(h.chunk_id, h.score) for h in got] == [(h.chunk_id, h.score) for h in expected]
        assert all(h.vector is None for h in got)
        detail = searcher.search_with_detail(q, [ORG_MEMBERS], mode=mode)
        assert [(h.chunk_id, h.score) for h in detail.hits] == [(h.chunk_id, h.score) for h in got]


def test_detail_lists_are_the_permitted_candidates_before_feedback(index: LanceIndex) -> None:
    config = SearchConfig(candidates=6)
    searcher = Searcher(EMB, index, config)
    q = "how do I request vpn access"
    detail = searcher.search_with_detail(q, [ORG_MEMBERS])
    raw_dense = index.dense_search(EMB.embed_query(q), [ORG_MEMBERS], 6)
    assert [(h.chunk_id, h.score) for h in detail.dense] == [(h.chunk_id, h.score) for h in raw_dense]
    assert detail.lexical == index.lexical_search(q, [ORG_MEMBERS], 6)
    vector = EMB.embed_query(q)
    moved = searcher._feedback(vector, index.dense_search(vector, [ORG_MEMBERS], 6, with_vectors=True))
    assert {h.chunk_id: h.score for h in moved} != {h.chunk_id: h.score for h in detail.dense}  # fusion saw these


def test_detail_of_single_retriever_modes_and_empty_searches(index: LanceIndex) -> None:
    searcher = Searcher(EMB, index, SearchConfig())
    dense = searcher.search_with_detail("vpn", [ORG_MEMBERS], mode=Mode.DENSE)
    assert dense.dense == dense.hits and dense.lexical == []
    bm25 = searcher.search_with_detail("vpn", [ORG_MEMBERS], mode=Mode.BM25)
    assert bm25.lexical == bm25.hits and bm25.dense == []
    assert searcher.search_with_detail("   ", [ORG_MEMBERS]).hits == []
    assert searcher.search_with_detail("vpn", []).dense == []  # no principals: nothing reaches the index
