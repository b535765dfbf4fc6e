"""The bot's own Microsoft Entra credentials: app-only access tokens per tenant, through msal.

The client credentials flow (learn.microsoft.com/entra/identity-platform/
v2-oauth2-client-creds-grant-flow): the app's client secret, or a certificate (a PEM holding the
private key and the certificate; msal signs a PS256 assertion with its SHA-256 thumbprint), both
read from the secret store by name, never from the settings. One
``msal.ConfidentialClientApplication`` per tenant keeps msal's token cache; msal is
synchronous (and fetches the tenant's OpenID metadata when the object is built), so every call
runs in a worker thread.

Every failure is a :class:`TeamsAuthError` naming the secret and the tenant, never a secret
value or a token; a tenant that is not one of ``teams.tenant_ids`` is refused before any
network call.
"""

from __future__ import annotations

import asyncio
import re
import threading
from typing import Any

import msal
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from bot.errors import BotError
from core.secrets.base import SecretNotFound, SecretStore, require_secret
from core.sections import TeamsConfig

__all__ = [
    "BOT_FRAMEWORK_SCOPE",
    "BOT_FRAMEWORK_TENANT",
    "DEFAULT_AUTHORITY",
    "AppCredentials",
    "TeamsAuthError",
]

DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default"
# A multi-tenant bot registration gets its Bot Connector tokens here (a single-tenant one in
# its own tenant); this tenant serves no users, so it is allowed for that scope only.
BOT_FRAMEWORK_TENANT = "botframework.com"

_PEM = re.compile(r"-----BEGIN ([A-Z ]+)-----\s.*?-----END \1-----", re.DOTALL)

# What an AADSTS code means for whoever runs Lore (learn.microsoft.com/entra/identity-platform/
# reference-error-codes).
_HINTS = {
    7000215: "the client secret is wrong (the secret's value, not its id, is needed)",
    7000222: "the client secret has expired",
    700016: "the app is not registered or not consented in this tenant",
    700021: "the certificate is not registered on the app",
    700027: "the certificate's key does not match the certificate registered on the app",
    90002: "the tenant does not exist",
    1002012: "the scope must be <resource>/.default",
    70011: "the scope is not valid",
}


class TeamsAuthError(BotError):
    """Lore could not get an access token for its Teams app (settings, secret or Entra)."""


