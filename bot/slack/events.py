"""Slack events, commands and actions -> the conversation service -> Slack messages.

Like bolt's own adapters, this module only translates. Bolt acknowledges an event as soon as the
listener is registered to run (process_before_response=False): the work happens after the ack,
so Slack always gets its answer within its 3 seconds. Slack redelivers events it thinks were
lost and bolt runs the listener again, so every event is first claimed in a store shared by all
replicas (Redis or the database): a question is answered exactly once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot.conversation import ConversationService
from bot.feedback import FeedbackRecorder
from bot.slack import render
from bot.slack.replies import PrivateReply, Recipient, ThreadReply
from bot.streaming import DEFAULT_INTERVAL, stream_answer
from bot.turn import Kind, Turn
from core.dedupe import DeduplicationError, EventDeduplicator

log = logging.getLogger("lore.slack")

MENTION = re.compile(r"<@[UW][A-Z0-9]+>")
DEDUPE_TTL = 3600  # Slack retries within minutes; an hour is ample
IGNORED_SUBTYPES_OK = {None, "thread_broadcast", "file_share"}
# Shown when someone opens a thread with Lore in Slack's AI-app surface (assistant threads).
SUGGESTED_PROMPTS = [
    {"title": "Find a policy", "message": "What is our policy on working from abroad?"},
    {"title": "IT help", "message": "How do I get VPN access?"},
    {"title": "First week", "message": "What should I do in my first week?"},
]
ASSISTANT_STATUS = "is searching documents you can access…"


def workspace_key(body: dict[str, Any]) -> str:
    """Turn.workspace: "<enterprise_id>:<team_id>" on Enterprise Grid, else "<team_id>": the
    installation the event was delivered for. Events carry it in ``authorizations``; in a
    channel shared with another organisation the top-level ``team_id`` may be theirs (bolt's
    own team lookup prefers ``authorizations`` for that reason)."""
    auths = body.get("authorizations")
    source = auths[0] if isinstance(auths, list) and auths and isinstance(auths[0], dict) else body
    enterprise = source.get("enterprise_id") or (body.get("enterprise") or {}).get("id")
    team = source.get("team_id") or (body.get("team") or {}).get("id") or ""
    return f"{enterprise}:{team}" if enterprise else str(team)


def recipient_of(body: dict[str, Any], event: dict[str, Any]) -> Recipient:
    """Whom a stream is for: the asker, and their own team (in a shared channel not ours)."""
    team = event.get("user_team") or event.get("team") or workspace_key(body).rpartition(":")[2]
    return Recipient(event["user"], str(team))


def question_of(text: str) -> str:
    return MENTION.sub("", text or "").strip()


class SlackEvents:
    def __init__(self, app: AsyncApp, conversation: ConversationService, dedupe: EventDeduplicator,
                 feedback: FeedbackRecorder, *, stream_interval: float = DEFAULT_INTERVAL,
                 track: Callable[[], AbstractAsyncContextManager[Any]] | None = None,
                 on_dedupe_error: Callable[[], None] | None = None, native_streaming: bool = True) -> None:
        self.app = app
        self.on_dedupe_error = on_dedupe_error
        # Answers run after Slack's ack, outside any HTTP request: ``track`` counts them as in
        # flight so that a graceful shutdown waits for them.
        self.track = track or (lambda: nullcontext())
        # chat.update is rate limited (Tier 3, ~50 a minute per workspace) and chat.appendStream
        # (Tier 4, ~100): a streaming answer grows at most this often, then once more when complete.
        self.stream_interval = stream_interval
        # Slack's own text streaming in threads (bot.slack.replies); False: post and edit only.
        self.native_streaming = native_streaming
        self.conversation = conversation
        self.dedupe = dedupe
        self.feedback = feedback
        app.event("app_mention")(self.on_mention)
        app.event("message")(self.on_message)
        app.command("/lore")(self.on_command)
        app.action("lore_private_answer")(self.on_private_answer)
        app.action(re.compile(r"^lore_feedback(_up|_down)?$"))(self.on_feedback)
        app.event("assistant_thread_started")(self.on_assistant_thread_started)
        app.event("assistant_thread_context_changed")(self.on_assistant_context_changed)

    async def _first_time(self, body: dict[str, Any]) -> bool:
        event_id = body.get("event_id")
        if not event_id:
            return True
        try:
            return await self.dedupe.first_time(f"slack:event:{event_id}", DEDUPE_TTL)
        except DeduplicationError as exc:
            # No store answered: answering a retry twice beats dropping the question unseen.
            log.error("event handled without a de-duplication check", extra={"error": str(exc)})
            if self.on_dedupe_error is not None:
                self.on_dedupe_error()
            return True

    async def _answer(self, turn: Turn, client: Any, channel: str, thread_ts: str | None,
                      recipient: Recipient | None) -> None:
        """Reply in the thread (or, without one, in the DM), streaming as the answer grows."""
        async with self.track():
            sink = ThreadReply(client, channel, thread_ts, turn.text, recipient=recipient,
                               stream=self.native_streaming)
            await stream_answer(self.conversation.ask(turn), sink, interval=self.stream_interval)

    async def on_mention(self, body: dict[str, Any], event: dict[str, Any], client: Any) -> None:
        if event.get("bot_id") or event.get("subtype") not in IGNORED_SUBTYPES_OK or not await self._first_time(body):
            return
        kind = Kind.GROUP if event.get("channel_type") == "mpim" else Kind.CHANNEL
        thread = event.get("thread_ts") or event["ts"]
        turn = Turn("slack", workspace_key(body), event["user"], kind, event["channel"], thread, question_of(event.get("text", "")))
        await self._answer(turn, client, event["channel"], thread, recipient_of(body, event))

    async def on_message(self, body: dict[str, Any], event: dict[str, Any], client: Any) -> None:
        # Only direct messages; mentions in channels arrive as app_mention. Edits, deletions,
        # bot messages (our own included) and other subtypes are not questions.
        if event.get("channel_type") != "im" or event.get("bot_id") or event.get("subtype") not in IGNORED_SUBTYPES_OK:
            return
        if not await self._first_time(body):
            return
        thread = event.get("thread_ts") or event["ts"]
        turn = Turn("slack", workspace_key(body), event["user"], Kind.DIRECT, event["channel"], thread, question_of(event.get("text", "")))
        if event.get("thread_ts"):
            await self._assistant_working(client, event["channel"], event["thread_ts"], turn.text)
        await self._answer(turn, client, event["channel"], event.get("thread_ts"), recipient_of(body, event))

    async def _assistant_working(self, client: Any, channel: str, thread_ts: str, question: str) -> None:
        """In an assistant thread: a status while Lore works (Slack clears it when the answer is
        posted) and, once per thread, a title. Best effort: in a workspace without the AI-app
        surface, or in a plain DM thread, Slack refuses these calls and nothing else changes."""
        try:
            await client.assistant_threads_setStatus(channel_id=channel, thread_ts=thread_ts, status=ASSISTANT_STATUS)
            if await self.dedupe.first_time(f"slack:title:{channel}:{thread_ts}", 30 * 24 * 3600):
                await client.assistant_threads_setTitle(channel_id=channel, thread_ts=thread_ts, title=question[:80])
        except SlackApiError as exc:
            log.info("assistant thread call refused", extra={"error": exc.response.get("error")})
        except DeduplicationError as exc:  # the title can wait; the answer must not
            log.warning("assistant thread title skipped", extra={"error": str(exc)})

    async def on_assistant_thread_started(self, body: dict[str, Any], event: dict[str, Any], client: Any) -> None:
        if not await self._first_time(body):
            return
        thread = event.get("assistant_thread") or {}
        try:
            await client.assistant_threads_setSuggestedPrompts(
                channel_id=thread.get("channel_id"), thread_ts=thread.get("thread_ts"),
                title="Ask about company documents", prompts=SUGGESTED_PROMPTS,
            )
        except SlackApiError as exc:
            log.info("suggested prompts refused", extra={"error": exc.response.get("error")})

    async def on_assistant_context_changed(self) -> None:
        """The user moved to another channel while the assistant pane stayed open: Lore answers
        from the asker's own access wherever they are, so nothing changes."""

    async def on_command(self, ack: Callable[..., Awaitable[Any]], body: dict[str, Any], client: Any) -> None:
        text = (body.get("text") or "").strip()
        if text in ("", "help"):
            await ack(text=render.help_text())
            return
        await ack(text=render.status_text("retrieving"))
        # A slash command's reply is private (ephemeral), so it uses the asker's own access.
        turn = Turn("slack", workspace_key(body), body["user_id"], Kind.CHANNEL, body["channel_id"],
                    f"command:{body.get('trigger_id', '')}", text, private=True)
        await self._reply_privately(turn, client, body["channel_id"], body["user_id"], None)

    async def _reply_privately(self, turn: Turn, client: Any, channel: str, user: str, thread_ts: str | None) -> None:
        async with self.track():
            sink = PrivateReply(client, channel, user, thread_ts, turn.text, f"{channel}:private:{turn.thread_id}")
            await stream_answer(self.conversation.ask(turn), sink, interval=self.stream_interval)

    async def on_private_answer(self, ack: Callable[..., Awaitable[Any]], body: dict[str, Any], client: Any) -> None:
        await ack()
        message = body.get("message") or {}
        channel = (body.get("channel") or {}).get("id", "")
        thread = message.get("thread_ts") or message.get("ts")
        question = render.question_from_blocks(message.get("blocks") or []) or ""
        turn = Turn("slack", workspace_key(body), body["user"]["id"], Kind.CHANNEL, channel, str(thread), question, private=True)
        await self._reply_privately(turn, client, channel, body["user"]["id"], thread)

    async def on_feedback(self, ack: Callable[..., Awaitable[Any]], body: dict[str, Any]) -> None:
        await ack()
        read = render.read_feedback((body.get("actions") or [{}])[0])
        if read is None:
            return
        ref, helpful = read
        await self.feedback.record(
            platform="slack", workspace=workspace_key(body), user_id=(body.get("user") or {}).get("id", ""),
            answer_ref=ref, helpful=helpful,
        )
