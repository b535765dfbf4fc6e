"""Issue 11, item 2, measured: with the real model, the extractive answer to each answerable
question of examples/handbook-questions.yaml contains the sentence that answers it.

Issue 11's target is 80% of the answerable questions. Measured on 2026-12-04: 74% (61 of 82)
before issue 11's rework of the extractive provider, 90% (74 of 82) after it (docs/PERFORMANCE.md).
FLOOR guards the measured level so that it cannot silently get worse; the rate is printed and
the questions missed are listed on failure.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from connectors.files import FilesConnector
from connectors.ingest import IngestEngine
from core.config import Config
from core.memberships import principals_for
from retrieval.answer.answerer import number_sources
from retrieval.answer.citations import MARKER_RE
from retrieval.answer.extractive import compose
from retrieval.runtime import Runtime
from tests.conftest import REPO

pytestmark = pytest.mark.model

QUESTIONS = REPO / "examples" / "handbook-questions.yaml"
TARGET = 0.80  # issue 11
FLOOR = 0.89  # measured 0.90 (74 of 82); 72 of 82 would fail


def normalised(text: str) -> str:
    """Markup, citation markers and spacing aside: what a reader sees."""
    text = MARKER_RE.sub("", text)
    text = re.sub(r"[*_`>#]|^\s*(?:[-+]|\d+[.)])\s+", "", text, flags=re.MULTILINE)
    return " ".join(text.split()).lower().rstrip(".")


def answerable() -> list[dict[str, Any]]:
    data = yaml.safe_load(QUESTIONS.read_text(encoding="utf-8"))
    return list(data["answerable"])


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Runtime:
    rt = Runtime(Config(data_dir=tmp_path_factory.mktemp("data")))
    report = IngestEngine(rt.db, rt.index, rt.embedder, rt.chunker).ingest(
        FilesConnector(REPO / "examples" / "handbook", rt.config.files, instance="handbook")
    )
    assert report.status == "succeeded"
    return rt


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
