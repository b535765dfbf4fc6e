"""Per-user question rate limit, shared by every replica when Redis is configured.

Sliding-window log: at most ``limit`` allowed acquisitions in any ``window`` seconds per key
(exact, unlike fixed windows that allow 2x at a boundary). Refused attempts are not recorded, so
hammering does not extend the wait. In Redis each key is a sorted set of acquisition times,
updated by one Lua script (atomic across replicas) that takes the time from the Redis server
(replica clocks need not agree), and every key expires one window after its last use.

When Redis fails (down, timing out), questions are NOT refused: for a Q&A bot, refusing everyone
because the limiter's store is down is worse than not limiting. The limiter fails open to a
per-replica in-process limit (each replica enforces ``limit`` on its own, so a user gets at most
``limit x replicas``), logs an error (again at most every ``error_log_interval`` seconds while
the outage lasts, and a warning on recovery) and counts each failure in ``store_errors`` for
/metrics. After a failure it leaves Redis alone for ``cooldown`` seconds, so an unreachable
store costs one timeout per cooldown, not one per question.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from core.config import ConfigError, RateLimitConfig, RedisConfig
from core.logging import Throttle

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger("lore.ratelimit")

Clock = Callable[[], float]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: float  # seconds until an acquisition would be allowed; 0.0 when allowed


class RateLimiter(Protocol):
    async def acquire(self, key: str) -> Decision: ...

    @property
    def store_errors(self) -> int:
        """Acquisitions decided without the shared store because it failed (for /metrics)."""
        ...

    async def aclose(self) -> None: ...


class UnlimitedRateLimiter:
    """``ratelimit.questions_per_minute = 0``: no limit."""

    store_errors = 0

    async def acquire(self, key: str) -> Decision:
        return Decision(True, 0.0)

    async def aclose(self) -> None:
        return None


class InProcessRateLimiter:
    """One replica's limiter. Memory is bounded: keys idle for a whole window are dropped, and
    beyond ``max_keys`` the least recently used key is dropped even if active (forgetting a
    user's recent questions is better than unbounded growth)."""

    store_errors = 0

    def __init__(
        self, limit: int, window: float = 60.0, *, max_keys: int = 100_000,
        clock: Clock = time.monotonic,
    ) -> None:
        if limit < 1 or window <= 0 or max_keys < 1:
            raise ValueError("limit and max_keys must be >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._clock = clock
        self._hits: OrderedDict[str, deque[float]] = OrderedDict()  # least recently used first

    def __len__(self) -> int:
        return len(self._hits)

    async def acquire(self, key: str) -> Decision:
        return self.acquire_now(key)

    def acquire_now(self, key: str) -> Decision:
        """The synchronous core (no await inside, so it is atomic on the event loop)."""
        now = self._clock()
        horizon = now - self.window
        self._evict(horizon, make_room=key not in self._hits)
        hits = self._hits.get(key)
        if hits is None:
            hits = self._hits[key] = deque()
        else:
            self._hits.move_to_end(key)
        while hits and hits[0] <= horizon:
            hits.popleft()
        if len(hits) < self.limit:
            hits.append(now)
            return Decision(True, 0.0)
        return Decision(False, max(hits[0] + self.window - now, 0.0))

    def _evict(self, horizon: float, *, make_room: bool) -> None:
        """Drop idle keys from the least recently used end, and one more if a new key would
        exceed ``max_keys``."""
        while self._hits:
            oldest_key, hits = next(iter(self._hits.items()))
            full = make_room and len(self._hits) >= self.max_keys
            if full or not hits or hits[-1] <= horizon:
                del self._hits[oldest_key]
            else:
                break

    async def aclose(self) -> None:
        return None


# KEYS[1]: the sorted set. ARGV: window (microseconds), limit, a unique member.
# Returns {allowed (1/0), retry_after (microseconds)}.
_SLIDING_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
  return {1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tonumber(oldest[2]) + window - now}
"""


class RedisRateLimiter:
    """The limiter shared by replicas. Keys are ``<prefix>ratelimit:<sha256 of the key>``: user
    ids and emails do not end up in Redis, and key length stays fixed."""

    def __init__(
        self,
        client: Redis,
        limit: int,
        window: float = 60.0,
        *,
        prefix: str = "lore:",
        timeout: float = 0.5,
        cooldown: float = 5.0,
        error_log_interval: float = 60.0,
        owns_client: bool = False,
        clock: Clock = time.monotonic,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self.client = client
        self.limit = limit
        self.window = window
        self.prefix = prefix
        self.timeout = timeout
        self.cooldown = cooldown
        self._error_log = Throttle(error_log_interval, clock)
        self._owns_client = owns_client
        self._clock = clock
        self._script = client.register_script(_SLIDING_WINDOW)
        self._fallback = InProcessRateLimiter(limit, window, clock=clock)
        self._store_errors = 0
        self._down_since: float | None = None
        self._retry_store_at = 0.0

    @property
    def store_errors(self) -> int:
        return self._store_errors

    def redis_key(self, key: str) -> str:
        return f"{self.prefix}ratelimit:{hashlib.sha256(key.encode()).hexdigest()[:32]}"

    async def acquire(self, key: str) -> Decision:
        now = self._clock()
        if self._down_since is not None and now < self._retry_store_at:
            self._store_errors += 1
            return self._fallback.acquire_now(key)
        try:
            result: Any = await asyncio.wait_for(
                self._script(
                    keys=[self.redis_key(key)],
                    args=[round(self.window * 1_000_000), self.limit, uuid.uuid4().hex],
                ),
                self.timeout,
            )
            allowed, retry_us = int(result[0]), int(result[1])
        except Exception as exc:  # noqa: BLE001 - any store failure: fail open, see module doc
            return self._store_failed(key, exc)
        if self._down_since is not None:
            log.warning(
                "rate limiter store is back; limits are shared across replicas again",
                extra={"outage_seconds": round(self._clock() - self._down_since, 1)},
            )
            self._down_since = None
            self._error_log.reset()
        return Decision(bool(allowed), 0.0 if allowed else max(retry_us, 0) / 1_000_000)

    def _store_failed(self, key: str, exc: Exception) -> Decision:
        now = self._clock()
        self._store_errors += 1
        if self._down_since is None:
            self._down_since = now
        self._retry_store_at = now + self.cooldown
        if self._error_log.due():
            log.error(
                "rate limiter store (Redis) failed; allowing questions under per-replica limits",
                extra={"error": f"{type(exc).__name__}: {exc}", "store_errors": self._store_errors},
            )
        return self._fallback.acquire_now(key)

    async def aclose(self) -> None:
        if self._owns_client:
            await self.client.aclose()


def make_rate_limiter(
    config: RateLimitConfig, redis: RedisConfig, *, window: float = 60.0
) -> RateLimiter:
    """Shared through Redis when ``redis.url`` is set, else in-process (one replica)."""
    limit = config.questions_per_minute
    if limit < 0:
        raise ConfigError(
            f"ratelimit.questions_per_minute must be >= 0 (0 = no limit), not {limit}"
        )
    if limit == 0:
        return UnlimitedRateLimiter()
    if not redis.url:
        return InProcessRateLimiter(limit, window)
    from redis.asyncio import Redis

    # Short socket timeouts: a blackholed Redis must not add seconds to every question.
    try:
        client = Redis.from_url(redis.url, socket_connect_timeout=0.5, socket_timeout=0.5)
    except ValueError as exc:  # the URL itself may hold a password: never echo it
        raise ConfigError(f"redis.url is not a valid Redis URL: {exc}") from None
    return RedisRateLimiter(client, limit, window, prefix=redis.key_prefix, owns_client=True)
