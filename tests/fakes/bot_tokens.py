"""A stand-in for the Bot Connector's token issuer: OpenID metadata, a JWKS, and signed tokens.

Documented behaviour covered (Bot Connector API > Authentication, "Authenticate requests from
the Bot Connector service to your bot", learn.microsoft.com/azure/bot-service/rest-api/
bot-framework-rest-connector-authentication):

- ``GET /v1/.well-known/openidconfiguration``: the OpenID metadata document, whose ``jwks_uri``
  names the keys (``/v1/.well-known/keys``), with ``id_token_signing_alg_values_supported``
  ``["RS256"]`` and the issuer ``https://api.botframework.com``;
- the keys in JWK format, each with the Bot Framework extension ``endorsements`` (the channel ids
  the key is endorsed for, ``msteams`` here);
- tokens are RS256 JWTs with ``iss`` ``https://api.botframework.com``, ``aud`` the bot's app id,
  ``nbf``/``exp`` (valid about an hour) and the ``serviceurl`` claim; the header names the key
  (``kid``);
- keys rotate: :meth:`rotate` publishes a new key (the old one stays listed until
  :meth:`retire`), and a token can be signed by a key that is not published (unknown ``kid``).

Counts the metadata and key fetches, so tests can see caching and refetching.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.loopback import serving

ISSUER = "https://api.botframework.com"


def _b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class Key:
    kid: str
    private: rsa.RSAPrivateKey
    endorsements: list[str]

    def jwk(self) -> dict[str, Any]:
        numbers = self.private.public_key().public_numbers()
        return {"kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid, "n": _b64(numbers.n),
                "e": _b64(numbers.e), "endorsements": list(self.endorsements)}


def new_key(kid: str, endorsements: list[str] | None = None) -> Key:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return Key(kid, private, ["msteams"] if endorsements is None else endorsements)


@dataclass
class BotTokenIssuer:
    app_id: str
    published: list[Key] = field(default_factory=list)
    base_url: str = ""
    metadata_fetches: int = 0
    key_fetches: int = 0
    _rotations: int = 0

    def __post_init__(self) -> None:
        if not self.published:
            self.published.append(new_key("key-1"))

    @property
    def metadata_url(self) -> str:
        return f"{self.base_url}/v1/.well-known/openidconfiguration"

    def rotate(self) -> Key:
        self._rotations += 1
        key = new_key(f"key-rotated-{self._rotations}")
        self.published.append(key)
        return key

    def retire(self, kid: str) -> None:
        self.published = [k for k in self.published if k.kid != kid]

    def token(self, service_url: str, *, key: Key | None = None, audience: str | None = None,
              issuer: str = ISSUER, issued_at: float | None = None, lifetime: float = 3600,
              not_before: float | None = None, extra: dict[str, Any] | None = None,
              algorithm: str = "RS256") -> str:
        """A token as the Bot Connector sends it (overridable field by field for the bad cases)."""
        key = key or self.published[-1]
        now = time.time() if issued_at is None else issued_at
        claims: dict[str, Any] = {
            "iss": issuer, "aud": self.app_id if audience is None else audience,
            "iat": int(now), "nbf": int(now if not_before is None else not_before),
            "exp": int(now + lifetime), "serviceurl": service_url,
        }
        claims.update(extra or {})
        return jwt.encode(claims, key.private, algorithm=algorithm, headers={"kid": key.kid})

    def app(self) -> web.Application:
        async def metadata(_request: web.Request) -> web.Response:
            self.metadata_fetches += 1
            return web.json_response({
                "issuer": ISSUER,
                "authorization_endpoint": "https://invalid.botframework.com",
                "jwks_uri": f"{self.base_url}/v1/.well-known/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            })

        async def keys(_request: web.Request) -> web.Response:
            self.key_fetches += 1
            return web.json_response({"keys": [k.jwk() for k in self.published]})

        app = web.Application()
        app.router.add_get("/v1/.well-known/openidconfiguration", metadata)
        app.router.add_get("/v1/.well-known/keys", keys)
        return app

    @classmethod
    @asynccontextmanager
    async def running(cls, app_id: str) -> AsyncIterator[BotTokenIssuer]:
        issuer = cls(app_id)
        async with serving(issuer.app()) as port:
            issuer.base_url = f"http://127.0.0.1:{port}"
            yield issuer
