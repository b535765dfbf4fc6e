"""Answer sinks for Slack (see :mod:`bot.streaming`): how one answer reaches a conversation.

:class:`ThreadReply` answers where others (or the asker) read along:

* In a thread (a channel mention's thread, a DM thread such as Slack's assistant threads) it
  streams natively: chat.startStream as soon as the question arrives, with a ``task_update``
  chunk saying that Lore is searching (marked complete when it starts answering); chat.appendStream with the preview of :mod:`bot.slack.stream_text` (throttled by the
  caller); then chat.stopStream and one chat.update that replaces the message with the final
  answer of :mod:`bot.slack.render`, exactly the message the fallback ends with. Slack's
  stopStream only appends (its ``blocks`` go below the streamed text), and citations are
  renumbered at the end, so the update is what makes the final message right; a message that
  stopped streaming is an ordinary one again (chat.update refuses only while it streams,
  ``streaming_state_conflict``). Outside DMs the stream names its recipient (user and team), as
  Slack requires.
* Fallback, and top-level DMs (a stream must reply in a thread): a status message
  (chat.postMessage, unfurling off) edited with chat.update as the text grows, then once more
  with the final answer. Any refusal of chat.startStream (``channel_type_not_supported``,
  ``not_allowed``, ``unknown_method``, ``missing_scope``, …) falls back, since nothing was shown.
* A reset (the model's text is void) stops the stream and continues as the fallback, on the same
  message. A failed append stops appending; the final answer still replaces the message. A
  refused chat.stopStream (other than "already stopped") leaves the message streaming, which
  chat.update cannot edit: what follows is posted as a new message in the thread instead.

:class:`PrivateReply` answers with an ephemeral message, once, when the answer is complete:
ephemeral messages can be neither streamed nor edited.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError

from bot.slack import render
from bot.slack.stream_text import addition, preview
from bot.streaming import AnswerSink
from bot.turn import Answer, Notice, Refused

log = logging.getLogger("lore.slack")

# An answer carries links a model wrote: Slack must not fetch them for previews (a request to
# whatever host the answer names, and that host's title and image shown under Lore's name).
# chat.postMessage takes these arguments (docs.slack.dev/reference/methods/chat.postMessage); the
# references of chat.update, chat.postEphemeral and the chat.*Stream methods list none, which is
# why the streamed preview carries no URL at all (bot.slack.stream_text).
NO_UNFURL = {"unfurl_links": False, "unfurl_media": False}
STREAM_MAX = 12_000  # characters streamed at most: one markdown_text's limit; the rest waits
MARKDOWN_MAX = 12_000  # markdown_text per chat.appendStream call (docs.slack.dev)
TASK = "lore-search"
# What a Web API call raises once slack_sdk's retries are spent: Slack's refusal, or no answer at
# all (connection dropped, timeout). A streaming step failing either way falls back the same.
CALL_FAILED = (SlackClientError, aiohttp.ClientError, TimeoutError)


def _why(exc: BaseException) -> str:
    return str(exc.response.get("error")) if isinstance(exc, SlackApiError) else exc.__class__.__name__


@dataclass(frozen=True)
class Recipient:
    """Whom a stream outside a DM is for (chat.startStream's recipient_user_id / _team_id)."""

    user_id: str
    team_id: str


def _task(status: str, stage: str = "retrieving") -> dict[str, str]:
    return {"type": "task_update", "id": TASK, "title": render.status_text(stage), "status": status}


class ThreadReply(AnswerSink):
    def __init__(self, client: Any, channel: str, thread_ts: str | None, question: str, *,
                 recipient: Recipient | None = None, stream: bool = True) -> None:
        self.client = client
        self.channel = channel
        self.thread_ts = thread_ts
        self.question = question
        self.recipient = recipient
        self.stream = stream and thread_ts is not None  # False: post and edit
        self.ts: str | None = None
        self.streaming = False
        self.shown = ""  # the preview appended so far
        self.appending = True
        self.repost = False  # the message is stuck streaming: the next edit posts a new one

    async def start(self) -> None:
        if not (self.stream and await self._start_stream()):
            await self._post_status()

    async def status(self, stage: str) -> None:
        if self.streaming and self.appending and stage != "retrieving":
            await self._append([_task("complete")])

    async def partial(self, appended: str, text: str) -> None:
        if not self.streaming:
            await self._edit(render.streaming_text(text), render.streaming_blocks(text))
            return
        if not self.appending:
            return
        more = addition(self.shown, preview(text))
        if more is None or len(self.shown) + len(more) > STREAM_MAX:
            self.appending = False  # the final answer will show the rest
            return
        if more:
            pieces = [more[k : k + MARKDOWN_MAX] for k in range(0, len(more), MARKDOWN_MAX)]
            if await self._append([{"type": "markdown_text", "text": p} for p in pieces]):
                self.shown += more

    async def reset(self) -> None:
        await self._stop_stream()
        await self._edit(render.status_text("answering"), render.status_blocks("answering"))

    async def finish(self, answer: Answer) -> None:
        await self._stop_stream()
        ref = f"{self.channel}:{self.ts}"
        blocks = render.answer_blocks(answer, question=self.question, feedback_ref=ref, private_ref=ref)
        await self._edit(render.answer_text(answer), blocks)

    async def refuse(self, refusal: Refused) -> None:
        text = render.refused_text(refusal.reason)
        await self._stop_stream()
        await self._edit(text, [])

    async def notice(self, notice: Notice) -> None:
        await self._stop_stream()
        await self._edit(render.notice_text(notice.text), render.notice_blocks(notice.text))

    async def _edit(self, text: str, blocks: list[dict[str, Any]]) -> None:
        """Show ``text`` and ``blocks`` in the reply: an edit, or a new message in the thread
        when the streamed one could not be stopped."""
        if self.repost:
            self.repost = False
            await self._post(text, blocks)
            return
        await self.client.chat_update(channel=self.channel, ts=self.ts, text=text, blocks=blocks)

    async def _post(self, text: str, blocks: list[dict[str, Any]]) -> None:
        posted = await self.client.chat_postMessage(
            channel=self.channel, thread_ts=self.thread_ts, text=text, **({"blocks": blocks} if blocks else {}),
            **NO_UNFURL)
        self.ts = str(posted["ts"])

    async def _post_status(self) -> None:
        await self._post(render.status_text("retrieving"), render.status_blocks("retrieving"))

    async def _start_stream(self) -> bool:
        recipient = {} if self.recipient is None else {
            "recipient_user_id": self.recipient.user_id, "recipient_team_id": self.recipient.team_id}
        try:
            started = await self.client.chat_startStream(
                channel=self.channel, thread_ts=self.thread_ts, chunks=[_task("in_progress")], **recipient)
        except CALL_FAILED as exc:
            log.info("Slack refused to stream; posting and editing instead",
                     extra={"error": _why(exc), "channel": self.channel})
            self.stream = False
            return False
        self.ts, self.streaming = str(started["ts"]), True
        return True

    async def _append(self, chunks: list[dict[str, str]]) -> bool:
        try:
            await self.client.chat_appendStream(channel=self.channel, ts=self.ts, chunks=chunks)
        except CALL_FAILED as exc:
            log.info("Slack stream append refused; the final answer replaces the message",
                     extra={"error": _why(exc), "channel": self.channel})
            self.appending = False
            return False
        return True

    async def _stop_stream(self) -> None:
        if not self.streaming:
            return
        self.streaming = False
        try:
            await self.client.chat_stopStream(channel=self.channel, ts=self.ts)
        except CALL_FAILED as exc:
            error = _why(exc)
            log.info("Slack stream stop refused", extra={"error": error})
            # Already stopped (by Slack, or by the user): it can be edited. Otherwise it may still
            # be streaming, and chat.update would be refused (streaming_state_conflict).
            self.repost = error != "message_not_in_streaming_state"


class PrivateReply(AnswerSink):
    """The asker alone sees the answer (slash command, private-answer button)."""

    def __init__(self, client: Any, channel: str, user: str, thread_ts: str | None, question: str,
                 ref: str) -> None:
        self.client, self.channel, self.user, self.thread_ts = client, channel, user, thread_ts
        self.question, self.ref = question, ref

    async def finish(self, answer: Answer) -> None:
        blocks = render.answer_blocks(answer, question=self.question, allow_private=False, feedback_ref=self.ref)
        await self.client.chat_postEphemeral(channel=self.channel, user=self.user, thread_ts=self.thread_ts,
                                             text=render.answer_text(answer), blocks=blocks)

    async def refuse(self, refusal: Refused) -> None:
        await self.client.chat_postEphemeral(channel=self.channel, user=self.user, thread_ts=self.thread_ts,
                                             text=render.refused_text(refusal.reason))

    async def notice(self, notice: Notice) -> None:
        await self.client.chat_postEphemeral(channel=self.channel, user=self.user, thread_ts=self.thread_ts,
                                             text=render.notice_text(notice.text),
                                             blocks=render.notice_blocks(notice.text))
