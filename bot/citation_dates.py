"""When each cited document last changed at its source, from the metadata database."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from core.db import Database, DocumentRow


class DocumentDatesLookup:
    """Document ids -> when each last changed at its source (the metadata database)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def __call__(self, document_ids: list[str]) -> dict[str, datetime]:
        with self.db.session() as s:
            rows = s.execute(
                select(DocumentRow.id, DocumentRow.updated_at).where(DocumentRow.id.in_(document_ids))
            ).all()
        return {doc_id: updated for doc_id, updated in rows if updated is not None}
