"""The three sync jobs of a connector instance.

- ``content``: the changes since the saved checkpoint (frequent). Checkpoints are saved as the
  connector yields them, after everything before them is written, so a crash resumes from the
  last one instead of from zero.
- ``permissions``: group memberships, then every indexed document's ACL re-read without its
  content (frequent: Confluence restrictions change without a new page version). ACL fields are
  rewritten in place, nothing is re-embedded.
- ``full``: reconciliation (less frequent): every current id is listed and whatever the index
  holds beyond them is deleted, then every document is read again from scratch (unchanged ones
  write nothing), then group memberships.

  Before anything else it puts the index and the metadata database back in step: documents the
  index holds that no row knows (the database was replaced, restored or deleted) are deleted;
  this source's documents whose chunks the index lacks (the index was deleted) are rewritten.

Rules for every job: a listing that fails deletes nothing and keeps memberships and ACLs as they
are; a document that fails is recorded, and removed from the index if it was there (we cannot
vouch for who may read it); nothing that goes wrong with one document or one rule stops the
others (a permission job goes on applying narrowings past a broken file); a source writes only
the memberships of its own group namespace; the run record says what happened.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from connectors.base import (
    AclRead,
    CheckpointMark,
    Deleted,
    Failed,
    Skipped,
    SyncConnector,
    Unchanged,
)
from connectors.errors import SyncInterrupted
from connectors.sync.report import SyncReport
from connectors.sync.state import LeaseLost, SyncState, process_holder
from connectors.sync.writer import DocumentWriter, stored_acl
from core.acl import Acl, in_namespace
from core.audit.events import AuditSink
from core.db import Database, DocumentRow
from core.leases import Lease
from core.memberships import MembershipError, replace_group_memberships
from core.models import Document
from retrieval.acl_fields import AclEncodingError
from retrieval.chunking import Chunker
from retrieval.consistency import check_consistency
from retrieval.embedding import Embedder
from retrieval.index.base import IndexBackend

log = logging.getLogger("lore.sync")

JOB_KINDS = ("content", "permissions", "full")

Progress = Callable[[str], None]  # called once per item with its source id


class StopFlag(Protocol):
    def is_set(self) -> bool: ...  # threading.Event, or a scheduler's stop flag


class SyncStopped(SyncInterrupted):
    """The run was asked to stop (shutdown, or the lease could not be renewed)."""


class SyncEngine:
    def __init__(self, db: Database, index: IndexBackend, embedder: Embedder, chunker: Chunker, *,
                 batch_chunks: int = 256, audit: AuditSink | None = None) -> None:
        """``audit``: where each run's document changes are recorded (none: not recorded)."""
        self.db = db
        self.index = index
        self.embedder = embedder
        self.chunker = chunker
        self.batch_chunks = batch_chunks
        self.state = SyncState(db, audit)

    def run(
        self,
        connector: SyncConnector,
        kind: str,
        *,
        lease: Lease | None = None,
        progress: Progress | None = None,
        stop: StopFlag | None = None,
    ) -> SyncReport:
        """Run one job and record it. ``lease`` fences checkpoint writes (pass the job's lease
        whenever several replicas may run it); ``stop`` is checked between items."""
        if kind not in JOB_KINDS:
            raise ValueError(f"unknown sync job {kind!r} (known: {', '.join(JOB_KINDS)})")
        run = _Run(self, connector, kind, lease, progress, stop)
        return run.execute()


@dataclass(frozen=True)
class _Pass:
    complete: bool  # the listing ended normally
    last: dict[str, Any] | None  # the last checkpoint state saved
    seen: set[str]  # source ids the listing yielded


