"""The answer stream every surface uses, with a fake clock and a recording sink."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import Any

import pytest

from bot.streaming import GENERIC_REFUSAL, AnswerSink, stream_answer
from bot.turn import Answer, Delta, Event, Finished, Refused, Reset, Status

ANSWER = Answer("VPN needs MFA [1].", (), True, False, "extractive", False, "t1")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Recorder(AnswerSink):
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    async def start(self) -> None:
        self.calls.append(("start",))

    async def status(self, stage: str) -> None:
        self.calls.append(("status", stage))

    async def partial(self, appended: str, text: str) -> None:
        self.calls.append(("partial", appended, text))

    async def reset(self) -> None:
        self.calls.append(("reset",))

    async def finish(self, answer: Answer) -> None:
        self.calls.append(("finish", answer.text))

    async def refuse(self, refusal: Refused) -> None:
        self.calls.append(("refuse", refusal.code))


class Minimal(AnswerSink):
    """Only the required hooks: the optional ones default to nothing."""

    def __init__(self) -> None:
        self.final: Answer | Refused | None = None

    async def finish(self, answer: Answer) -> None:
        self.final = answer

    async def refuse(self, refusal: Refused) -> None:
        self.final = refusal


def timed(clock: Clock, script: Iterable[tuple[float, Event]]) -> AsyncIterator[Event]:
    async def events() -> AsyncIterator[Event]:
        for seconds, event in script:
            clock.now += seconds
            yield event

    return events()


async def test_partials_are_throttled_and_carry_what_is_new() -> None:
    clock, sink = Clock(), Recorder()
    script: list[tuple[float, Event]] = [(0, Status("retrieving")), (0.5, Status("answering")), (0.2, Delta("VPN ")),
              (0.6, Delta("needs ")), (0.1, Delta("MFA ")), (1.0, Delta("[1].")), (0.1, Finished(ANSWER))]
    final = await stream_answer(timed(clock, script), sink, interval=1.0, clock=clock)
    assert final == Finished(ANSWER)
    assert sink.calls == [
        ("start",), ("status", "retrieving"), ("status", "answering"),
        ("partial", "VPN needs ", "VPN needs "),  # 1.3 s in: the first one that may be shown
        ("partial", "MFA [1].", "VPN needs MFA [1]."),  # 1.0 s after the previous one
        ("finish", "VPN needs MFA [1]."),
    ]


async def test_whitespace_alone_is_never_shown_and_repeated_stages_once() -> None:
    clock, sink = Clock(), Recorder()
    script: list[tuple[float, Event]] = [(0, Status("answering")), (0, Status("answering")), (5, Delta("  \n")), (5, Finished(ANSWER))]
    await stream_answer(timed(clock, script), sink, interval=1.0, clock=clock)
    assert sink.calls == [("start",), ("status", "answering"), ("finish", ANSWER.text)]


async def test_reset_mid_stream_starts_the_text_over() -> None:
    clock, sink = Clock(), Recorder()
    script: list[tuple[float, Event]] = [(2, Delta("The LLM said")), (0, Reset("provider_error")), (2, Delta("Quoted")),
              (0, Finished(ANSWER))]
    await stream_answer(timed(clock, script), sink, interval=1.0, clock=clock)
    assert sink.calls == [("start",), ("partial", "The LLM said", "The LLM said"), ("reset",),
                          ("partial", "Quoted", "Quoted"), ("finish", ANSWER.text)]


async def test_refusal_before_any_text() -> None:
    clock, sink = Clock(), Recorder()
    refused = Refused("Slow down.", "rate_limited", 3.0)
    assert await stream_answer(timed(clock, [(0, refused)]), sink, clock=clock) == refused
    assert sink.calls == [("start",), ("refuse", "rate_limited")]


async def test_no_final_event_is_a_generic_apology() -> None:
    clock, sink = Clock(), Recorder()
    assert await stream_answer(timed(clock, [(0, Status("retrieving"))]), sink, clock=clock) == GENERIC_REFUSAL
    assert sink.calls == [("start",), ("status", "retrieving"), ("refuse", "unavailable")]


async def test_an_exception_from_the_service_is_logged_and_refused(caplog: pytest.LogCaptureFixture) -> None:
    async def failing() -> AsyncIterator[Event]:
        yield Status("retrieving")
        raise RuntimeError("index down")

    sink = Recorder()
    assert await stream_answer(failing(), sink) == GENERIC_REFUSAL
    assert sink.calls == [("start",), ("status", "retrieving"), ("refuse", "unavailable")]
    assert "answer stream failed" in caplog.text


async def test_an_exception_from_the_sink_propagates() -> None:
    class Broken(Minimal):
        async def finish(self, answer: Answer) -> None:
            raise ConnectionError("Slack is down")

    with pytest.raises(ConnectionError):
        await stream_answer(timed(Clock(), [(0, Finished(ANSWER))]), Broken())


async def test_a_sink_with_only_the_required_hooks() -> None:
    clock, sink = Clock(), Minimal()
    script: list[tuple[float, Event]] = [(0, Status("retrieving")), (2, Delta("x")), (0, Reset("r")), (2, Finished(ANSWER))]
    await stream_answer(timed(clock, script), sink, interval=1.0, clock=clock)
    assert sink.final == ANSWER
