"""Front matter ``owner:`` through the files connector and the sync engine: it becomes the
document's author and its row's owner, an edit of it alone updates the row without
re-embedding, and an invalid one fails its file like any invalid front matter (SQLite and
PostgreSQL)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.base import Failed
from connectors.files import FilesConnector
from connectors.sync import SyncEngine
from core.acl import ORG_MEMBERS
from core.config import FilesConfig
from core.db import Database, DocumentRow
from core.models import Document
from retrieval.chunking import Chunker
from retrieval.embedding import HashEmbedder
from retrieval.index.lance import LanceIndex
from tests.builders import write
from tests.conftest import REPO

EMB = HashEmbedder(64)
PRIYA = "---\ntitle: Leave\nowner: Priya Raman (People team)\n---\n\n# Leave\n\nTwenty seven days of annual leave.\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    write(root, "_acl.yaml", "allow: [org:members]\n")
    write(root, "leave.md", PRIYA)
    write(root, "vpn.md", "# VPN\n\nRequest wireguard access in Helpdesk.\n")
    write(root, "hours.txt", "The office opens at nine.\n")
    return root


@pytest.fixture
def engine(database: Database, tmp_path: Path) -> SyncEngine:
    index = LanceIndex(tmp_path / "index", EMB.dimension)
    return SyncEngine(database, index, EMB, Chunker(EMB.token_counts, 60, 10))


def connector(root: Path) -> FilesConnector:
    return FilesConnector(root, FilesConfig(), instance="t")


def owners(db: Database) -> dict[str, str | None]:
    with db.session() as s:
        return {r.source_id: r.owner for r in s.execute(select(DocumentRow)).scalars()}


def found(engine: SyncEngine, word: str) -> list[str]:
    return sorted(h.source_id for h in engine.index.lexical_search(word, [ORG_MEMBERS], 10))


def test_front_matter_owner_is_the_documents_author(tree: Path) -> None:
    items = {i.source_id: i for i in connector(tree).scan()}
    leave, vpn, hours = items["leave.md"], items["vpn.md"], items["hours.txt"]
    assert isinstance(leave, Document) and isinstance(vpn, Document) and isinstance(hours, Document)
    assert (leave.author, vpn.author, hours.author) == ("Priya Raman (People team)", None, None)
    assert leave.title == "Leave"


def test_an_invalid_owner_fails_its_file_with_the_line_and_the_fix(tree: Path) -> None:
    write(tree, "bad.md", "---\ntitle: Bad\nowner: [Priya, Jonas]\n---\n\ntext\n")
    items = {i.source_id: i for i in connector(tree).scan()}
    bad = items["bad.md"]
    assert isinstance(bad, Failed)
    assert bad.reason.startswith("bad.md line 3: front matter `owner` must be one name in plain text")
    assert "e.g. `owner: Priya Raman (People team)`" in bad.reason
    assert all(isinstance(items[k], Document) for k in ("leave.md", "vpn.md", "hours.txt"))


def test_sync_stores_the_owner_and_an_edit_of_it_alone_does_not_reembed(engine: SyncEngine, tree: Path) -> None:
    first = engine.run(connector(tree), "content")
    assert sorted(first.indexed) == ["hours.txt", "leave.md", "vpn.md"]
    assert owners(engine.db) == {"leave.md": "Priya Raman (People team)", "vpn.md": None, "hours.txt": None}

    write(tree, "leave.md", PRIYA.replace("Priya Raman (People team)", "Inês Carvalho (People team)"))
    write(tree, "vpn.md", "---\nowner: Rui Almeida (IT)\n---\n# VPN\n\nRequest wireguard access in Helpdesk.\n")
    second = engine.run(connector(tree), "content")
    assert second.status == "succeeded"
    assert sorted(second.owner_updated) == ["leave.md", "vpn.md"]
    assert second.indexed == [] and second.chunks_written == 0 and second.unchanged == ["hours.txt"]
    assert owners(engine.db) == {
        "leave.md": "Inês Carvalho (People team)", "vpn.md": "Rui Almeida (IT)", "hours.txt": None
    }
    assert found(engine, "wireguard") == ["vpn.md"]

    # The owner line removed: the row names nobody again.
    write(tree, "vpn.md", "# VPN\n\nRequest wireguard access in Helpdesk.\n")
    third = engine.run(connector(tree), "content")
    assert third.owner_updated == ["vpn.md"] and owners(engine.db)["vpn.md"] is None
    assert engine.run(connector(tree), "full").owner_updated == []  # nothing left to change


def test_an_owner_broken_later_takes_the_file_out_of_the_index(engine: SyncEngine, tree: Path) -> None:
    engine.run(connector(tree), "content")
    write(tree, "leave.md", PRIYA.replace("owner: Priya Raman (People team)", "owner: |\n  Priya\n  Jonas"))
    report = engine.run(connector(tree), "content")
    assert report.status == "partial"
    [(source_id, reason)] = report.failed
    assert source_id == "leave.md" and reason.startswith("leave.md line 3: front matter `owner` must be on one line")
    assert report.deleted == ["leave.md"]  # invalid front matter fails closed, as an invalid acl does
    assert found(engine, "annual") == [] and "leave.md" not in owners(engine.db)


def test_the_sample_handbooks_owners_are_those_its_readme_lists() -> None:
    handbook = REPO / "examples" / "handbook"
    section = (handbook / "README.md").read_text(encoding="utf-8").split("## Page owners", 1)[1].split("\n## ", 1)[0]
    listed = {
        page.strip(): owner.strip()
        for owner, pages in re.findall(r"^\| ([^|]+) \| ([^|]+\.md[^|]*) \|", section, re.MULTILINE)
        for page in re.split(r"[,;]", pages)
    }
    handbook_connector = FilesConnector(handbook, FilesConfig(), instance="handbook")
    try:
        documents = [d for d in handbook_connector.scan() if isinstance(d, Document)]
    finally:
        handbook_connector.close()
    found = {d.source_id: d.author for d in documents if d.author is not None}
    assert found == listed
    assert 0.4 <= len(found) / len(documents) <= 0.6  # about half name someone
