"""Inbound security: every request to ``/api/messages`` proves it came from the Bot Connector.

Rule: nothing reads an activity before :meth:`InboundAuth.verify` has accepted its token, and a
refusal is an :class:`InboundRefused` (401, or 403 for a missing endorsement), never an
exception that becomes a 500. The token is never logged, nor put in an error message.

Bot Framework's requirements ("Authenticate requests from the Bot Connector service to your
bot", Bot Connector API > Authentication, learn.microsoft.com/azure/bot-service/rest-api/
bot-framework-rest-connector-authentication):

1. the token is in the ``Authorization`` header with the ``Bearer`` scheme;
2. it is a JWT signed with RS256 by a key listed at the ``jwks_uri`` of the OpenID metadata
   (``https://login.botframework.com/v1/.well-known/openidconfiguration``);
3. its issuer is ``https://api.botframework.com``;
4. its audience is the bot's Microsoft App ID;
5. it is within its validity period, with the industry-standard clock skew of 5 minutes;
6. its ``serviceurl`` claim equals the activity's ``serviceUrl``;
7. the signing key's ``endorsements`` include the activity's ``channelId`` (else 403).

Why not the Agents SDK's ``JwtTokenValidator`` (hosting-core 1.9): it reads the JWKS from a
hard-coded Bot Framework address (no OpenID metadata, so it cannot be pointed at
``teams.openid_metadata_url``), checks the issuer only when ``VALIDATE_ISSUER`` is opted into,
checks neither the ``serviceurl`` claim nor the endorsements, and fetches keys with a blocking
urllib client in a thread. PyJWT does the cryptography here, as it does in the SDK.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import jwt

from bot.errors import BotError

log = logging.getLogger("lore.teams.auth")

BOT_FRAMEWORK_OPENID_METADATA = "https://login.botframework.com/v1/.well-known/openidconfiguration"
BOT_FRAMEWORK_ISSUER = "https://api.botframework.com"
CLOCK_SKEW_SECONDS = 300  # "the industry-standard clock-skew of 5 minutes"
KEYS_MAX_AGE_SECONDS = 24 * 3600  # the keys are stable (the SDKs cache them for 5 days)
UNKNOWN_KID_REFRESH_SECONDS = 60.0  # a token with an unknown kid refetches keys at most this often
FETCH_TIMEOUT_SECONDS = 10.0


class InboundRefused(BotError):
    """The request is refused: ``status`` (401 or 403) and a reason safe to log (never the token)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class SigningKeysUnavailable(BotError):
    """The OpenID metadata or its keys could not be read: no request can be verified (503)."""


@dataclass(frozen=True)
class SigningKey:
    key: Any  # a PyJWT RSA public key
    endorsements: frozenset[str]


@dataclass
class _KeySet:
    keys: dict[str, SigningKey] = field(default_factory=dict)
    fetched_at: float = float("-inf")


def _parse_keys(document: Mapping[str, Any]) -> dict[str, SigningKey]:
    keys: dict[str, SigningKey] = {}
    for entry in document.get("keys") or []:
        if not isinstance(entry, dict) or entry.get("kty") != "RSA" or not entry.get("kid"):
            continue
        try:
            public = jwt.PyJWK.from_dict(entry, algorithm="RS256").key
        except jwt.PyJWTError:
            continue
        endorsements = entry.get("endorsements") or []
        keys[str(entry["kid"])] = SigningKey(public, frozenset(str(e) for e in endorsements))
    return keys


