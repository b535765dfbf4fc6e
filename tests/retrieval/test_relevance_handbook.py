"""Issue 11, item 1, with the real model: the shipped relevance gate on the written handbook set
(examples/handbook-questions.yaml), as docs/PERFORMANCE.md ("Relevance gate") reports it.

Answerable: the questions whose answering page is among the asker's hits (what "answered before
the gate" means here); the gate must let at least 95% of them through. Unanswerable: the questions
no page answers, plus those only a page the asker may not read answers. The full curve, with the
BEIR sets, is bench/test_bench_relevance_gate.py; this guards the shipped default's operating
point on the handbook so a change to the signals or the floor cannot silently move it.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from core.memberships import principals_for
from retrieval.relevance import RelevanceGate, compute_signals
from retrieval.runtime import Runtime
from tests.conftest import REPO

pytestmark = pytest.mark.model

QUESTIONS = REPO / "examples" / "handbook-questions.yaml"
MIN_ANSWERED = 0.95  # issue 11's target
MIN_ABSTAINED = 0.50  # measured 52.5% (21 of 40) on 2026-12-04; the target of 85% is not met


def _decisions(rt: Runtime, questions: list[dict[str, Any]], *, need_page: bool) -> list[tuple[str, bool]]:
    gate = RelevanceGate()
    out = []
    for q in questions:
        principals = principals_for(rt.db, q["asker"], org_member=True)
        detail = rt.searcher.search_with_detail(q["question"], principals)
        if need_page and q["source_id"] not in {h.source_id for h in detail.hits}:
            continue  # the retriever misses it: not the gate's question
        out.append((q["question"], gate.answers(compute_signals(q["question"], detail))))
    return out


def test_the_shipped_gate_on_the_handbook_questions(handbook_model_runtime: Runtime) -> None:
    data = yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))
    answerable = _decisions(handbook_model_runtime, data["answerable"], need_page=True)
    unanswerable = _decisions(handbook_model_runtime, data["unanswerable"] + data["not_permitted"], need_page=False)
    answered = sum(ok for _, ok in answerable) / len(answerable)
    abstained = sum(not ok for _, ok in unanswerable) / len(unanswerable)
    print(f"handbook: the gate answers {answered:.1%} of {len(answerable)} answerable questions and abstains "
          f"on {abstained:.1%} of {len(unanswerable)} unanswerable ones")
    assert len(answerable) >= 75  # the retriever finds the page for nearly all (78 of 82 measured)
    assert answered >= MIN_ANSWERED, [q for q, ok in answerable if not ok]
    assert abstained >= MIN_ABSTAINED, [q for q, ok in unanswerable if ok]


def test_the_issue_example_of_a_question_the_asker_may_not_read_the_answer_to(handbook_model_runtime: Runtime) -> None:
    """erin asking for the L5 salary band (only a page she may not read answers it)."""
    rt = handbook_model_runtime
    question = "what is the salary band for L5?"
    erin = rt.searcher.search_with_detail(question, principals_for(rt.db, "erin@northwind.example", org_member=True))
    assert not RelevanceGate().answers(compute_signals(question, erin))
    carol = rt.searcher.search_with_detail(question, principals_for(rt.db, "carol@northwind.example", org_member=True))
    assert RelevanceGate().answers(compute_signals(question, carol))


def test_the_no_llm_answer_path_on_the_handbook_questions(handbook_model_runtime: Runtime) -> None:
    """What an asker gets without an LLM: the gate, then the extractive answer, which declines
    when no piece holds enough of the question. Answered = the reply contains the answering
    sentence; abstained = the honest reply (no quote)."""
    from retrieval.answer.answerer import number_sources
    from retrieval.answer.extractive import compose
    from tests.retrieval.answer.test_extractive_handbook import normalised

    rt = handbook_model_runtime
    data = yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))
    gate = RelevanceGate()

    def reply(q: dict[str, Any]) -> str:
        principals = principals_for(rt.db, q["asker"], org_member=True)
        detail = rt.searcher.search_with_detail(q["question"], principals)
        if not gate.answers(compute_signals(q["question"], detail)):
            return ""
        return compose(q["question"], number_sources(detail.hits))

    answered = [normalised(q["answer"]) in normalised(reply(q)) for q in data["answerable"]]
    unanswerable = data["unanswerable"] + data["not_permitted"]
    quoted = [q["question"] for q in unanswerable if reply(q)]
    answer_rate = sum(answered) / len(answered)
    abstain_rate = 1 - len(quoted) / len(unanswerable)
    print(f"handbook, no LLM: {answer_rate:.1%} of {len(answered)} answers hold the answering sentence; "
          f"{abstain_rate:.1%} of {len(unanswerable)} unanswerable questions get the honest reply")
    assert answer_rate >= 0.80  # issue 11's target for the extractive answer (measured 85.4%)
    assert abstain_rate >= 0.60, quoted  # measured 65.0% (26 of 40)
