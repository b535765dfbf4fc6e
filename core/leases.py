"""Leases on sync jobs: each job runs on one replica at a time, and a dead replica's job is
taken over once its lease expires.

A replica calls ``acquire(job, holder, ttl)``; on success it runs the job and calls ``renew``
well within the TTL (every ttl/3, say), stopping the job as soon as ``renew`` returns False;
when done it calls ``release`` so that another replica may run the job at once.

Atomicity. ``acquire`` is one statement on both SQLite and PostgreSQL::

    INSERT INTO sync_leases (...) VALUES (...)
    ON CONFLICT (job) DO UPDATE SET holder = excluded.holder, token = excluded.token, ...
    WHERE sync_leases.expires_at <= :now
    RETURNING job, holder, token, expires_at

No row: the insert wins. A row: PostgreSQL locks it and evaluates the WHERE on its latest
version (SQLite holds the database write lock for the statement), so of several racers at most
one takes an expired lease over; everyone else gets no row back. Each acquisition draws a fresh
random ``token``; ``renew`` and ``release`` match on it, so a stale holder (paused past expiry,
then taken over) can neither extend nor drop the new holder's lease. A lease is held while
``now < expires_at``.

Clock. Every statement compares against one ``now`` taken in one place (``_now``) at the start
of the transaction and passed as a parameter:

* PostgreSQL: the database server's ``clock_timestamp()``, so all replicas use one clock and
  their own clock skew does not matter.
* SQLite: the host clock, which is the database's clock (SQLite is in-process, so replicas
  sharing the file share the host).
* An injected ``clock`` (tests) replaces both; with several hosts it must then be synchronised
  (NTP) to well under the TTL.

``Lease.expires_at`` is in the database's clock. A holder should not compare it with its own
clock; it should treat the lease as lost when a renewal fails or when ``ttl`` minus a safety
margin has passed (on its monotonic clock) since the last successful renewal.

Database failures raise ``LeaseError`` naming the operation and the job, never the database URL
or its credentials.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from sqlalchemy import delete, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core.db.engine import Database, as_utc
from core.db.tables import SyncLease
from core.errors import CoreError

MAX_JOB = 255  # sync_leases.job
MAX_HOLDER = 255  # sync_leases.holder

Clock = Callable[[], datetime]
T = TypeVar("T")


class LeaseError(CoreError, RuntimeError):
    """The metadata database could not answer a lease operation."""


@dataclass(frozen=True)
class Lease:
    """A lease held: pass it back to ``renew`` and ``release``. ``expires_at`` is in the
    database's clock (UTC)."""

    job: str
    holder: str
    token: str
    expires_at: datetime

    def __repr__(self) -> str:  # the token is a capability: keep it out of logs
        return (f"Lease(job={self.job!r}, holder={self.holder!r}, "
                f"expires_at={self.expires_at.isoformat()})")


@dataclass(frozen=True)
class LeaseInfo:
    """Who holds a job's lease, for display and monitoring (no token: it cannot be used to
    renew or release). ``expired`` is as of the time of the query."""

    job: str
    holder: str
    acquired_at: datetime
    expires_at: datetime
    heartbeat_at: datetime
    expired: bool


def _check_ttl(ttl_seconds: float) -> timedelta:
    if not ttl_seconds > 0:
        raise ValueError(f"ttl_seconds must be positive, got {ttl_seconds}")
    return timedelta(seconds=ttl_seconds)


