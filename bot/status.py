"""What `lore status` and the server's readiness check report."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from connectors.sync.state import SyncState
from core.config import Config
from core.db import DocumentRow, GroupMembership, IngestRun, open_database
from retrieval.consistency import check_consistency
from retrieval.index.registry import index_location, open_existing_index


class _EmptyIndex:
    """No index on disk yet: it holds no documents."""

    def document_ids(self) -> set[str]:
        return set()


def collect_status(cfg: Config) -> dict[str, Any]:
    db = open_database(cfg.database_url, cfg.database.schema)
    try:
        SyncState(db).close_dead_runs()  # a killed run must not look like it is still going
        with db.session() as s:
            documents = s.scalar(select(func.count()).select_from(DocumentRow)) or 0
            groups = s.scalar(select(func.count(func.distinct(GroupMembership.group)))) or 0
            per_source = s.execute(
                select(DocumentRow.source, func.count()).group_by(DocumentRow.source)
            ).all()
            run_sources = s.execute(select(IngestRun.source).distinct()).scalars().all()
            sources = []
            counts = {src: n for src, n in per_source}
            for src in sorted(set(counts) | set(run_sources)):
                last = s.execute(
                    select(IngestRun).where(IngestRun.source == src).order_by(IngestRun.id.desc()).limit(1)
                ).scalar_one_or_none()
                sources.append(
                    {
                        "source": src,
                        "documents": counts.get(src, 0),
                        "last_run": None
                        if last is None
                        else {
                            "status": last.status,
                            "started_at": last.started_at.isoformat(),
                            "finished_at": last.finished_at.isoformat() if last.finished_at else None,
                            "counts": last.counts,
                            "errors": len(last.errors or []),
                        },
                    }
                )
        index = open_existing_index(cfg)
        chunks = index.count_chunks() if index is not None else 0
        found = check_consistency(db, index if index is not None else _EmptyIndex())
    finally:
        db.close()
    return {
        "data_dir": str(cfg.data_dir.resolve()),
        "database": make_url(cfg.database_url).render_as_string(hide_password=True),
        "index": {"backend": cfg.index.backend, "path": index_location(cfg), "chunks": chunks},
        "documents": documents,
        "groups": groups,
        "consistency": {
            "ok": found.ok,
            "orphans": len(found.orphans),
            "missing": len(found.missing),
            "message": found.describe(),
        },
        "sources": sources,
    }
