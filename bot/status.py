"""What `lore status` reports: the index, the database, the last run per source and, when a
server is running on the configured address, its own readiness (chat surfaces included).

Times carry their zone (UTC, ISO 8601); the text rendering is for people, ``--json`` for
scripts."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from connectors.sync.state import SyncState
from core.config import Config
from core.db import DocumentRow, GroupMembership, IngestRun, as_utc, open_database
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
                            "started_at": as_utc(last.started_at).isoformat(),
                            "finished_at": as_utc(last.finished_at).isoformat() if last.finished_at else None,
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
        "server": server_readiness(cfg),
    }


def collect_sync_status(cfg: Config) -> list[dict[str, Any]]:
    """What `lore sync status` shows: per configured connector, the last and next run of each
    job and who holds its lease."""
    import asyncio

    from connectors.registry import connector_source, intervals
    from connectors.sync.scheduler import lease_job
    from connectors.sync.status import job_status
    from core.leases import LeaseManager

    db = open_database(cfg.database_url, cfg.database.schema)
    try:
        state, leases = SyncState(db), LeaseManager(db)
        state.close_dead_runs()  # a killed run must not look like it is still going
        out = []
        for name in sorted(cfg.connectors):
            conf = cfg.connectors[name]
            lease = asyncio.run(leases.current(lease_job(name)))
            out.append(job_status(state, name, connector_source(name, conf), intervals(conf),
                                  enabled=conf.enabled, lease=lease))
    finally:
        db.close()
    return out


SERVER_TIMEOUT_SECONDS = 2.0


def server_readiness(cfg: Config) -> dict[str, Any]:
    """The running server's ``/readyz`` on ``server.host:server.port``, or why there is none."""
    url = f"http://{_reachable(cfg.server.host)}:{cfg.server.port}/readyz"
    try:
        # Directly: an http_proxy in the environment is for the outside world, and would answer
        # for a server on this machine (or not at all).
        direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with direct.open(url, timeout=SERVER_TIMEOUT_SECONDS) as response:
            body = json.loads(response.read(65536))
    except urllib.error.HTTPError as exc:  # 503: running, not ready; the body says why
        try:
            body = json.loads(exc.read(65536))
        except ValueError:
            return {"url": url, "running": True, "ready": False, "checks": {}}
    except (OSError, ValueError):
        return {"url": url, "running": False}
    checks = body.get("checks") if isinstance(body, dict) else None
    return {"url": url, "running": True, "ready": bool(body.get("ready")) if isinstance(body, dict) else False,
            "checks": {str(k): str(v) for k, v in checks.items()} if isinstance(checks, dict) else {}}


def _when(iso: str) -> str:
    """An ISO 8601 time from the status, for people: to the second, with its zone."""
    moment = datetime.fromisoformat(iso)
    return moment.strftime("%Y-%m-%d %H:%M:%S ") + (moment.tzname() or "")


def _reachable(host: str) -> str:
    """The address to reach a server listening on ``host``: a wildcard is reached on loopback, an
    IPv6 address in brackets."""
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(host, host)
    return f"[{host}]" if ":" in host else host


def render_status(status: dict[str, Any]) -> list[str]:
    """``collect_status`` for people: one fact per line."""
    lines = [
        f"data directory  {status['data_dir']}",
        f"database        {status['database']}",
        f"index           {status['index']['backend']} at {status['index']['path']}, {status['index']['chunks']} chunks",
        f"documents       {status['documents']} ({status['groups']} groups with members)",
    ]
    consistency = status["consistency"]
    lines.append("consistency     ok" if consistency["ok"] else f"consistency     DEGRADED: {consistency['message']}")
    server = status["server"]
    if not server["running"]:
        lines.append(f"server          not running at {server['url'].removesuffix('/readyz')}")
    else:
        lines.append(f"server          {'ready' if server['ready'] else 'NOT READY'} at {server['url'].removesuffix('/readyz')}")
        for check, result in server["checks"].items():
            lines.append(f"  {check:15} {result}")
    lines.append("sources" if status["sources"] else "sources         none yet (run `lore ingest FOLDER` or `lore sync`)")
    for src in status["sources"]:
        line = f"  {src['source']}: {src['documents']} documents"
        last = src["last_run"]
        if last:
            counts = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in last["counts"].items() if n)
            when = _when(last["finished_at"]) if last["finished_at"] else f"{_when(last['started_at'])} (still running)"
            line += f"; last run {last['status']} at {when}"
            line += f": {counts}" if counts else ": no changes"
            if last["errors"]:
                line += f"; {last['errors']} errors (lore sync status)"
        lines.append(line)
    return lines
