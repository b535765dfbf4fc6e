"""A stand-in for the Bot Connector service (the ``serviceUrl`` Teams gives a bot), v3 REST API.

Documented behaviour covered (Bot Connector API reference, learn.microsoft.com/azure/
bot-service/rest-api/bot-framework-rest-connector-api-reference; Teams "Get roster or user
profile", "Proactive messages"; "Stream bot messages", learn.microsoft.com/microsoftteams/
platform/bots/streaming-ux):

- every call needs ``Authorization: Bearer <app token>``; a missing or unknown token is 401;
- ``POST /v3/conversations/{id}/activities`` (send) and ``POST .../activities/{activityId}``
  (reply: ``replyToId`` set) answer ``{"id": ...}``; ``PUT .../activities/{activityId}`` updates
  an activity the bot posted (404 otherwise); an unknown conversation is 404;
- an activity needs a ``type``; a ``message`` needs ``text`` or ``attachments`` (400 otherwise);
- ``GET /v3/conversations/{id}/pagedmembers?pageSize&continuationToken`` pages the roster
  (``members``, ``continuationToken`` while more remain; ``pageSize`` at most 500);
- ``POST /v3/conversations`` with ``bot``, ``members`` (one user) and the tenant creates (or
  finds) the 1:1 chat and answers ``{"id": ...}``;
- streaming, only in 1:1 chats (elsewhere 403 ``ContentStreamNotAllowed``; with streaming turned
  off, :attr:`streaming_enabled`, 400 ``BadArgument`` "Streaming API is not enabled"):
  ``typing`` activities with a ``streaminfo`` entity (``streamType`` ``informative``/
  ``streaming``, ``streamSequence`` starting at 1 and increasing by one); the first answers the
  ``streamId`` every later one carries; informative text at most 1,000 characters; a ``message``
  with ``streamType: final`` ends it; a stream older than 2 minutes ("Content stream finished
  due to exceeded streaming time."), ended, or stopped by the user (:meth:`cancel`) accepts
  nothing more, and a ``streaming`` chunk must contain the previously streamed content: all 403
  ``ContentStreamNotAllowed`` (the messages as the Agents SDK's ``StreamingResponse`` reads them);
- throttling: :meth:`throttle` makes the next calls answer 429 with ``Retry-After``;
- errors have the body ``{"error": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.loopback import serving

INFORMATIVE_MAX = 1000
STREAM_MAX_SECONDS = 120.0


@dataclass
class Conversation:
    id: str
    type: str  # personal, groupChat, channel
    members: list[dict[str, Any]] = field(default_factory=list)
    activities: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Stream:
    id: str
    conversation: str
    started: float
    sequence: int = 0
    text: str = ""
    ended: bool = False
    cancelled: bool = False


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)


class BotConnectorStandIn:
    def __init__(self, tokens: set[str]) -> None:
        self.tokens = tokens
        self.conversations: dict[str, Conversation] = {}
        self.streams: dict[str, Stream] = {}
        self.calls: list[tuple[str, str]] = []
        self.throttled = 0
        self.retry_after = 1
        self.refused: list[tuple[str, int, str]] = []  # (path, status, code) of every error
        self._ids = itertools.count(1)
        self.base_url = ""
        self.changed = asyncio.Event()
        self.clock = time.monotonic
        self.streaming_enabled = True

    def add_conversation(self, conversation_id: str, type_: str, members: list[dict[str, Any]]) -> Conversation:
        conv = Conversation(conversation_id, type_, list(members))
        self.conversations[conversation_id] = conv
        return conv

    def cancel(self, stream_id: str) -> None:
        """The user pressed stop on a stream."""
        self.streams[stream_id].cancelled = True

    def throttle(self, calls: int, retry_after: int = 1) -> None:
        self.throttled, self.retry_after = calls, retry_after

    def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        conv = self._conversation(conversation_id)
        return [a for a in conv.activities if a.get("type") == "message"] if conv else []

    def _conversation(self, conversation_id: str) -> Conversation | None:
        """A channel thread (``;messageid=``) belongs to its channel."""
        return self.conversations.get(conversation_id) or self.conversations.get(conversation_id.split(";messageid=")[0])

    def _fail(self, request: web.Request, status: int, code: str, message: str,
              headers: dict[str, str] | None = None) -> web.Response:
        self.refused.append((request.path, status, code))
        return error(status, code, message, headers)

    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.calls.append((request.method, request.path))
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or token not in self.tokens:
            return self._fail(request, 401, "Unauthorized", "Authorization has been denied for this request.")
        if self.throttled > 0:
            self.throttled -= 1
            return self._fail(request, 429, "Throttled", "Too many requests", {"Retry-After": str(self.retry_after)})
        return await handler(request)

    async def _post_activity(self, request: web.Request) -> web.Response:
        conv = self._conversation(request.match_info["conversation"])
        if conv is None:
            return self._fail(request, 404, "ConversationNotFound", "Conversation not found.")
        try:
            activity = await request.json()
        except ValueError:
            return self._fail(request, 400, "BadArgument", "The body is not JSON.")
        if not isinstance(activity, dict) or not activity.get("type"):
            return self._fail(request, 400, "BadArgument", "Activity type is required.")
        reply_to = request.match_info.get("activity")
        if reply_to and activity.get("replyToId") not in (None, reply_to):
            return self._fail(request, 400, "BadArgument", "replyToId does not match the URL.")
        stream = self._stream_entity(activity)
        if stream is not None:
            return self._stream(request, conv, activity, stream)
        if activity["type"] == "message" and not (activity.get("text") or activity.get("attachments")):
            return self._fail(request, 400, "BadArgument", "A message needs text or attachments.")
        activity_id = f"act-{next(self._ids)}"
        conv.activities.append({**activity, "id": activity_id, "_conversation": request.match_info["conversation"]})
        self.changed.set()
        return web.json_response({"id": activity_id}, status=201)

    @staticmethod
    def _stream_entity(activity: dict[str, Any]) -> dict[str, Any] | None:
        for entity in activity.get("entities") or []:
            if isinstance(entity, dict) and entity.get("type") == "streaminfo":
                return entity
        return None

    def _stream(self, request: web.Request, conv: Conversation, activity: dict[str, Any],
                info: dict[str, Any]) -> web.Response:
        if not self.streaming_enabled:
            return self._fail(request, 400, "BadArgument", "Streaming API is not enabled for this conversation.")
        if conv.type != "personal":
            return self._fail(request, 403, "ContentStreamNotAllowed", "Streaming is only allowed in personal chats.")
        kind = info.get("streamType")
        stream_id = info.get("streamId")
        text = str(activity.get("text") or "")
        if stream_id is None:
            if activity["type"] != "typing" or kind not in ("informative", "streaming") or info.get("streamSequence") != 1:
                return self._fail(request, 400, "BadArgument", "A stream starts with a typing activity, streamSequence 1.")
            stream = Stream(f"stream-{next(self._ids)}", conv.id, self.clock())
            self.streams[stream.id] = stream
        else:
            found = self.streams.get(str(stream_id))
            if found is None or found.conversation != conv.id:
                return self._fail(request, 404, "ContentStreamNotFound", "Unknown streamId.")
            stream = found
            if self.clock() - stream.started > STREAM_MAX_SECONDS:
                return self._fail(request, 403, "ContentStreamNotAllowed",
                                  "Content stream finished due to exceeded streaming time.")
            if stream.ended or stream.cancelled:
                return self._fail(request, 403, "ContentStreamNotAllowed",
                                  "Content stream was cancelled by user." if stream.cancelled else "The stream has ended.")
        if kind == "informative" and len(text) > INFORMATIVE_MAX:
            return self._fail(request, 400, "BadArgument", "Informative text is at most 1,000 characters.")
        if kind == "final":
            if activity["type"] != "message" or "streamSequence" in info:
                return self._fail(request, 400, "BadArgument", "The final message carries no streamSequence.")
            stream.ended = True
            conv.activities.append({**activity, "id": stream.id, "_conversation": conv.id, "_at": self.clock()})
            self.changed.set()
            return web.json_response({"id": stream.id}, status=201)
        if activity["type"] != "typing" or kind not in ("informative", "streaming"):
            return self._fail(request, 400, "BadArgument", "Stream updates are typing activities.")
        if info.get("streamSequence") != stream.sequence + 1:
            return self._fail(request, 400, "BadArgument", "streamSequence must increase by one.")
        if kind == "streaming" and not text.startswith(stream.text):
            return self._fail(request, 403, "ContentStreamNotAllowed",
                              "Request streamed content should contain the previously streamed content.")
        stream.sequence += 1
        if kind == "streaming":
            stream.text = text
        conv.activities.append({**activity, "id": f"{stream.id}#{stream.sequence}", "_conversation": conv.id,
                                "_at": self.clock()})
        return web.json_response({"id": stream.id}, status=201)

    async def _put_activity(self, request: web.Request) -> web.Response:
        conv = self._conversation(request.match_info["conversation"])
        target = request.match_info["activity"]
        if conv is None:
            return self._fail(request, 404, "ConversationNotFound", "Conversation not found.")
        for k, existing in enumerate(conv.activities):
            if existing["id"] == target:
                activity = await request.json()
                conv.activities[k] = {**activity, "id": target, "_conversation": existing["_conversation"],
                                      "_edits": existing.get("_edits", 0) + 1}
                return web.json_response({"id": target})
        return self._fail(request, 404, "ActivityNotFound", "Activity not found.")

    async def _paged_members(self, request: web.Request) -> web.Response:
        conv = self._conversation(request.match_info["conversation"])
        if conv is None:
            return self._fail(request, 404, "ConversationNotFound", "Conversation not found.")
        try:
            size = int(request.query.get("pageSize", "200"))
            start = int(request.query.get("continuationToken", "0"))
        except ValueError:
            return self._fail(request, 400, "BadArgument", "Bad pageSize or continuationToken.")
        size = max(1, min(size, 500))
        page: dict[str, Any] = {"members": conv.members[start:start + size]}
        if start + size < len(conv.members):
            page["continuationToken"] = str(start + size)
        return web.json_response(page)

    async def _create_conversation(self, request: web.Request) -> web.Response:
        params = await request.json()
        members = params.get("members") or []
        if params.get("isGroup") or len(members) != 1 or not (params.get("bot") or {}).get("id"):
            return self._fail(request, 400, "BadArgument", "A 1:1 conversation needs the bot and one member.")
        if not ((params.get("channelData") or {}).get("tenant") or {}).get("id") and not params.get("tenantId"):
            return self._fail(request, 400, "BadArgument", "The tenant is required.")
        conversation_id = f"a:personal-{members[0]['id']}"
        if conversation_id not in self.conversations:
            self.add_conversation(conversation_id, "personal", list(members))
        return web.json_response({"id": conversation_id}, status=201)

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard])
        app.router.add_post("/v3/conversations", self._create_conversation)
        app.router.add_post("/v3/conversations/{conversation}/activities", self._post_activity)
        app.router.add_post("/v3/conversations/{conversation}/activities/{activity}", self._post_activity)
        app.router.add_put("/v3/conversations/{conversation}/activities/{activity}", self._put_activity)
        app.router.add_get("/v3/conversations/{conversation}/pagedmembers", self._paged_members)
        return app

    @classmethod
    @asynccontextmanager
    async def running(cls, tokens: set[str]) -> AsyncIterator[BotConnectorStandIn]:
        stand_in = cls(tokens)
        async with serving(stand_in.app()) as port:
            stand_in.base_url = f"http://127.0.0.1:{port}/"
            yield stand_in
