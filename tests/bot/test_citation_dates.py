"""The conversation service's lookups of document facts (last change, owner) in the metadata
database, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import event

from bot.citation_dates import DocumentFacts, DocumentFactsLookup
from core.db import Database, DocumentRow

CHANGED = datetime(2025, 3, 14, 8, 26, 53, tzinfo=UTC)  # rows hold UTC (the sync writer's rule)


def add(db: Database, doc_id: str, *, updated_at: datetime | None, owner: str | None) -> None:
    with db.session() as s:
        s.add(DocumentRow(id=doc_id, source="files:/x", source_id=f"{doc_id}.md", title=doc_id, url="",
                          content_hash="h" * 64, acl=[["org:members"]], chunk_count=1,
                          updated_at=updated_at, indexed_at=datetime.now(UTC), owner=owner))


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_facts_of_each_known_document_in_one_query(database: Database) -> None:
    add(database, "d1", updated_at=CHANGED, owner="Priya Raman (People team)")
    add(database, "d2", updated_at=None, owner=None)
    add(database, "d3", updated_at=None, owner="Inês Carvalho")
    lookup = DocumentFactsLookup(database)
    with statements(database) as seen:
        facts = lookup(["d1", "d2", "d3", "unknown", "d1"])
    assert [s for s in seen if s.lstrip().upper().startswith("SELECT")] and len(seen) == 1
    assert facts == {
        "d1": DocumentFacts(CHANGED, "Priya Raman (People team)"),
        "d2": DocumentFacts(None, None),
        "d3": DocumentFacts(None, "Inês Carvalho"),
    }
    updated = facts["d1"].updated_at
    assert updated is not None and updated.tzinfo == UTC  # aware UTC on both engines (SQLite: naive)


def test_no_ids_ask_nothing(database: Database) -> None:
    add(database, "d1", updated_at=CHANGED, owner="Priya Raman")
    with statements(database) as seen:
        assert DocumentFactsLookup(database)([]) == {}
    assert seen == []
