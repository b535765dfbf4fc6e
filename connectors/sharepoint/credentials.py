"""App-only access tokens for the SharePoint connector, through msal (its own small copy: a
connector imports nothing from bot/).

The client credentials flow (learn.microsoft.com/entra/identity-platform/
v2-oauth2-client-creds-grant-flow) with a certificate (a PEM holding the private key and its
certificate; learn.microsoft.com/entra/identity-platform/certificate-credentials) or a client
secret, read from the secret store by name. SharePoint REST refuses app-only tokens obtained
with a secret ("Unsupported app only token", learn.microsoft.com/sharepoint/dev/solution-guidance/
security-apponly-azuread), so a secret serves Graph only. One msal application keeps the token
cache; a lock makes concurrent callers wait for the first one's token instead of each asking.
Errors name the secret and the tenant, never a value or a token.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import msal

from connectors.errors import SourceAuthError

DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
_PEM = re.compile(r"-----BEGIN ([A-Z ]+)-----\s.*?-----END \1-----", re.DOTALL)


class TokenError(SourceAuthError):
    """Microsoft Entra gave no token (credential missing, wrong, or refused)."""


class AppTokens:
    """Tokens for ``client_id`` in ``tenant_id``. ``credential`` is the secret's value: a PEM
    (``certificate=True``) or a client secret; ``secret_name`` names it in errors."""

    def __init__(self, *, tenant_id: str, client_id: str, credential: str, certificate: bool,
                 secret_name: str, authority_url: str = DEFAULT_AUTHORITY, timeout: float = 10.0) -> None:
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.certificate = certificate
        self.secret_name = secret_name
        self._authority = authority_url.rstrip("/")
        self._credential = _certificate(credential, secret_name) if certificate else credential
        self._timeout = timeout
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()

    def secret_values(self) -> tuple[str, ...]:
        value = self._credential
        return tuple(value.values()) if isinstance(value, dict) else (value,)

    def token(self, scope: str) -> str:
        """An access token for ``scope`` (``<resource>/.default``), from msal's cache while valid."""
        with self._lock:
            app = self._app or self._build()
            self._app = app
            try:
                result: dict[str, Any] = app.acquire_token_for_client([scope])
            except Exception as exc:  # noqa: BLE001 - requests / msal: the transport failed
                raise TokenError(f"could not get a token for {scope}: {type(exc).__name__} "
                                 f"from {self._authority} ({self._what()})") from None
        token = result.get("access_token") if isinstance(result, dict) else None
        if isinstance(token, str) and token:
            return token
        codes = [f"AADSTS{c}" for c in (result.get("error_codes") or []) if isinstance(c, int)]
        raise TokenError(f"Microsoft Entra refused a token for {scope} ({self._what()}): "
                         + ", ".join([str(result.get("error") or "no error code"), *codes]))

    def _build(self) -> msal.ConfidentialClientApplication:
        custom = self._authority != DEFAULT_AUTHORITY
        try:
            return msal.ConfidentialClientApplication(
                self.client_id, client_credential=self._credential,
                authority=f"{self._authority}/{self.tenant_id}",
                # A proxy or a stand-in is not a host Microsoft's instance discovery knows.
                instance_discovery=False if custom else None,
                timeout=self._timeout, token_cache=msal.TokenCache(),
            )
        except ValueError:
            raise TokenError(f"Microsoft Entra at {self._authority} has no OpenID configuration for "
                             f"tenant {self.tenant_id} ({self._what()})") from None
        except Exception as exc:  # noqa: BLE001 - requests: the transport failed
            raise TokenError(f"could not reach Microsoft Entra at {self._authority} "
                             f"({type(exc).__name__}; {self._what()})") from None

    def _what(self) -> str:
        kind = "certificate" if self.certificate else "client secret"
        return f"the {kind} in secret {self.secret_name!r} for app {self.client_id} in tenant {self.tenant_id}"

    def __repr__(self) -> str:
        return f"AppTokens(tenant_id={self.tenant_id!r}, client_id={self.client_id!r}, secret={self.secret_name!r})"


def _certificate(value: str, name: str) -> dict[str, str]:
    blocks = [m.group(0) for m in _PEM.finditer(value)]
    keys = [b for b in blocks if "PRIVATE KEY-----" in b.splitlines()[0]]
    certs = [b for b in blocks if b.startswith("-----BEGIN CERTIFICATE-----")]
    if len(keys) != 1 or not certs:
        raise TokenError(f"secret {name!r} must be a PEM holding one private key and its certificate; "
                         f"found {len(keys)} key(s) and {len(certs)} certificate(s)")
    return {"private_key": keys[0], "public_certificate": certs[0]}
