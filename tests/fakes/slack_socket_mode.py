"""A loopback stand-in for Slack's Socket Mode (docs.slack.dev/apis/events-api/using-socket-mode).

What it implements, as Slack documents it:

* ``POST /api/apps.connections.open`` authenticated with an app-level token (``Authorization:
  Bearer xapp-...``, or a ``token`` form field). Answers ``{"ok": true, "url": "ws://127.0.0.1:
  <port>/link/?ticket=...&app_id=..."}``; a bot or user token gets ``not_allowed_token_type``,
  an unknown token ``invalid_auth``, no token ``not_authed``. Each URL's ticket is single-use.
* The WebSocket at that URL sends ``{"type": "hello", "num_connections", "debug_info",
  "connection_info": {"app_id"}}`` on connect, then whatever envelopes the test pushes:
  ``{"envelope_id", "type": "events_api" | "slash_commands" | "interactive", "payload",
  "accepts_response_payload", "retry_attempt", "retry_reason"}``.
* The client acknowledges an envelope by sending ``{"envelope_id", "payload"?}``; every ack is
  recorded with the time it arrived, so a test can assert Slack's 3-second deadline.
* ``{"type": "disconnect", "reason": "refresh_requested" | "warning" | "link_disabled"}`` asks
  the client to open a new connection (with a new URL from apps.connections.open).

Usage::

    async with SlackSocketMode.running(app_token="xapp-1-A0LORE0001-1-abc") as socket_mode:
        ... connect a client with base_url=socket_mode.api_url ...
        envelope = await socket_mode.push(payload)            # events_api by default
        ack = await socket_mode.wait_ack(envelope.envelope_id)
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.loopback import serving

APP_ID = "A0LORE0001"
_envelope_ids = itertools.count(1)


@dataclass
class Envelope:
    envelope_id: str
    type: str
    payload: dict[str, Any]
    accepts_response_payload: bool
    retry_attempt: int
    retry_reason: str
    sent_at: float  # time.monotonic()
    connection: int  # index into SlackSocketMode.connections

    def as_json(self) -> dict[str, Any]:
        return {
            "envelope_id": self.envelope_id,
            "type": self.type,
            "payload": self.payload,
            "accepts_response_payload": self.accepts_response_payload,
            "retry_attempt": self.retry_attempt,
            "retry_reason": self.retry_reason,
        }


@dataclass
class Ack:
    envelope_id: str
    payload: dict[str, Any] | None
    received_at: float  # time.monotonic()


@dataclass
class Connection:
    ticket: str
    ws: web.WebSocketResponse
    opened_at: float
    closed: bool = False
    received: list[Any] = field(default_factory=list)  # every JSON message from the client


@dataclass
class ConnectionsOpen:
    """One apps.connections.open call: what token kind was sent and what Slack answered."""

    token_prefix: str
    response: dict[str, Any]


@dataclass
class SlackSocketMode:
    app_tokens: set[str] = field(default_factory=set)
    other_tokens: set[str] = field(default_factory=set)  # xoxb-/xoxp-: valid, wrong kind
    app_id: str = APP_ID
    port: int = 0
    opens: list[ConnectionsOpen] = field(default_factory=list)
    connections: list[Connection] = field(default_factory=list)
    envelopes: dict[str, Envelope] = field(default_factory=dict)
    acks: dict[str, list[Ack]] = field(default_factory=dict)
    _tickets: set[str] = field(default_factory=set)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """slack_sdk's ``base_url`` for apps.connections.open (trailing slash required)."""
        return f"{self.base_url}/api/"

    @classmethod
    @asynccontextmanager
    async def running(
        cls,
        *,
        app_token: str = "xapp-1-A0LORE0001-1-lore",
        other_tokens: Iterable[str] = ("xoxb-lore-test",),
        app_id: str = APP_ID,
    ) -> AsyncIterator[SlackSocketMode]:
        stand_in = cls(app_tokens={app_token}, other_tokens=set(other_tokens), app_id=app_id)
        app = web.Application()
        app.router.add_post("/api/apps.connections.open", stand_in._open)
        app.router.add_get("/link/", stand_in._link)
        async with serving(app) as stand_in.port:
            try:
                yield stand_in
            finally:
                for conn in stand_in.connections:
                    if not conn.ws.closed:
                        await conn.ws.close()

    # -- test helpers ----------------------------------------------------------------------

    @property
    def current(self) -> Connection:
        live = [c for c in self.connections if not c.closed]
        if not live:
            raise AssertionError("no open Socket Mode connection")
        return live[-1]

    async def wait_connected(self, count: int = 1, timeout: float = 5) -> Connection:
        """Wait until ``count`` connections have been opened in total; return the newest live one."""
        async with self._changed:
            await asyncio.wait_for(
                self._changed.wait_for(
                    lambda: len(self.connections) >= count and any(not c.closed for c in self.connections)
                ),
                timeout,
            )
        return self.current

    async def push(
        self,
        payload: dict[str, Any],
        *,
        type: str = "events_api",
        envelope_id: str | None = None,
        accepts_response_payload: bool | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
    ) -> Envelope:
        """Send an envelope on the newest live connection, as Slack does."""
        if accepts_response_payload is None:
            # Slack accepts a response payload for slash commands and some interactions only.
            accepts_response_payload = type != "events_api"
        conn = self.current
        envelope = Envelope(
            envelope_id=envelope_id or f"{next(_envelope_ids):08x}-{secrets.token_hex(4)}-lore",
            type=type,
            payload=payload,
            accepts_response_payload=accepts_response_payload,
            retry_attempt=retry_attempt,
            retry_reason=retry_reason,
            sent_at=time.monotonic(),
            connection=self.connections.index(conn),
        )
        self.envelopes[envelope.envelope_id] = envelope
        await conn.ws.send_json(envelope.as_json())
        return envelope

    async def disconnect(self, reason: str = "refresh_requested") -> None:
        """Ask the client to reconnect; like Slack, the old socket is closed shortly after."""
        await self.current.ws.send_json(
            {"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-lore-stand-in"}}
        )

    async def wait_ack(self, envelope_id: str, timeout: float = 3) -> Ack:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: bool(self.acks.get(envelope_id))), timeout)
        return self.acks[envelope_id][0]

    def ack_latency(self, envelope_id: str) -> float:
        return self.acks[envelope_id][0].received_at - self.envelopes[envelope_id].sent_at

    # -- apps.connections.open -------------------------------------------------------------

    async def _open(self, request: web.Request) -> web.Response:
        auth = request.headers.get("Authorization", "")
        token = auth[len("Bearer ") :].strip() if auth.startswith("Bearer ") else ""
        if not token and request.content_type == "application/x-www-form-urlencoded":
            form = await request.post()
            value = form.get("token")
            token = value if isinstance(value, str) else ""
        body: dict[str, Any]
        if not token:
            body = {"ok": False, "error": "not_authed"}
        elif token in self.app_tokens:
            ticket = secrets.token_urlsafe(16)
            self._tickets.add(ticket)
            body = {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={self.app_id}"}
        elif token in self.other_tokens or token.startswith(("xoxb-", "xoxp-")):
            body = {"ok": False, "error": "not_allowed_token_type"}
        else:
            body = {"ok": False, "error": "invalid_auth"}
        self.opens.append(ConnectionsOpen(token.split("-", 1)[0] + "-" if token else "", body))
        return web.json_response(body)

    # -- the WebSocket ---------------------------------------------------------------------

    async def _link(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        if ticket not in self._tickets:
            raise web.HTTPUnauthorized(text="invalid or used ticket")
        self._tickets.discard(ticket)
        ws = web.WebSocketResponse()  # answers the client's pings itself
        await ws.prepare(request)
        conn = Connection(ticket, ws, time.monotonic())
        async with self._changed:
            self.connections.append(conn)
            self._changed.notify_all()
        live = sum(1 for c in self.connections if not c.closed)
        await ws.send_json({
            "type": "hello",
            "num_connections": live,
            "debug_info": {"host": "applink-lore-stand-in", "build_number": 1,
                           "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id},
        })
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    continue
                conn.received.append(data)
                if isinstance(data, dict) and "envelope_id" in data:
                    ack = Ack(str(data["envelope_id"]), data.get("payload"), time.monotonic())
                    async with self._changed:
                        self.acks.setdefault(ack.envelope_id, []).append(ack)
                        self._changed.notify_all()
        finally:
            async with self._changed:
                conn.closed = True
                self._changed.notify_all()
        return ws
