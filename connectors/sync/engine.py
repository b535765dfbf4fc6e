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

Rules for every job: a listing that fails deletes nothing and keeps memberships and ACLs as they
are; a document that fails is recorded, and removed from the index if it was there (we cannot
vouch for who may read it); the run record says what happened.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from connectors.base import AclRead, CheckpointMark, Deleted, Failed, Skipped, SyncConnector
from connectors.sync.report import SyncReport
from connectors.sync.state import LeaseLost, SyncState
from connectors.sync.writer import DocumentWriter
from core.acl import Acl
from core.db import Database, DocumentRow
from core.leases import Lease
from core.memberships import replace_group_memberships
from core.models import Document
from retrieval.acl_fields import AclEncodingError
from retrieval.chunking import Chunker
from retrieval.embedding import Embedder
from retrieval.index.base import IndexBackend

log = logging.getLogger("lore.sync")

JOB_KINDS = ("content", "permissions", "full")

Progress = Callable[[str], None]  # called once per item with its source id


class StopFlag(Protocol):
    def is_set(self) -> bool: ...


class SyncStopped(Exception):
    """The run was asked to stop (shutdown, or the lease could not be renewed)."""


class SyncEngine:
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
        self.state = SyncState(db)

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

    def execute(self) -> SyncReport:
        run_id = self.state.start_run(self.source, self.kind)
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
        checkpoint = self.state.load(self.source, "content")
        done = self._pass(checkpoint, checkpoint_kind="content")
        if done.complete and getattr(self.connector, "lists_everything", False):
            # A connector whose every run lists the whole source (a folder scan) reports
            # deletions by omission: what a finished listing did not yield is gone.
            rows = self.writer.source_rows(self.source)
            self.writer.delete_ids({r.id: sid for sid, r in rows.items() if sid not in done.seen})
        never_synced_groups = all(
            self.state.last_finished(self.source, k) is None for k in ("permissions", "full")
        )
        if never_synced_groups and not self.report.errors:
            # A first sync should be usable at once: group-restricted documents need members.
            self._groups()

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
                if isinstance(change, Document):
                    self.writer.upsert(change)
                elif isinstance(change, Deleted):
                    self.writer.delete(self.source, [change.source_id])
                elif isinstance(change, Skipped):
                    self.writer.refuse(self.source, change.source_id, change.reason, failed=False)
                elif isinstance(change, Failed):
                    self.writer.refuse(self.source, change.source_id, change.reason, failed=True)
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

    # -- permissions ------------------------------------------------------------------------

    def _groups(self, rows: dict[str, DocumentRow] | None = None) -> None:
        """Memberships of the groups this source's indexed ACLs name (``rows``: the source's
        rows when the caller has them)."""
        rows = self.writer.source_rows(self.source) if rows is None else rows
        referenced = frozenset(
            p for row in rows.values() for clause in row.acl for p in clause if p.startswith("group:")
        )
        try:
            snapshot = self.connector.groups(referenced)
        except Exception as exc:  # noqa: BLE001 - recorded
            # Keep the memberships we have: dropping them would silently revoke access, and
            # guessing new ones could grant it.
            self.report.errors.append(f"group memberships not loaded, previous memberships kept: {exc}")
            return
        self.report.groups_changed = replace_group_memberships(self.engine.db, self.source, snapshot.groups)
        if self.report.groups_changed:
            self.writer.reencode_expanded()

    def _permissions(self) -> None:
        rows = self.writer.source_rows(self.source)
        self._groups(rows)
        seen: set[str] = set()
        try:
            for item in self.connector.read_acls(sorted(rows)):
                self._check_stop()
                row = rows.get(item.source_id)
                if row is None or item.source_id in seen:
                    continue
                seen.add(item.source_id)
                if self.progress is not None:
                    self.progress(item.source_id)
                if isinstance(item, AclRead):
                    self._apply_acl(row.id, item.source_id, row.acl, item.acl)
                elif isinstance(item, Deleted):
                    self.writer.delete_ids({row.id: item.source_id})
                else:
                    self.writer.refuse(self.source, item.source_id, item.reason, failed=isinstance(item, Failed))
        except (SyncStopped, LeaseLost, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - recorded; ACLs not re-read stay as they were
            self.report.errors.append(
                f"ACL re-read of {self.source} stopped after {len(seen)} documents: "
                f"{exc.__class__.__name__}: {exc}"
            )
        finally:
            self.writer.flush_acls()  # what was read is current: apply it

    def _apply_acl(self, doc_id: str, source_id: str, stored: Any, acl: Acl) -> None:
        if Acl.from_json(stored) == acl:
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
