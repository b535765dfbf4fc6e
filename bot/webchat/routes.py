"""Web chat adapter: HTTP + server-sent events <-> the conversation service.

Like every adapter it only translates: a POSTed question becomes a `Turn`, the service's events
become SSE events. The identity picker trusts the browser to say who it is, which is why this
surface exists only in development mode, bound to a loopback address, and why every route is
wrapped by :mod:`bot.webchat.guard` (loopback ``Host``, same origin).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from aiohttp import web

from bot import sse
from bot.conversation import ConversationService
from bot.identity import StaticIdentityResolver
from bot.streaming import GENERIC_REFUSAL, AnswerSink, stream_answer
from bot.turn import Answer, Kind, Notice, Refused, Turn
from bot.webchat import guard, messages

STATIC = Path(__file__).parent / "static"
STATIC_FILES = frozenset({"app.js", "app.css"})  # what index.html loads; nothing else is served
SERVICE_KEY = web.AppKey("webchat_service", ConversationService)
USERS_KEY = web.AppKey("webchat_users", StaticIdentityResolver)
MAX_BODY = 16 * 1024


async def index(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


async def static_file(request: web.Request) -> web.FileResponse:
    name = request.match_info["name"]
    if name not in STATIC_FILES:
        raise web.HTTPNotFound()
    return web.FileResponse(STATIC / name)


async def users(request: web.Request) -> web.Response:
    table = request.app[USERS_KEY].users
    return web.json_response(
        {"users": [{"id": email, "label": email, "guest": not ident.org_member} for email, ident in table.items()]}
    )


def _bad(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


async def ask(request: web.Request) -> web.StreamResponse:
    if request.content_length is not None and request.content_length > MAX_BODY:
        return _bad(messages.BODY_TOO_LARGE.format(limit=MAX_BODY))
    try:
        body = await request.json()
    except ValueError:
        return _bad(messages.BODY_NOT_JSON)
    if not isinstance(body, dict):
        return _bad(messages.BODY_NOT_OBJECT)
    user, text, thread_id = body.get("user"), body.get("text"), body.get("thread_id")
    if not isinstance(user, str) or user.lower() not in request.app[USERS_KEY].users:
        return _bad(messages.UNKNOWN_USER)
    if not isinstance(text, str):
        return _bad(messages.TEXT_NOT_STRING)
    if thread_id is not None and (not isinstance(thread_id, str) or len(thread_id) > 100):
        return _bad(messages.BAD_THREAD_ID)
    thread_id = thread_id or uuid.uuid4().hex
    turn = Turn("webchat", "local", user.lower(), Kind.DIRECT, f"webchat:{user.lower()}", thread_id, text)

    sink = SseSink(request)
    await stream_answer(request.app[SERVICE_KEY].ask(turn), sink, interval=0)
    if sink.response is None:  # refused before anything was shown
        return refusal_response(sink.refused or GENERIC_REFUSAL)
    await sink.response.write_eof()
    return sink.response


def refusal_response(refused: Refused) -> web.Response:
    """Refused before any output: a plain HTTP error with the service's reason."""
    status = {"rate_limited": 429, "empty": 400, "too_long": 400}.get(refused.code, 403)
    headers = {"Retry-After": str(max(1, round(refused.retry_after)))} if refused.code == "rate_limited" else {}
    payload: dict[str, Any] = {"error": refused.reason}
    if refused.code == "rate_limited":
        payload["retry_after"] = max(1, round(refused.retry_after))
    return web.json_response(payload, status=status, headers=headers)


class SseSink(AnswerSink):
    """The answer as server-sent events, every delta as it comes. The stream opens with the first
    event worth showing, so a question refused before anything happened is an HTTP error."""

    def __init__(self, request: web.Request) -> None:
        self.request = request
        self.response: web.StreamResponse | None = None
        self.refused: Refused | None = None

    async def _send(self, event: str, data: dict[str, Any]) -> None:
        if self.response is None:
            self.response = await sse.open_stream(self.request)
        await sse.send(self.response, event, data)

    async def status(self, stage: str) -> None:
        await self._send("status", {"stage": stage})

    async def partial(self, appended: str, text: str) -> None:
        await self._send("delta", {"text": appended})

    async def reset(self) -> None:
        await self._send("reset", {})

    async def finish(self, answer: Answer) -> None:
        await self._send("final", answer.as_json())

    async def notice(self, notice: Notice) -> None:
        await self._send("notice", {"text": notice.text, "command": notice.command})

    async def refuse(self, refusal: Refused) -> None:
        if self.response is None:
            self.refused = refusal
        else:
            await self._send("error", {"message": refusal.reason})


def add_routes(app: web.Application, service: ConversationService, identities: StaticIdentityResolver) -> None:
    app[SERVICE_KEY] = service
    app[USERS_KEY] = identities
    app.router.add_get("/", guard.page(index))
    # Not add_static: its handler cannot be wrapped by the guard.
    app.router.add_get("/static/webchat/{name}", guard.page(static_file))
    app.router.add_get("/api/webchat/users", guard.api(users))
    app.router.add_post("/api/webchat/ask", guard.api(ask))