class _Run:
    """One job run: the state it shares between its steps."""

    def __init__(
        self,
        engine: SyncEngine,
        connector: SyncConnector,
        kind: str,
        lease: Lease | None,
        progress: Progress | None,
        stop: StopFlag | None,
    ) -> None:
        self.engine = engine
        self.connector = connector
        self.source = connector.source
        self.kind = kind
        self.lease = lease
        self.progress = progress
        self.stop = stop
        self.state = engine.state
        self.report = SyncReport(self.source, kind)
        self.writer = DocumentWriter(
            engine.db, engine.index, engine.embedder, engine.chunker, self.report,
            batch_chunks=engine.batch_chunks,
        )
        self._rows: dict[str, DocumentRow] | None = None  # the source's rows, loaded on demand

    def execute(self) -> SyncReport:
        holder = self.lease.holder if self.lease is not None else process_holder()
        run_id = self.state.start_run(self.source, self.kind, holder)
        try:
            if self.kind == "content":
                self._content()
            elif self.kind == "permissions":
                self._permissions()
            else:
                self._full()
            if self.report.indexed or self.report.deleted or self.report.acl_updated:
                self.engine.index.optimize()
            self.report.settle()
        except BaseException as exc:  # interrupted (Ctrl-C, stop, lease lost) or a bug: record, re-raise
            interrupted = isinstance(exc, KeyboardInterrupt | SyncStopped | LeaseLost)
            self.report.status = "interrupted" if interrupted else "failed"
            self.report.errors.append(f"{exc.__class__.__name__}: {exc}")
            raise
        finally:
            self.state.finish_run(run_id, self.report)
            log.info(
                "sync run finished",
                extra={"source": self.source, "kind": self.kind, "status": self.report.status,
                       "counts": self.report.counts()},
            )
        return self.report

    def _check_stop(self) -> None:
        if self.stop is not None and self.stop.is_set():
            raise SyncStopped(f"{self.kind} sync of {self.source} stopped")

    # -- content ----------------------------------------------------------------------------

    def _content(self) -> None:
        # The rows as the run starts serve the Unchanged items and the deletions by omission
        # (every document this pass writes or deletes is one it saw).
        rows = self._source_rows()
        referenced = self._referenced(rows)
        checkpoint = self.state.load(self.source, "content")
        done = self._pass(checkpoint, checkpoint_kind="content")
        if done.complete and self.connector.lists_everything:
            # A connector whose every run lists the whole source (a folder scan) reports
            # deletions by omission: what a finished listing did not yield is gone.
            self.writer.delete_ids({r.id: sid for sid, r in rows.items() if sid not in done.seen})
        never_synced_groups = all(
            self.state.last_finished(self.source, k) is None for k in ("permissions", "full")
        )
        if (never_synced_groups or self._newly_referenced(referenced)) and not self.report.errors:
            # A first sync should be usable at once, and a group that documents name for the
            # first time needs its members now rather than at the next permission run.
            self._groups()

    def _source_rows(self) -> dict[str, DocumentRow]:
        if self._rows is None:
            self._rows = self.writer.source_rows(self.source)
        return self._rows

    def _newly_referenced(self, before: frozenset[str]) -> bool:
        """Whether the ACLs this run wrote name groups that were not named before it."""
        if not (self.report.indexed or self.report.acl_updated):
            return False  # deletions and unchanged documents name no new group
        return bool(self._referenced() - before)

    def _referenced(self, rows: dict[str, DocumentRow] | None = None) -> frozenset[str]:
        """Groups of this source's namespace that its indexed ACLs name."""
        rows = self.writer.source_rows(self.source) if rows is None else rows
        namespace = self.connector.group_namespace
        return frozenset(
            p for row in rows.values() for clause in row.acl or [] for p in clause
            if isinstance(p, str) and in_namespace(p, namespace)
        )

    def _pass(self, checkpoint: dict[str, Any] | None, *, checkpoint_kind: str) -> _Pass:
        """Apply the connector's changes since ``checkpoint``."""
        last: dict[str, Any] | None = None
        seen: set[str] = set()
        try:
            for change in self.connector.changes(checkpoint):
                self._check_stop()
                if isinstance(change, CheckpointMark):
                    self.writer.flush()
                    self.state.save(self.source, checkpoint_kind, change.state, self.lease)
                    self.report.checkpoints += 1
                    last = change.state
                    continue
                if self.progress is not None:
                    self.progress(change.source_id)
                seen.add(change.source_id)
                if isinstance(change, Unchanged):
                    self._unchanged(change)
                elif isinstance(change, Deleted):
                    self.writer.delete(self.source, [change.source_id])
                else:
                    self._read(change)
            self.writer.flush()
        except (SyncStopped, LeaseLost, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - a source may fail in any way; recorded
            self.writer.flush()  # what was read is good; keep it (its checkpoint is not saved)
            self.report.errors.append(
                f"listing of {self.source} stopped, nothing deleted: {exc.__class__.__name__}: {exc}"
            )
            return _Pass(False, last, seen)
        return _Pass(True, last, seen)

    def _unchanged(self, change: Unchanged) -> None:
        """The source did not read the document again: only its ACL may need rewriting. When
        the database holds no finished copy of that very version (never written, written again
        after the index was rebuilt, or a newer version written by a pass that then stopped),
        the source reads it after all."""
        row = self._source_rows().get(change.source_id)
        if row is not None and row.content_hash == change.content_hash and row.chunk_count >= 0:
            self._apply_acl(row.id, change.source_id, row.acl, change.acl)
            return
        try:
            item = change.read()
        except (SyncStopped, LeaseLost, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - one document, whatever went wrong
            item = Failed(change.source_id, f"could not be read: {exc.__class__.__name__}: {exc}")
        self._read(item)

    def _read(self, item: Document | Skipped | Failed) -> None:
        """A document the source read: written, or refused (and taken out of the index)."""
        if isinstance(item, Document):
            self.writer.upsert(item)
        else:
            self.writer.refuse(self.source, item.source_id, item.reason, failed=isinstance(item, Failed))

    # -- permissions ------------------------------------------------------------------------

    def _groups(self, rows: dict[str, DocumentRow] | None = None) -> None:
        """Memberships of the groups this source's indexed ACLs name (``rows``: the source's
        rows when the caller has them)."""
        referenced = self._referenced(rows)
        namespace = self.connector.group_namespace
        try:
            snapshot = self.connector.groups(referenced)
        except Exception as exc:  # noqa: BLE001 - recorded
            # Keep the memberships we have: dropping them would silently revoke access, and
            # guessing new ones could grant it.
            self.report.errors.append(f"group memberships not loaded, previous memberships kept: {exc}")
            return
        groups = {g: m for g, m in snapshot.groups.items() if in_namespace(g, namespace)}
        foreign = sorted(set(snapshot.groups) - set(groups))
        if foreign:
            # Another source's group (or one without a namespace) must never gain members here.
            self.report.errors.append(
                f"groups outside {namespace}* ignored: {', '.join(foreign[:5])}"
                + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
            )
        try:
            changed = replace_group_memberships(self.engine.db, self.source, namespace, groups)
        except MembershipError as exc:
            self.report.errors.append(f"group memberships not written, previous memberships kept: {exc}")
            return
        except Exception as exc:
            log.exception("group memberships not written", extra={"source": self.source})
            self.report.errors.append(
                f"group memberships not written, previous memberships kept: {exc.__class__.__name__}"
            )
            return
        self.report.groups_changed = self.report.groups_changed or changed
        if changed:
            self.writer.reencode_expanded()

    def _permissions(self) -> None:
        rows = self.writer.source_rows(self.source)
        referenced = self._referenced(rows)
        self._groups(rows)
        seen: set[str] = set()
        try:
            for item in self.connector.read_acls(sorted(rows)):
                self._check_stop()
                row = rows.get(item.source_id)
                if row is None:
                    if isinstance(item, Failed):  # about no document (a folder): report it
                        self.report.failed.append((item.source_id, item.reason))
                    continue
                if item.source_id in seen:
                    continue
                seen.add(item.source_id)
                if self.progress is not None:
                    self.progress(item.source_id)
                self._acl_item(row, item)
        except (SyncStopped, LeaseLost, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - recorded; ACLs not re-read stay as they were
            self.report.errors.append(
                f"ACL re-read of {self.source} stopped after {len(seen)} documents: "
                f"{exc.__class__.__name__}: {exc}"
            )
        finally:
            self.writer.flush_acls()  # what was read is current: apply it
        if self._newly_referenced(referenced) and not self.report.errors:
            self._groups()  # ACLs now name groups whose members were not loaded above

    def _acl_item(self, row: DocumentRow, item: AclRead | Deleted | Skipped | Failed) -> None:
        try:
            if isinstance(item, AclRead):
                self._apply_acl(row.id, item.source_id, row.acl, item.acl)
            elif isinstance(item, Deleted):
                self.writer.delete_ids({row.id: item.source_id})
            else:
                self.writer.refuse(self.source, item.source_id, item.reason, failed=isinstance(item, Failed))
        except (SyncStopped, LeaseLost, KeyboardInterrupt):
            raise
        except Exception as exc:
            log.exception("ACL update failed", extra={"source": self.source, "source_id": item.source_id})
            self.report.failed.append((item.source_id, f"ACL not updated: {exc.__class__.__name__}: {exc}"))
            # Who may read it is unknown now: take it out rather than leave the old readers in.
            self.writer.delete_ids({row.id: item.source_id})

    def _apply_acl(self, doc_id: str, source_id: str, stored: Any, acl: Acl) -> None:
        # A stored ACL we cannot read (an older principal form) differs: it is rewritten.
        if stored_acl(stored) == acl:
            self.report.unchanged.append(source_id)
            return
        try:
            self.writer.queue_acl(doc_id, acl)
        except AclEncodingError as exc:
            self.writer.refuse(self.source, source_id, str(exc), failed=False)
            return
        self.report.acl_updated.append(source_id)

    # -- full reconciliation ----------------------------------------------------------------

    def _full(self) -> None:
        self._reconcile()
        try:
            listed = set(self.connector.list_ids())
        except Exception as exc:  # noqa: BLE001 - recorded; a failed listing deletes nothing
            self.report.errors.append(
                f"listing of {self.source} failed, nothing deleted: {exc.__class__.__name__}: {exc}"
            )
        else:
            rows = self.writer.source_rows(self.source)
            self.writer.delete_ids({r.id: sid for sid, r in rows.items() if sid not in listed})
        # A full pass that was interrupted resumes where it stopped; a finished one hands its
        # last checkpoint to the incremental content job.
        done = self._pass(self.state.load(self.source, "full"), checkpoint_kind="full")
        if done.complete:
            if done.last is not None:
                self.state.save(self.source, "content", done.last, self.lease)
            self.state.clear(self.source, "full")
        self._groups()

    def _reconcile(self) -> None:
        """Index and database in step (see the module docstring). Orphans are deleted whatever
        their source: a chunk no row vouches for is never legitimately in the index (rows are
        written before chunks and deleted after them)."""
        found = check_consistency(self.engine.db, self.engine.index, source=self.source)
        if found.orphans:
            self.engine.index.delete_documents(sorted(found.orphans))
            self.report.orphans_deleted = len(found.orphans)
            log.warning("deleted documents the database does not know from the index",
                        extra={"source": self.source, "documents": len(found.orphans)})
        if found.missing:
            self.writer.mark_for_rewrite(found.missing)
            self.state.clear(self.source, "full")  # read every document, not from a resume point
            self.report.missing_reindexed = len(found.missing)
            log.warning("documents missing from the index are written again",
                        extra={"source": self.source, "documents": len(found.missing)})
