"""The last word on a hit: served only when the metadata database knows its document and the
ACL stored there admits the searcher.

The index's ACL filter decides what is searched; this check catches an index that has drifted
from the database (see retrieval.consistency): a document whose row is gone, or whose index
copy still carries a wider ACL than its row (a database restored from backup, a crash between
an ACL rewrite of the index and of the row). In a consistent store it removes nothing. A
database that cannot answer serves nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

from sqlalchemy import select

from core.db import Database, DocumentRow


class DocumentGuard(Protocol):
    def permitted(self, document_ids: Collection[str], principals: Sequence[str]) -> set[str]:
        """The ids among ``document_ids`` that may be shown to ``principals``."""
        ...


def _admits(acl: object, held: set[str]) -> bool:
    if not isinstance(acl, list) or not acl:
        return False
    return all(isinstance(clause, list) and held.intersection(clause) for clause in acl)


class DatabaseGuard:
    def __init__(self, db: Database) -> None:
        self.db = db

    def permitted(self, document_ids: Collection[str], principals: Sequence[str]) -> set[str]:
        if not document_ids:
            return set()
        held = set(principals)
        with self.db.session() as s:
            rows = s.execute(
                select(DocumentRow.id, DocumentRow.acl).where(DocumentRow.id.in_(list(document_ids)))
            ).all()
        return {doc_id for doc_id, acl in rows if _admits(acl, held)}
