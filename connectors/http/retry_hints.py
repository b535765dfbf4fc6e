"""Which failed requests are retried, and how long the server asked us to wait.

Retried: 429, 500, 502, 503, 504, connection errors and timeouts (the client marks those
errors ``retryable``). Never retried: every other status, 400/401/403/404 above all; the same
request would be refused again. The wait comes from ``Retry-After`` (delay-seconds or an
HTTP-date; Atlassian and Microsoft Graph send it on 429 and on some 503s) and, on a 429
without it, from ``X-RateLimit-Reset``: an ISO 8601 time (Atlassian Cloud) or Unix epoch
seconds (GitHub). core.retry waits at least that long, and gives up at once when it is more
than the caller allows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime

from core.retry import RetryHint, parse_retry_after

from .errors import HttpError

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})


def retry_hint(exc: BaseException) -> RetryHint:
    """``core.retry``'s verdict on an error: retry (after the server's wait, if it named one)
    only what the client marked retryable."""
    if isinstance(exc, HttpError) and exc.retryable:
        return exc.retry_after
    return False


def retry_after(
    headers: Mapping[str, str], *, rate_limited: bool, now: datetime | None = None
) -> float | None:
    """Seconds the server asks us to wait: ``Retry-After``, else on a 429 (``rate_limited``)
    ``X-RateLimit-Reset``; None when neither says anything usable."""
    value = headers.get("Retry-After")
    if value is not None:
        seconds = parse_retry_after(value, now)
        if seconds is not None:
            return seconds
    reset = headers.get("X-RateLimit-Reset") if rate_limited else None
    if not reset:
        return None
    now = now if now is not None else datetime.now(UTC)
    return _until(reset.strip(), now if now.tzinfo else now.replace(tzinfo=UTC))


def _until(reset: str, now: datetime) -> float | None:
    if reset.isdigit():
        try:
            when = datetime.fromtimestamp(int(reset), UTC)
        except (OverflowError, OSError, ValueError):  # past any date: longer than anyone waits
            return math.inf
    else:
        try:
            when = datetime.fromisoformat(reset)
        except ValueError:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)
