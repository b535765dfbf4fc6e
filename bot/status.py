"""What `lore status` and the server's readiness check report."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from core.config import Config
from core.db import DocumentRow, GroupMembership, IngestRun, open_database
from retrieval.index.lance import LanceIndex


def collect_status(cfg: Config) -> dict[str, Any]:
    db = open_database(cfg.database_url, cfg.database.schema)
    try:
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
    finally:
        db.close()
    chunks = 0
    if (cfg.index_path / "chunks.lance").exists():
        chunks = LanceIndex.count_at(cfg.index_path)
    return {
        "data_dir": str(cfg.data_dir.resolve()),
        "database": make_url(cfg.database_url).render_as_string(hide_password=True),
        "index": {"backend": cfg.index.backend, "path": str(cfg.index_path), "chunks": chunks},
        "documents": documents,
        "groups": groups,
        "sources": sources,
    }
