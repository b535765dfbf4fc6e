"""The audit events of one sync run: which documents it indexed, deleted and re-permissioned.

A first sync of a large space touches tens of thousands of documents; one row holding every id
would be megabytes, so a run's ids are split over several events of at most ``IDS_PER_EVENT``
ids, numbered ``part`` of ``parts`` (each carries the run's status and counts).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from connectors.sync.report import SyncReport
from core.audit.events import AuditEvent, AuditSink, JsonValue

log = logging.getLogger("lore.sync")

IDS_PER_EVENT = 1000
_LISTS = ("upserted", "deleted", "acl_changed", "failed")


def sync_events(report: SyncReport) -> Iterator[AuditEvent]:
    lists: dict[str, list[str]] = {
        "upserted": report.indexed,
        "deleted": report.deleted,
        "acl_changed": report.acl_updated,
        "failed": [source_id for source_id, _ in report.failed],
    }
    total = sum(len(ids) for ids in lists.values())
    parts = max(1, -(-total // IDS_PER_EVENT))
    flat = [(name, source_id) for name in _LISTS for source_id in lists[name]]
    for part in range(parts):
        piece = flat[part * IDS_PER_EVENT:(part + 1) * IDS_PER_EVENT]
        details: dict[str, JsonValue] = {
            "kind": report.kind,
            "status": report.status,
            "counts": {k: v for k, v in report.counts().items() if v},
            "errors": len(report.errors),
            "part": part + 1,
            "parts": parts,
        }
        for name in _LISTS:
            details[name] = [source_id for list_name, source_id in piece if list_name == name]
        yield AuditEvent("sync", actor=f"connector:{report.source}", details=details)


def record_sync(sink: AuditSink | None, report: SyncReport) -> None:
    """Record the run; a failing audit store is logged, it does not fail the run (its effects on
    the index are done and the run record in the database stays the account of them)."""
    if sink is None:
        return
    try:
        for event in sync_events(report):
            sink.record(event)
    except Exception as exc:  # noqa: BLE001 - logged; the run itself succeeded or failed already
        log.error("sync run not recorded in the audit log",
                  extra={"source": report.source, "error": exc.__class__.__name__})
