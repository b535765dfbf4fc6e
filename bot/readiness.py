"""What /readyz checks, and what each answer means.

Ready means this replica can answer questions: the database and the index answer, the model is
loaded, and the server is not draining. Two conditions show as ``degraded`` without taking the
replica out of rotation, because answering stays safe: Redis down (the rate limit works per
replica, event de-duplication and thread memory use the database and this replica), and an
index and a database that disagree (found at start, see retrieval.consistency: documents the
database does not know are never served, retrieval.guard; missing ones are re-indexed by the
full sync the server starts, and the check is repeated until they agree).
"""

from __future__ import annotations

import asyncio
from typing import Any

from core.db import Database
from retrieval.consistency import Consistency
from retrieval.index.base import IndexBackend

REDIS_TIMEOUT_SECONDS = 1.0


async def readiness_checks(
    db: Database, index: IndexBackend, redis: Any, consistency: Consistency | None, *, loaded: bool, draining: bool,
    surfaces: dict[str, str] | None = None, audit: str | None = None, secrets: str | None = None,
) -> tuple[bool, dict[str, str]]:
    """``surfaces``: each chat surface's own line (``ok``, ``degraded: ...``), keyed
    ``surface:<platform>``; a surface that cannot reach its platform is degraded, not down, so
    the other surfaces keep answering."""
    checks: dict[str, str] = {}
    try:
        await asyncio.to_thread(db.ping)
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        chunks = await asyncio.to_thread(index.count_chunks)
        checks["index"] = f"ok ({chunks} chunks)"
    except Exception as exc:  # noqa: BLE001 - any failure means "not ready"
        checks["index"] = f"error: {exc.__class__.__name__}"
    if consistency is not None:
        checks["consistency"] = "ok" if consistency.ok else f"degraded: {consistency.describe()}"
    if redis is not None:
        try:
            await asyncio.wait_for(redis.ping(), REDIS_TIMEOUT_SECONDS)
            checks["redis"] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure: degraded, with a fallback
            checks["redis"] = (f"degraded: {exc.__class__.__name__} (rate limits per replica, "
                               "event de-duplication in the database)")
    if audit is not None:
        checks["audit"] = audit
    if secrets is not None:
        checks["secrets"] = secrets
    for platform, line in (surfaces or {}).items():
        checks[f"surface:{platform}"] = line
    checks["model"] = "ok" if loaded else "loading"
    if draining:
        checks["server"] = "draining"
    ready = loaded and not draining and all(v.startswith(("ok", "degraded")) for v in checks.values())
    return ready, checks
