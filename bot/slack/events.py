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
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot.conversation import ConversationService
from bot.feedback import FeedbackRecorder
from bot.slack import render
from bot.turn import Delta, Finished, Kind, Refused, Reset, Turn
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
# An answer carries links a model wrote: Slack must not fetch them for previews (a request to
# whatever host the answer names, and that host's title and image shown under Lore's name).
# chat.postMessage takes these arguments (docs.slack.dev/reference/methods/chat.postMessage);
# the references of chat.update and chat.postEphemeral list no unfurl arguments, so the answer,
# which edits the status message, relies on the message being posted with them.
NO_UNFURL = {"unfurl_links": False, "unfurl_media": False}


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


def _refusal(final: Refused | None) -> str:
    """What to show when no answer came: the service's reason, or a generic apology."""
    return render.refused_text(final.reason if final is not None else "Something went wrong; please try again.")


def question_of(text: str) -> str:
    return MENTION.sub("", text or "").strip()


class SlackEvents:
    def __init__(self, app: AsyncApp, conversation: ConversationService, dedupe: EventDeduplicator,
                 feedback: FeedbackRecorder, *, stream_interval: float = 1.2,
                 track: Callable[[], AbstractAsyncContextManager[Any]] | None = None,
                 on_dedupe_error: Callable[[], None] | None = None) -> None:
        self.app = app
        self.on_dedupe_error = on_dedupe_error
        # Answers run after Slack's ack, outside any HTTP request: ``track`` counts them as in
        # flight so that a graceful shutdown waits for them.
        self.track = track or (lambda: nullcontext())
        # chat.update is rate limited (Tier 3, ~50 a minute per workspace): a streaming answer
        # is shown by editing the message at most this often, then once more when complete.
        self.stream_interval = stream_interval
        self.conversation = conversation
        self.dedupe = dedupe
        self.feedback = feedback
        app.event("app_mention")(self.on_mention)
        app.event("message")(self.on_message)
        app.command("/lore")(self.on_command)
        app.action("lore_private_answer")(self.on_private_answer)
        app.action(re.compile(r"lore_feedback_(up|down)"))(self.on_feedback)
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

    async def _answer(self, turn: Turn, client: Any, channel: str, thread_ts: str | None) -> None:
        async with self.track():
            await self._answer_in_thread(turn, client, channel, thread_ts)

    async def _answer_in_thread(self, turn: Turn, client: Any, channel: str, thread_ts: str | None) -> None:
        """Post a status in the thread, then replace it with the answer."""
        status = await client.chat_postMessage(channel=channel, thread_ts=thread_ts,
                                               text=render.status_text("retrieving"),
                                               blocks=render.status_blocks("retrieving"), **NO_UNFURL)
        final: Finished | Refused | None = None
        partial = ""
        shown_at = time.monotonic()
        async for event in self.conversation.ask(turn):
            if isinstance(event, (Finished, Refused)):
                final = event
            elif isinstance(event, Reset):
                partial = ""
            elif isinstance(event, Delta):
                partial += event.text
                if time.monotonic() - shown_at >= self.stream_interval and partial.strip():
                    await client.chat_update(channel=channel, ts=status["ts"], text=partial[:3000],
                                             blocks=render.streaming_blocks(partial))
                    shown_at = time.monotonic()
        if isinstance(final, Finished):
            ref = f"{channel}:{status['ts']}"
            blocks = render.answer_blocks(final.answer, question=turn.text, feedback_ref=ref, private_ref=ref)
            await client.chat_update(channel=channel, ts=status["ts"], text=render.answer_text(final.answer), blocks=blocks)
        else:
            await client.chat_update(channel=channel, ts=status["ts"], text=_refusal(final), blocks=[])

    async def on_mention(self, body: dict[str, Any], event: dict[str, Any], client: Any) -> None:
        if event.get("bot_id") or event.get("subtype") not in IGNORED_SUBTYPES_OK or not await self._first_time(body):
            return
        kind = Kind.GROUP if event.get("channel_type") == "mpim" else Kind.CHANNEL
        thread = event.get("thread_ts") or event["ts"]
        turn = Turn("slack", workspace_key(body), event["user"], kind, event["channel"], thread, question_of(event.get("text", "")))
        await self._answer(turn, client, event["channel"], thread)

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
        await self._answer(turn, client, event["channel"], event.get("thread_ts"))

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
            await self._post_private(turn, client, channel, user, thread_ts)

    async def _post_private(self, turn: Turn, client: Any, channel: str, user: str, thread_ts: str | None) -> None:
        final: Finished | Refused | None = None
        async for event in self.conversation.ask(turn):
            if isinstance(event, (Finished, Refused)):
                final = event
        if isinstance(final, Finished):
            ref = f"{channel}:private:{turn.thread_id}"
            blocks = render.answer_blocks(final.answer, question=turn.text, allow_private=False, feedback_ref=ref)
            await client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread_ts,
                                            text=render.answer_text(final.answer), blocks=blocks)
        else:
            await client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread_ts, text=_refusal(final))

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
        action = (body.get("actions") or [{}])[0]
        await self.feedback.record(
            platform="slack", workspace=workspace_key(body), user_id=(body.get("user") or {}).get("id", ""),
            answer_ref=str(action.get("value", "")), helpful=action.get("action_id") == render.FEEDBACK_UP,
        )
