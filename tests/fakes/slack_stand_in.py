"""A loopback stand-in for the Slack Web API, as strict as Slack's method reference.

slack_sdk joins ``base_url`` and the method name with ``urljoin``, so point a client at
:attr:`SlackStandIn.api_url` (``http://127.0.0.1:<port>/api/``, trailing slash required):
``AsyncWebClient(token=..., base_url=stand_in.api_url)``.

Documented behaviour it follows (docs.slack.dev/reference/methods, /apis/web-api):

- ``GET`` or ``POST /api/<method>``; arguments from the query string, an
  ``application/x-www-form-urlencoded`` / ``multipart/form-data`` body, or an ``application/json``
  body. Array/object arguments (``blocks``, ``prompts``) arrive as URL-encoded JSON strings in
  forms. Unknown arguments are ignored. A body without a Content-Type -> ``missing_post_type``;
  another Content-Type -> ``invalid_post_type``; bad JSON -> ``invalid_json``. An unknown method
  -> HTTP 404 ``unknown_method``.
- Every answer is HTTP 200 with ``{"ok": false, "error": ...}`` on failure (except 429 and the
  unknown method), and carries ``X-OAuth-Scopes`` like Slack's.
- Auth: ``Authorization: Bearer <token>`` or a ``token`` argument in a form/query. JSON bodies
  must use the header (a ``token`` inside JSON is not read): otherwise ``not_authed``. Unknown
  token -> ``invalid_auth``; a revoked token (:meth:`SlackStandIn.revoke`) -> ``token_revoked``.
  Each token has scopes; a method needing a scope the token lacks -> ``missing_scope`` with
  ``needed`` and ``provided``.
- A missing required argument -> ``invalid_arguments`` with
  ``response_metadata.messages = ["[ERROR] missing required field: <name>"]``, except where a
  method documents its own error (chat.postMessage without ``channel`` -> ``channel_not_found``,
  without any content -> ``no_text``).
- ``auth.test``: ``url``, ``team``, ``user``, ``team_id``, ``user_id``, ``bot_id``,
  ``is_enterprise_install`` and, on Enterprise Grid, ``enterprise_id``.
- ``chat.postMessage`` (scope ``chat:write``): ``channel`` must exist (else
  ``channel_not_found``; a private channel or DM the bot is not in is also "not found") and the
  bot must be a member (else ``not_in_channel``; public channels are allowed without membership
  when the token has ``chat:write.public``); archived -> ``is_archived``; ``text``, ``blocks``,
  ``attachments`` or ``markdown_text`` required (``no_text``); ``markdown_text`` with ``text`` or
  ``blocks`` -> ``markdown_text_conflict``, over 12,000 characters -> ``msg_too_long``; ``text``
  over 40,000 characters -> ``msg_too_long`` (Slack's 2018 changelog says it *truncates* there
  instead: pass ``truncate_long_text=True`` to model that); ``blocks`` not a JSON array ->
  ``invalid_blocks_format``; Block Kit limits (see :mod:`tests.fakes.slack_blocks`) ->
  ``invalid_blocks`` with ``errors`` and ``response_metadata.messages``. Answers
  ``{"ok", "channel", "ts", "message"}``; ``ts`` strings ("1732412345.000100") strictly increase.
  Options such as ``unfurl_links`` / ``unfurl_media`` are not validated (Slack documents no
  error for them) but kept, like every argument, in :attr:`Message.args`
  (:attr:`Ephemeral.args` for chat.postEphemeral, whose reference lists no unfurl options).
- ``chat.update``: ``channel`` + ``ts`` must name a message (``message_not_found``) the bot posted
  (``cant_update_message``) and that is not streaming (``streaming_state_conflict``); needs
  ``text``/``blocks``/``markdown_text`` (``no_text``). Every edit is kept in
  :attr:`Message.edits`.
- ``chat.postEphemeral`` (``channel``, ``user``, text/blocks, ``thread_ts``): the user must be a
  member (``user_not_in_channel``), the bot too (``not_in_channel``). Answers ``message_ts``.
- ``chat.startStream`` (``channel``, ``thread_ts`` -- required, ``invalid_arguments`` without
  it -- ``markdown_text``, ``chunks``, ``recipient_team_id``, ``recipient_user_id``; the last two
  are required outside DMs: ``missing_recipient_team_id`` / ``missing_recipient_user_id``),
  ``chat.appendStream`` (``channel``, ``ts``, ``markdown_text`` or ``chunks``) and
  ``chat.stopStream`` (``channel``, ``ts``, optional ``markdown_text``, ``chunks``, ``blocks``,
  ``metadata``). ``markdown_text`` (with the ``markdown_text`` chunks of the same call) at most
  12,000 characters per call; chunks are ``markdown_text`` (``text``) or ``task_update``
  (``id``, ``title``, ``status`` pending/in_progress/complete/error), else ``invalid_chunks``.
  Only the app that started a stream appends to or stops it (``message_not_owned_by_app``);
  unknown ``ts`` -> ``message_not_found``; appending to / stopping a stopped stream ->
  ``message_not_in_streaming_state`` (a stream stops once); chat.update of a message still
  streaming -> ``streaming_state_conflict``. stopStream's ``blocks`` are shown below the
  streamed text, and it answers the final ``message``. :meth:`SlackStandIn.refuse_streaming`
  makes chat.startStream refuse a channel (``channel_type_not_supported`` by default), as Slack
  does where streaming is not offered. Sources: docs.slack.dev/reference/methods/chat.startStream,
  /chat.appendStream, /chat.stopStream, /chat.update (errors), the method specs mirrored in
  github.com/slack-ruby/slack-api-ref (methods/chat/*.json) and docs.slack.dev's chunk types
  (TaskUpdateChunk in the Node SDK reference).
- ``users.info`` (scope ``users:read``): ``user`` with ``id``, ``team_id``, ``name``, ``deleted``,
  ``is_bot``, ``is_restricted``, ``is_ultra_restricted``, ``profile`` -- ``profile.email`` only
  when the token has ``users:read.email`` -- and ``enterprise_user`` for Grid users. Unknown
  user, or one not visible to the workspace (other team, no shared enterprise or channel) ->
  ``user_not_found``.
- ``conversations.info`` (scope by channel type: ``channels:read``, ``groups:read``,
  ``im:read``, ``mpim:read``): ``is_channel``, ``is_group``, ``is_im``, ``is_mpim``,
  ``is_private``, ``is_archived``, ``is_shared``, ``is_ext_shared``, ``is_org_shared``,
  ``is_member``, ``context_team_id``; ``num_members`` only with ``include_num_members=true``;
  IMs carry ``user``.
- ``conversations.members``: ``limit`` (default 100, 1..1000, else ``invalid_limit``),
  ``cursor`` (opaque base64, a bad one -> ``invalid_cursor``), ``response_metadata.next_cursor``
  empty on the last page.
- ``assistant.threads.setStatus`` (``channel_id``, ``thread_ts``, ``status``; empty status
  clears; ``loading_messages`` at most 10), ``setSuggestedPrompts`` (``prompts`` of
  ``{title, message}``, optional ``title``), ``setTitle`` (``title``): unknown channel ->
  ``channel_not_found``, a ``thread_ts`` that is no message in the channel ->
  ``invalid_thread_ts``. A status is cleared when the bot posts in the thread.
- ``oauth.v2.access`` (the OAuth install's code exchange): client id/secret by HTTP Basic auth
  or form fields (``invalid_client_id``, ``bad_client_secret``), single-use ``code``
  (``invalid_code``), returns a new bot token with ``team``, ``bot_user_id``, ``authed_user``.
- Rate limits: HTTP 429, ``Retry-After: <seconds>``, body ``{"ok": false, "error":
  "ratelimited"}``. Scripted with :meth:`SlackStandIn.rate_limit_next`, or budgeted per method
  and workspace (per channel for chat.postMessage: 1 per second) after
  :meth:`SlackStandIn.enforce_rate_limits`. Bursts above the budget are not allowed (stricter
  than Slack's "short bursts allowed").

Not confirmed from the documentation (implemented from slack_sdk's signatures or best
knowledge): the exact wording of ``invalid_blocks`` reasons other than the length one; the error
for ``markdown_text`` over 12,000 characters in the streaming methods (``msg_too_long`` here);
tiers for chat.startStream (Tier 2 assumed, as documented for chat.stopStream; chat.appendStream
is documented as Tier 4), conversations.info (Tier 3), users.info and conversations.members
(Tier 4); that Slack keeps a stopped stream's ``blocks`` apart from its streamed text (here
``Message.text`` is the streamed text and ``Message.blocks`` the stop's blocks).

Test helpers: :meth:`add_workspace`, :meth:`add_token`, :meth:`add_user`, :meth:`add_channel`,
:meth:`add_message` (seed a user's message to reply to), :meth:`messages`, :meth:`ephemerals`,
:meth:`calls`, :meth:`thread_status`, :meth:`fail_next` (any error / status), :meth:`revoke`.
Every request is recorded (method, HTTP verb, headers, parsed arguments, arrival time, answer).
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import secrets
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.loopback import serving
from tests.fakes.slack_blocks import validate_blocks

MAX_TEXT = 40_000
MAX_MARKDOWN = 12_000
DEFAULT_SCOPES = frozenset(
    {
        "chat:write",
        "users:read",
        "channels:read",
        "groups:read",
        "im:read",
        "mpim:read",
        "assistant:write",
        "app_mentions:read",
        "im:history",
    }
)


@dataclass
class Workspace:
    team_id: str
    name: str = "Lore Test"
    domain: str = "lore-test"
    enterprise_id: str | None = None
    enterprise_name: str | None = None


@dataclass
class Token:
    value: str
    team_id: str
    user_id: str  # the bot user
    bot_id: str
    app_id: str = "A0LORE0001"
    scopes: frozenset[str] = DEFAULT_SCOPES
    revoked: bool = False


@dataclass
class User:
    id: str
    team_id: str
    name: str
    email: str | None = None
    real_name: str = ""
    deleted: bool = False
    is_bot: bool = False
    is_restricted: bool = False
    is_ultra_restricted: bool = False
    is_admin: bool = False


@dataclass
class Channel:
    id: str
    team_id: str
    name: str = ""
    members: list[str] = field(default_factory=list)
    is_im: bool = False
    is_mpim: bool = False
    is_private: bool = False
    is_archived: bool = False
    is_shared: bool = False
    is_ext_shared: bool = False
    is_org_shared: bool = False
    im_user: str | None = None  # the other party of a DM


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    user: str
    blocks: list[Any] | None = None
    thread_ts: str | None = None
    bot_id: str | None = None
    args: dict[str, Any] = field(default_factory=dict)  # what the poster sent, verbatim
    edits: list[dict[str, Any]] = field(default_factory=list)  # earlier versions, oldest first
    streaming: bool = False
    stream_chunks: list[Any] = field(default_factory=list)

    def as_json(self, team_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "message", "ts": self.ts, "text": self.text}
        out["user"] = self.user
        if self.bot_id:
            out["bot_id"] = self.bot_id
            out["app_id"] = "A0LORE0001"
        out["team"] = team_id
        if self.blocks is not None:
            out["blocks"] = self.blocks
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if self.edits:
            out["edited"] = {"user": self.user, "ts": self.ts}
        return out


@dataclass
class Ephemeral:
    channel: str
    user: str
    message_ts: str
    text: str
    blocks: list[Any] | None
    thread_ts: str | None
    args: dict[str, Any] = field(default_factory=dict)  # what the poster sent, verbatim


@dataclass
class Budget:
    calls: int
    per_seconds: float
    per_channel: bool = False


# Slack's tiers: 1 ~1/min, 2 ~20/min, 3 ~50/min, 4 ~100/min; chat.postMessage is "special":
# about one message per second per channel.
DEFAULT_BUDGETS: dict[str, Budget] = {
    "auth.test": Budget(100, 60.0),
    "chat.postMessage": Budget(1, 1.0, per_channel=True),
    "chat.update": Budget(50, 60.0),
    "chat.postEphemeral": Budget(100, 60.0),
    "chat.startStream": Budget(20, 60.0),
    "chat.appendStream": Budget(100, 60.0),
    "chat.stopStream": Budget(20, 60.0),
    "users.info": Budget(100, 60.0),
    "conversations.info": Budget(50, 60.0),
    "conversations.members": Budget(100, 60.0),
    "assistant.threads.setStatus": Budget(100, 60.0),
    "assistant.threads.setSuggestedPrompts": Budget(20, 60.0),
    "assistant.threads.setTitle": Budget(20, 60.0),
}


@dataclass(frozen=True)
class ScriptedFailure:
    error: str = "internal_error"
    status: int = 200
    retry_after: int | None = None


@dataclass(frozen=True)
class RecordedCall:
    method: str
    http_method: str
    headers: dict[str, str]
    args: dict[str, Any]
    content_type: str
    at: float  # time.monotonic() on arrival
    status: int = 0
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))


class _Fail(Exception):
    def __init__(
        self,
        error: str,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(error)
        self.error = error
        self.status = status
        self.headers = dict(headers or {})
        self.extra = extra


TASK_STATUSES = frozenset({"pending", "in_progress", "complete", "error"})


def _valid_chunk(chunk: Any) -> bool:
    if not isinstance(chunk, dict):
        return False
    if chunk.get("type") == "markdown_text":
        return isinstance(chunk.get("text"), str)
    if chunk.get("type") == "task_update":
        return (isinstance(chunk.get("id"), str) and isinstance(chunk.get("title"), str)
                and chunk.get("status") in TASK_STATUSES)
    return chunk.get("type") == "plan_update" and isinstance(chunk.get("title"), str)


def _missing(name: str) -> _Fail:
    return _Fail(
        "invalid_arguments",
        response_metadata={"messages": [f"[ERROR] missing required field: {name}"]},
    )


@dataclass
class _Ctx:
    token: Token
    args: dict[str, Any]

    def get(self, name: str) -> Any:
        value = self.args.get(name)
        return None if value == "" else value

    def require(self, name: str) -> Any:
        value = self.get(name)
        if value is None:
            raise _missing(name)
        return value

    def string(self, name: str) -> str | None:
        value = self.get(name)
        return None if value is None else str(value)

    def flag(self, name: str) -> bool:
        value = self.get(name)
        if isinstance(value, bool):
            return value
        return str(value).lower() in ("1", "true") if value is not None else False

    def json_arg(self, name: str, bad_format: str) -> Any:
        value = self.get(name)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise _Fail(bad_format) from None
        return value


@dataclass
class SlackStandIn:
    truncate_long_text: bool = False
    port: int = 0
    workspaces: dict[str, Workspace] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)
    channels: dict[str, Channel] = field(default_factory=dict)
    requests: list[RecordedCall] = field(default_factory=list)
    _messages: dict[str, list[Message]] = field(default_factory=lambda: defaultdict(list))
    _ephemerals: list[Ephemeral] = field(default_factory=list)
    _oauth_apps: dict[str, str] = field(default_factory=dict)  # client id -> client secret
    _codes: dict[str, tuple[str, str, frozenset[str]]] = field(default_factory=dict)
    _statuses: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    _cleared: set[tuple[str, str]] = field(default_factory=set)
    _prompts: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    _titles: dict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    _failures: dict[str, deque[ScriptedFailure]] = field(default_factory=lambda: defaultdict(deque))
    _budgets: dict[str, Budget] = field(default_factory=dict)
    _windows: dict[tuple[str, ...], deque[float]] = field(
        default_factory=lambda: defaultdict(deque)
    )
    _last_ts_us: int = 0
    _no_streaming: dict[str, str] = field(default_factory=dict)  # channel -> error

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """slack_sdk's ``base_url``: it ``urljoin``s method names onto it."""
        return f"{self.base_url}/api/"

    @classmethod
    @asynccontextmanager
    async def running(
        cls,
        *,
        team_id: str = "T0LORE0001",
        bot_token: str = "xoxb-lore-test",
        bot_user_id: str = "U0LOREBOT",
        bot_id: str = "B0LOREBOT",
        enterprise_id: str | None = None,
        scopes: Iterable[str] = DEFAULT_SCOPES,
        truncate_long_text: bool = False,
    ) -> AsyncIterator[SlackStandIn]:
        """A stand-in with one workspace, its bot user and a bot token for it."""
        stand_in = cls(truncate_long_text=truncate_long_text)
        stand_in.add_workspace(team_id, enterprise_id=enterprise_id)
        stand_in.add_user(bot_user_id, team_id=team_id, name="lore", is_bot=True)
        stand_in.add_token(
            bot_token, team_id=team_id, user_id=bot_user_id, bot_id=bot_id, scopes=scopes
        )
        app = web.Application()
        app.router.add_route("GET", "/api/{method}", stand_in._handle)
        app.router.add_route("POST", "/api/{method}", stand_in._handle)
        async with serving(app) as stand_in.port:
            yield stand_in

    # -- state helpers for tests -----------------------------------------------------------

    def add_workspace(
        self,
        team_id: str,
        *,
        name: str = "Lore Test",
        enterprise_id: str | None = None,
        enterprise_name: str | None = None,
    ) -> Workspace:
        ws = Workspace(
            team_id,
            name=name,
            domain=name.lower().replace(" ", "-"),
            enterprise_id=enterprise_id,
            enterprise_name=enterprise_name or (f"{name} Org" if enterprise_id else None),
        )
        self.workspaces[team_id] = ws
        return ws

    def add_token(
        self,
        value: str,
        *,
        team_id: str,
        user_id: str,
        bot_id: str,
        scopes: Iterable[str] = DEFAULT_SCOPES,
    ) -> Token:
        token = Token(value, team_id, user_id, bot_id, scopes=frozenset(scopes))
        self.tokens[value] = token
        return token

    def register_oauth_app(self, client_id: str, client_secret: str) -> None:
        self._oauth_apps[client_id] = client_secret

    def grant_code(self, code: str, *, team_id: str, installer: str, scopes: Iterable[str]) -> None:
        """What Slack does when an admin approves the install: a single-use ``code`` that
        ``oauth.v2.access`` exchanges for a new bot token of ``team_id``."""
        self._codes[code] = (team_id, installer, frozenset(scopes))

    def _oauth_v2_access(self, request: web.Request, args: dict[str, Any]) -> dict[str, Any]:
        """``oauth.v2.access``: client id and secret by HTTP Basic auth or form fields; a code is
        single use (``invalid_code`` after); a wrong client -> ``invalid_client_id`` /
        ``bad_client_secret``."""
        client_id, client_secret = args.get("client_id"), args.get("client_secret")
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(auth[6:]).decode().partition(":")
        if client_id not in self._oauth_apps:
            return {"ok": False, "error": "invalid_client_id"}
        if self._oauth_apps[client_id] != client_secret:
            return {"ok": False, "error": "bad_client_secret"}
        grant = self._codes.pop(str(args.get("code", "")), None)
        if grant is None:
            return {"ok": False, "error": "invalid_code"}
        team_id, installer, scopes = grant
        bot_user = f"U0BOT{team_id[-4:]}"
        value = f"xoxb-{team_id.lower()}-{secrets.token_hex(8)}"
        self.add_token(value, team_id=team_id, user_id=bot_user, bot_id=f"B0BOT{team_id[-4:]}", scopes=scopes)
        if bot_user not in self.users:
            self.add_user(bot_user, team_id=team_id, is_bot=True)
        return {
            "ok": True, "access_token": value, "token_type": "bot", "scope": ",".join(sorted(scopes)),
            "bot_user_id": bot_user, "app_id": "A0LORE0001",
            "team": {"id": team_id, "name": self.workspaces[team_id].name if team_id in self.workspaces else team_id},
            "enterprise": None, "is_enterprise_install": False, "authed_user": {"id": installer},
        }

    def set_scopes(self, token: str, scopes: Iterable[str]) -> None:
        self.tokens[token].scopes = frozenset(scopes)

    def revoke(self, token: str) -> None:
        self.tokens[token].revoked = True

    def add_user(
        self,
        user_id: str,
        *,
        team_id: str | None = None,
        name: str | None = None,
        email: str | None = None,
        real_name: str = "",
        deleted: bool = False,
        is_bot: bool = False,
        is_restricted: bool = False,
        is_ultra_restricted: bool = False,
        is_admin: bool = False,
    ) -> User:
        team = team_id or next(iter(self.workspaces))
        user = User(
            user_id,
            team,
            name or user_id.lower(),
            email=email,
            real_name=real_name or (name or user_id),
            deleted=deleted,
            is_bot=is_bot,
            is_restricted=is_restricted,
            is_ultra_restricted=is_ultra_restricted,
            is_admin=is_admin,
        )
        self.users[user_id] = user
        return user

    def add_channel(
        self,
        channel_id: str,
        *,
        name: str = "",
        members: Iterable[str] = (),
        team_id: str | None = None,
        bot_is_member: bool = True,
        is_im: bool = False,
        is_mpim: bool = False,
        is_private: bool = False,
        is_archived: bool = False,
        is_shared: bool = False,
        is_ext_shared: bool = False,
        is_org_shared: bool = False,
    ) -> Channel:
        """A conversation. ``bot_is_member`` adds every known bot user of the team to it."""
        team = team_id or next(iter(self.workspaces))
        member_list = list(members)
        if bot_is_member:
            for token in self.tokens.values():
                if token.team_id == team and token.user_id not in member_list:
                    member_list.append(token.user_id)
        im_user = None
        if is_im:
            humans = [m for m in member_list if not self.users.get(m, User(m, "", "")).is_bot]
            im_user = humans[0] if humans else None
        channel = Channel(
            channel_id,
            team,
            name=name or ("" if is_im else channel_id.lower()),
            members=member_list,
            is_im=is_im,
            is_mpim=is_mpim,
            is_private=is_private or is_im or is_mpim,
            is_archived=is_archived,
            is_shared=is_shared or is_ext_shared or is_org_shared,
            is_ext_shared=is_ext_shared,
            is_org_shared=is_org_shared,
            im_user=im_user,
        )
        self.channels[channel_id] = channel
        return channel

    def add_message(
        self, channel: str, text: str, *, user: str, thread_ts: str | None = None
    ) -> Message:
        """Seed a message someone else posted (e.g. the question the bot answers)."""
        msg = Message(channel, self._next_ts(), text, user, thread_ts=thread_ts)
        self._messages[channel].append(msg)
        return msg

    def messages(self, channel: str, *, thread_ts: str | None = None) -> list[Message]:
        """Messages in ``channel`` in posting order; with ``thread_ts``, that thread's replies."""
        msgs = self._messages.get(channel, [])
        if thread_ts is None:
            return list(msgs)
        return [m for m in msgs if m.thread_ts == thread_ts and m.ts != thread_ts]

    def ephemerals(self, user: str) -> list[Ephemeral]:
        return [e for e in self._ephemerals if e.user == user]

    def calls(self, method: str | None = None) -> list[RecordedCall]:
        return [c for c in self.requests if method is None or c.method == method]

    def thread_status(self, channel_id: str, thread_ts: str) -> str:
        """The assistant status currently shown in a thread ("" when none)."""
        key = (channel_id, thread_ts)
        if key in self._cleared or not self._statuses.get(key):
            return ""
        return self._statuses[key][-1]

    def status_history(self, channel_id: str, thread_ts: str) -> list[str]:
        return list(self._statuses.get((channel_id, thread_ts), []))

    def suggested_prompts(self, channel_id: str, thread_ts: str) -> list[dict[str, Any]]:
        return list(self._prompts.get((channel_id, thread_ts), []))

    def thread_titles(self, channel_id: str, thread_ts: str) -> list[str]:
        return list(self._titles.get((channel_id, thread_ts), []))

    # -- scripted failures and rate limits ----------------------------------------------------

    def fail_next(
        self,
        method: str,
        error: str = "internal_error",
        *,
        status: int = 200,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """The next ``times`` calls of ``method`` fail (after authentication) with ``error``."""
        self._failures[method].extend(
            ScriptedFailure(error, status, retry_after) for _ in range(times)
        )

    def refuse_streaming(self, channel: str, error: str = "channel_type_not_supported") -> None:
        """chat.startStream in ``channel`` fails with ``error`` from now on."""
        self._no_streaming[channel] = error

    def rate_limit_next(self, method: str, retry_after: int = 1, *, times: int = 1) -> None:
        self.fail_next(method, "ratelimited", status=429, retry_after=retry_after, times=times)

    def enforce_rate_limits(self, budgets: Mapping[str, Budget] | None = None) -> None:
        """Turn on per-method budgets (Slack's tiers by default; override some with ``budgets``)."""
        self._budgets = {**DEFAULT_BUDGETS, **(budgets or {})}

    # -- the API ---------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        at = time.monotonic()
        content_type = request.headers.get("Content-Type", "")
        args: dict[str, Any] = dict(request.query)
        token: Token | None = None
        status, body, headers = 200, {"ok": False, "error": "internal_error"}, {}
        try:
            body_token = await self._read_args(request, args)
            if method == "oauth.v2.access":  # client credentials, not a token
                body = self._oauth_v2_access(request, args)
                self.requests.append(RecordedCall(method, request.method, {}, {k: v for k, v in args.items() if k != "client_secret"}, content_type, at, 200, body))
                return web.json_response(body)
            token = self._authenticate(request, body_token)
            handler = self._handlers().get(method)
            if handler is None:
                raise _Fail("unknown_method", status=404, req_method=method)
            self._scripted(method)
            self._rate_limit(method, token, args)
            body = handler(_Ctx(token, args))
        except _Fail as fail:
            status, headers = fail.status, fail.headers
            body = {"ok": False, "error": fail.error, **fail.extra}
        if token is not None:
            headers["X-OAuth-Scopes"] = ",".join(sorted(token.scopes))
        safe_headers = {
            k: ("(redacted)" if k.lower() == "authorization" else v)
            for k, v in request.headers.items()
        }
        self.requests.append(
            RecordedCall(method, request.method, safe_headers, args, content_type, at, status, body)
        )
        return web.json_response(body, status=status, headers=headers)

    async def _read_args(self, request: web.Request, args: dict[str, Any]) -> str | None:
        """Merge the body's arguments into ``args``; return a ``token`` argument if allowed."""
        token: str | None = args.pop("token", None)
        if request.method != "POST" or not request.can_read_body:
            return token
        ctype = request.content_type
        raw = await request.read()
        if not raw:
            return token
        if "Content-Type" not in request.headers:
            raise _Fail("missing_post_type")
        if ctype == "application/json":
            try:
                parsed = json.loads(raw)
            except ValueError:
                raise _Fail("invalid_json") from None
            if not isinstance(parsed, dict):
                raise _Fail("invalid_json")
            parsed.pop("token", None)
            args.update(parsed)
            return None  # JSON callers must send the token as a bearer header, per Slack

        if ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, str):
                    args[key] = value
            form_token: str | None = args.pop("token", None)
            return form_token or token
        if ctype == "text/plain":
            return token
        raise _Fail("invalid_post_type")

    def _authenticate(self, request: web.Request, body_token: str | None) -> Token:
        auth = request.headers.get("Authorization", "")
        value = auth[len("Bearer ") :].strip() if auth.startswith("Bearer ") else body_token
        if not value:
            raise _Fail("not_authed")
        token = self.tokens.get(value)
        if token is None:
            raise _Fail("invalid_auth")
        if token.revoked:
            raise _Fail("token_revoked")
        return token

    def _scripted(self, method: str) -> None:
        queue = self._failures.get(method)
        if not queue:
            return
        failure = queue.popleft()
        headers = {}
        if failure.retry_after is not None:
            headers["Retry-After"] = str(failure.retry_after)
        raise _Fail(failure.error, status=failure.status, headers=headers)

    def _rate_limit(self, method: str, token: Token, args: Mapping[str, Any]) -> None:
        budget = self._budgets.get(method)
        if budget is None:
            return
        key: tuple[str, ...] = (method, token.team_id)
        if budget.per_channel:
            key += (str(args.get("channel", "")),)
        window = self._windows[key]
        now = time.monotonic()
        while window and now - window[0] >= budget.per_seconds:
            window.popleft()
        if len(window) >= budget.calls:
            wait = max(1, math.ceil(budget.per_seconds - (now - window[0])))
            raise _Fail("ratelimited", status=429, headers={"Retry-After": str(wait)})
        window.append(now)

    def _handlers(self) -> dict[str, Any]:
        return {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "chat.startStream": self._start_stream,
            "chat.appendStream": self._append_stream,
            "chat.stopStream": self._stop_stream,
            "users.info": self._users_info,
            "conversations.info": self._conversations_info,
            "conversations.members": self._conversations_members,
            "assistant.threads.setStatus": self._set_status,
            "assistant.threads.setSuggestedPrompts": self._set_prompts,
            "assistant.threads.setTitle": self._set_title,
        }

    # -- shared checks ---------------------------------------------------------------------

    @staticmethod
    def _need_scope(ctx: _Ctx, *any_of: str) -> None:
        if not ctx.token.scopes.intersection(any_of):
            raise _Fail(
                "missing_scope",
                needed=",".join(any_of),
                provided=",".join(sorted(ctx.token.scopes)),
            )

    def _visible_channel(self, ctx: _Ctx, channel_id: str | None) -> Channel:
        channel = self.channels.get(channel_id or "")
        if channel is None:
            raise _Fail("channel_not_found")
        token = ctx.token
        same_org = channel.team_id == token.team_id or self._same_enterprise(
            channel.team_id, token.team_id
        )
        member = token.user_id in channel.members
        if channel.is_private and not member:
            raise _Fail("channel_not_found")  # private conversations are invisible to outsiders
        if not same_org and not member:
            raise _Fail("channel_not_found")
        return channel

    def _same_enterprise(self, team_a: str, team_b: str) -> bool:
        a, b = self.workspaces.get(team_a), self.workspaces.get(team_b)
        return bool(a and b and a.enterprise_id and a.enterprise_id == b.enterprise_id)

    def _postable_channel(self, ctx: _Ctx, channel_id: str | None) -> Channel:
        channel = self._visible_channel(ctx, channel_id)
        if channel.is_archived:
            raise _Fail("is_archived")
        if ctx.token.user_id not in channel.members and not (
            not channel.is_private and "chat:write.public" in ctx.token.scopes
        ):
            raise _Fail("not_in_channel")
        return channel

    def _content(self, ctx: _Ctx) -> tuple[str, list[Any] | None]:
        text = ctx.string("text")
        markdown = ctx.string("markdown_text")
        blocks = ctx.json_arg("blocks", "invalid_blocks_format")
        attachments = ctx.get("attachments")
        if markdown is not None:
            if text is not None or blocks is not None:
                raise _Fail("markdown_text_conflict")
            if len(markdown) > MAX_MARKDOWN:
                raise _Fail("msg_too_long")
            return markdown, None
        if text is None and blocks is None and attachments is None:
            raise _Fail("no_text")
        if blocks is not None:
            if not isinstance(blocks, list):
                raise _Fail("invalid_blocks_format")
            problems = validate_blocks(blocks)
            if problems:
                raise _Fail(
                    "invalid_blocks",
                    errors=problems,
                    response_metadata={"messages": [f"[ERROR] {p}" for p in problems]},
                )
        text = text or ""
        if len(text) > MAX_TEXT:
            if not self.truncate_long_text:
                raise _Fail("msg_too_long")
            text = text[:MAX_TEXT]
        return text, blocks

    def _next_ts(self) -> str:
        now_us = int(time.time() * 1_000_000)
        self._last_ts_us = max(now_us, self._last_ts_us + 1)
        return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"

    def _find(self, channel: str, ts: str) -> Message:
        for msg in self._messages.get(channel, []):
            if msg.ts == ts:
                return msg
        raise _Fail("message_not_found")

    def _bot_posted(self, channel: str, thread_ts: str | None) -> None:
        if thread_ts:
            self._cleared.add((channel, thread_ts))

    # -- methods ---------------------------------------------------------------------------

    def _auth_test(self, ctx: _Ctx) -> dict[str, Any]:
        ws = self.workspaces[ctx.token.team_id]
        user = self.users.get(ctx.token.user_id)
        body: dict[str, Any] = {
            "ok": True,
            "url": f"https://{ws.domain}.slack.com/",
            "team": ws.name,
            "user": user.name if user else ctx.token.user_id.lower(),
            "team_id": ws.team_id,
            "user_id": ctx.token.user_id,
            "bot_id": ctx.token.bot_id,
            "is_enterprise_install": False,
        }
        if ws.enterprise_id:
            body["enterprise_id"] = ws.enterprise_id
        return body

    def _post_message(self, ctx: _Ctx) -> dict[str, Any]:
        self._need_scope(ctx, "chat:write")
        if ctx.get("channel") is None:
            raise _Fail("channel_not_found")
        channel = self._postable_channel(ctx, ctx.string("channel"))
        text, blocks = self._content(ctx)
        thread_ts = ctx.string("thread_ts")
        msg = Message(
            channel.id,
            self._next_ts(),
            text,
            ctx.token.user_id,
            blocks=blocks,
            thread_ts=thread_ts,
            bot_id=ctx.token.bot_id,
            args=dict(ctx.args),
        )
        self._messages[channel.id].append(msg)
        self._bot_posted(channel.id, thread_ts)
        return {
            "ok": True,
            "channel": channel.id,
            "ts": msg.ts,
            "message": msg.as_json(channel.team_id),
        }

    def _update(self, ctx: _Ctx) -> dict[str, Any]:
        self._need_scope(ctx, "chat:write")
        channel = self._visible_channel(ctx, ctx.string("channel"))
        ts = str(ctx.require("ts"))
        msg = self._find(channel.id, ts)
        if msg.user != ctx.token.user_id:
            raise _Fail("cant_update_message")
        if msg.streaming:
            raise _Fail("streaming_state_conflict")
        text, blocks = self._content(ctx)
        msg.edits.append({"text": msg.text, "blocks": msg.blocks, "args": msg.args})
        msg.text, msg.args = text, dict(ctx.args)
        if blocks is not None:
            msg.blocks = blocks
        return {
            "ok": True,
            "channel": channel.id,
            "ts": msg.ts,
            "text": msg.text,
            "message": msg.as_json(channel.team_id),
        }

    def _post_ephemeral(self, ctx: _Ctx) -> dict[str, Any]:
        self._need_scope(ctx, "chat:write")
        if ctx.get("channel") is None:
            raise _Fail("channel_not_found")
        user = str(ctx.require("user"))
        channel = self._postable_channel(ctx, ctx.string("channel"))
        if user not in channel.members:
            raise _Fail("user_not_in_channel")
        text, blocks = self._content(ctx)
        ts = self._next_ts()
        self._ephemerals.append(
            Ephemeral(channel.id, user, ts, text, blocks, ctx.string("thread_ts"), dict(ctx.args))
        )
        return {"ok": True, "message_ts": ts}

    def _markdown(self, ctx: _Ctx) -> str:
        markdown = ctx.string("markdown_text") or ""
        chunks = ctx.json_arg("chunks", "invalid_chunks")
        if chunks is not None:
            if not isinstance(chunks, list) or not all(_valid_chunk(c) for c in chunks):
                raise _Fail("invalid_chunks")
            for chunk in chunks:
                if chunk["type"] == "markdown_text":
                    markdown += chunk["text"]
        if len(markdown) > MAX_MARKDOWN:
            raise _Fail("msg_too_long")
        return markdown

    def _start_stream(self, ctx: _Ctx) -> dict[str, Any]:
        self._need_scope(ctx, "chat:write")
        if ctx.get("channel") is None:
            raise _Fail("channel_not_found")
        channel = self._postable_channel(ctx, ctx.string("channel"))
        thread_ts = str(ctx.require("thread_ts"))
        if channel.id in self._no_streaming:
            raise _Fail(self._no_streaming[channel.id])
        if not channel.is_im:
            if ctx.get("recipient_team_id") is None:
                raise _Fail("missing_recipient_team_id")
            if ctx.get("recipient_user_id") is None:
                raise _Fail("missing_recipient_user_id")
            if ctx.string("recipient_user_id") not in self.users:
                raise _Fail("user_not_found")
        text = self._markdown(ctx)
        msg = Message(
            channel.id,
            self._next_ts(),
            text,
            ctx.token.user_id,
            thread_ts=thread_ts,
            bot_id=ctx.token.bot_id,
            args=dict(ctx.args),
            streaming=True,
        )
        self._messages[channel.id].append(msg)
        self._bot_posted(channel.id, thread_ts)
        return {"ok": True, "channel": channel.id, "ts": msg.ts}

    def _streaming_message(self, ctx: _Ctx) -> tuple[Channel, Message]:
        if ctx.get("channel") is None:
            raise _Fail("channel_not_found")
        channel = self._postable_channel(ctx, ctx.string("channel"))
        msg = self._find(channel.id, str(ctx.require("ts")))
        if msg.bot_id != ctx.token.bot_id:
            raise _Fail("message_not_owned_by_app")
        if not msg.streaming:
            raise _Fail("message_not_in_streaming_state")
        return channel, msg

    def _append_stream(self, ctx: _Ctx) -> dict[str, Any]:
        self._need_scope(ctx, "chat:write")
        channel, msg = self._streaming_message(ctx)
        if ctx.get("markdown_text") is None and ctx.get("chunks") is None:
            raise _missing("markdown_text")
        piece = self._markdown(ctx)
        msg.text += piece
        msg.stream_chunks.append(piece)
        return {"ok": True, "channel": channel.id, "ts": msg.ts}

    def _stop_stream(self, ctx: _Ctx) -> dict[str, Any]:
        self._need_scope(ctx, "chat:write")
        channel, msg = self._streaming_message(ctx)
        piece = self._markdown(ctx)
        blocks = ctx.json_arg("blocks", "invalid_blocks_format")
        if blocks is not None:
            problems = validate_blocks(blocks)
            if problems:
                raise _Fail(
                    "invalid_blocks",
                    errors=problems,
                    response_metadata={"messages": [f"[ERROR] {p}" for p in problems]},
                )
            msg.blocks = blocks
        if piece:
            msg.text += piece
            msg.stream_chunks.append(piece)
        msg.streaming = False
        message = msg.as_json(channel.team_id)
        message["subtype"] = "bot_message"
        return {"ok": True, "channel": channel.id, "ts": msg.ts, "message": message}

    def _user_visible(self, ctx: _Ctx, user: User) -> bool:
        if user.team_id == ctx.token.team_id or self._same_enterprise(
            user.team_id, ctx.token.team_id
        ):
            return True
        return any(
            user.id in c.members and ctx.token.user_id in c.members for c in self.channels.values()
        )

    def _users_info(self, ctx: _Ctx) -> dict[str, Any]:
        self._need_scope(ctx, "users:read")
        user_id = ctx.string("user")
        if user_id is None:
            raise _Fail("user_not_found")
        user = self.users.get(user_id)
        if user is None or not self._user_visible(ctx, user):
            raise _Fail("user_not_found")
        ws = self.workspaces.get(user.team_id)
        profile: dict[str, Any] = {
            "real_name": user.real_name,
            "display_name": user.name,
            "team": user.team_id,
        }
        if user.email and "users:read.email" in ctx.token.scopes:
            profile["email"] = user.email
        body: dict[str, Any] = {
            "id": user.id,
            "team_id": user.team_id,
            "name": user.name,
            "real_name": user.real_name,
            "deleted": user.deleted,
            "is_bot": user.is_bot,
            "is_app_user": False,
            "is_admin": user.is_admin,
            "is_owner": False,
            "is_restricted": user.is_restricted,
            "is_ultra_restricted": user.is_ultra_restricted,
            "profile": profile,
            "updated": 1700000000,
        }
        if ws and ws.enterprise_id:
            body["enterprise_user"] = {
                "id": user.id,
                "enterprise_id": ws.enterprise_id,
                "enterprise_name": ws.enterprise_name,
                "is_admin": user.is_admin,
                "is_owner": False,
                "teams": [user.team_id],
            }
        return {"ok": True, "user": body}

    def _channel_scope(self, ctx: _Ctx, channel: Channel) -> None:
        if channel.is_im:
            self._need_scope(ctx, "im:read")
        elif channel.is_mpim:
            self._need_scope(ctx, "mpim:read")
        elif channel.is_private:
            self._need_scope(ctx, "groups:read")
        else:
            self._need_scope(ctx, "channels:read")

    def _conversations_info(self, ctx: _Ctx) -> dict[str, Any]:
        channel = self._visible_channel(ctx, ctx.string("channel"))
        self._channel_scope(ctx, channel)
        body: dict[str, Any] = {
            "id": channel.id,
            "created": 1700000000,
            "is_channel": not (channel.is_im or channel.is_mpim or channel.is_private),
            "is_group": channel.is_private and not (channel.is_im or channel.is_mpim),
            "is_im": channel.is_im,
            "is_mpim": channel.is_mpim,
            "is_private": channel.is_private,
            "is_archived": channel.is_archived,
            "is_general": False,
            "is_shared": channel.is_shared,
            "is_ext_shared": channel.is_ext_shared,
            "is_org_shared": channel.is_org_shared,
            "is_member": ctx.token.user_id in channel.members,
            "context_team_id": channel.team_id,
        }
        if channel.is_im:
            body["user"] = channel.im_user
        else:
            body["name"] = channel.name
            body["name_normalized"] = channel.name
        if ctx.flag("include_num_members") and not channel.is_im:
            body["num_members"] = len(channel.members)
        return {"ok": True, "channel": body}

    def _conversations_members(self, ctx: _Ctx) -> dict[str, Any]:
        channel = self._visible_channel(ctx, ctx.string("channel"))
        self._channel_scope(ctx, channel)
        raw_limit = ctx.get("limit")
        try:
            limit = 100 if raw_limit is None else int(raw_limit)
        except (TypeError, ValueError):
            raise _Fail("invalid_limit") from None
        if not 1 <= limit <= 1000:
            raise _Fail("invalid_limit")
        start = 0
        cursor = ctx.string("cursor")
        if cursor:
            try:
                decoded = base64.b64decode(cursor, validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                raise _Fail("invalid_cursor") from None
            if not decoded.startswith("user:") or decoded[5:] not in channel.members:
                raise _Fail("invalid_cursor")
            start = channel.members.index(decoded[5:])
        page = channel.members[start : start + limit]
        rest = channel.members[start + limit :]
        next_cursor = base64.b64encode(f"user:{rest[0]}".encode()).decode() if rest else ""
        return {"ok": True, "members": page, "response_metadata": {"next_cursor": next_cursor}}

    def _assistant_thread(self, ctx: _Ctx) -> tuple[str, str]:
        channel_id = ctx.string("channel_id")
        if channel_id is None:
            raise _missing("channel_id")
        thread_ts = ctx.string("thread_ts")
        if thread_ts is None:
            raise _missing("thread_ts")
        channel = self.channels.get(channel_id)
        if channel is None or ctx.token.user_id not in channel.members:
            raise _Fail("channel_not_found")
        if not any(m.ts == thread_ts for m in self._messages.get(channel_id, [])):
            raise _Fail("invalid_thread_ts", detail="Thread not found")
        return channel_id, thread_ts

    def _set_status(self, ctx: _Ctx) -> dict[str, Any]:
        self._need_scope(ctx, "chat:write", "assistant:write")
        key = self._assistant_thread(ctx)
        if "status" not in ctx.args:
            raise _missing("status")
        loading = ctx.json_arg("loading_messages", "invalid_arguments")
        if loading is not None and (not isinstance(loading, list) or len(loading) > 10):
            raise _Fail(
                "invalid_arguments",
                response_metadata={
                    "messages": [
                        "[ERROR] no more than 10 items allowed [json-pointer:/loading_messages]"
                    ]
                },
            )
        status = str(ctx.args["status"])
        self._statuses[key].append(status)
        if status:
            self._cleared.discard(key)
        else:
            self._cleared.add(key)
        return {"ok": True}

    def _set_prompts(self, ctx: _Ctx) -> dict[str, Any]:
        self._need_scope(ctx, "chat:write", "assistant:write")
        key = self._assistant_thread(ctx)
        prompts = ctx.json_arg("prompts", "invalid_arguments")
        if prompts is None:
            raise _missing("prompts")
        if not isinstance(prompts, list) or not all(
            isinstance(p, dict)
            and isinstance(p.get("title"), str)
            and isinstance(p.get("message"), str)
            for p in prompts
        ):
            raise _Fail(
                "invalid_arguments",
                response_metadata={"messages": ["[ERROR] each prompt needs a title and a message"]},
            )
        self._prompts[key] = prompts
        return {"ok": True}

    def _set_title(self, ctx: _Ctx) -> dict[str, Any]:
        self._need_scope(ctx, "chat:write", "assistant:write")
        key = self._assistant_thread(ctx)
        self._titles[key].append(str(ctx.require("title")))
        return {"ok": True}