class LeaseManager:
    """Leases on sync jobs in ``sync_leases``, shared by every replica using the database.

    ``clock`` replaces the database's clock (tests); it must return aware datetimes."""

    def __init__(self, db: Database, *, clock: Clock | None = None) -> None:
        dialect = db.engine.dialect.name
        if dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database {dialect!r} for sync leases")
        self._db = db
        self._dialect = dialect
        self._clock = clock

    async def acquire(self, job: str, holder: str, ttl_seconds: float) -> Lease | None:
        """The lease on ``job`` for ``holder`` if nobody holds it (or its lease has expired),
        else None. Not re-entrant: a holder that still holds the lease gets None (it renews)."""
        ttl = _check_ttl(ttl_seconds)
        if not job or len(job) > MAX_JOB:
            raise ValueError(f"job must be 1 to {MAX_JOB} characters")
        if not holder or len(holder) > MAX_HOLDER:
            raise ValueError(f"holder must be 1 to {MAX_HOLDER} characters")
        return await self._run("acquire", job, lambda s: self._acquire(s, job, holder, ttl))

    async def renew(self, lease: Lease, ttl_seconds: float) -> bool:
        """Extend ``lease`` to now + ttl. False when it was taken over or released: the caller
        must stop the job. A lease past its expiry that nobody took over is renewed (nobody
        else can have run the job: that would have changed the token)."""
        ttl = _check_ttl(ttl_seconds)
        return await self._run("renew", lease.job, lambda s: self._renew(s, lease, ttl))

    async def release(self, lease: Lease) -> None:
        """Give ``lease`` up, so that any replica may acquire it at once. No effect when it is
        no longer this lease (taken over after expiry)."""
        await self._run("release", lease.job, lambda s: self._release(s, lease))

    async def expire(self, job: str, holder: str, acquired_at: datetime) -> bool:
        """End the lease ``holder`` took at ``acquired_at`` (a holder known to be dead, see
        core.liveness), so that ``acquire`` succeeds at once; False when the lease is no longer
        that one (renewed by nobody else, released, or taken over meanwhile)."""
        return await self._run("expire", job, lambda s: self._expire(s, job, holder, acquired_at))

    async def current(self, job: str) -> LeaseInfo | None:
        """The lease row of ``job``, expired or not; None when there is none."""
        return await self._run("read", job, lambda s: self._current(s, job))

    async def _run(self, what: str, job: str, work: Callable[[Session], T]) -> T:
        def in_transaction() -> T:
            with self._db.session() as s:
                return work(s)

        try:
            return await asyncio.to_thread(in_transaction)
        except SQLAlchemyError as exc:
            raise LeaseError(
                f"the metadata database did not answer the lease {what} for job {job!r}: "
                f"{exc.__class__.__name__}"
            ) from exc

    def _now(self, s: Session) -> datetime:
        """The one source of "now" for a transaction (see the module docstring)."""
        if self._clock is not None:
            now = self._clock()
            if now.tzinfo is None:
                raise ValueError("the lease clock must return timezone-aware datetimes")
        elif self._dialect == "postgresql":
            now = s.execute(text("SELECT clock_timestamp()")).scalar_one()
        else:
            now = datetime.now(UTC)
        return as_utc(now)  # SQLite stores datetimes without offset: always bind UTC

    def _acquire(self, s: Session, job: str, holder: str, ttl: timedelta) -> Lease | None:
        now = self._now(s)
        insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        stmt = insert(SyncLease).values(
            job=job, holder=holder, token=secrets.token_hex(16),
            acquired_at=now, expires_at=now + ttl, heartbeat_at=now,
        )
        upsert = stmt.on_conflict_do_update(
            index_elements=["job"],
            set_={
                "holder": stmt.excluded.holder,
                "token": stmt.excluded.token,
                "acquired_at": stmt.excluded.acquired_at,
                "expires_at": stmt.excluded.expires_at,
                "heartbeat_at": stmt.excluded.heartbeat_at,
            },
            where=SyncLease.expires_at <= now,
        ).returning(SyncLease.job, SyncLease.holder, SyncLease.token, SyncLease.expires_at)
        row = s.execute(upsert).one_or_none()  # RETURNING, not rowcount (-1 for ORM statements)
        if row is None:
            return None
        return Lease(job=row.job, holder=row.holder, token=row.token,
                     expires_at=as_utc(row.expires_at))

    def _renew(self, s: Session, lease: Lease, ttl: timedelta) -> bool:
        now = self._now(s)
        renewed = s.execute(
            update(SyncLease)
            .where(SyncLease.job == lease.job, SyncLease.token == lease.token)
            .values(expires_at=now + ttl, heartbeat_at=now)
            .returning(SyncLease.job)
        ).all()
        return len(renewed) == 1

    def _expire(self, s: Session, job: str, holder: str, acquired_at: datetime) -> bool:
        now = self._now(s)
        ended = s.execute(
            update(SyncLease)
            .where(SyncLease.job == job, SyncLease.holder == holder,
                   SyncLease.acquired_at == as_utc(acquired_at), SyncLease.expires_at > now)
            .values(expires_at=now)
            .returning(SyncLease.job)
        ).all()
        return len(ended) == 1

    def _release(self, s: Session, lease: Lease) -> None:
        s.execute(delete(SyncLease).where(SyncLease.job == lease.job,
                                          SyncLease.token == lease.token))

    def _current(self, s: Session, job: str) -> LeaseInfo | None:
        now = self._now(s)
        row = s.execute(select(SyncLease).where(SyncLease.job == job)).scalar_one_or_none()
        if row is None:
            return None
        expires_at = as_utc(row.expires_at)
        return LeaseInfo(job=row.job, holder=row.holder, acquired_at=as_utc(row.acquired_at),
                         expires_at=expires_at, heartbeat_at=as_utc(row.heartbeat_at),
                         expired=expires_at <= now)

    def __repr__(self) -> str:
        return f"<LeaseManager {self._dialect}>"
