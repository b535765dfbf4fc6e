"""One answer stream for every chat surface: the conversation's events in, a surface's sink driven.

Rule: a surface never reads :class:`~bot.conversation.ConversationService` events itself; it
hands :func:`stream_answer` an :class:`AnswerSink`, which is told, in order:

* ``start()`` first, before the service has said anything (show that the question arrived);
* ``status(stage)`` when the stage changes ("retrieving", "answering");
* ``partial(appended, text)`` at most once per ``interval`` seconds (measured from the start, so
  the first partial comes no sooner than one interval in), with the text appended since the last
  partial and the whole text so far; never for text that is only whitespace;
* ``reset()`` when the text streamed so far is void (what was shown must be discarded);
* then exactly one of ``finish(answer)``, ``refuse(refusal)`` or ``notice(notice)`` (an admin
  command's output, :class:`~bot.turn.Notice`). A stream that ends without a
  final event, or whose service raises, is refused with :data:`GENERIC_REFUSAL`.

Only ``finish``, ``refuse`` and ``notice`` are required; the other hooks default to doing nothing, for
surfaces that cannot show progress (an ephemeral Slack message, a one-shot CLI answer).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import Protocol

from bot.turn import Answer, Delta, Event, Finished, Notice, Refused, Reset, Status

log = logging.getLogger("lore.streaming")

GENERIC_REFUSAL = Refused("Something went wrong; please try again.", "unavailable")
DEFAULT_INTERVAL = 1.2  # seconds: Slack's chat.update (Tier 3) allows about 50 edits a minute


class AnswerSink(Protocol):
    """What a surface does with one answer. Subclass it to inherit the optional hooks."""

    async def start(self) -> None:
        """The question arrived; nothing is known yet. Optional."""
        return

    async def status(self, stage: str) -> None:
        """The service moved to ``stage``. Optional."""
        return

    async def partial(self, appended: str, text: str) -> None:
        """Show ``text`` (``appended`` is what is new since the last call). Optional."""
        return

    async def reset(self) -> None:
        """Discard the text shown so far; new partials start from empty. Optional."""
        return

    async def finish(self, answer: Answer) -> None:
        """Show the final answer, replacing whatever partial text was shown."""
        ...

    async def refuse(self, refusal: Refused) -> None:
        """No answer: show ``refusal.reason`` (safe to show the asker)."""
        ...

    async def notice(self, notice: Notice) -> None:
        """Show ``notice.text`` as it is (an admin command's output), replacing any status."""
        ...


async def stream_answer(
    events: AsyncGenerator[Event, None],
    sink: AnswerSink,
    *,
    interval: float = DEFAULT_INTERVAL,
    clock: Callable[[], float] = time.monotonic,
) -> Finished | Refused | Notice:
    """Drive ``sink`` from ``events`` (``ConversationService.ask(turn)``); return the final event.

    An exception from ``events`` is logged and refused; one from the sink (a client that went
    away) propagates. ``events`` is closed either way, so the service's own bookkeeping runs."""
    async with aclosing(events):
        return await _drive(events, sink, interval, clock)


async def _drive(events: AsyncGenerator[Event, None], sink: AnswerSink, interval: float,
                 clock: Callable[[], float]) -> Finished | Refused | Notice:
    text = ""
    unsent = ""
    stage: str | None = None
    final: Finished | Refused | Notice | None = None
    await sink.start()
    shown_at = clock()
    iterator = aiter(events)
    while True:
        try:
            event = await anext(iterator)
        except StopAsyncIteration:
            break
        except Exception:
            log.exception("answer stream failed")
            break
        if final is not None:
            continue  # nothing follows a final event; drained so the service can finish
        if isinstance(event, Status):
            if event.stage != stage:
                stage = event.stage
                await sink.status(stage)
        elif isinstance(event, Delta):
            text += event.text
            unsent += event.text
            if text.strip() and clock() - shown_at >= interval:
                await sink.partial(unsent, text)
                unsent = ""
                shown_at = clock()
        elif isinstance(event, Reset):
            text = unsent = ""
            await sink.reset()
        elif isinstance(event, Finished):
            final = event
            await sink.finish(event.answer)
        elif isinstance(event, Refused):
            final = event
            await sink.refuse(event)
        elif isinstance(event, Notice):
            final = event
            await sink.notice(event)
    if final is None:
        final = GENERIC_REFUSAL
        await sink.refuse(final)
    return final
