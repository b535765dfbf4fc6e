"""``POST /api/messages``: verify, claim once, acknowledge, then answer in the background.

Order on every request (nothing is read before the token is accepted):

1. the Bot Connector token (:mod:`bot.teams.auth`): 401 (403 for a missing endorsement), 503
   when the signing keys cannot be read; never 500;
2. the tenant: one of ``teams.tenant_ids``, else 403, logged with the tenant;
3. the activity id, claimed in the store shared by every replica (:mod:`core.dedupe`): the Bot
   Connector redelivers an activity it saw no answer to within about 15 seconds, and a claimed
   one is acknowledged and dropped;
4. the answer runs after the HTTP response (``ctx.track()`` counts it in flight), so Teams always
   gets its acknowledgement at once. An invoke (feedback) is answered in the response itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from typing import Any

from aiohttp import web

from bot.audit import Auditor
from bot.conversation import ConversationService
from bot.feedback import FeedbackRecorder
from bot.streaming import AnswerSink, stream_answer
from bot.teams import messages, render
from bot.teams.activities import Inbound, parse
from bot.teams.auth import InboundAuth, InboundRefused, SigningKeysUnavailable
from bot.teams.connector import BotConnector, ConnectorError
from bot.teams.replies import ThreadReply
from bot.teams.streaming import MIN_GAP_SECONDS, StreamedReply
from bot.turn import Kind, Turn
from core.dedupe import DeduplicationError, EventDeduplicator

TEAMS_CHANNEL = "msteams"

log = logging.getLogger("lore.teams")

DEDUPE_TTL = 3600  # the Bot Connector retries within minutes; an hour is ample
FEEDBACK_INVOKE = "message/submitAction"


class TeamsEvents:
    def __init__(self, *, auth: InboundAuth, tenants: frozenset[str], dedupe: EventDeduplicator,
                 conversation: ConversationService, connector: BotConnector, feedback: FeedbackRecorder,
                 track: Callable[[], AbstractAsyncContextManager[None]],
                 remember: Callable[[Inbound], None], on_dedupe_error: Callable[[], None] | None = None,
                 audit: Auditor | None = None) -> None:
        self.auth = auth
        self.tenants = tenants
        self.dedupe = dedupe
        self.conversation = conversation
        self.connector = connector
        self.feedback = feedback
        self.track = track
        self.remember = remember  # the surface keeps the conversation's serviceUrl for the roster
        self.on_dedupe_error = on_dedupe_error
        self.audit = audit  # refused requests are recorded (throttled per remote address)
        self.tasks: set[asyncio.Task[None]] = set()

    async def handle(self, request: web.Request) -> web.Response:
        authorization = request.headers.get("Authorization")
        if not authorization:
            return await self._refused(request, InboundRefused(401, "no Authorization header"))
        try:
            body = json.loads(await request.read())
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            return await self._refused(request, InboundRefused(401, "no activity to verify the token against"))
        try:
            await self.auth.verify(authorization, body)
        except InboundRefused as exc:
            return await self._refused(request, exc)
        except SigningKeysUnavailable as exc:
            log.error("Teams request not verified", extra={"error": str(exc)})
            return web.json_response({"error": "signing keys unavailable"}, status=503)
        try:
            inbound = parse(body)
        except (TypeError, ValueError, AttributeError, KeyError):  # the SDK's model on odd shapes
            inbound = None
        if inbound is None:
            return web.json_response({"error": "not an activity"}, status=400)
        if inbound.channel_id != TEAMS_CHANNEL:
            # Only Teams writes the sender's Entra id, the tenant and the conversation type; a
            # Web Chat or Direct Line client of the same bot writes them itself.
            log.warning("activity from a channel other than Teams refused",
                        extra={"channel": inbound.channel_id[:32], "status": 403})
            return web.json_response({"error": "only Microsoft Teams is served here"}, status=403)
        if inbound.tenant_id not in self.tenants:
            log.warning("Teams activity from a tenant Lore does not serve refused",
                        extra={"tenant": inbound.tenant_id[:64], "status": 403})
            if self.audit is not None:
                await self.audit.auth_failure("teams", "tenant not served", request.remote,
                                              claimed=f"tenant:{inbound.tenant_id[:64]}")
            return web.json_response({"error": "tenant not served"}, status=403)
        if not await self._first_time(inbound):
            return web.Response(status=200)
        if inbound.type == "invoke":
            return await self._invoke(inbound)
        if inbound.type == "message":
            self._message(inbound)
        return web.Response(status=200)

    async def _refused(self, request: web.Request, exc: InboundRefused) -> web.Response:
        log.warning("Teams request refused", extra={"status": exc.status, "reason": exc.reason})
        if self.audit is not None:
            await self.audit.auth_failure("teams", exc.reason, request.remote)
        return web.json_response({"error": "unauthorized" if exc.status == 401 else "forbidden"}, status=exc.status)

    async def _first_time(self, inbound: Inbound) -> bool:
        if not inbound.id:
            return True
        try:
            # Message ids are unique within a conversation only (they are timestamps).
            key = f"teams:activity:{inbound.tenant_id}:{inbound.base_conversation_id}:{inbound.id}"
            return await self.dedupe.first_time(key, DEDUPE_TTL)
        except DeduplicationError as exc:
            # No store answered: answering a redelivery twice beats dropping the question unseen.
            log.error("activity handled without a de-duplication check", extra={"error": str(exc)})
            if self.on_dedupe_error is not None:
                self.on_dedupe_error()
            return True

    def _background(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def _message(self, inbound: Inbound) -> None:
        value = inbound.value if isinstance(inbound.value, dict) else {}
        if value.get("action") == render.PRIVATE_ANSWER:
            self._background(self._private_answer(inbound, str(value.get("question") or "")))
            return
        if inbound.kind is None or (inbound.kind is not Kind.DIRECT and not inbound.mentioned):
            return  # in a channel or group chat, only an @mention is a question for Lore
        turn = inbound.turn()
        if turn is None:
            log.warning("Teams message without a Microsoft Entra sender ignored")
            return
        self.remember(inbound)
        self._background(self._answer(inbound, turn))

    async def _answer(self, inbound: Inbound, turn: Turn) -> None:
        offer_private = turn.kind is not Kind.DIRECT
        async with self.track():
            # 1:1 chats stream (Teams streams nowhere else); group chats and channels get one message.
            sink: AnswerSink = (StreamedReply(self.connector, inbound) if turn.kind is Kind.DIRECT
                                else ThreadReply(self.connector, inbound, offer_private=offer_private))
            try:
                await stream_answer(self.conversation.ask(turn), sink, interval=MIN_GAP_SECONDS)
            except ConnectorError as exc:
                log.error("Teams answer not delivered", extra={"status": exc.status, "code": exc.code})

    async def _private_answer(self, inbound: Inbound, question: str) -> None:
        """The asker's own access, in their 1:1 chat with Lore (created if need be: Bot
        Connector ``POST /v3/conversations`` with the user as the only member)."""
        turn = inbound.turn(private=True, text=question)
        if turn is None or not question.strip():
            return
        async with self.track():
            try:
                chat = await self.connector.create_conversation(inbound.service_url, inbound.tenant_id, {
                    "isGroup": False, "bot": {"id": inbound.bot.get("id", "")},
                    "members": [{"id": inbound.user_id}], "tenantId": inbound.tenant_id,
                    "channelData": {"tenant": {"id": inbound.tenant_id}},
                })
            except ConnectorError as exc:
                log.warning("private chat not created", extra={"status": exc.status, "code": exc.code})
                await self._say(inbound, messages.PRIVATE_ANSWER_FAILED)
                return
            # The question joins the 1:1 chat's thread, so a follow-up asked there continues it.
            direct = replace(inbound, id="", conversation_id=chat, conversation_type="personal")
            private = replace(turn, kind=Kind.DIRECT, conversation_id=chat, thread_id=chat)
            try:
                await stream_answer(self.conversation.ask(private), ThreadReply(self.connector, direct, offer_private=False))
            except ConnectorError as exc:
                log.error("Teams private answer not delivered", extra={"status": exc.status, "code": exc.code})

    async def _say(self, inbound: Inbound, text: str) -> None:
        try:
            await ThreadReply(self.connector, inbound, offer_private=False).post(render.text_activity(text))
        except ConnectorError as exc:
            log.info("Teams notice not delivered", extra={"status": exc.status})

    async def _invoke(self, inbound: Inbound) -> web.Response:
        if inbound.name != FEEDBACK_INVOKE:
            return web.json_response({}, status=200)
        read = render.read_feedback(inbound.value)
        if read is None:
            return web.json_response({}, status=200)
        helpful, _comment = read
        if inbound.kind is None or not (inbound.aad_object_id or "").strip():
            return web.json_response({}, status=200)  # not from a Teams user in a known conversation
        # The answer is the activity the feedback is about (replyToId), in its conversation.
        ref = f"{inbound.conversation_id}:{inbound.raw.get('replyToId') or ''}"
        try:
            await self.feedback.record(platform="teams", workspace=inbound.tenant_id, user_id=inbound.aad_object_id,
                                       answer_ref=ref, helpful=helpful)
        except Exception:
            log.exception("Teams feedback not recorded")  # the button still answers: nothing to retry
        return web.json_response({}, status=200)
