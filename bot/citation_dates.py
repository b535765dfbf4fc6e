"""What the metadata database knows about cited (or suggested) documents: when each last changed
at its source, and who owns or last edited it there."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from core.db import Database, DocumentRow, as_utc


@dataclass(frozen=True)
class DocumentFacts:
    """What a reply may say about one document besides its text."""

    updated_at: datetime | None  # when it last changed at its source (aware, UTC)
    owner: str | None  # whom to ask: its owner or last editor's display name, as the source records


class DocumentFactsLookup:
    """Document ids -> their DocumentFacts, in one query; ids the database does not know are
    absent. It does not check who may read them: pass only documents the asker may read (an
    owner named on a page is as private as the page)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def __call__(self, document_ids: list[str]) -> dict[str, DocumentFacts]:
        if not document_ids:
            return {}
        with self.db.session() as s:
            rows = s.execute(
                select(DocumentRow.id, DocumentRow.updated_at, DocumentRow.owner).where(
                    DocumentRow.id.in_(set(document_ids))
                )
            ).all()
        return {
            doc_id: DocumentFacts(as_utc(updated) if updated is not None else None, owner)
            for doc_id, updated, owner in rows
        }
