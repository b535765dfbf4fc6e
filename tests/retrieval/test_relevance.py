"""The relevance gate's signals and decision (retrieval.relevance), with the hash embedder."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from core.acl import ORG_MEMBERS, Acl
from core.config import SearchConfig
from core.models import Chunk
from retrieval.acl_fields import encode_acl
from retrieval.embedding import HashEmbedder
from retrieval.index.base import Hit, IndexedChunk
from retrieval.index.lance import LanceIndex
from retrieval.relevance import (
    NO_SIGNALS,
    RelevanceGate,
    RelevanceSettings,
    Signals,
    agreement,
    compute_signals,
    content_terms,
    coverage,
)
from retrieval.search import SearchDetail, Searcher

EMB = HashEmbedder(64)
PUBLIC = Acl.of([[ORG_MEMBERS]])
HR_ONLY = Acl.of([["group:files:hr"]])


def hit(doc: str, n: int = 0, text: str = "", score: float = 1.0, title: str = "", headings: tuple[str, ...] = ()) -> Hit:
    return Hit(f"{doc}:{n}", doc, f"{doc}.md", title, "", headings, text, score)


def chunks(doc: str, texts: list[str], acl: Acl) -> list[IndexedChunk]:
    fields = encode_acl(acl, lambda _g: ())
    vectors = EMB.embed_documents([f"{doc}\n{t}" for t in texts])
    return [
        IndexedChunk(Chunk(f"{doc}:{i}", doc, i, f"{doc}.md", doc, "", (), t, f"{doc}\n{t}", acl), vectors[i], fields)
        for i, t in enumerate(texts)
    ]


def make_index(path: Path, with_secret: bool = True) -> LanceIndex:
    index = LanceIndex(path, EMB.dimension)
    index.replace_documents(["vpn"], chunks("vpn", ["request vpn access from the service desk", "vpn client for linux"], PUBLIC))
    index.replace_documents(["leave"], chunks("leave", ["annual leave is 25 days per year"], PUBLIC))
    index.replace_documents(["wifi"], chunks("wifi", ["office wifi password is on the badge"], PUBLIC))
    if with_secret:
        index.replace_documents(["salary"], chunks("salary", ["salary band l5 pay range"], HR_ONLY))
    index.optimize()
    return index


def test_content_terms_drop_stop_words_and_stem() -> None:
    assert content_terms("How do I request new laptops?") == {"request", "new", "laptop"}
    assert content_terms("What is it?") == frozenset()


def test_coverage_is_the_best_single_passage_share() -> None:
    question = content_terms("office dog policy")
    passages = [hit("a", text="the office is open"), hit("b", text="dogs are welcome under the policy")]
    assert coverage(question, passages) == pytest.approx(2 / 3)  # not the union (3/3)
    assert coverage(question, [hit("c", text="dog policy", title="Office")]) == 1.0  # the title counts
    assert coverage(question, [hit("d", text="policy", headings=("Office", "Dogs"))]) == 1.0  # headings count
    assert coverage(question, [hit("e", text="parking")]) == 0.0
    assert coverage(frozenset(), passages) == 0.0


def test_agreement_counts_shared_documents_in_the_top_k() -> None:
    dense = [hit("a"), hit("a", 1), hit("b"), hit("c")]  # a's two chunks are one document
    lexical = [hit("b"), hit("d"), hit("a")]
    assert agreement(dense, lexical, k=2) == 0.5  # top 2 documents: {a, b} and {b, d}
    assert agreement(dense, lexical, k=3) == pytest.approx(2 / 3)
    assert agreement(dense, [], k=3) == 0.0
    assert agreement([], lexical, k=3) == 0.0


def test_signals_come_from_the_search_lists(tmp_path: Path) -> None:
    index = make_index(tmp_path / "ix")
    searcher = Searcher(EMB, index, SearchConfig())
    question = "how do I request vpn access"
    detail = searcher.search_with_detail(question, [ORG_MEMBERS])
    signals = compute_signals(question, detail)
    best_cosine = max(float(np.dot(EMB.embed_query(question), EMB.embed_documents([c])[0]))
                      for c in ["vpn\nrequest vpn access from the service desk", "vpn\nvpn client for linux",
                                "leave\nannual leave is 25 days per year", "wifi\noffice wifi password is on the badge"])
    assert signals.dense_top == pytest.approx(best_cosine, abs=1e-5)  # the question's own cosine, before feedback
    assert signals.lexical_top == pytest.approx(index.lexical_search(question, [ORG_MEMBERS], 5)[0].score)
    assert signals.fused_top == detail.hits[0].score
    assert signals.coverage == 1.0 and signals.question_terms == 3  # request, vpn, access
    assert signals.lexical_per_term == pytest.approx(signals.lexical_top / 3)
    assert 0.0 < signals.agreement <= 1.0


def test_signals_ignore_documents_the_asker_may_not_read(tmp_path: Path) -> None:
    question = "salary band l5"
    with_secret = Searcher(EMB, make_index(tmp_path / "a"), SearchConfig())
    without = Searcher(EMB, make_index(tmp_path / "b", with_secret=False), SearchConfig())
    denied = compute_signals(question, with_secret.search_with_detail(question, [ORG_MEMBERS]))
    assert denied == compute_signals(question, without.search_with_detail(question, [ORG_MEMBERS]))
    allowed = compute_signals(question, with_secret.search_with_detail(question, [ORG_MEMBERS, "group:files:hr"]))
    assert allowed.dense_top > denied.dense_top and allowed.coverage == 1.0 > denied.coverage


def test_no_hits_give_no_signals() -> None:
    assert compute_signals("anything at all", SearchDetail([])) == NO_SIGNALS
    assert not RelevanceGate().answers(NO_SIGNALS)


def test_gate_answers_when_closeness_plus_coverage_reaches_the_floor() -> None:
    s = Signals(dense_top=0.4, fused_top=1.0, lexical_top=5.0, agreement=0.3, coverage=0.5, question_terms=2)
    assert s.score == pytest.approx(0.9)
    assert RelevanceGate(RelevanceSettings(min_score=0.9)).answers(s)  # the floor is inclusive
    assert not RelevanceGate(RelevanceSettings(min_score=0.91)).answers(s)
    # Neither part alone decides: less closeness is made up by more of the question's words.
    assert RelevanceGate(RelevanceSettings(min_score=0.9)).answers(replace(s, dense_top=0.2, coverage=0.75))
    assert not RelevanceGate(RelevanceSettings(min_score=0.9)).answers(replace(s, dense_top=0.8, coverage=0.0))
    everything = RelevanceGate(RelevanceSettings(min_score=0.0))
    assert everything.answers(replace(s, dense_top=0.0, coverage=0.0, agreement=0.0))


def test_default_floor_is_the_calibrated_one() -> None:
    s = Signals(dense_top=0.45, fused_top=0.0, lexical_top=0.0, agreement=0.0, coverage=0.25, question_terms=4)
    gate = RelevanceGate()
    assert gate.settings.min_score == 0.70  # docs/PERFORMANCE.md, "Relevance gate"
    assert gate.answers(s)
    assert not gate.answers(replace(s, dense_top=0.4499))


@pytest.mark.parametrize("value", [-0.1, 2.01])
def test_floors_out_of_range_are_refused(value: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 2"):
        RelevanceSettings(min_score=value)
