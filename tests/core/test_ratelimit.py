from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from core.config import ConfigError, RateLimitConfig, RedisConfig
from core.ratelimit import (
    Decision,
    InProcessRateLimiter,
    RateLimiter,
    RedisRateLimiter,
    UnlimitedRateLimiter,
    make_rate_limiter,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- in process -----------------------------------------------------------------------------------


async def test_in_process_sliding_window() -> None:
    clock = FakeClock()
    limiter = InProcessRateLimiter(3, 60.0, clock=clock)
    for t in (0.0, 10.0, 20.0):
        clock.now = 1000.0 + t
        assert await limiter.acquire("alice") == Decision(True, 0.0)
    clock.now = 1030.0
    refused = await limiter.acquire("alice")
    assert not refused.allowed and refused.retry_after == pytest.approx(30.0)
    assert (await limiter.acquire("bob")).allowed  # keys are independent
    clock.now = 1059.9  # refused attempts are not recorded, so they do not push this out
    assert not (await limiter.acquire("alice")).allowed
    clock.now = 1060.0  # the first hit has left the window; only one slot opens
    assert (await limiter.acquire("alice")).allowed
    assert not (await limiter.acquire("alice")).allowed
    clock.now = 1070.0
    assert (await limiter.acquire("alice")).allowed


async def test_in_process_evicts_idle_keys() -> None:
    clock = FakeClock()
    limiter = InProcessRateLimiter(2, 60.0, clock=clock)
    for i in range(1000):
        await limiter.acquire(f"user{i}")
    assert len(limiter) == 1000
    clock.now += 61
    await limiter.acquire("late")
    assert len(limiter) == 1


async def test_in_process_memory_is_capped() -> None:
    clock = FakeClock()
    limiter = InProcessRateLimiter(1, 60.0, max_keys=100, clock=clock)
    for i in range(1000):
        clock.now += 0.001
        assert (await limiter.acquire(f"user{i}")).allowed
    assert len(limiter) == 100
    assert not (await limiter.acquire("user999")).allowed  # recent keys are kept
    assert len(limiter) == 100  # a known key at the cap evicts nobody


def test_factory_choices() -> None:
    assert isinstance(make_rate_limiter(RateLimitConfig(), RedisConfig()), InProcessRateLimiter)
    assert isinstance(
        make_rate_limiter(RateLimitConfig(questions_per_minute=0), RedisConfig()),
        UnlimitedRateLimiter,
    )
    with pytest.raises(ConfigError, match="questions_per_minute"):
        make_rate_limiter(RateLimitConfig(questions_per_minute=-1), RedisConfig())
    with pytest.raises(ConfigError, match="redis.url") as info:
        make_rate_limiter(RateLimitConfig(), RedisConfig(url="http://user:s3cret-pw@cache"))
    assert "s3cret-pw" not in str(info.value)


async def test_unlimited() -> None:
    limiter: RateLimiter = UnlimitedRateLimiter()
    assert all([(await limiter.acquire("a")).allowed for _ in range(1000)])
    assert limiter.store_errors == 0


# -- Redis ----------------------------------------------------------------------------------------


@pytest.fixture
async def prefix(redis_url: str) -> AsyncIterator[str]:
    """A key prefix of this test's own; every key under it is deleted afterwards."""
    prefix = f"lore-test:{uuid.uuid4().hex}:"
    yield prefix
    client = Redis.from_url(redis_url)
    keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_two_replicas_share_one_limit(redis_url: str, prefix: str) -> None:
    a_client, b_client = Redis.from_url(redis_url), Redis.from_url(redis_url)
    a = RedisRateLimiter(a_client, 5, 60.0, prefix=prefix, owns_client=True)
    b = RedisRateLimiter(b_client, 5, 60.0, prefix=prefix, owns_client=True)
    try:
        results = [await a.acquire("slack:T1:U1") for _ in range(3)]
        results += [await b.acquire("slack:T1:U1") for _ in range(2)]
        assert all(r.allowed for r in results)
        for limiter in (a, b):
            refused = await limiter.acquire("slack:T1:U1")
            assert not refused.allowed and 55 < refused.retry_after <= 60
        assert (await b.acquire("slack:T1:U2")).allowed
        assert a.store_errors == b.store_errors == 0
    finally:
        await a.aclose()
        await b.aclose()


async def test_concurrent_acquisitions_are_atomic(redis_url: str, prefix: str) -> None:
    clients = [Redis.from_url(redis_url) for _ in range(2)]
    limiters = [RedisRateLimiter(c, 7, 60.0, prefix=prefix, owns_client=True) for c in clients]
    try:
        decisions = await asyncio.gather(*(limiters[i % 2].acquire("u") for i in range(40)))
        assert sum(d.allowed for d in decisions) == 7
    finally:
        for limiter in limiters:
            await limiter.aclose()


async def test_window_expiry_and_ttl(redis_url: str, prefix: str) -> None:
    client = Redis.from_url(redis_url)
    limiter = RedisRateLimiter(client, 2, 0.5, prefix=prefix)
    try:
        assert (await limiter.acquire("carol")).allowed
        assert (await limiter.acquire("carol")).allowed
        refused = await limiter.acquire("carol")
        assert not refused.allowed and 0 < refused.retry_after <= 0.5
        key = limiter.redis_key("carol")
        assert key.startswith(prefix) and "carol" not in key  # no user ids in Redis
        assert 0 < await client.pttl(key) <= 500
        await asyncio.sleep(refused.retry_after + 0.02)
        assert (await limiter.acquire("carol")).allowed
        await asyncio.sleep(0.6)
        assert await client.exists(key) == 0  # nothing lingers
    finally:
        await client.aclose()


async def test_factory_builds_a_shared_limiter(redis_url: str, prefix: str) -> None:
    limiter = make_rate_limiter(
        RateLimitConfig(questions_per_minute=1), RedisConfig(url=redis_url, key_prefix=prefix)
    )
    assert isinstance(limiter, RedisRateLimiter)
    try:
        assert (await limiter.acquire("dave")).allowed
        assert not (await limiter.acquire("dave")).allowed
    finally:
        await limiter.aclose()


async def test_unreachable_redis_fails_open(caplog: pytest.LogCaptureFixture) -> None:
    client = Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.5)
    limiter = RedisRateLimiter(client, 2, 60.0, prefix="lore-test:down:", cooldown=60.0)
    try:
        with caplog.at_level(logging.DEBUG, logger="lore.ratelimit"):
            first = await limiter.acquire("erin")
            second = await limiter.acquire("erin")
            third = await limiter.acquire("erin")
        assert first.allowed and second.allowed
        # The per-replica fallback still applies the limit on this replica.
        assert not third.allowed and third.retry_after > 0
        errors = [
            r for r in caplog.records if r.name == "lore.ratelimit" and r.levelno == logging.ERROR
        ]
        assert len(errors) == 1  # one log per outage (and interval), not one per question
        assert "ConnectionError" in errors[0].__dict__["error"]
        assert limiter.store_errors == 3
    finally:
        await client.aclose()


