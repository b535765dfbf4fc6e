"""Who owns or last edited a document (Document.author) reaches its metadata row, and a change
of owner alone updates the row without re-embedding; on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from connectors.sync import SyncEngine
from core.acl import ORG_MEMBERS
from core.db import Database, DocumentRow, IngestRun, as_utc
from tests.connectors.sync.fake_source import FakeSource


@pytest.fixture
def source() -> FakeSource:
    src = FakeSource()
    src.put("a", "alpha apples are red", owner="Priya Raman")
    src.put("b", "bravo bananas are yellow")
    src.put("c", "charlie cherries are dark", owner="Jonas Keller")
    return src


def rows(db: Database) -> dict[str, DocumentRow]:
    with db.session() as s:
        return {r.source_id: r for r in s.execute(select(DocumentRow)).scalars()}


def found(engine: SyncEngine, word: str) -> list[str]:
    return sorted(h.source_id for h in engine.index.lexical_search(word, [ORG_MEMBERS], 10))


def test_the_owner_is_stored_with_the_document(engine: SyncEngine, source: FakeSource) -> None:
    engine.run(source, "content")
    stored = rows(engine.db)
    assert {sid: r.owner for sid, r in stored.items()} == {"a": "Priya Raman", "b": None, "c": "Jonas Keller"}


def test_a_new_owner_alone_updates_the_row_without_reembedding(engine: SyncEngine, source: FakeSource) -> None:
    engine.run(source, "content")
    before = rows(engine.db)
    source.set_owner("a", "Marta Sousa")  # a new version, same text and ACL
    source.set_owner("c", None)  # the source no longer names anyone
    source.set_owner("b", None)  # a new version that still names nobody
    report = engine.run(source, "content")
    assert report.status == "succeeded"
    assert sorted(report.owner_updated) == ["a", "c"] and report.unchanged == ["b"]
    assert report.indexed == [] and report.acl_updated == [] and report.chunks_written == 0
    after = rows(engine.db)
    assert (after["a"].owner, after["b"].owner, after["c"].owner) == ("Marta Sousa", None, None)
    # The row is updated in place, not rewritten: same content hash, chunk count, indexing time.
    for sid in "abc":
        assert (after[sid].content_hash, after[sid].chunk_count, after[sid].indexed_at) == (
            before[sid].content_hash, before[sid].chunk_count, before[sid].indexed_at
        )
    assert found(engine, "apples") == ["a"]  # the index still holds it
    assert "2 owners updated" in report.summary()
    with engine.db.session() as s:
        last = s.execute(select(IngestRun).order_by(IngestRun.id.desc())).scalars().first()
        assert last is not None and last.counts["owner_updated"] == 2
    # Nothing changed since: a full run re-reads everything and writes nothing.
    again = engine.run(source, "full")
    assert again.owner_updated == [] and sorted(again.unchanged) == ["a", "b", "c"]
    assert "owners updated" not in again.summary()


def test_owner_and_acl_changing_together_are_both_written(engine: SyncEngine, source: FakeSource) -> None:
    engine.run(source, "content")
    source.set_acl("a", [["group:files:fake:eng"]])
    source.set_owner("a", "Marta Sousa")
    report = engine.run(source, "content")
    assert report.acl_updated == ["a"] and report.owner_updated == [] and report.chunks_written == 0
    row = rows(engine.db)["a"]
    assert row.owner == "Marta Sousa" and row.acl == [["group:files:fake:eng"]]
    assert found(engine, "apples") == []  # the new ACL reached the index


def test_a_rewritten_document_carries_its_new_owner(engine: SyncEngine, source: FakeSource) -> None:
    engine.run(source, "content")
    source.put("b", "bravo bananas are green now", owner="Anika Vogel")
    report = engine.run(source, "content")
    assert report.indexed == ["b"] and report.owner_updated == []
    assert rows(engine.db)["b"].owner == "Anika Vogel"


def test_a_source_time_with_an_offset_is_stored_as_the_same_instant(engine: SyncEngine, source: FakeSource) -> None:
    """Confluence Data Center reports server-local times (``+02:00``); SQLite would keep the wall
    time and lose the offset, so rows hold UTC."""
    local = datetime(2026, 6, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    source.docs["a"].updated_at = local
    engine.run(source, "content")
    stored = rows(engine.db)["a"].updated_at
    assert stored is not None and as_utc(stored) == datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