class AppCredentials:
    """App-only tokens for the Teams app ``config.app_id`` in each of ``config.tenant_ids``."""

    def __init__(self, config: TeamsConfig, secrets: SecretStore, *, timeout: float = 10.0) -> None:
        self._config = config
        self._secrets = secrets
        self._timeout = timeout
        self._tenants = {t.strip().lower() for t in config.tenant_ids if t.strip()}
        self._authority = (config.authority_url or DEFAULT_AUTHORITY).rstrip("/")
        self._apps: dict[str, msal.ConfidentialClientApplication] = {}
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    @property
    def secret_name(self) -> str:
        """The secret holding the credential in use (certificate, else client secret)."""
        return self._config.certificate_secret or self._config.app_password_secret

    def serves(self, tenant_id: str) -> bool:
        return tenant_id.strip().lower() in self._tenants

    async def token(self, tenant_id: str, scope: str) -> str:
        """An access token for ``scope`` (``https://graph.microsoft.com/.default``,
        ``https://api.botframework.com/.default``) in ``tenant_id`` (one of
        ``teams.tenant_ids``, or ``botframework.com`` for a multi-tenant bot's Bot Connector
        token), from msal's cache while it is valid."""
        tenant = tenant_id.strip().lower()
        connector = tenant == BOT_FRAMEWORK_TENANT and scope == BOT_FRAMEWORK_SCOPE
        if tenant not in self._tenants and not connector:
            raise TeamsAuthError(
                f"tenant {tenant_id!r} is not one of teams.tenant_ids: Lore does not serve it"
            )
        if not self._config.app_id:
            raise TeamsAuthError("teams.app_id is not set: it is the app registration's client id")
        return await asyncio.to_thread(self._token, tenant, scope)

    # --- in a worker thread ----------------------------------------------------------------

    def _token(self, tenant: str, scope: str) -> str:
        # One request at a time per tenant: concurrent callers then find the first one's
        # token in msal's cache instead of each asking Entra for its own.
        with self._tenant_lock(tenant):
            return self._acquire(self._app(tenant), tenant, scope)

    def _tenant_lock(self, tenant: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(tenant, threading.Lock())

    def _acquire(self, app: msal.ConfidentialClientApplication, tenant: str, scope: str) -> str:
        try:
            result: dict[str, Any] = app.acquire_token_for_client([scope])
        except Exception as exc:  # noqa: BLE001 - requests / msal: the transport failed
            raise TeamsAuthError(
                f"could not get a token for {scope} in tenant {tenant} with {self._what()}: "
                f"{type(exc).__name__} from {self._authority}"
            ) from None
        token = result.get("access_token") if isinstance(result, dict) else None
        if isinstance(token, str) and token:
            return token
        if isinstance(result, dict) and result.get("error") == "invalid_client":
            # The credential was refused: the next call reads the secret again (it may have
            # been rotated in the store since this app was built).
            self._apps.pop(tenant, None)
        raise TeamsAuthError(
            f"Microsoft Entra refused a token for {scope} in tenant {tenant} with "
            f"{self._what()}: {_refusal(result)}"
        )

    def _app(self, tenant: str) -> msal.ConfidentialClientApplication:
        """Under the tenant's lock: built once (a failed build is tried again next time)."""
        app = self._apps.get(tenant)
        if app is None:
            app = self._apps[tenant] = self._build(tenant)
        return app

    def _build(self, tenant: str) -> msal.ConfidentialClientApplication:
        credential = self._credential(tenant)
        custom = self._authority != DEFAULT_AUTHORITY
        try:
            return msal.ConfidentialClientApplication(
                self._config.app_id,
                client_credential=credential,
                authority=f"{self._authority}/{tenant}",
                # A proxy or a stand-in is not a host Microsoft's instance discovery knows.
                instance_discovery=False if custom else None,
                timeout=self._timeout,
                token_cache=msal.TokenCache(),
            )
        except ValueError:  # msal: the tenant's OpenID metadata was refused or unreadable
            raise TeamsAuthError(
                f"Microsoft Entra at {self._authority} has no OpenID configuration for tenant "
                f"{tenant} (is the tenant id right?); credential {self._what()}"
            ) from None
        except Exception as exc:  # noqa: BLE001 - requests: the transport failed
            raise TeamsAuthError(
                f"could not reach Microsoft Entra at {self._authority} for tenant {tenant} "
                f"({type(exc).__name__}); credential {self._what()}"
            ) from None

    def _credential(self, tenant: str) -> str | dict[str, str]:
        name = self.secret_name
        try:
            value = require_secret(self._secrets, name)
        except SecretNotFound:
            setting = (
                "teams.certificate_secret"
                if self._config.certificate_secret
                else "teams.app_password_secret"
            )
            raise TeamsAuthError(
                f"secret {name!r} ({setting}) is not set, so Lore has no Teams credential for "
                f"tenant {tenant}: set {self._secrets.where(name)}"
            ) from None
        if not self._config.certificate_secret:
            return value
        blocks = [m.group(0) for m in _PEM.finditer(value)]
        keys = [b for b in blocks if "PRIVATE KEY-----" in b.splitlines()[0]]
        certs = [b for b in blocks if b.startswith("-----BEGIN CERTIFICATE-----")]
        if len(keys) != 1 or not certs:
            raise TeamsAuthError(
                f"secret {name!r} (teams.certificate_secret) must be a PEM holding one private "
                f"key and its certificate; found {len(keys)} key(s) and {len(certs)} "
                f"certificate(s)"
            )
        try:
            serialization.load_pem_private_key(keys[0].encode("ascii"), password=None)
            x509.load_pem_x509_certificate(certs[0].encode("ascii"))
        except (ValueError, TypeError, UnicodeEncodeError):
            raise TeamsAuthError(
                f"secret {name!r} (teams.certificate_secret): its private key or certificate "
                f"cannot be read (a key protected by a passphrase is not supported)"
            ) from None
        return {"private_key": keys[0], "public_certificate": certs[0]}

    def _what(self) -> str:
        kind = "certificate" if self._config.certificate_secret else "client secret"
        return f"the {kind} in secret {self.secret_name!r} for app {self._config.app_id}"


def _refusal(result: object) -> str:
    if not isinstance(result, dict):
        return "an unreadable answer"
    error = result.get("error")
    codes = [c for c in result.get("error_codes") or () if isinstance(c, int)]
    parts = [str(error) if isinstance(error, str) else "no error code"]
    parts += [f"AADSTS{c}" + (f" ({_HINTS[c]})" if c in _HINTS else "") for c in codes]
    return ", ".join(parts)
