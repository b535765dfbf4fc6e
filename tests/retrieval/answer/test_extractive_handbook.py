"""Issue 11, item 2, measured: with the real model, the extractive answer to each answerable
question of examples/handbook-questions.yaml contains the sentence that answers it.

Issue 11's target is 80% of the answerable questions. Measured on 2026-12-04: 74% (61 of 82)
before issue 11's rework of the extractive provider, 90% (74 of 82) after it, 87% (71 of 82) once
it declines when the best piece holds under a fifth of the question's word weight
(docs/PERFORMANCE.md).
FLOOR guards the measured level so that it cannot silently get worse; the rate is printed and
the questions missed are listed on failure.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from core.memberships import principals_for
from retrieval.answer.answerer import number_sources
from retrieval.answer.citations import MARKER_RE
from retrieval.answer.extractive import compose
from retrieval.runtime import Runtime
from tests.conftest import REPO

pytestmark = pytest.mark.model

QUESTIONS = REPO / "examples" / "handbook-questions.yaml"
TARGET = 0.80  # issue 11
FLOOR = 0.86  # measured 0.87 (71 of 82); 70 of 82 would fail


def normalised(text: str) -> str:
    """Markup, citation markers and spacing aside: what a reader sees."""
    text = MARKER_RE.sub("", text)
    text = re.sub(r"[*_`>#]|^\s*(?:[-+]|\d+[.)])\s+", "", text, flags=re.MULTILINE)
    return " ".join(text.split()).lower().rstrip(".")


def answerable() -> list[dict[str, Any]]:
    data = yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))
    return list(data["answerable"])


@pytest.fixture
def runtime(handbook_model_runtime: Runtime) -> Runtime:
    return handbook_model_runtime


def test_the_extractive_answer_contains_the_answering_sentence(runtime: Runtime) -> None:
    missed = []
    questions = answerable()
    for q in questions:
        principals = principals_for(runtime.db, q["asker"], org_member=True)
        hits = runtime.searcher.search(q["question"], principals, top_k=runtime.config.search.top_k)
        text = compose(q["question"], number_sources(hits))
        if normalised(q["answer"]) not in normalised(text):
            missed.append((q["question"], q["answer"], text))
    rate = 1 - len(missed) / len(questions)
    print(f"extractive answers containing the answering sentence: {rate:.0%} of {len(questions)} "
          f"(target {TARGET:.0%})")
    assert rate >= max(FLOOR, TARGET), "\n\n".join(f"Q: {q}\nwant: {a}\ngot:  {t}" for q, a, t in missed)
