"""What one sync run did, for the run record, the CLI and the logs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SyncReport:
    source: str
    kind: str = "ingest"  # content | permissions | full | ingest (`lore ingest`)
    indexed: list[str] = field(default_factory=list)
    acl_updated: list[str] = field(default_factory=list)
    owner_updated: list[str] = field(default_factory=list)  # content and ACL unchanged, owner not
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # run-level: a listing or the group sync failed
    chunks_written: int = 0
    checkpoints: int = 0
    groups_changed: bool = False
    orphans_deleted: int = 0  # index documents no database row knew (full runs)
    missing_reindexed: int = 0  # this source's documents the index had lost (full runs)
    status: str = "running"  # running, succeeded, partial, failed, interrupted

    def counts(self) -> dict[str, int]:
        return {
            "indexed": len(self.indexed),
            "acl_updated": len(self.acl_updated),
            "owner_updated": len(self.owner_updated),
            "unchanged": len(self.unchanged),
            "deleted": len(self.deleted),
            "skipped": len(self.skipped),
            "failed": len(self.failed),
            "chunks_written": self.chunks_written,
            "orphans_deleted": self.orphans_deleted,
            "missing_reindexed": self.missing_reindexed,
        }

    def settle(self) -> None:
        """Final status of a run that ended without an exception."""
        if self.errors:
            self.status = "failed"
        else:
            self.status = "partial" if self.failed else "succeeded"

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "kind": self.kind,
            "status": self.status,
            "counts": self.counts(),
            "skipped": [{"source_id": s, "reason": r} for s, r in self.skipped],
            "failed": [{"source_id": s, "reason": r} for s, r in self.failed],
            "deleted": self.deleted,
            "errors": self.errors,
        }

    def summary(self) -> str:
        c = self.counts()
        owners = f", {c['owner_updated']} owners updated" if c["owner_updated"] else ""
        return (
            f"{self.status}: {c['indexed']} indexed, {c['acl_updated']} permissions updated{owners}, "
            f"{c['unchanged']} unchanged, {c['deleted']} deleted, {c['skipped']} skipped, {c['failed']} failed"
        )
