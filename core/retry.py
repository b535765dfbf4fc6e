"""Retries with exponential backoff and full jitter, honouring ``Retry-After``.

The caller says which errors are worth retrying with ``retry_after_of(exc)``:

- ``False``: not retryable (a 400, a bug): raised at once;
- ``None``: retryable, no hint from the server: wait a full-jitter backoff,
  ``uniform(0, min(max_delay, base_delay * 2**retry))``;
- a number of seconds (a parsed ``Retry-After``): wait at least that long. A server asking for
  more than ``max_delay`` ends the retries: waiting less would only be refused again, and
  waiting longer is more than the caller allows.

``budget`` (seconds, counted from the first call, calls included) bounds the whole operation: a
retry whose wait would end past it is not attempted. Giving up re-raises the last error with a
note saying why (``BaseException.add_note``), so callers see the real 429 or 503.

``with_retries`` is for async code; ``retry_sync`` is the same policy with blocking sleeps, for
threads and scripts.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal, TypeVar

T = TypeVar("T")

RetryHint = float | None | Literal[False]
RetryAfterOf = Callable[[BaseException], RetryHint]

log = logging.getLogger("lore.retry")

_SECONDS = re.compile(r"\d+(?:\.\d+)?")


def parse_retry_after(value: str, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delay-seconds (``"120"``; decimals
    accepted) or an HTTP-date (past dates give 0). ``None`` when the value is neither."""
    text = value.strip()
    if _SECONDS.fullmatch(text):
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # asctime form, which HTTP defines as GMT
        when = when.replace(tzinfo=UTC)
    now = now if now is not None else datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


def retry_after_from_headers(
    headers: Mapping[str, str], now: datetime | None = None
) -> float | None:
    """The wait a response's headers ask for: ``retry-after-ms`` (OpenAI-style APIs) or
    ``Retry-After``, matched case-insensitively."""
    lowered = {k.lower(): v for k, v in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis is not None and _SECONDS.fullmatch(millis.strip()):
        return float(millis) / 1000
    value = lowered.get("retry-after")
    return parse_retry_after(value, now) if value is not None else None


def retry_on(*types: type[BaseException]) -> RetryAfterOf:
    """A ``retry_after_of`` that retries exceptions of ``types`` with plain backoff."""

    def classify(exc: BaseException) -> RetryHint:
        return None if isinstance(exc, types) else False

    return classify


class _Policy:
    def __init__(
        self, *, attempts: int, base_delay: float, max_delay: float, budget: float | None,
        retry_after_of: RetryAfterOf, rand: Callable[[], float], what: str,
    ) -> None:
        if attempts < 1:
            raise ValueError(f"attempts must be >= 1, not {attempts}")
        if base_delay < 0 or max_delay < 0 or (budget is not None and budget < 0):
            raise ValueError("base_delay, max_delay and budget must be >= 0")
        self.attempts = attempts
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.budget = budget
        self.retry_after_of = retry_after_of
        self.rand = rand
        self.what = what

    def delay_after(self, exc: Exception, attempt: int, elapsed: float) -> float | None:
        """Seconds to wait before the next attempt, or None to give up (and re-raise)."""
        verdict = self.retry_after_of(exc)
        if verdict is False:
            return None
        hint: float | None = None if verdict is None else float(verdict)
        if attempt >= self.attempts:
            exc.add_note(f"{self.what}: gave up after {attempt} attempts")
            return None
        if hint is not None:
            if math.isnan(hint):
                hint = None
            elif hint > self.max_delay:
                exc.add_note(
                    f"{self.what}: gave up: the server asked to retry after {hint:g} s, "
                    f"more than max_delay ({self.max_delay:g} s)"
                )
                return None
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** min(attempt - 1, 60))
        delay = self.rand() * ceiling
        if hint is not None:
            delay = max(delay, hint)
        if self.budget is not None and elapsed + delay > self.budget:
            exc.add_note(
                f"{self.what}: gave up: waiting {delay:.3g} s more would exceed the "
                f"{self.budget:g} s budget"
            )
            return None
        log.warning(
            "%s failed; retrying", self.what,
            extra={"attempt": attempt, "delay": round(delay, 3), "error": type(exc).__name__,
                   "retry_after": hint},
        )
        return delay


async def with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    retry_after_of: RetryAfterOf,
    attempts: int = 3,
    base_delay: float = 0.5,
    max_delay: float = 30.0,
    budget: float | None = None,
    what: str = "call",
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
    rand: Callable[[], float] = random.random,
) -> T:
    """``await call()`` up to ``attempts`` times (attempts = retries + 1); see module doc.
    ``what`` names the operation in logs and give-up notes ("groq chat completion")."""
    policy = _Policy(attempts=attempts, base_delay=base_delay, max_delay=max_delay,
                     budget=budget, retry_after_of=retry_after_of, rand=rand, what=what)
    started = clock()
    attempt = 1
    while True:
        try:
            return await call()
        except Exception as exc:
            delay = policy.delay_after(exc, attempt, clock() - started)
            if delay is None:
                raise
        await sleep(delay)
        attempt += 1


def retry_sync(
    call: Callable[[], T],
    *,
    retry_after_of: RetryAfterOf,
    attempts: int = 3,
    base_delay: float = 0.5,
    max_delay: float = 30.0,
    budget: float | None = None,
    what: str = "call",
    sleep: Callable[[float], object] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    rand: Callable[[], float] = random.random,
) -> T:
    """The blocking twin of ``with_retries``, same policy."""
    policy = _Policy(attempts=attempts, base_delay=base_delay, max_delay=max_delay,
                     budget=budget, retry_after_of=retry_after_of, rand=rand, what=what)
    started = clock()
    attempt = 1
    while True:
        try:
            return call()
        except Exception as exc:
            delay = policy.delay_after(exc, attempt, clock() - started)
            if delay is None:
                raise
        sleep(delay)
        attempt += 1
