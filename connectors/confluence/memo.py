"""A memo the connector's worker threads share: each key fetched once (threads asking for the
same key wait for the first), different keys fetched in parallel."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class Memo(Generic[T]):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, T] = {}
        self._fetching: dict[str, threading.Lock] = {}

    def get(self, key: str, compute: Callable[[], T]) -> T:
        """The value of ``key``, computed by ``compute`` the first time it is asked for."""
        with self._lock:
            if key in self._values:
                return self._values[key]
            key_lock = self._fetching.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._values:
                    return self._values[key]
            value = compute()
            with self._lock:
                self._values[key] = value
            return value

    def put(self, key: str, value: T) -> None:
        """Remember ``value`` for ``key`` (learnt along the way, e.g. from a listing)."""
        with self._lock:
            self._values[key] = value
