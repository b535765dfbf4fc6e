"""Handling each platform event once, across every replica.

Slack re-delivers an event it did not see acknowledged within 3 seconds (and bolt re-runs the
listeners); Bot Framework retries too. The adapter asks ``first_time(event_key, ttl)`` and
drops the event when the answer is False. The key must outlive the platform's retry window
(Slack: three retries within about an hour).

Two shared implementations: Redis (``SET NX EX``, one round trip) when Redis is configured, the
metadata database (``processed_events``) otherwise. Neither swallows a store failure: they raise
``DeduplicationError`` and the caller picks the policy (for a Q&A bot, handling the event, at
the risk of answering a retry twice, is usually better than dropping a question).

With Redis configured, :class:`FallbackDeduplicator` asks the database whenever Redis does not
answer, and counts it: a Redis outage must not silently drop every question. (A retry that
reaches another replica during the outage may then be answered twice: it was claimed in Redis,
and is checked in the database.)
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import delete, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from core.db.engine import Database
from core.db.tables import ProcessedEvent
from core.errors import CoreError
from core.logging import Throttle

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("lore.dedupe")

MAX_DB_KEY = 255  # processed_events.event_key


class DeduplicationError(CoreError, RuntimeError):
    """The shared store could not answer; the message names the store, never its credentials."""


class EventDeduplicator(Protocol):
    async def first_time(self, key: str, ttl_seconds: int) -> bool:
        """True exactly once per ``key`` within ``ttl_seconds``, across all replicas."""
        ...


def _check_ttl(ttl_seconds: int) -> None:
    if ttl_seconds < 1:
        raise ValueError(f"ttl_seconds must be at least 1, got {ttl_seconds}")


class RedisDeduplicator:
    """``SET <prefix><key> 1 NX EX ttl``: atomic in Redis, so exactly one replica wins."""

    def __init__(self, redis: Redis, *, prefix: str = "lore:event:") -> None:
        self._redis = redis
        self._prefix = prefix

    async def first_time(self, key: str, ttl_seconds: int) -> bool:
        _check_ttl(ttl_seconds)
        try:
            created = await self._redis.set(self._prefix + key, b"1", nx=True, ex=ttl_seconds)
        except Exception as exc:  # redis.RedisError, OSError, timeouts: all mean "no answer"
            raise DeduplicationError(
                f"Redis did not answer the event de-duplication check: {exc.__class__.__name__}"
            ) from exc
        return bool(created)

    def __repr__(self) -> str:
        return f"<RedisDeduplicator prefix={self._prefix!r}>"


class DatabaseDeduplicator:
    """A row per key in ``processed_events``: the primary key makes exactly one insert win
    (``INSERT ... ON CONFLICT DO NOTHING``). A row past its expiry is taken over by one
    conditional UPDATE, so that a key behaves as in Redis after its TTL; expired rows are purged
    at most every ``purge_interval`` seconds per replica."""

    def __init__(self, db: Database, *, purge_interval: float = 600.0) -> None:
        self._db = db
        self._purge_interval = purge_interval
        self._last_purge = float("-inf")
        dialect = db.engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database {dialect!r} for event de-duplication")
        self._dialect = dialect

    async def first_time(self, key: str, ttl_seconds: int) -> bool:
        _check_ttl(ttl_seconds)
        if len(key) > MAX_DB_KEY:
            key = "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()
        purge = time.monotonic() - self._last_purge >= self._purge_interval
        if purge:
            self._last_purge = time.monotonic()
        try:
            return await asyncio.to_thread(self._first_time, key, ttl_seconds, purge)
        except SQLAlchemyError as exc:
            raise DeduplicationError(
                f"the metadata database did not answer the event de-duplication check: "
                f"{exc.__class__.__name__}"
            ) from exc

    def _first_time(self, key: str, ttl_seconds: int, purge: bool) -> bool:
        now = datetime.now(UTC)
        expires = now + timedelta(seconds=ttl_seconds)
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        with self._db.session() as s:
            if purge:
                s.execute(delete(ProcessedEvent).where(ProcessedEvent.expires_at < now))
            inserted = s.execute(
                insert(ProcessedEvent)
                .values(event_key=key, seen_at=now, expires_at=expires)
                .on_conflict_do_nothing(index_elements=["event_key"])
                .returning(ProcessedEvent.event_key)
            ).all()
            if inserted:  # RETURNING, not rowcount: ORM-enabled statements report -1 there
                return True
            # Seen before: a new occurrence only if that sighting has expired. The condition is
            # evaluated under the row lock, so of several racers exactly one takes the row over.
            taken = s.execute(
                update(ProcessedEvent)
                .where(ProcessedEvent.event_key == key, ProcessedEvent.expires_at <= now)
                .values(seen_at=now, expires_at=expires)
                .returning(ProcessedEvent.event_key)
            ).all()
            return len(taken) == 1

    def __repr__(self) -> str:
        return f"<DatabaseDeduplicator {self._dialect}>"


class FallbackDeduplicator:
    """``primary`` (Redis), and ``fallback`` (the database) when the primary does not answer.
    ``on_fallback`` is called once per event decided by the fallback (a metric); the outage is
    logged at most every ``log_interval`` seconds."""

    def __init__(
        self,
        primary: EventDeduplicator,
        fallback: EventDeduplicator,
        *,
        on_fallback: Callable[[], None] | None = None,
        log_interval: float = 60.0,
    ) -> None:
        self._primary = primary
        self._fallback = fallback
        self._on_fallback = on_fallback
        self._outage_log = Throttle(log_interval)

    async def first_time(self, key: str, ttl_seconds: int) -> bool:
        try:
            return await self._primary.first_time(key, ttl_seconds)
        except DeduplicationError as exc:
            if self._on_fallback is not None:
                self._on_fallback()
            if self._outage_log.due():
                log.error("event de-duplication falls back to the database", extra={"error": str(exc)})
            return await self._fallback.first_time(key, ttl_seconds)

    def __repr__(self) -> str:
        return f"<FallbackDeduplicator {self._primary!r} -> {self._fallback!r}>"
