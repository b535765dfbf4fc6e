"""Earlier questions of a thread, so that follow-ups can be rewritten into standalone questions.

Keyed by platform, workspace, conversation, thread *and asker*: one person's history never feeds
another person's question, so nothing crosses a permission boundary. Only questions are kept,
never answers or document text. In-process for one replica; Redis when replicas share state.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any, Protocol

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
    def __init__(self, client: Any, prefix: str, ttl_seconds: int = 24 * 3600) -> None:
        self.client = client
        self.prefix = prefix
        self.ttl = ttl_seconds

    async def questions(self, key: str) -> list[str]:
        items = await self.client.lrange(f"{self.prefix}thread:{key}", 0, -1)
        return [i.decode() if isinstance(i, bytes) else str(i) for i in items]

    async def remember(self, key: str, question: str) -> None:
        name = f"{self.prefix}thread:{key}"
        pipe = self.client.pipeline(transaction=True)
        pipe.rpush(name, question)
        pipe.ltrim(name, -MAX_QUESTIONS, -1)
        pipe.expire(name, self.ttl)
        await pipe.execute()
