"""Each event handled once across replicas: Redis and the metadata database."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select, update

from core.db import Database
from core.db.tables import ProcessedEvent
from core.dedupe import (
    DatabaseDeduplicator,
    DeduplicationError,
    EventDeduplicator,
    RedisDeduplicator,
)


@pytest.fixture
async def redis_prefix(redis_url: str) -> AsyncIterator[tuple[str, str]]:
    prefix = f"lore-test:{uuid.uuid4().hex}:"
    yield redis_url, prefix
    client = Redis.from_url(redis_url)
    try:
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def _race(replicas: list[EventDeduplicator], key: str, attempts: int = 50) -> list[bool]:
    return list(await asyncio.gather(
        *(replicas[i % len(replicas)].first_time(key, 3600) for i in range(attempts))
    ))


async def test_redis_two_replicas_race(redis_prefix: tuple[str, str]) -> None:
    url, prefix = redis_prefix
    a, b = Redis.from_url(url), Redis.from_url(url)  # two replicas: two connection pools
    try:
        replicas: list[EventDeduplicator] = [RedisDeduplicator(a, prefix=prefix),
                                              RedisDeduplicator(b, prefix=prefix)]
        results = await _race(replicas, "Ev0001")
        assert results.count(True) == 1
        assert await replicas[0].first_time("Ev0002", 60)  # keys are independent
        assert not await replicas[1].first_time("Ev0002", 60)
        ttl = await a.ttl(prefix + "Ev0002")
        assert 0 < ttl <= 60
    finally:
        await a.aclose()
        await b.aclose()


async def test_redis_key_expires(redis_prefix: tuple[str, str]) -> None:
    url, prefix = redis_prefix
    client = Redis.from_url(url)
    try:
        dedupe = RedisDeduplicator(client, prefix=prefix)
        assert await dedupe.first_time("Ev1", 1)
        assert not await dedupe.first_time("Ev1", 1)
        await asyncio.sleep(1.2)
        assert await dedupe.first_time("Ev1", 1)
    finally:
        await client.aclose()


async def test_redis_down_is_a_clear_error() -> None:
    client = Redis.from_url("redis://:hunter2pass@127.0.0.1:1/0", socket_connect_timeout=1)
    try:
        with pytest.raises(DeduplicationError, match="Redis did not answer") as info:
            await RedisDeduplicator(client).first_time("Ev1", 60)
        assert "hunter2pass" not in str(info.value)
    finally:
        await client.aclose()


async def test_database_two_replicas_race(database: Database) -> None:
    replicas: list[EventDeduplicator] = [DatabaseDeduplicator(database),
                                          DatabaseDeduplicator(database)]
    results = await _race(replicas, "Ev0001")
    assert results.count(True) == 1
    results = await _race(replicas, "Ev0002")
    assert results.count(True) == 1
    with database.session() as s:
        assert s.execute(select(func.count()).select_from(ProcessedEvent)).scalar_one() == 2


def _age(database: Database, key: str, seconds: int) -> None:
    with database.session() as s:
        s.execute(update(ProcessedEvent).where(ProcessedEvent.event_key == key).values(
            expires_at=datetime.now(UTC) - timedelta(seconds=seconds)))


async def test_database_expired_key_is_new_again_exactly_once(database: Database) -> None:
    dedupe = DatabaseDeduplicator(database)
    assert await dedupe.first_time("Ev1", 3600)
    _age(database, "Ev1", 5)
    results = await _race([dedupe, DatabaseDeduplicator(database)], "Ev1", 20)
    assert results.count(True) == 1


async def test_database_purges_expired_rows(database: Database) -> None:
    dedupe = DatabaseDeduplicator(database, purge_interval=0)
    assert await dedupe.first_time("old", 60)
    assert await dedupe.first_time("kept", 60)
    _age(database, "old", 1)
    assert await dedupe.first_time("new", 60)
    with database.session() as s:
        keys = set(s.execute(select(ProcessedEvent.event_key)).scalars())
    assert keys == {"kept", "new"}


async def test_database_long_keys_are_hashed(database: Database) -> None:
    dedupe = DatabaseDeduplicator(database)
    long_key = "slack:" + "x" * 400
    assert await dedupe.first_time(long_key, 60)
    assert not await dedupe.first_time(long_key, 60)
    assert await dedupe.first_time(long_key + "y", 60)


async def test_ttl_must_be_positive(database: Database) -> None:
    with pytest.raises(ValueError):
        await DatabaseDeduplicator(database).first_time("k", 0)
