"""The ingest engine over the files connector, on SQLite and PostgreSQL metadata databases."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.base import Connector, GroupSnapshot, ScanItem
from connectors.files import FilesConnector
from connectors.ingest import IngestEngine
from core.acl import ORG_MEMBERS
from core.config import Config
from core.db import Database, DocumentRow, IngestRun
from core.memberships import members_of
from retrieval.chunking import Chunker
from retrieval.embedding import HashEmbedder
from retrieval.index.lance import LanceIndex

EMB = HashEmbedder(64)


def write(root: Path, rel: str, text: str) -> Path:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    write(root, "general/_acl.yaml", "allow: [org:members]\n")
    write(root, "general/vpn.md", "# VPN\n\n## Access\n\nRequest wireguard access in Helpdesk.\n")
    write(root, "general/leave.md", "# Leave\n\nTwenty seven days of annual leave.\n")
    write(root, "eng/_acl.yaml", "allow: [group:files:eng]\n")
    write(root, "eng/secret/_acl.yaml", "allow: [group:files:sec]\n")
    write(root, "eng/secret/breakglass.md", "# Breakglass\n\nThe breakglass account is nw-admin.\n")
    write(root, "groups.yaml", "eng: [a@x.io, b@x.io]\nsec: [b@x.io]\n")
    return root


@pytest.fixture
def engine(database: Database, tmp_path: Path) -> IngestEngine:
    index = LanceIndex(tmp_path / "index", EMB.dimension)
    return IngestEngine(database, index, EMB, Chunker(EMB.token_counts, 60, 10))


def connector(root: Path) -> FilesConnector:
    return FilesConnector(root, Config().files, instance="t")


def rows(db: Database) -> dict[str, DocumentRow]:
    with db.session() as s:
        return {r.source_id: r for r in s.execute(select(DocumentRow)).scalars()}


def assert_consistent(engine: IngestEngine) -> None:
    """Index and database agree: same documents, the recorded chunk counts, no pending rows."""
    db_rows = {r.id: r for r in rows(engine.db).values()}
    index = engine.index
    assert isinstance(index, LanceIndex)
    assert index.document_ids() == set(db_rows)
    for doc_id, row in db_rows.items():
        assert row.content_hash, f"{row.source_id} left pending"
        assert len(index.chunk_ids(doc_id)) == row.chunk_count
    assert index.count_chunks() == sum(r.chunk_count for r in db_rows.values())


def test_first_run_then_nothing_to_do(engine: IngestEngine, tree: Path) -> None:
    first = engine.ingest(connector(tree))
    assert first.status == "succeeded"
    assert sorted(first.indexed) == ["eng/secret/breakglass.md", "general/leave.md", "general/vpn.md"]
    assert members_of(engine.db, "group:files:t:sec") == {"b@x.io"}
    assert_consistent(engine)
    version = engine.index._table.version  # type: ignore[attr-defined]
    second = engine.ingest(connector(tree))
    assert second.counts()["unchanged"] == 3 and second.chunks_written == 0
    assert engine.index._table.version == version  # type: ignore[attr-defined]  # nothing written
    with engine.db.session() as s:
        runs = s.execute(select(IngestRun).order_by(IngestRun.id)).scalars().all()
        assert [r.status for r in runs] == ["succeeded", "succeeded"]
        assert runs[1].counts["unchanged"] == 3


def test_edit_replaces_chunks_and_delete_removes(engine: IngestEngine, tree: Path) -> None:
    engine.ingest(connector(tree))
    write(tree, "general/vpn.md", "# VPN\n\nNow we use a different client called tailscale.\n")
    (tree / "general/leave.md").unlink()
    report = engine.ingest(connector(tree))
    assert report.indexed == ["general/vpn.md"]
    assert report.deleted == ["general/leave.md"]
    assert_consistent(engine)
    hits = engine.index.lexical_search("wireguard", [ORG_MEMBERS], 10)
    assert hits == []  # the old text is gone, not duplicated
    assert [h.source_id for h in engine.index.lexical_search("tailscale", [ORG_MEMBERS], 10)] == ["general/vpn.md"]


def test_acl_change_rewrites_fields_without_reembedding(engine: IngestEngine, tree: Path) -> None:
    engine.ingest(connector(tree))
    write(tree, "general/_acl.yaml", "allow: [group:files:eng]\n")
    report = engine.ingest(connector(tree))
    assert sorted(report.acl_updated) == ["general/leave.md", "general/vpn.md"]
    assert report.chunks_written == 0
    assert engine.index.lexical_search("wireguard", [ORG_MEMBERS], 10) == []
    assert engine.index.lexical_search("wireguard", ["group:files:t:eng"], 10)
    assert rows(engine.db)["general/vpn.md"].acl == [["group:files:t:eng"]]


def test_rule_removed_or_broken_takes_documents_out(engine: IngestEngine, tree: Path) -> None:
    engine.ingest(connector(tree))
    (tree / "general/_acl.yaml").unlink()  # no rule any more: deny by default
    write(tree, "eng/secret/_acl.yaml", "allow: [usr:b@x.io]\n")  # a typo in a rule
    report = engine.ingest(connector(tree))
    assert report.status == "partial"
    assert sorted(report.deleted) == ["eng/secret/breakglass.md", "general/leave.md", "general/vpn.md"]
    assert [sid for sid, _ in report.failed] == ["eng/secret/breakglass.md"]
    assert "eng/secret/_acl.yaml line 1" in report.failed[0][1]
    assert engine.index.count_chunks() == 0
    assert_consistent(engine)


def test_broken_groups_file_keeps_memberships(engine: IngestEngine, tree: Path) -> None:
    engine.ingest(connector(tree))
    write(tree, "groups.yaml", "eng: [not-an-email]\n")
    report = engine.ingest(connector(tree))
    assert report.status == "failed"
    assert "previous memberships kept" in report.errors[0]
    assert members_of(engine.db, "group:files:t:eng") == {"a@x.io", "b@x.io"}
    assert report.counts()["unchanged"] == 3  # documents are still synced


class _BrokenScan(Connector):
    """A connector whose listing dies half way (``list_ids`` too: the default scans)."""

    def __init__(self, inner: FilesConnector) -> None:
        self.inner = inner

    @property
    def source(self) -> str:
        return self.inner.source

    @property
    def group_namespace(self) -> str:
        return self.inner.group_namespace

    def groups(self) -> GroupSnapshot:
        return self.inner.groups()

    def scan(self) -> Iterator[ScanItem]:
        for n, item in enumerate(self.inner.scan()):
            if n == 1:
                raise PermissionError("cannot list folder general/")
            yield item


def test_failed_listing_deletes_nothing(engine: IngestEngine, tree: Path) -> None:
    engine.ingest(connector(tree))
    report = engine.ingest(_BrokenScan(connector(tree)))
    assert report.status == "failed"
    assert report.deleted == []
    assert "cannot list folder" in report.errors[0]
    assert len(rows(engine.db)) == 3
    assert_consistent(engine)


def test_surplus_clauses_follow_membership_changes(engine: IngestEngine, tmp_path: Path) -> None:
    root = tmp_path / "deep"
    for i, part in enumerate(["a", "a/b", "a/b/c", "a/b/c/d"]):
        write(root, f"{part}/_acl.yaml", f"allow: [group:files:g{i}, {ORG_MEMBERS if i == 0 else 'user:z@x.io'}]\n")
    write(root, "a/b/c/d/doc.md", "---\nacl: [group:files:g4]\n---\n# Deep\n\nfive clauses of zebra text\n")
    write(root, "groups.yaml", "g0: [u@x.io]\ng1: [u@x.io]\ng2: [u@x.io]\ng3: [u@x.io]\ng4: [v@x.io]\n")
    engine.ingest(connector(root))
    principals = ["user:u@x.io", ORG_MEMBERS, "group:files:t:g0", "group:files:t:g1", "group:files:t:g2", "group:files:t:g3"]
    assert engine.index.lexical_search("zebra", principals, 5) == []  # not in g4
    write(root, "groups.yaml", "g0: [u@x.io]\ng1: [u@x.io]\ng2: [u@x.io]\ng3: [u@x.io]\ng4: [u@x.io]\n")
    report = engine.ingest(connector(root))
    assert report.groups_changed
    assert [h.source_id for h in engine.index.lexical_search("zebra", principals + ["group:files:t:g4"], 5)] == ["a/b/c/d/doc.md"]
