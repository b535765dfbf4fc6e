"""The ingest engine: a connector's scan -> index updates and metadata rows.

Crash safety rests on one ordering rule: the metadata row of a document is written (as
*pending*, with an empty content hash) before its chunks reach the index, and marked final after.
So every document in the index has a row; a pending row after a crash never matches the
content hash, and the next run rewrites that document (replacement is idempotent). Deletions go
index first, then row. Re-running a sync over unchanged content writes nothing.

A document that is skipped (no access rule any more) or fails (broken file, broken rule) is
removed from the index if an earlier run had indexed it: when we cannot tell who may read it, or
what it says, nobody reads it (fail closed). Deletions of vanished documents happen only after a
scan that finished; a scan that raises deletes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import delete, select

from connectors.base import Connector, Failed, Skipped
from core.acl import Acl
from core.db import Database, DocumentRow, IngestRun
from core.memberships import members_of, replace_group_memberships
from core.models import Document, DocumentRefused
from retrieval.acl_fields import AclEncodingError, encode_acl, needs_expansion
from retrieval.chunking import Chunker
from retrieval.embedding import Embedder
from retrieval.index.base import IndexBackend
from retrieval.indexing import Prepared, prepare, write_documents

log = logging.getLogger(__name__)

Progress = Callable[[str], None]  # called once per scanned item with its source id


@dataclass
class IngestReport:
    source: str
    indexed: list[str] = field(default_factory=list)
    acl_updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # run-level: the scan or group sync failed
    chunks_written: int = 0
    groups_changed: bool = False
    status: str = "running"

    def counts(self) -> dict[str, int]:
        return {
            "indexed": len(self.indexed),
            "acl_updated": len(self.acl_updated),
            "unchanged": len(self.unchanged),
            "deleted": len(self.deleted),
            "skipped": len(self.skipped),
            "failed": len(self.failed),
            "chunks_written": self.chunks_written,
        }


def _now() -> datetime:
    return datetime.now(UTC)


class IngestEngine:
    def __init__(
        self,
        db: Database,
        index: IndexBackend,
        embedder: Embedder,
        chunker: Chunker,
        *,
        batch_chunks: int = 256,
    ) -> None:
        self.db = db
        self.index = index
        self.embedder = embedder
        self.chunker = chunker
        self.batch_chunks = batch_chunks

    def _members(self, group: str) -> set[str]:
        return members_of(self.db, group)

    # -- one run ----------------------------------------------------------------------------

    def run(self, connector: Connector, progress: Progress | None = None) -> IngestReport:
        source = connector.source
        report = IngestReport(source)
        with self.db.session() as s:
            run = IngestRun(source=source, started_at=_now(), status="running", counts={}, errors=[])
            s.add(run)
            s.flush()
            run_id = run.id
        try:
            self._sync_groups(connector, report)
            leftover = self._scan(connector, report, progress)
            scan_complete = leftover is not None
            if leftover:
                self._delete_vanished(leftover, report)
            if report.groups_changed:
                self._reencode_expanded(report)
            self.index.optimize()
            if not scan_complete or report.errors:
                report.status = "failed"
            else:
                report.status = "partial" if report.failed else "succeeded"
        except BaseException as exc:  # interrupted (Ctrl-C, SIGTERM) or a bug: record, re-raise
            report.status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
            report.errors.append(f"{exc.__class__.__name__}: {exc}")
            raise
        finally:
            self._finish_run(run_id, report)
        return report

    def _finish_run(self, run_id: int, report: IngestReport) -> None:
        errors = report.errors + [f"{sid}: {why}" for sid, why in report.failed]
        with self.db.session() as s:
            run = s.get(IngestRun, run_id)
            if run is not None:
                run.finished_at = _now()
                run.status = report.status
                run.counts = report.counts()
                run.errors = errors[:1000]

    def _sync_groups(self, connector: Connector, report: IngestReport) -> None:
        try:
            snapshot = connector.groups()
        except Exception as exc:  # noqa: BLE001 - a source may fail in any way; recorded
            # Keep the memberships we have: dropping them would silently revoke access, and
            # guessing new ones could grant it.
            report.errors.append(f"group definitions not loaded, previous memberships kept: {exc}")
            return
        report.groups_changed = replace_group_memberships(self.db, connector.source, snapshot.groups)

    def _scan(
        self, connector: Connector, report: IngestReport, progress: Progress | None
    ) -> dict[str, DocumentRow] | None:
        """Index what the scan yields. Returns the rows the scan did not produce as documents,
        or None when the scan stopped early (then nothing may be deleted)."""
        existing = self._existing(connector.source)
        pending: list[Prepared] = []
        pending_chunks = 0
        try:
            for item in connector.scan():
                if progress:
                    progress(item.source_id)
                if isinstance(item, Skipped):
                    report.skipped.append((item.source_id, item.reason))
                    continue
                if isinstance(item, Failed):
                    report.failed.append((item.source_id, item.reason))
                    continue
                try:
                    prepared = prepare(item, self._members)
                except (DocumentRefused, AclEncodingError) as exc:
                    report.skipped.append((item.source_id, str(exc)))
                    continue
                row = existing.pop(item.id, None)
                if row is not None and row.content_hash == item.content_hash():
                    if Acl.from_json(row.acl) == prepared.acl:
                        report.unchanged.append(item.source_id)
                    else:
                        self._update_acl(prepared)
                        report.acl_updated.append(item.source_id)
                    continue
                pending.append(prepared)
                pending_chunks += max(1, sum(len(s.text) for s in item.sections) // 800)
                if pending_chunks >= self.batch_chunks:
                    self._write(pending, report)
                    pending, pending_chunks = [], 0
        except Exception as exc:  # noqa: BLE001 - a source may fail in any way; recorded
            self._write(pending, report)  # what was read is good; keep it
            report.errors.append(f"scan of {connector.source} stopped: {exc.__class__.__name__}: {exc}")
            return None
        self._write(pending, report)
        return existing

    def _existing(self, source: str) -> dict[str, DocumentRow]:
        with self.db.session() as s:
            rows = s.execute(select(DocumentRow).where(DocumentRow.source == source)).scalars().all()
            return {r.id: r for r in rows}

    def _write(self, batch: Sequence[Prepared], report: IngestReport) -> None:
        if not batch:
            return
        with self.db.session() as s:  # 1. pending rows: from here on the index may hold them
            for p in batch:
                s.merge(self._row(p, content_hash="", chunk_count=-1))
        counts = write_documents(batch, self.chunker, self.embedder, self.index)  # 2. index
        with self.db.session() as s:  # 3. final rows
            for p in batch:
                s.merge(self._row(p, content_hash=p.document.content_hash(), chunk_count=counts[p.document.id]))
        for p in batch:
            report.indexed.append(p.document.source_id)
        report.chunks_written += sum(counts.values())

    @staticmethod
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
            updated_at=d.updated_at,
            indexed_at=_now(),
        )

    def _update_acl(self, p: Prepared) -> None:
        self.index.update_acl(p.document.id, p.fields)
        with self.db.session() as s:
            row = s.get(DocumentRow, p.document.id)
            if row is not None:
                row.acl = p.acl.to_json()

    def _delete_vanished(self, leftover: dict[str, DocumentRow], report: IngestReport) -> None:
        """Rows of this source that the finished scan did not produce as documents: gone from
        the source, skipped or failed. Index first, then rows."""
        ids = sorted(leftover)
        self.index.delete_documents(ids)
        with self.db.session() as s:
            for start in range(0, len(ids), 500):
                s.execute(delete(DocumentRow).where(DocumentRow.id.in_(ids[start : start + 500])))
        report.deleted.extend(sorted(r.source_id for r in leftover.values()))

    def _reencode_expanded(self, report: IngestReport) -> None:
        """Memberships changed: documents whose surplus ACL clauses were expanded into users at
        index time get their ACL fields recomputed (no re-embedding)."""
        with self.db.session() as s:
            rows = s.execute(select(DocumentRow.id, DocumentRow.acl)).all()
        for doc_id, acl_json in rows:
            acl = Acl.from_json(acl_json)
            if needs_expansion(acl):
                self.index.update_acl(doc_id, encode_acl(acl, self._members))
