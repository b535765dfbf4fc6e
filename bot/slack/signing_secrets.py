"""Slack's signing secret, read from the secret store on every request (the store caches it), so
a rotated secret is used without a restart, and the previous one is still accepted for
``slack.signing_secret_grace_seconds`` after the change was first seen: requests Slack signed
before the rotation (its retries, for up to an hour) and replicas that read the store a little
later do not turn into 401s. The store being unreachable with its cache expired raises
``SecretStoreError``: the request is then refused with 503 (Slack retries), never let through.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class SigningSecrets:
    def __init__(self, read: Callable[[], str], grace_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._read = read
        self._grace = grace_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._current: str | None = None
        self._previous: str | None = None
        self._previous_until = 0.0

    def candidates(self) -> tuple[str, ...]:
        """The secrets a request may be signed with now: the current one first."""
        value = self._read()
        now = self._clock()
        with self._lock:
            if self._current is not None and value != self._current:
                self._previous, self._previous_until = self._current, now + self._grace
            self._current = value
            if self._previous is not None and now < self._previous_until and self._previous != value:
                return value, self._previous
            self._previous = None
            return (value,)

    def __repr__(self) -> str:  # never the values
        return "<SigningSecrets>"
