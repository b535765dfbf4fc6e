"""Sync job leases on SQLite and a real PostgreSQL: one replica per job at a time."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import OperationalError

from core.db import Database, open_database
from core.leases import Lease, LeaseError, LeaseManager
from tests.conftest import PG_URL

JOB = "confluence:main:content"
TTL = 30.0


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def test_racing_replicas_get_exactly_one_lease(database: Database, clock: FakeClock) -> None:
    a, b = LeaseManager(database, clock=clock), LeaseManager(database, clock=clock)
    results = await asyncio.gather(*(
        (a if i % 2 else b).acquire(JOB, f"replica-{i % 2}", TTL) for i in range(50)
    ))
    won = [r for r in results if r is not None]
    assert len(won) == 1
    info = await a.current(JOB)
    assert info is not None and info.holder == won[0].holder and not info.expired
    assert info.expires_at == clock.now + timedelta(seconds=TTL)


async def test_the_loser_gets_the_lease_after_expiry(database: Database, clock: FakeClock) -> None:
    a, b = LeaseManager(database, clock=clock), LeaseManager(database, clock=clock)
    held = await a.acquire(JOB, "a", TTL)
    assert held is not None and held.holder == "a"
    clock.advance(TTL - 1)
    assert await b.acquire(JOB, "b", TTL) is None
    assert await a.acquire(JOB, "a", TTL) is None  # not re-entrant: the holder renews
    clock.advance(1)  # expires_at reached
    info = await b.current(JOB)
    assert info is not None and info.holder == "a" and info.expired
    taken = await b.acquire(JOB, "b", TTL)
    assert taken is not None and taken.holder == "b" and taken.token != held.token
    assert taken.expires_at == clock.now + timedelta(seconds=TTL)


async def test_a_stale_holder_cannot_renew_or_release(database: Database, clock: FakeClock) -> None:
    a, b = LeaseManager(database, clock=clock), LeaseManager(database, clock=clock)
    stale = await a.acquire(JOB, "a", TTL)
    assert stale is not None
    clock.advance(TTL + 5)  # a was paused past its expiry
    fresh = await b.acquire(JOB, "b", TTL)
    assert fresh is not None
    assert not await a.renew(stale, TTL)
    await a.release(stale)
    info = await a.current(JOB)
    assert info is not None and info.holder == "b" and info.expires_at == fresh.expires_at
    assert await a.acquire(JOB, "a", TTL) is None
    # The same job name and holder id, but an old token, is still stale.
    forged = Lease(job=JOB, holder="b", token=stale.token, expires_at=fresh.expires_at)
    assert not await a.renew(forged, TTL)


async def test_renewal_extends_the_lease(database: Database, clock: FakeClock) -> None:
    a, b = LeaseManager(database, clock=clock), LeaseManager(database, clock=clock)
    lease = await a.acquire(JOB, "a", TTL)
    assert lease is not None
    clock.advance(TTL - 1)
    assert await a.renew(lease, TTL)
    clock.advance(TTL - 1)  # past the first expiry, within the renewed one
    assert await b.acquire(JOB, "b", TTL) is None
    info = await b.current(JOB)
    assert info is not None and info.heartbeat_at == clock.now - timedelta(seconds=TTL - 1)
    assert info.acquired_at == clock.now - timedelta(seconds=2 * (TTL - 1))
    assert info.expires_at == clock.now + timedelta(seconds=1)


async def test_release_lets_another_acquire_at_once(database: Database, clock: FakeClock) -> None:
    a, b = LeaseManager(database, clock=clock), LeaseManager(database, clock=clock)
    lease = await a.acquire(JOB, "a", TTL)
    assert lease is not None
    await a.release(lease)
    assert await b.current(JOB) is None
    taken = await b.acquire(JOB, "b", TTL)
    assert taken is not None and taken.holder == "b"
    assert not await a.renew(lease, TTL)


async def test_jobs_are_independent(database: Database, clock: FakeClock) -> None:
    a, b = LeaseManager(database, clock=clock), LeaseManager(database, clock=clock)
    one = await a.acquire("confluence:main:content", "a", TTL)
    two = await b.acquire("confluence:main:acl", "b", TTL)
    assert one is not None and two is not None
    assert await a.acquire("confluence:main:acl", "a", TTL) is None
    await a.release(one)
    assert await b.current("confluence:main:acl") is not None
    assert await b.renew(two, TTL)


async def test_database_clock_by_default(database: Database) -> None:
    manager = LeaseManager(database)
    before = datetime.now(UTC)
    lease = await manager.acquire(JOB, "a", TTL)
    assert lease is not None and lease.expires_at.tzinfo is not None
    # Database server and test host share a machine here: allow a little skew anyway.
    expected = before + timedelta(seconds=TTL)
    assert abs((lease.expires_at - expected).total_seconds()) < 5
    assert await manager.acquire(JOB, "b", TTL) is None
    assert await manager.renew(lease, 60)
    info = await manager.current(JOB)
    assert info is not None and not info.expired and info.holder == "a"
    assert lease.token not in repr(lease)


async def test_invalid_arguments(database: Database) -> None:
    manager = LeaseManager(database)
    with pytest.raises(ValueError, match="ttl_seconds"):
        await manager.acquire(JOB, "a", 0)
    with pytest.raises(ValueError, match="job"):
        await manager.acquire("", "a", TTL)
    with pytest.raises(ValueError, match="holder"):
        await manager.acquire(JOB, "x" * 256, TTL)
    naive = LeaseManager(database, clock=lambda: datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        await naive.acquire(JOB, "a", TTL)


async def test_database_failure_is_a_clear_error(database: Database,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    manager = LeaseManager(database)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise OperationalError("SELECT", {}, Exception("password=secretpw connection refused"))

    monkeypatch.setattr(database.sessions, "begin", broken)
    with pytest.raises(LeaseError, match=r"lease acquire for job 'confluence:main:content': "
                                         r"OperationalError") as info:
        await manager.acquire(JOB, "a", TTL)
    assert "secretpw" not in str(info.value)


@pytest.fixture
def two_schedulers(pg_schema: str) -> Iterator[tuple[Database, Database]]:
    """Two separate engines (connection pools) on one PostgreSQL schema: two server processes."""
    first = open_database(PG_URL, pg_schema)
    second = open_database(PG_URL, pg_schema)
    yield first, second
    first.close()
    second.close()


def test_two_postgresql_schedulers_race_with_threads(two_schedulers: tuple[Database, Database]) -> None:
    managers = [LeaseManager(db) for db in two_schedulers]  # the database's clock
    rounds, per_scheduler = 10, 8
    for round_ in range(rounds):
        job = f"confluence:main:round-{round_}"
        barrier = threading.Barrier(2 * per_scheduler)

        def contend(i: int, job: str = job, barrier: threading.Barrier = barrier) -> Lease | None:
            barrier.wait()
            return asyncio.run(managers[i % 2].acquire(job, f"scheduler-{i % 2}", TTL))

        with ThreadPoolExecutor(max_workers=2 * per_scheduler) as pool:
            results = list(pool.map(contend, range(2 * per_scheduler)))
        won = [r for r in results if r is not None]
        assert len(won) == 1, f"round {round_}: {len(won)} winners"
        winner = won[0]
        loser = managers[1] if winner.holder == "scheduler-0" else managers[0]
        info = asyncio.run(loser.current(job))
        assert info is not None and info.holder == winner.holder
        asyncio.run(managers[0 if winner.holder == "scheduler-0" else 1].release(winner))
        assert asyncio.run(loser.acquire(job, "loser", TTL)) is not None


def test_two_postgresql_schedulers_take_over_an_expired_lease(
    two_schedulers: tuple[Database, Database],
) -> None:
    clock = FakeClock()
    managers = [LeaseManager(db, clock=clock) for db in two_schedulers]
    assert asyncio.run(managers[0].acquire(JOB, "dead", TTL)) is not None
    clock.advance(TTL)
    barrier = threading.Barrier(16)

    def contend(i: int) -> Lease | None:
        barrier.wait()
        return asyncio.run(managers[i % 2].acquire(JOB, f"scheduler-{i}", TTL))

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(contend, range(16)))
    won = [r for r in results if r is not None]
    assert len(won) == 1
    info = asyncio.run(managers[0].current(JOB))
    assert info is not None and info.holder == won[0].holder
