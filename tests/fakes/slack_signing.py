"""Signed requests as Slack sends them to an app: Events API, slash commands, interactivity.

Slack's request signing (docs.slack.dev/authentication/verifying-requests-from-slack): the
base string ``v0:{X-Slack-Request-Timestamp}:{raw body}`` is HMAC-SHA256'd with the app's
signing secret and sent hex-encoded as ``X-Slack-Signature: v0=<hex>``. Receivers reject
timestamps more than five minutes off.

Payload shapes follow Slack's docs: the ``event_callback`` envelope (``token``, ``team_id``,
``api_app_id``, ``event``, ``type``, ``event_id``, ``event_time``, ``authorizations``,
``is_ext_shared_channel``, ``event_context``; ``enterprise_id`` on Grid), ``app_mention`` and
``message`` (``channel_type: "im"``) events, ``url_verification`` (``token``, ``challenge``),
retried deliveries (``X-Slack-Retry-Num``, ``X-Slack-Retry-Reason``), slash commands (a form
body: ``token``, ``team_id``, ``team_domain``, ``enterprise_id``, ``channel_id``, ``user_id``,
``command``, ``text``, ``response_url``, ``trigger_id``, ``api_app_id``...), and ``block_actions``
interactivity (a form body whose only field, ``payload``, is the JSON).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

VERIFICATION_TOKEN = "legacy-verification-token"  # deprecated by Slack, still sent
_event_ids = itertools.count(1)


def signature(body: bytes, secret: str, timestamp: int) -> str:
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str, timestamp: int) -> dict[str, str]:
    """The two headers Slack signs a request with."""
    return {
        "X-Slack-Request-Timestamp": str(timestamp),
        "X-Slack-Signature": signature(body, secret, timestamp),
    }


@dataclass(frozen=True)
class SignedRequest:
    body: bytes
    headers: dict[str, str]  # Content-Type and the signature headers

    def retried(self, num: int = 1, reason: str = "http_timeout") -> SignedRequest:
        """The same delivery as Slack retries it: same body, event_id and signature headers."""
        headers = {**self.headers, "X-Slack-Retry-Num": str(num), "X-Slack-Retry-Reason": reason}
        return replace(self, headers=headers)

    def json(self) -> Any:
        return json.loads(self.body)


def _signed(body: bytes, content_type: str, secret: str, timestamp: int | None) -> SignedRequest:
    ts = int(time.time()) if timestamp is None else timestamp
    return SignedRequest(body, {"Content-Type": content_type, **sign(body, secret, ts)})


def signed_json(
    payload: dict[str, Any], secret: str, *, timestamp: int | None = None
) -> SignedRequest:
    return _signed(json.dumps(payload).encode(), "application/json", secret, timestamp)


def signed_form(
    fields: dict[str, str], secret: str, *, timestamp: int | None = None
) -> SignedRequest:
    return _signed(
        urlencode(fields).encode(), "application/x-www-form-urlencoded", secret, timestamp
    )


# -- Events API ----------------------------------------------------------------------------------


def _message_event(
    kind: dict[str, str], user: str, channel: str, text: str, ts: str, team: str, thread_ts: str | None
) -> dict[str, Any]:
    event: dict[str, Any] = {
        **kind,
        "user": user,
        "text": text,
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
        "team": team,
        "client_msg_id": f"cm-{ts}",
    }
    if thread_ts:
        event["thread_ts"] = thread_ts
    return event


def app_mention(
    *,
    user: str,
    channel: str,
    text: str,
    ts: str,
    team: str = "T0LORE0001",
    thread_ts: str | None = None,
) -> dict[str, Any]:
    return _message_event({"type": "app_mention"}, user, channel, text, ts, team, thread_ts)


def message_im(
    *,
    user: str,
    channel: str,
    text: str,
    ts: str,
    team: str = "T0LORE0001",
    thread_ts: str | None = None,
) -> dict[str, Any]:
    return _message_event({"type": "message", "channel_type": "im"}, user, channel, text, ts, team, thread_ts)


def event_callback(
    event: dict[str, Any],
    *,
    team_id: str = "T0LORE0001",
    api_app_id: str = "A0LORE0001",
    bot_user_id: str = "U0LOREBOT",
    enterprise_id: str | None = None,
    event_id: str | None = None,
    event_time: int | None = None,
    is_ext_shared_channel: bool = False,
) -> dict[str, Any]:
    envelope: dict[str, Any] = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{next(_event_ids):08d}LORE",
        "event_time": int(time.time()) if event_time is None else event_time,
        "authorizations": [
            {
                "enterprise_id": enterprise_id,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": is_ext_shared_channel,
        "event_context": f"4-{team_id}-{event.get('channel', '')}",
    }
    if enterprise_id:
        envelope["enterprise_id"] = enterprise_id
    return envelope


def url_verification(
    challenge: str = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
) -> dict[str, Any]:
    return {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}


def signed_event(
    event: dict[str, Any], secret: str, *, timestamp: int | None = None, **envelope: Any
) -> SignedRequest:
    return signed_json(event_callback(event, **envelope), secret, timestamp=timestamp)


# -- slash commands and interactivity ------------------------------------------------------------


def slash_command(
    *,
    command: str,
    text: str,
    user_id: str,
    channel_id: str,
    team_id: str = "T0LORE0001",
    enterprise_id: str | None = None,
    channel_name: str = "general",
    user_name: str = "someone",
    api_app_id: str = "A0LORE0001",
    response_url: str = "https://hooks.slack.com/commands/T0LORE0001/1/abc",
    trigger_id: str = "13345224609.738474920.8088930838d88f008e0",
) -> dict[str, str]:
    fields = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": "lore-test",
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }
    if enterprise_id:
        fields["enterprise_id"] = enterprise_id
        fields["enterprise_name"] = "Lore Org"
    return fields


def block_actions(
    *,
    user_id: str,
    channel_id: str,
    message_ts: str,
    actions: list[dict[str, Any]],
    team_id: str = "T0LORE0001",
    enterprise_id: str | None = None,
    message: dict[str, Any] | None = None,
    is_ephemeral: bool = False,
    api_app_id: str = "A0LORE0001",
    response_url: str = "https://hooks.slack.com/actions/T0LORE0001/1/abc",
    trigger_id: str = "13345224609.738474920.8088930838d88f008e0",
) -> dict[str, Any]:
    """A ``block_actions`` payload; each action needs ``action_id``, ``block_id``, ``type``."""
    now = f"{time.time():.6f}"
    return {
        "type": "block_actions",
        "team": {"id": team_id, "domain": "lore-test"},
        "user": {"id": user_id, "username": "someone", "name": "someone", "team_id": team_id},
        "api_app_id": api_app_id,
        "token": VERIFICATION_TOKEN,
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": is_ephemeral,
        },
        "trigger_id": trigger_id,
        "channel": {"id": channel_id, "name": "general"},
        "enterprise": {"id": enterprise_id, "name": "Lore Org"} if enterprise_id else None,
        "is_enterprise_install": False,
        "message": message or {"type": "message", "ts": message_ts, "text": ""},
        "response_url": response_url,
        "actions": [{"action_ts": now, **a} for a in actions],
        "state": {"values": {}},
    }


def signed_block_actions(
    payload: dict[str, Any], secret: str, *, timestamp: int | None = None
) -> SignedRequest:
    return signed_form({"payload": json.dumps(payload)}, secret, timestamp=timestamp)
