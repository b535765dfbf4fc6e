"""Checkpoints and run records of sync jobs, in the metadata database.

A checkpoint write is fenced by the job's lease: it happens in the same transaction as an update
of the lease row matched on the lease's token, so a replica that lost its lease (paused past its
expiry, then taken over) cannot overwrite the new holder's progress. The lease row update comes
first: on PostgreSQL it locks the row (a replica taking the lease over waits for this commit),
on SQLite it takes the database's write lock.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update

from connectors.errors import SyncInterrupted
from connectors.sync.audit import record_sync
from connectors.sync.report import SyncReport
from core.audit.events import AuditSink
from core.db import Database, IngestRun
from core.db.tables import SyncCheckpoint, SyncLease
from core.leases import Lease
from core.liveness import holder_gone, machine, on_this_host

MAX_ERRORS = 1000  # per run record


class LeaseLost(SyncInterrupted, RuntimeError):
    """This replica no longer holds the job's lease: it must stop without writing progress."""


def _now() -> datetime:
    return datetime.now(UTC)


def process_holder(prefix: str = "process") -> str:
    """``<prefix>:<machine>:<pid>`` (core.liveness.machine): who runs a job, so that a run whose process is gone can be
    told from one still running (see connectors.sync.liveness)."""
    return f"{prefix}:{machine()}:{os.getpid()}"


class SyncState:
    def __init__(self, db: Database, audit: AuditSink | None = None) -> None:
        self.db = db
        self.audit = audit  # each finished run's document changes, when given

    # -- checkpoints ------------------------------------------------------------------------

    def load(self, source: str, kind: str) -> dict[str, Any] | None:
        with self.db.session() as s:
            row = s.get(SyncCheckpoint, (source, kind))
            return dict(row.state) if row is not None else None

    def save(self, source: str, kind: str, state: Mapping[str, Any], fence: Lease | None) -> None:
        with self.db.session() as s:
            if fence is not None:
                held = s.execute(
                    update(SyncLease)
                    .where(SyncLease.job == fence.job, SyncLease.token == fence.token)
                    .values(heartbeat_at=_now())
                    .returning(SyncLease.job)
                ).all()
                if not held:
                    raise LeaseLost(f"lease on {fence.job} lost; checkpoint of {source} not saved")
            row = s.get(SyncCheckpoint, (source, kind))
            if row is None:
                s.add(SyncCheckpoint(source=source, kind=kind, state=dict(state), updated_at=_now()))
            else:
                row.state = dict(state)
                row.updated_at = _now()

    def clear(self, source: str, kind: str) -> None:
        with self.db.session() as s:
            s.execute(delete(SyncCheckpoint).where(SyncCheckpoint.source == source, SyncCheckpoint.kind == kind))

    # -- run records ------------------------------------------------------------------------

    def start_run(self, source: str, kind: str, holder: str | None = None) -> int:
        with self.db.session() as s:
            run = IngestRun(source=source, kind=kind, started_at=_now(), status="running", counts={}, errors=[],
                            holder=holder or process_holder())
            s.add(run)
            s.flush()
            return run.id

    def finish_run(self, run_id: int, report: SyncReport) -> None:
        errors = report.errors + [f"{sid}: {why}" for sid, why in report.failed]
        with self.db.session() as s:
            run = s.get(IngestRun, run_id)
            if run is not None:
                run.finished_at = _now()
                run.status = report.status
                run.counts = report.counts()
                run.errors = errors[:MAX_ERRORS]
        record_sync(self.audit, report)

    def close_dead_runs(self) -> int:
        """Runs left "running" by a process that is gone: on this host, one that no longer runs;
        on another, one that holds no live lease (every run of the scheduler, `lore sync` and
        `lore ingest` holds its connector's lease and renews it). Marked interrupted, with why."""
        now = _now()
        with self.db.session() as s:
            live = set(s.execute(select(SyncLease.holder).where(SyncLease.expires_at > now)).scalars())
            running = s.execute(select(IngestRun).where(IngestRun.status == "running")).scalars().all()
            closed = 0
            for run in running:
                holder = run.holder
                if holder is None:
                    continue  # recorded before holders were: the next lease closes it
                gone = holder_gone(holder) or (not on_this_host(holder) and holder not in live)
                if gone:
                    run.status = "interrupted"
                    run.finished_at = now
                    run.errors = [*(run.errors or []), f"the process running it ({holder}) ended before it finished"]
                    closed += 1
            return closed

    def close_abandoned(self, source: str) -> int:
        """Runs of ``source`` left "running" by a replica that died. Call only while holding the
        source's lease (then nobody else can be running it)."""
        with self.db.session() as s:
            result = s.execute(
                update(IngestRun)
                .where(IngestRun.source == source, IngestRun.status == "running")
                .values(status="interrupted", finished_at=_now())
                .returning(IngestRun.id)
            ).all()
            return len(result)

    def last_runs(self, source: str) -> dict[str, IngestRun]:
        """The latest run of each kind of ``source`` (detached rows)."""
        latest: dict[str, IngestRun] = {}
        with self.db.session() as s:
            rows = s.execute(
                select(IngestRun).where(IngestRun.source == source).order_by(IngestRun.id.desc()).limit(200)
            ).scalars()
            for run in rows:
                latest.setdefault(run.kind, run)
            s.expunge_all()
        return latest

    def last_finished(self, source: str, kind: str) -> IngestRun | None:
        with self.db.session() as s:
            run = s.execute(
                select(IngestRun)
                .where(IngestRun.source == source, IngestRun.kind == kind, IngestRun.finished_at.is_not(None))
                .order_by(IngestRun.id.desc())
                .limit(1)
            ).scalar_one_or_none()
            if run is not None:
                s.expunge(run)
            return run