class InboundAuth:
    """Verifies Bot Connector tokens for one app id against one OpenID metadata document."""

    def __init__(self, app_id: str, metadata_url: str = "", *, now: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.app_id = app_id
        self.metadata_url = metadata_url or BOT_FRAMEWORK_OPENID_METADATA
        self.now = now
        self.monotonic = monotonic
        self._keys = _KeySet()
        self._last_unknown_refresh = float("-inf")
        self._lock = asyncio.Lock()

    async def verify(self, authorization: str | None, activity: Mapping[str, Any]) -> dict[str, Any]:
        """The token's claims, or :class:`InboundRefused`; :class:`SigningKeysUnavailable` when
        the keys cannot be read."""
        token = _bearer(authorization)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InboundRefused(401, "malformed token") from None
        if header.get("alg") != "RS256":
            raise InboundRefused(401, f"token algorithm {str(header.get('alg'))[:16]!r} is not RS256")
        kid = str(header.get("kid") or "")
        key = await self._key(kid)
        if key is None:
            raise InboundRefused(401, "token signed by an unknown key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=["RS256"], audience=self.app_id, issuer=BOT_FRAMEWORK_ISSUER,
                leeway=CLOCK_SKEW_SECONDS, options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise InboundRefused(401, "token expired") from None
        except jwt.ImmatureSignatureError:
            raise InboundRefused(401, "token not valid yet") from None
        except jwt.InvalidAudienceError:
            raise InboundRefused(401, "token audience is not this bot") from None
        except jwt.InvalidIssuerError:
            raise InboundRefused(401, "token issuer is not Bot Framework") from None
        except jwt.InvalidSignatureError:
            raise InboundRefused(401, "bad token signature") from None
        except jwt.PyJWTError as exc:
            raise InboundRefused(401, f"invalid token ({exc.__class__.__name__})") from None
        service_url = activity.get("serviceUrl")
        if not isinstance(service_url, str) or claims.get("serviceurl") != service_url:
            raise InboundRefused(401, "token serviceurl claim does not match the activity's serviceUrl")
        channel = activity.get("channelId")
        if not isinstance(channel, str) or channel not in key.endorsements:
            raise InboundRefused(403, "the signing key does not endorse the activity's channel")
        return claims

    async def _key(self, kid: str) -> SigningKey | None:
        if self.monotonic() - self._keys.fetched_at > KEYS_MAX_AGE_SECONDS:
            await self._refresh(force=False)
        key = self._keys.keys.get(kid)
        if key is None and self.monotonic() - self._last_unknown_refresh >= UNKNOWN_KID_REFRESH_SECONDS:
            # Keys rotate: an unknown kid may be a new key. Refetched at most once a minute, so
            # tokens with made-up kids cannot make Lore hammer the metadata endpoint.
            self._last_unknown_refresh = self.monotonic()
            await self._refresh(force=True)
            key = self._keys.keys.get(kid)
        return key

    async def _refresh(self, *, force: bool) -> None:
        async with self._lock:
            if not force and self.monotonic() - self._keys.fetched_at <= KEYS_MAX_AGE_SECONDS:
                return  # another request refreshed while this one waited
            try:
                timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_SECONDS)
                async with aiohttp.ClientSession(timeout=timeout) as session:
                    metadata = await _get_json(session, self.metadata_url)
                    jwks_uri = metadata.get("jwks_uri")
                    if not isinstance(jwks_uri, str) or not jwks_uri:
                        raise SigningKeysUnavailable("the OpenID metadata names no jwks_uri")
                    keys = _parse_keys(await _get_json(session, jwks_uri))
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                if self._keys.keys:  # keep verifying with the keys we have
                    log.warning("Bot Framework signing keys not refreshed", extra={"error": exc.__class__.__name__})
                    return
                raise SigningKeysUnavailable(f"Bot Framework signing keys unavailable: {exc.__class__.__name__}") from None
            self._keys = _KeySet(keys, self.monotonic())


async def _get_json(session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    async with session.get(url) as response:
        response.raise_for_status()
        document = json.loads(await response.text())
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")  # noqa: TRY004 - caught with the JSON errors
    return document


def _bearer(authorization: str | None) -> str:
    if not authorization:
        raise InboundRefused(401, "no Authorization header")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InboundRefused(401, "Authorization header is not a Bearer token")
    return token.strip()
