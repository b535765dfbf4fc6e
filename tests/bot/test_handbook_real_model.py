"""The bundled handbook with the real embedding model: paraphrased questions find the right
policy, and permissions hold in every search mode."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.memberships import principals_for
from retrieval.runtime import Runtime
from retrieval.search import Mode

pytestmark = pytest.mark.model


@pytest.fixture
def runtime(handbook_model_runtime: Runtime) -> Runtime:
    return handbook_model_runtime


@pytest.mark.parametrize(
    "question, expected",
    [
        ("how many vacation days do I get per year?", "general/holidays-and-leave.md"),
        ("I need to connect to the company network from home", "general/it-vpn-access.md"),
        ("who do I tell about a suspicious email?", "general/security-basics.md"),
        ("can I get reimbursed for a train ticket to a customer?", "general/travel.md"),
    ],
)
def test_paraphrased_questions(runtime: Runtime, question: str, expected: str) -> None:
    principals = principals_for(runtime.db, "erin@northwind.example", org_member=True)
    hits = runtime.searcher.search(question, principals, top_k=3)
    assert expected in [h.source_id for h in hits], [h.source_id for h in hits]


@pytest.mark.parametrize("mode", list(Mode))
def test_restricted_pages_stay_restricted(runtime: Runtime, mode: Mode) -> None:
    everyone_else = principals_for(runtime.db, "alice@northwind.example", org_member=True)
    hits = runtime.searcher.search("what are the salary bands per level and the layoff plan", everyone_else, mode=mode, top_k=50)
    assert hits and not any("confidential" in h.source_id for h in hits)
    carol = principals_for(runtime.db, "carol@northwind.example", org_member=True)
    hits = runtime.searcher.search("what are the salary bands per level", carol, mode=mode, top_k=5)
    assert any(h.source_id == "hr/confidential/salary-bands.md" for h in hits)


def test_index_survives_reopen(runtime: Runtime, tmp_path: Path) -> None:
    again = Runtime(runtime.config)
    assert again.index.count_chunks() == runtime.index.count_chunks()
    again.close()
