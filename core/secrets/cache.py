"""The cache in front of every vault: rotation without a restart, and a vault outage survived
for at most ``secrets.cache_seconds``.

A value (or a "not set" answer) read from the vault is served for ``cache_seconds``. From half
that age on, a read asks the vault again, so a rotated secret is picked up and a healthy vault
never lets an entry expire. When that refresh fails, the cached value keeps serving until its
age reaches ``cache_seconds``; after that reads raise ``SecretStoreUnavailable``: ``None`` would
mean "not set" and make callers fall back silently (``llm.provider = "auto"``).

After an unreachable vault, the store backs off (1 s doubling to 30 s) instead of asking on every
read, and recovers by itself at the first successful read or health probe. Values live only in
memory: nothing here, nor in the providers, writes to disk.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from core.secrets.base import (
    SecretStore,
    SecretStoreError,
    SecretStoreUnavailable,
    validate_secret_name,
)
from core.secrets.redaction import Redactor

log = logging.getLogger("lore.secrets")

T = TypeVar("T")

# (secret name, operation "get" / "put" / "delete", error class name): never a value.
FailureCallback = Callable[[str, str, str], None]

BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0
# A refused read (permission, bad login) is answered from memory this long, not asked again.
REFUSED_SECONDS = 5.0


@dataclass(frozen=True)
class _Entry:
    value: str | None
    fetched: float  # clock() when the vault answered


class CachedSecretStore(SecretStore):
    """Wraps a vault provider's store; same contract, plus ``health``."""

    def __init__(
        self,
        inner: SecretStore,
        *,
        cache_seconds: float,
        on_failure: FailureCallback | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if cache_seconds <= 0:
            raise SecretStoreError("secrets.cache_seconds must be positive for a vault provider")
        self._inner = inner
        self._ttl = cache_seconds
        self._on_failure = on_failure
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        # Outage state, shared by all names: one unreachable vault is one backoff.
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._backoff = BACKOFF_FIRST
        self._failed_closed: set[str] = set()  # names whose reads failed closed in this outage
        self._refused: dict[str, tuple[float, SecretStoreError]] = {}  # name -> (when, error)

    # -- the contract ----------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def redactor(self) -> Redactor:
        return self._inner.redactor

    @property
    def can_store(self) -> bool:
        return self._inner.can_store

    def where(self, name: str) -> str:
        return self._inner.where(name)

    def get(self, name: str) -> str | None:
        validate_secret_name(name)
        entry = self._entries.get(name)
        if entry is not None and self._age(entry) < self._ttl / 2:
            return entry.value
        lock = self._lock_for(name)
        if entry is not None and self._age(entry) < self._ttl:
            # Refresh-ahead: one reader asks the vault; the others keep the cached value.
            if not lock.acquire(blocking=False):
                return entry.value
            try:
                return self._refresh(name, entry)
            finally:
                lock.release()
        with lock:
            entry = self._entries.get(name)  # another reader may have fetched it meanwhile
            if entry is not None and self._age(entry) < self._ttl:
                return entry.value
            return self._fetch(name)

    def put(self, name: str, value: str) -> None:
        validate_secret_name(name)
        with self._lock_for(name):
            self._entries.pop(name, None)
            self._call("put", name, lambda: self._inner.put(name, value))
            self._refused.pop(name, None)
            self.redactor.register(value, name=name)
            self._entries[name] = _Entry(value, self._clock())

    def delete(self, name: str) -> None:
        validate_secret_name(name)
        with self._lock_for(name):
            self._entries.pop(name, None)
            self._call("delete", name, lambda: self._inner.delete(name))
            self._entries[name] = _Entry(None, self._clock())

    def health(self) -> str:
        """Cheap unless the vault is down: then, when the backoff allows, one read probes it,
        so that a replica taken out of service by /readyz comes back without traffic."""
        if self._down_since is not None and self._clock() >= self._retry_at:
            self._probe()
        with self._guard:
            down_since = self._down_since
            failed = sorted(self._failed_closed)
        if down_since is None:
            return "ok"
        seconds = int(self._clock() - down_since)
        # A value nobody asked for since it expired is no outage yet; a read that failed closed
        # is, and so is a cache with nothing left to serve.
        serving = any(self._age(e) < self._ttl for e in list(self._entries.values()))
        if failed or not serving:
            names = f"reads of {', '.join(failed[:5])} fail closed" if failed else "no cached value is left"
            return f"error: the {self.name} secret store has been unreachable for {seconds} s; {names}"
        return (f"degraded: the {self.name} secret store has been unreachable for {seconds} s; "
                f"serving cached values for up to {self._ttl:g} s after their last read")

    def __repr__(self) -> str:  # never the entries: they hold the values
        return f"<CachedSecretStore {self.name}: {len(self._entries)} cached>"

    # -- internals -------------------------------------------------------------------------

    def _age(self, entry: _Entry) -> float:
        return self._clock() - entry.fetched

    def _lock_for(self, name: str) -> threading.Lock:
        with self._guard:
            lock = self._locks.get(name)
            if lock is None:
                lock = self._locks[name] = threading.Lock()
            return lock

    def _refresh(self, name: str, entry: _Entry) -> str | None:
        refused = self._refused.get(name)
        if self._in_backoff() or (refused is not None and self._clock() - refused[0] < REFUSED_SECONDS):
            return entry.value
        try:
            return self._read(name)
        except SecretStoreUnavailable:
            return entry.value  # reported by _read; still young enough to serve
        except SecretStoreError as exc:
            self._refused[name] = (self._clock(), exc)
            return entry.value

    def _fetch(self, name: str) -> str | None:
        refused = self._refused.get(name)
        if refused is not None and self._clock() - refused[0] < REFUSED_SECONDS:
            raise type(refused[1])(str(refused[1]))
        if self._in_backoff():
            with self._guard:
                self._failed_closed.add(name)
            raise SecretStoreUnavailable(self._closed_message(name))
        try:
            return self._read(name)
        except SecretStoreUnavailable:
            with self._guard:
                self._failed_closed.add(name)
            raise SecretStoreUnavailable(self._closed_message(name)) from None
        except SecretStoreError as exc:
            self._refused[name] = (self._clock(), exc)
            raise

    def _read(self, name: str) -> str | None:
        value = self._call("get", name, lambda: self._inner.get(name))
        self._refused.pop(name, None)
        self._entries[name] = _Entry(value, self._clock())
        return value

    def _call(self, operation: str, name: str, action: Callable[[], T]) -> T:
        try:
            result = action()
        except SecretStoreError as exc:
            if isinstance(exc, SecretStoreUnavailable):
                self._went_down()
            self._report(name, operation, exc)
            raise
        with self._guard:
            if self._down_since is not None:
                log.info("the %s secret store is reachable again", self.name)
            self._down_since = None
            self._backoff = BACKOFF_FIRST
            self._failed_closed.clear()
        return result

    def _went_down(self) -> None:
        with self._guard:
            now = self._clock()
            if self._down_since is None:
                self._down_since = now
                self._backoff = BACKOFF_FIRST
            else:
                self._backoff = min(self._backoff * 2, BACKOFF_MAX)
            self._retry_at = now + self._backoff

    def _in_backoff(self) -> bool:
        return self._down_since is not None and self._clock() < self._retry_at

    def _probe(self) -> None:
        with self._guard:
            names = sorted(self._failed_closed) or sorted(self._entries)
        if not names:
            return
        lock = self._lock_for(names[0])
        if not lock.acquire(blocking=False):
            return
        try:
            self._read(names[0])
        except SecretStoreError:
            pass  # reported by _read; health() says why
        finally:
            lock.release()

    def _report(self, name: str, operation: str, exc: SecretStoreError) -> None:
        log.warning("secret store %s: %s of %r failed: %s", self.name, operation, name, exc)
        if self._on_failure is None:
            return
        try:
            self._on_failure(name, operation, type(exc).__name__)
        except Exception:  # an audit sink's failure must not turn into a secret failure
            log.exception("the secret-failure callback failed")

    def _closed_message(self, name: str) -> str:
        return (f"secret {name!r} is unavailable: the {self.name} secret store cannot be reached "
                f"and no value read in the last {self._ttl:g} s (secrets.cache_seconds) is cached")
