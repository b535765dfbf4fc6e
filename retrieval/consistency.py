"""Do the index and the metadata database describe the same documents?

The writer keeps one invariant: every document in the index has a row (rows are written before
chunks and deleted after them). It breaks only from outside: a database deleted, replaced or
restored from an older backup while the index stayed (documents in the index that no row knows,
*orphans*: their ACL is whatever it was when written, so they are never served, see
retrieval.guard), or an index deleted while the database stayed (*missing* documents: rows
that say a document is indexed when the index has none of its chunks).

The index is read before the database: a document deleted in between (index first, then row)
then shows as an orphan, which is harmless to delete twice; the other order could take a
document that was just written for an orphan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select

from core.db import Database, DocumentRow


class DocumentLister(Protocol):
    def document_ids(self) -> set[str]: ...


@dataclass(frozen=True)
class Consistency:
    orphans: frozenset[str]  # document ids in the index that no row knows
    missing: frozenset[str]  # ids of finished rows with chunks that the index lacks

    @property
    def ok(self) -> bool:
        return not self.orphans and not self.missing

    def describe(self) -> str:
        if self.ok:
            return "index and database agree"
        parts = []
        if self.orphans:
            parts.append(f"{len(self.orphans)} documents in the index that the database does not know (never served)")
        if self.missing:
            parts.append(f"{len(self.missing)} documents missing from the index")
        return "; ".join(parts) + ": a full sync (`lore sync --full`, or `lore ingest`) repairs it"


def check_consistency(db: Database, index: DocumentLister, *, source: str | None = None) -> Consistency:
    """``source``: count missing documents of that source only (orphans have no source)."""
    in_index = index.document_ids()
    with db.session() as s:
        rows = s.execute(
            select(DocumentRow.id, DocumentRow.source, DocumentRow.content_hash, DocumentRow.chunk_count)
        ).all()
    known = {r[0] for r in rows}
    missing = {
        doc_id for doc_id, src, content_hash, chunks in rows
        if content_hash and chunks > 0 and doc_id not in in_index and (source is None or src == source)
    }
    return Consistency(frozenset(in_index - known), frozenset(missing))
