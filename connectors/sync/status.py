"""What `lore sync status` shows: per connector and job, the last run, the next run, the lease."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.sync.scheduler import lease_job, next_run
from connectors.sync.state import SyncState
from core.db import as_utc
from core.leases import LeaseInfo


def job_status(
    state: SyncState,
    name: str,
    source: str,
    intervals: dict[str, timedelta],
    *,
    enabled: bool,
    lease: LeaseInfo | None,
    now: datetime | None = None,
) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    last_runs = state.last_runs(source)
    jobs: dict[str, Any] = {}
    for kind, interval in intervals.items():
        run = last_runs.get(kind)
        due = next_run(state, source, kind, interval)
        jobs[kind] = {
            "interval_seconds": int(interval.total_seconds()),
            "next_run": None if not enabled else (due.isoformat() if due and due > now else "due now"),
            "last_run": None
            if run is None
            else {
                "status": run.status,
                "started_at": _iso(run.started_at),
                "finished_at": _iso(run.finished_at) if run.finished_at else None,
                "counts": run.counts,
                "errors": list(run.errors or [])[:5],
                "error_count": len(run.errors or []),
            },
        }
    running = lease is not None and not lease.expired
    return {
        "connector": name,
        "source": source,
        "enabled": enabled,
        "running_on": lease.holder if running and lease else None,
        "lease_job": lease_job(name),
        "jobs": jobs,
    }


def _iso(value: datetime) -> str:
    return as_utc(value).isoformat()
