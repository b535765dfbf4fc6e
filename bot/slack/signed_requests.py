"""Rule: a Slack HTTP request is checked against its signature, on the raw bytes, before anything
parses it, and no request body is ever logged (its size and a SHA-256 prefix stand for it).

Why Lore checks signatures itself rather than leaving it to bolt's middleware: bolt's aiohttp
adapter parses the body while building its request, before any middleware runs, so an unsigned
body that was not JSON (or a JSON array, or a form with a broken ``payload``) raised out of the
route as a 500 with a traceback; slack_sdk's verifier calls ``int()`` on the timestamp header (a
500 for ``abc``); and bolt logs every body whose signature fails, in full, at INFO level.

Slack's scheme (docs.slack.dev/authentication/verifying-requests-from-slack): HMAC-SHA256 of
``v0:{X-Slack-Request-Timestamp}:{raw body}`` with the app's signing secret, sent hex-encoded as
``X-Slack-Signature: v0=<hex>``; a timestamp more than five minutes off is a possible replay.

Answers: a missing, malformed, wrong or stale signature -> 401; a signed body bolt cannot take
(not UTF-8, not a JSON object, a form whose ``payload`` is not a JSON object, another content
type) -> 400; a body over the server's ``client_max_size`` -> 413 from aiohttp while reading it.
The body is parsed here, once, and handed to bolt as a dict: bolt's own parser takes any form
whose text contains the word "payload" for an interactivity payload, so `/lore what is the
payload limit?` reached no listener (404, and the asker saw a failed command).

The one unsigned request answered 200 is Slack's certificate probe (a form of ``ssl_check=1``),
which Slack does not promise to sign; bolt answers it the same way, and it reaches no listener.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.request.async_request import AsyncBoltRequest

log = logging.getLogger("lore.slack")

MAX_SKEW_SECONDS = 5 * 60
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # ASCII digits: int() would also take " 1", "+1", "1_0", "١"
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

OnRefused = Callable[[str, str | None], Awaitable[object]]

UNAUTHORIZED = {"error": "invalid request signature"}
BAD_REQUEST = {"error": "the signed body is not a Slack payload"}


def fingerprint(body: bytes) -> dict[str, Any]:
    """What the logs say about a body instead of its content."""
    return {"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()[:16]}


def signature_problem(secret: str | Sequence[str], body: bytes, timestamp: str | None, signature: str | None,
                      now: float | None = None) -> str | None:
    """None when Slack signed ``body`` with ``secret`` (or one of several, during a rotation),
    else a short reason (for the log, never for the caller)."""
    if timestamp is None or signature is None:
        return "missing signature headers"
    if not _TIMESTAMP.fullmatch(timestamp):
        return "malformed timestamp"
    if abs((time.time() if now is None else now) - int(timestamp)) > MAX_SKEW_SECONDS:
        return "stale timestamp"
    if not _SIGNATURE.fullmatch(signature):
        return "malformed signature"
    base = b"v0:" + timestamp.encode("ascii") + b":" + body
    for one in (secret,) if isinstance(secret, str) else secret:
        expected = "v0=" + hmac.new(one.encode(), base, hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, signature):
            return None
    return "signature mismatch"


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def parse_body(text: str, content_type: str) -> dict[str, Any] | str:
    """The payload of a kind Slack sends (a JSON object from the Events API; a form from a slash
    command; a form whose one ``payload`` field is a JSON object from interactivity), or what
    is wrong with it."""
    if content_type == JSON:
        value = _json_object(text)
        return value if value is not None else "not a JSON object"
    if content_type == FORM:
        fields = parse_qs(text, keep_blank_values=True)
        payload = fields.get("payload")
        if payload is None:
            return {key: values[-1] for key, values in fields.items()}
        parsed = _json_object(payload[0]) if len(payload) == 1 else None
        return parsed if parsed is not None else "form payload is not a JSON object"
    return "unsupported content type"


def is_ssl_check(body: bytes, content_type: str) -> bool:
    if content_type != FORM or len(body) > 4096:
        return False
    return parse_qs(body.decode("latin-1")).get("ssl_check") == ["1"]


async def bolt_request(request: web.Request, secret: str | Sequence[str],
                       on_refused: OnRefused | None = None) -> AsyncBoltRequest | web.Response:
    """The bolt request for a verified, well-formed Slack request, or the response refusing it.
    ``on_refused(reason, remote)`` hears of each signature failure (the audit log)."""
    raw = await request.read()  # over client_max_size: aiohttp raises 413 here
    problem = signature_problem(secret, raw, request.headers.get("X-Slack-Request-Timestamp"),
                                request.headers.get("X-Slack-Signature"))
    if problem is not None:
        if is_ssl_check(raw, request.content_type):
            return web.Response(status=200)
        log.warning("Slack request refused", extra={"reason": problem, **fingerprint(raw)})
        if on_refused is not None:
            await on_refused(problem, request.remote)
        return web.json_response(UNAUTHORIZED, status=401)
    try:
        body = parse_body(raw.decode("utf-8"), request.content_type)
    except UnicodeDecodeError:
        body = "not UTF-8"
    if isinstance(body, str):
        problem = body
    else:
        try:
            headers: dict[str, str | Sequence[str]] = {k: request.headers.getall(k) for k in request.headers}
            # A dict body is taken as it is only by bolt's socket-mode constructor; the mode
            # matters to bolt only for its own signature check (off: done above) and for
            # copies made for lazy listeners (which then keep this body too).
            return AsyncBoltRequest(body=body, query=request.query_string, headers=headers, mode="socket_mode")
        # Building the request also reads fields deep in the payload (authorizations, team,
        # enterprise); a signed but odd payload must be a 400, not an exception.
        except (ValueError, TypeError, AttributeError, LookupError):
            problem = "payload shape"
    log.warning("signed Slack request refused", extra={"reason": problem, **fingerprint(raw)})
    return web.json_response(BAD_REQUEST, status=400)


def _kind(body: dict[str, Any]) -> dict[str, str]:
    event = body.get("event")
    kind = {"type": body.get("type") or body.get("command"),
            "event": event.get("type") if isinstance(event, dict) else None}
    return {key: str(value)[:64] for key, value in kind.items() if value}


async def log_bolt_error(error: Exception, body: dict[str, Any]) -> None:
    """Bolt's error handler: its default ones put the request body in the log line."""
    kind = _kind(body)
    if isinstance(error, BoltUnhandledRequestError):
        log.info("Slack request with no listener", extra=kind)
        return
    log.error("Slack listener failed", exc_info=error, extra=kind)