class FlakyClient:
    """Fails the first ``failures`` script calls, then passes them to a real client."""

    def __init__(self, real: Redis, failures: int) -> None:
        self.real = real
        self.failures = failures

    def register_script(self, source: str) -> Any:
        script = self.real.register_script(source)

        async def call(**kwargs: Any) -> Any:
            if self.failures > 0:
                self.failures -= 1
                raise ConnectionError("Redis went away")
            return await script(**kwargs)

        return call

    async def aclose(self) -> None:
        await self.real.aclose()


async def test_recovers_after_the_cooldown(
    redis_url: str, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock()
    flaky = FlakyClient(Redis.from_url(redis_url), failures=1)
    limiter = RedisRateLimiter(
        flaky,
        3,
        60.0,
        prefix=prefix,
        cooldown=5.0,
        clock=clock,
        owns_client=True,  # type: ignore[arg-type]
    )
    try:
        with caplog.at_level(logging.DEBUG, logger="lore.ratelimit"):
            assert (await limiter.acquire("frank")).allowed  # store failed: fallback
            clock.now += 1
            assert (await limiter.acquire("frank")).allowed  # within the cooldown: no Redis call
            assert flaky.failures == 0 and limiter.store_errors == 2
            clock.now += 5
            assert (await limiter.acquire("frank")).allowed  # back on Redis
        assert limiter.store_errors == 2
        assert any("back" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
        client = Redis.from_url(redis_url)
        assert await client.zcard(limiter.redis_key("frank")) == 1
        await client.aclose()
    finally:
        await limiter.aclose()
