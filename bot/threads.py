"""Earlier questions of a thread, so that follow-ups can be rewritten into standalone questions.

Keyed by platform, workspace, conversation, thread *and asker*: one person's history never feeds
another person's question, so nothing crosses a permission boundary. Only questions are kept,
never answers or document text. In-process for one replica; Redis when replicas share state.
When Redis does not answer, this replica's own memory stands in (a follow-up may then miss the
earlier questions asked through another replica): a Redis outage must not fail questions.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Any, Protocol

from core.logging import Throttle

log = logging.getLogger("lore.threads")

MAX_QUESTIONS = 6


class ThreadMemory(Protocol):
    async def questions(self, key: str) -> list[str]: ...

    async def remember(self, key: str, question: str) -> None: ...


class InProcessThreadMemory:
    def __init__(self, ttl_seconds: float = 24 * 3600, max_threads: int = 10_000) -> None:
        self.ttl = ttl_seconds
        self.max_threads = max_threads
        self._threads: OrderedDict[str, tuple[float, list[str]]] = OrderedDict()

    async def questions(self, key: str) -> list[str]:
        entry = self._threads.get(key)
        if entry is None or entry[0] < time.monotonic():
            self._threads.pop(key, None)
            return []
        return list(entry[1])

    async def remember(self, key: str, question: str) -> None:
        history = (await self.questions(key) + [question])[-MAX_QUESTIONS:]
        self._threads[key] = (time.monotonic() + self.ttl, history)
        self._threads.move_to_end(key)
        while len(self._threads) > self.max_threads:
            self._threads.popitem(last=False)


class RedisThreadMemory:
    def __init__(self, client: Any, prefix: str, ttl_seconds: int = 24 * 3600, *,
                 error_log_interval: float = 60.0) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl = ttl_seconds
        self.store_errors = 0  # for /metrics
        self._local = InProcessThreadMemory(ttl_seconds)
        self._error_log = Throttle(error_log_interval)

    def _failed(self, exc: Exception) -> None:
        self.store_errors += 1
        if self._error_log.due():
            log.error("thread memory falls back to this replica", extra={"error": exc.__class__.__name__})

    async def questions(self, key: str) -> list[str]:
        try:
            items = await self.client.lrange(f"{self.prefix}thread:{key}", 0, -1)
        except Exception as exc:  # noqa: BLE001 - redis errors, OSError, timeouts: no answer
            self._failed(exc)
            return await self._local.questions(key)
        return [i.decode() if isinstance(i, bytes) else str(i) for i in items]

    async def remember(self, key: str, question: str) -> None:
        name = f"{self.prefix}thread:{key}"
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.rpush(name, question)
            pipe.ltrim(name, -MAX_QUESTIONS, -1)
            pipe.expire(name, self.ttl)
            await pipe.execute()
        except Exception as exc:  # noqa: BLE001 - see questions()
            self._failed(exc)
            await self._local.remember(key, question)
