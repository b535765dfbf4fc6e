"""Teams' streaming protocol for answers in 1:1 chats, as an :class:`~bot.streaming.AnswerSink`.

Rule: a stream is one informative update, growing ``streaming`` chunks and one ``final`` message;
anything the Bot Connector refuses during it turns the rest into a single ordinary message. From
"Stream bot messages" (learn.microsoft.com/microsoftteams/platform/bots/streaming-ux):

* updates are ``typing`` activities with a ``streaminfo`` entity: ``streamType`` ``informative``
  (a status line, at most 1,000 characters) or ``streaming`` (the whole text so far), and a
  ``streamSequence`` counting from 1; the first answers the ``streamId`` every later activity
  carries; the ``final`` is a ``message`` whose ``streaminfo`` has the ``streamId`` and no sequence;
* updates at least :data:`MIN_GAP_SECONDS` apart (the Bot Connector throttles streams at about
  one request a second; the text in between is coalesced into the next chunk);
* a stream must end within 2 minutes: past :data:`UPDATES_UNTIL_SECONDS` no more chunks are sent;
* streaming only in 1:1 chats; 403 ``ContentStreamNotAllowed`` (the user stopped it, it ran
  out of time, or a chunk did not contain the text streamed before), 400 "Streaming API is not
  enabled" and 429 mean: stop streaming, deliver one final message (the errors the Agents SDK's
  ``StreamingResponse._handle_send_error`` recognises).

Why not the Agents SDK's ``StreamingResponse`` (hosting-core 1.9): it needs the SDK's
``TurnContext`` and adapter (and so its own token validation and connector client, whose
``Activity`` serialisation adds an ``atId`` to the AI entity), and for Teams it spaces updates by
1.0 s, under the documented limit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from bot.streaming import AnswerSink
from bot.teams import render
from bot.teams.activities import Inbound
from bot.teams.connector import BotConnector, ConnectorError
from bot.teams.markdown import escape
from bot.teams.replies import addressed
from bot.turn import STAGE_TEXT, Answer, Notice, Refused

log = logging.getLogger("lore.teams")

MIN_GAP_SECONDS = 1.5
INFORMATIVE_MAX = 1000
UPDATES_UNTIL_SECONDS = 100.0  # of the 2 minutes a stream may last, leaving time for the final
FALLBACK_STATUSES = {403, 429}


def stops_streaming(exc: ConnectorError) -> bool:
    return exc.status in FALLBACK_STATUSES or (
        exc.status == 400 and "streaming api is not enabled" in str(exc).lower())


def streaminfo(kind: str, stream_id: str | None, sequence: int | None) -> dict[str, Any]:
    entity: dict[str, Any] = {"type": "streaminfo", "streamType": kind}
    if stream_id:
        entity["streamId"] = stream_id
    if sequence is not None:
        entity["streamSequence"] = sequence
    return entity


class StreamedReply(AnswerSink):
    def __init__(self, connector: BotConnector, inbound: Inbound, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.connector = connector
        self.inbound = inbound
        self.clock = clock
        self.stream_id: str | None = None
        self.sequence = 0
        self.started = 0.0
        self.sent_at = float("-inf")
        self.streaming = True  # False once the Bot Connector refused: one final message instead
        self.frozen = False  # a reset: the shown text cannot shrink, so no more chunks

    async def _post(self, activity: dict[str, Any]) -> str:
        i = self.inbound
        body = addressed(i, activity)
        # No retry on 429 inside a stream: a throttled stream falls back to one message.
        if i.id:
            return await self.connector.reply(i.service_url, i.tenant_id, i.conversation_id, i.id, body, retry_429=False)
        return await self.connector.send(i.service_url, i.tenant_id, i.conversation_id, body, retry_429=False)

    async def _update(self, kind: str, text: str) -> None:
        if not self.streaming or self.clock() - self.sent_at < MIN_GAP_SECONDS:
            return
        if self.stream_id is not None and self.clock() - self.started > UPDATES_UNTIL_SECONDS:
            return
        activity = {"type": "typing", "text": text,
                    "entities": [streaminfo(kind, self.stream_id, self.sequence + 1)]}
        try:
            returned = await self._post(activity)
        except ConnectorError as exc:
            if not stops_streaming(exc):
                raise
            log.info("Teams stream stopped; the answer comes as one message",
                     extra={"status": exc.status, "code": exc.code})
            self.streaming = False
            return
        self.sequence += 1
        self.sent_at = self.clock()
        if self.stream_id is None:
            self.stream_id = returned
            self.started = self.sent_at

    async def start(self) -> None:
        await self._update("informative", STAGE_TEXT["retrieving"][:INFORMATIVE_MAX])

    async def status(self, stage: str) -> None:
        if stage != "retrieving" and self.sequence <= 1 and stage in STAGE_TEXT:
            await self._update("informative", STAGE_TEXT[stage][:INFORMATIVE_MAX])

    async def partial(self, appended: str, text: str) -> None:
        """The text so far as a preview: escaped (it is model output and document text, so no
        mention, link or formatting comes from it) and cut after its last whitespace, so that no
        half-written ``[n]`` marker is escaped now and kept later: each chunk then starts with
        the one before, as Teams requires. The final message shows the rendered answer."""
        cut = max(text.rfind(" "), text.rfind("\n"))
        if not self.frozen and cut > 0 and text[:cut].strip():
            await self._update("streaming", escape(text[: cut + 1]))

    async def reset(self) -> None:
        self.frozen = True

    async def _final(self, activity: dict[str, Any]) -> None:
        if self.streaming and self.stream_id is not None:
            streamed = dict(activity)
            streamed["entities"] = [streaminfo("final", self.stream_id, None), *activity.get("entities", [])]
            try:
                await self._post(streamed)
                return
            except ConnectorError as exc:
                if not stops_streaming(exc):
                    raise
                log.info("Teams stream not finished; the answer comes as one message",
                         extra={"status": exc.status, "code": exc.code})
        i = self.inbound
        body = addressed(i, activity)
        if i.id:
            await self.connector.reply(i.service_url, i.tenant_id, i.conversation_id, i.id, body)
        else:
            await self.connector.send(i.service_url, i.tenant_id, i.conversation_id, body)

    async def finish(self, answer: Answer) -> None:
        await self._final(render.answer_activity(answer))

    async def refuse(self, refusal: Refused) -> None:
        await self._final(render.text_activity(refusal.reason))

    async def notice(self, notice: Notice) -> None:
        await self._final(render.notice_activity(notice.text))
