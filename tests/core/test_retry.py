from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import pytest

from core.retry import (
    RetryHint,
    parse_retry_after,
    retry_after_from_headers,
    retry_on,
    retry_sync,
    with_retries,
)

NOW = datetime(2025, 3, 4, 12, 0, 0, tzinfo=UTC)


class Throttled(Exception):
    def __init__(self, retry_after: float | None = None) -> None:
        super().__init__(f"429 retry after {retry_after}")
        self.retry_after = retry_after


class BadRequest(Exception):
    pass


def classify(exc: BaseException) -> RetryHint:
    if isinstance(exc, Throttled):
        return exc.retry_after
    if isinstance(exc, ConnectionError):
        return None
    return False


class Timeline:
    """A fake clock advanced by the fake sleeps (and by calls that take time)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def sleep_sync(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Failing:
    """An async call raising ``errors`` in turn, then returning "ok"."""

    def __init__(self, *errors: BaseException) -> None:
        self.pending = list(errors)
        self.calls = 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.pending:
            raise self.pending.pop(0)
        return "ok"


# -- parse_retry_after -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("120", 120.0),
        (" 3 ", 3.0),
        ("0", 0.0),
        ("1.5", 1.5),
        ("Tue, 04 Mar 2025 12:00:30 GMT", 30.0),  # IMF-fixdate
        ("Tuesday, 04-Mar-25 12:01:00 GMT", 60.0),  # RFC 850
        ("Tue Mar  4 12:00:05 2025", 5.0),  # asctime
        ("Tue, 04 Mar 2025 11:59:00 GMT", 0.0),  # in the past: retry now
        ("", None),
        ("soon", None),
        ("-5", None),
        ("1e3", None),
    ],
)
def test_parse_retry_after(value: str, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_parse_retry_after_defaults_to_the_current_time() -> None:
    later = datetime.now(UTC) + timedelta(seconds=100)
    seconds = parse_retry_after(later.strftime("%a, %d %b %Y %H:%M:%S GMT"))
    assert seconds is not None and 95 < seconds <= 100


def test_retry_after_from_headers() -> None:
    assert retry_after_from_headers({"retry-after": "7"}) == 7.0
    assert retry_after_from_headers({"Retry-After": "Tue, 04 Mar 2025 12:00:10 GMT"}, NOW) == 10.0
    assert retry_after_from_headers({"Retry-After": "7", "retry-after-ms": "1500"}) == 1.5
    assert retry_after_from_headers({"Content-Type": "text/plain"}) is None


# -- with_retries ----------------------------------------------------------------------------------


async def test_success_needs_no_sleep() -> None:
    t = Timeline()
    call = Failing()
    assert await with_retries(call, retry_after_of=classify, sleep=t.sleep, clock=t.clock) == "ok"
    assert t.sleeps == []


async def test_exponential_backoff_with_full_jitter() -> None:
    t = Timeline()
    call = Failing(*(ConnectionError() for _ in range(5)))
    result = await with_retries(
        call,
        retry_after_of=classify,
        attempts=6,
        base_delay=1.0,
        max_delay=10.0,
        sleep=t.sleep,
        clock=t.clock,
        rand=lambda: 0.5,
    )
    assert result == "ok"
    # Ceilings 1, 2, 4, 8, then capped at 10; full jitter takes a uniform fraction of each.
    assert t.sleeps == [0.5, 1.0, 2.0, 4.0, 5.0]


async def test_jitter_spans_zero_to_the_ceiling() -> None:
    t = Timeline()
    draws = iter([0.0, 1.0])
    await with_retries(
        Failing(ConnectionError(), ConnectionError()),
        retry_after_of=classify,
        attempts=3,
        base_delay=2.0,
        sleep=t.sleep,
        clock=t.clock,
        rand=lambda: next(draws),
    )
    assert t.sleeps == [0.0, 4.0]


async def test_gives_up_after_the_attempts_with_the_original_error() -> None:
    t = Timeline()
    errors = [ConnectionError(f"try {i}") for i in range(3)]
    call = Failing(*errors)
    with pytest.raises(ConnectionError, match="try 2") as info:
        await with_retries(
            call,
            retry_after_of=classify,
            attempts=3,
            what="confluence GET",
            sleep=t.sleep,
            clock=t.clock,
            rand=lambda: 1.0,
        )
    assert call.calls == 3 and len(t.sleeps) == 2
    assert "confluence GET: gave up after 3 attempts" in info.value.__notes__


async def test_non_retryable_errors_are_raised_at_once() -> None:
    t = Timeline()
    call = Failing(BadRequest("400"))
    with pytest.raises(BadRequest):
        await with_retries(call, retry_after_of=classify, attempts=5, sleep=t.sleep, clock=t.clock)
    assert t.sleeps == [] and call.calls == 1


async def test_cancellation_is_never_retried() -> None:
    t = Timeline()
    with pytest.raises(asyncio.CancelledError):
        await with_retries(
            Failing(asyncio.CancelledError()),
            retry_after_of=lambda e: None,
            sleep=t.sleep,
            clock=t.clock,
        )
    assert t.sleeps == []


async def test_retry_after_is_a_minimum() -> None:
    t = Timeline()
    await with_retries(
        Failing(Throttled(7.0), Throttled(0.1)),
        retry_after_of=classify,
        attempts=3,
        base_delay=1.0,
        max_delay=30.0,
        sleep=t.sleep,
        clock=t.clock,
        rand=lambda: 1.0,
    )
    # 7 s asked > 1 s backoff; then 0.1 s asked < 2 s backoff: the longer wait wins each time.
    assert t.sleeps == [7.0, 2.0]


async def test_retry_after_beyond_max_delay_gives_up() -> None:
    t = Timeline()
    call = Failing(Throttled(120.0))
    with pytest.raises(Throttled) as info:
        await with_retries(
            call, retry_after_of=classify, attempts=5, max_delay=30.0, sleep=t.sleep, clock=t.clock
        )
    assert t.sleeps == []
    assert "more than max_delay" in info.value.__notes__[0]


async def test_budget_bounds_the_whole_operation() -> None:
    t = Timeline()
    pending = [Throttled(4.0), Throttled(4.0), Throttled(4.0)]

    async def slow_call() -> str:
        t.now += 1.0  # each call takes a second
        if pending:
            raise pending.pop(0)
        return "ok"

    with pytest.raises(Throttled) as info:
        await with_retries(
            slow_call,
            retry_after_of=classify,
            attempts=10,
            budget=9.5,
            sleep=t.sleep,
            clock=t.clock,
            rand=lambda: 0.0,
        )
    # 1 s call + 4 s wait + 1 s call = 6 s; another 4 s wait would end at 10 s > 9.5 s.
    assert t.sleeps == [4.0]
    assert "budget" in info.value.__notes__[0]


async def test_nan_hint_falls_back_to_backoff_and_retries_are_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    t = Timeline()
    with caplog.at_level(logging.WARNING, logger="lore.retry"):
        await with_retries(
            Failing(Throttled(float("nan"))),
            retry_after_of=classify,
            base_delay=1.0,
            what="groq chat",
            sleep=t.sleep,
            clock=t.clock,
            rand=lambda: 0.25,
        )
    assert t.sleeps == [0.25]
    (record,) = caplog.records
    assert record.getMessage() == "groq chat failed; retrying"
    assert record.__dict__["attempt"] == 1 and record.__dict__["error"] == "Throttled"


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError, match="attempts"):
        retry_sync(lambda: 1, retry_after_of=classify, attempts=0)
    with pytest.raises(ValueError):
        retry_sync(lambda: 1, retry_after_of=classify, base_delay=-1)


def test_retry_on() -> None:
    policy = retry_on(ConnectionError, TimeoutError)
    assert policy(ConnectionError()) is None and policy(TimeoutError()) is None
    assert policy(ValueError()) is False


# -- retry_sync ------------------------------------------------------------------------------------


def test_sync_twin_follows_the_same_policy() -> None:
    t = Timeline()
    pending: list[Exception] = [ConnectionError(), Throttled(3.0)]

    def call() -> int:
        if pending:
            raise pending.pop(0)
        return 42

    assert (
        retry_sync(
            call,
            retry_after_of=classify,
            attempts=3,
            base_delay=1.0,
            sleep=t.sleep_sync,
            clock=t.clock,
            rand=lambda: 0.5,
        )
        == 42
    )
    assert t.sleeps == [0.5, 3.0]


def test_sync_twin_gives_up() -> None:
    t = Timeline()

    def call() -> int:
        raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        retry_sync(
            call,
            retry_after_of=retry_on(ConnectionError),
            attempts=2,
            sleep=t.sleep_sync,
            clock=t.clock,
            rand=lambda: 0.5,
        )
    assert t.sleeps == [0.25]
