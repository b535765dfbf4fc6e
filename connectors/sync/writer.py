"""Documents -> index updates and metadata rows, in batches, safe to interrupt at any point.

Crash safety rests on one ordering rule: the metadata row of a document is written (as
*pending*, with an empty content hash) before its chunks reach the index, and marked final after.
So every document in the index has a row; a pending row after a crash never matches the content
hash, and the next run rewrites that document (replacement is idempotent). Deletions go index
first, then row. A document whose content hash and ACL match its row writes nothing; when only
its owner differs (not in the index), the row alone is updated, without re-embedding.

A document that is skipped or fails is removed from the index if an earlier run had indexed it:
when we cannot tell who may read it, or what it says, nobody reads it (fail closed).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import delete, select

from connectors.sync.report import SyncReport
from core.acl import Acl, PrincipalError
from core.db import Database, DocumentRow
from core.memberships import members_of
from core.models import Document, DocumentRefused
from retrieval.acl_fields import AclEncodingError, AclFields, encode_acl, needs_expansion
from retrieval.chunking import Chunker
from retrieval.embedding import Embedder
from retrieval.index.base import IndexBackend
from retrieval.indexing import Prepared, prepare, write_documents

log = logging.getLogger("lore.sync")

_IN_LIMIT = 500  # ids per IN (...) list


def _now() -> datetime:
    return datetime.now(UTC)


class DocumentWriter:
    """Buffers documents and applies them in batches of about ``batch_chunks`` chunks."""

    def __init__(
        self,
        db: Database,
        index: IndexBackend,
        embedder: Embedder,
        chunker: Chunker,
        report: SyncReport,
        *,
        batch_chunks: int = 256,
    ) -> None:
        self.db = db
        self.index = index
        self.embedder = embedder
        self.chunker = chunker
        self.report = report
        self.batch_chunks = batch_chunks
        self._pending: dict[str, Prepared] = {}
        self._pending_chunks = 0
        self._acls: dict[str, tuple[Acl, AclFields]] = {}

    def members(self, group: str) -> set[str]:
        return members_of(self.db, group)

    # -- documents --------------------------------------------------------------------------

    def upsert(self, document: Document) -> None:
        """Queue a document; a later version of the same document in the batch wins."""
        document = document.storable()
        try:
            prepared = prepare(document, self.members)
        except (DocumentRefused, AclEncodingError) as exc:
            self.refuse(document.source, document.source_id, str(exc), failed=False)
            return
        self._pending[document.id] = prepared
        self._pending_chunks += max(1, sum(len(s.text) for s in document.sections) // 800)
        if self._pending_chunks >= self.batch_chunks:
            self.flush()

    def refuse(self, source: str, source_id: str, reason: str, *, failed: bool) -> None:
        """Skipped or failed: recorded, and removed from the index if it was there."""
        (self.report.failed if failed else self.report.skipped).append((source_id, reason))
        for doc_id in [k for k, p in self._pending.items() if p.document.source_id == source_id]:
            del self._pending[doc_id]  # an earlier version queued in this batch is void too
        self.delete(source, [source_id])

    def flush(self) -> None:
        """Write what is queued (documents and ACL rewrites). Everything queued before is
        durable when this returns."""
        if not self._pending:
            self.flush_acls()
            return
        batch, self._pending, self._pending_chunks = list(self._pending.values()), {}, 0
        rows = self.rows([p.document.id for p in batch])
        to_write: list[Prepared] = []
        owners: dict[str, str | None] = {}
        for p in batch:
            row = rows.get(p.document.id)
            if row is not None and row.content_hash == p.document.content_hash():
                if row.owner != p.document.author:
                    owners[row.id] = p.document.author
                if stored_acl(row.acl) != p.acl:
                    self._queue_acl(p.document.id, p.acl, p.fields)
                    self.report.acl_updated.append(p.document.source_id)
                elif row.id in owners:
                    self.report.owner_updated.append(p.document.source_id)
                else:
                    self.report.unchanged.append(p.document.source_id)
            else:
                to_write.append(p)
        self._write_owners(owners)
        self.flush_acls()
        self._write_isolating(to_write)

    def _write_owners(self, owners: dict[str, str | None]) -> None:
        """Rows whose content is unchanged but whose owner is not: the owner is only in the
        row, so nothing else is written."""
        if not owners:
            return
        with self.db.session() as s:
            for row in s.execute(select(DocumentRow).where(DocumentRow.id.in_(list(owners)))).scalars():
                row.owner = owners[row.id]

    def _write_isolating(self, batch: list[Prepared]) -> None:
        """Write a batch; when it fails, write its documents one by one, so that the one that
        cannot be written fails alone (and leaves the index) and the others are written."""
        try:
            self._write(batch)
            return
        except Exception as exc:
            if len(batch) == 1:
                d = batch[0].document
                log.exception("document could not be written", extra={"source_id": d.source_id})
                self.refuse(d.source, d.source_id, f"could not be written: {exc.__class__.__name__}: "
                            f"{str(exc).splitlines()[0][:200] if str(exc) else ''}", failed=True)
                return
        for p in batch:
            self._write_isolating([p])

    def _write(self, batch: list[Prepared]) -> None:
        if not batch:
            return
        with self.db.session() as s:  # 1. pending rows: from here on the index may hold them
            for p in batch:
                s.merge(_row(p, content_hash="", chunk_count=-1))
        counts = write_documents(batch, self.chunker, self.embedder, self.index)  # 2. index
        with self.db.session() as s:  # 3. final rows
            for p in batch:
                s.merge(_row(p, content_hash=p.document.content_hash(), chunk_count=counts[p.document.id]))
        self.report.indexed.extend(p.document.source_id for p in batch)
        self.report.chunks_written += sum(counts.values())

    # -- ACLs -------------------------------------------------------------------------------

    def queue_acl(self, doc_id: str, acl: Acl) -> None:
        """Queue a rewrite of a document's ACL fields, without re-embedding (raises
        AclEncodingError at once); ``flush_acls`` applies the queue."""
        self._queue_acl(doc_id, acl, encode_acl(acl, self.members))

    def _queue_acl(self, doc_id: str, acl: Acl, fields: AclFields) -> None:
        self._acls[doc_id] = (acl, fields)
        if len(self._acls) >= _IN_LIMIT:
            self.flush_acls()

    def flush_acls(self) -> None:
        """Index first, then rows: a crash in between leaves rows with the old ACL, which the
        next permission sync finds different from the source and rewrites again."""
        if not self._acls:
            return
        queued, self._acls = self._acls, {}
        self.index.update_acls({doc_id: fields for doc_id, (_, fields) in queued.items()})
        with self.db.session() as s:
            for row in s.execute(select(DocumentRow).where(DocumentRow.id.in_(list(queued)))).scalars():
                row.acl = queued[row.id][0].to_json()

    def reencode_expanded(self) -> None:
        """Memberships changed: documents whose surplus ACL clauses were expanded into users at
        index time get their ACL fields recomputed (no re-embedding; rows keep the same ACL)."""
        with self.db.session() as s:
            rows = s.execute(select(DocumentRow.id, DocumentRow.acl)).all()
        acls = ((doc_id, stored_acl(acl_json)) for doc_id, acl_json in rows)
        # A stored ACL no longer readable (an older principal form) is left alone here: the
        # next read of its document finds it different and rewrites it.
        updates = {doc_id: encode_acl(acl, self.members) for doc_id, acl in acls
                   if acl is not None and needs_expansion(acl)}
        if updates:
            self.index.update_acls(updates)

    def mark_for_rewrite(self, doc_ids: Iterable[str]) -> None:
        """Rows whose chunks the index lost: marked pending (empty content hash), so the next
        read of each document writes it again instead of finding it unchanged."""
        ids = sorted(doc_ids)
        with self.db.session() as s:
            for start in range(0, len(ids), _IN_LIMIT):
                part = ids[start : start + _IN_LIMIT]
                for row in s.execute(select(DocumentRow).where(DocumentRow.id.in_(part))).scalars():
                    row.content_hash = ""

    # -- rows and deletions -----------------------------------------------------------------

    def rows(self, doc_ids: Iterable[str]) -> dict[str, DocumentRow]:
        ids = list(doc_ids)
        found: dict[str, DocumentRow] = {}
        with self.db.session() as s:
            for start in range(0, len(ids), _IN_LIMIT):
                part = ids[start : start + _IN_LIMIT]
                for row in s.execute(select(DocumentRow).where(DocumentRow.id.in_(part))).scalars():
                    found[row.id] = row
        return found

    def source_rows(self, source: str) -> dict[str, DocumentRow]:
        """Every row of a source, by source id."""
        with self.db.session() as s:
            rows = s.execute(select(DocumentRow).where(DocumentRow.source == source)).scalars().all()
        return {r.source_id: r for r in rows}

    def delete(self, source: str, source_ids: Iterable[str], *, record: bool = True) -> None:
        """Remove these documents of ``source`` (those that are indexed). Queued writes go first,
        so a document written then deleted in one run ends deleted."""
        self.flush()
        wanted = list(dict.fromkeys(source_ids))
        ids: dict[str, str] = {}
        with self.db.session() as s:
            for start in range(0, len(wanted), _IN_LIMIT):
                part = wanted[start : start + _IN_LIMIT]
                for doc_id, sid in s.execute(
                    select(DocumentRow.id, DocumentRow.source_id).where(
                        DocumentRow.source == source, DocumentRow.source_id.in_(part)
                    )
                ):
                    ids[doc_id] = sid
        self.delete_ids(ids, record=record)

    def delete_ids(self, ids: dict[str, str], *, record: bool = True) -> None:
        """``ids``: document id -> source id. Index first, then rows."""
        for doc_id in ids:
            self._acls.pop(doc_id, None)  # a queued ACL rewrite of a deleted document is void
        if not ids:
            return
        doc_ids = sorted(ids)
        self.index.delete_documents(doc_ids)
        with self.db.session() as s:
            for start in range(0, len(doc_ids), _IN_LIMIT):
                s.execute(delete(DocumentRow).where(DocumentRow.id.in_(doc_ids[start : start + _IN_LIMIT])))
        if record:
            self.report.deleted.extend(sorted(ids.values()))


def stored_acl(acl_json: object) -> Acl | None:
    """A row's ACL, or None when it can no longer be read (an older principal form): it then
    compares different from every current ACL, and is rewritten."""
    try:
        return Acl.from_json(acl_json)  # type: ignore[arg-type]
    except (PrincipalError, TypeError, ValueError, AttributeError):
        return None


def _row(p: Prepared, *, content_hash: str, chunk_count: int) -> DocumentRow:
    d: Document = p.document
    return DocumentRow(
        id=d.id,
        source=d.source,
        source_id=d.source_id,
        title=d.title,
        url=d.url,
        content_hash=content_hash,
        acl=p.acl.to_json(),
        chunk_count=chunk_count,
        # In UTC: SQLite keeps a datetime's wall time and drops its offset (Confluence Data
        # Center reports server-local times), and rows are read back as UTC (core.db.as_utc).
        updated_at=d.updated_at.astimezone(UTC) if d.updated_at is not None else None,
        indexed_at=_now(),
        owner=d.author,
    )
