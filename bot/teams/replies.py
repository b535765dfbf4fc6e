"""One answer's messages in a Teams conversation: an :class:`~bot.streaming.AnswerSink`.

Rule: a reply goes to the conversation the question came from, as a reply to the question
(``replyToId``: in a channel, the thread), addressed from the bot to the asker. While Lore
retrieves, Teams shows the bot typing (a ``typing`` activity; Teams clears it after a few
seconds or when the answer arrives). Group chats and channels get one message; 1:1 chats are
streamed by :mod:`bot.teams.streaming`.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.streaming import AnswerSink
from bot.teams import render
from bot.teams.activities import Inbound
from bot.teams.connector import BotConnector, ConnectorError
from bot.turn import Answer, Notice, Refused

log = logging.getLogger("lore.teams")


def addressed(inbound: Inbound, activity: dict[str, Any]) -> dict[str, Any]:
    """``activity`` as a reply to ``inbound``: from the bot, to the asker, in its conversation."""
    out = dict(activity)
    out["from"] = {k: v for k, v in inbound.bot.items() if k in ("id", "name")}
    out["recipient"] = {k: v for k, v in inbound.user.items() if k in ("id", "name", "aadObjectId")}
    out["conversation"] = {"id": inbound.conversation_id}
    if inbound.id:
        out["replyToId"] = inbound.id
    return out


class ThreadReply(AnswerSink):
    def __init__(self, connector: BotConnector, inbound: Inbound, *, offer_private: bool) -> None:
        self.connector = connector
        self.inbound = inbound
        self.offer_private = offer_private

    async def post(self, activity: dict[str, Any]) -> str:
        i = self.inbound
        body = addressed(i, activity)
        if i.id:
            return await self.connector.reply(i.service_url, i.tenant_id, i.conversation_id, i.id, body)
        return await self.connector.send(i.service_url, i.tenant_id, i.conversation_id, body)

    async def _typing(self) -> None:
        try:
            await self.post(render.typing_activity())
        except ConnectorError as exc:  # the answer matters, the indicator does not
            log.info("typing indicator refused", extra={"status": exc.status, "code": exc.code})

    async def start(self) -> None:
        await self._typing()

    async def status(self, stage: str) -> None:
        if stage != "retrieving":  # start() already showed it for retrieval
            await self._typing()

    async def finish(self, answer: Answer) -> None:
        await self.post(render.answer_activity(answer, offer_private=self.offer_private,
                                                question=self.inbound.text))

    async def refuse(self, refusal: Refused) -> None:
        await self.post(render.text_activity(refusal.reason))

    async def notice(self, notice: Notice) -> None:
        await self.post(render.notice_activity(notice.text))
