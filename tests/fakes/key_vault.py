"""A loopback HTTPS Azure Key Vault stand-in (secrets only), with the challenge authentication
the real service does, and a CONNECT proxy that routes the vault's real-looking host name to it.

Why a proxy: azure-keyvault-secrets checks the challenge's ``resource`` against the vault's host
(``_shared/challenge_auth_policy.py``, ``_validate_challenge_resource``: the request host must
end with ``.`` + the resource's host, ``vault.azure.net``); it names
``verify_challenge_resource=False`` as the way out. Rather than switch that check off, the
tests use a vault URL such as ``https://lore-test.vault.azure.net`` and set ``HTTPS_PROXY`` to
:class:`VaultProxy`, which tunnels every CONNECT to this stand-in; its TLS certificate names that
host and is trusted through the provider's ``ca_file`` setting (verification stays on). The
proxy can also be cut (:meth:`VaultProxy.cut`): the vault is then unreachable.

Documented behaviour covered (learn.microsoft.com/azure/key-vault/general/
authentication-requests-and-responses, .../general/soft-delete-overview,
.../general/overview-throttling, learn.microsoft.com/rest/api/keyvault/secrets/ get-secret,
set-secret, delete-secret, get-deleted-secret, purge-deleted-secret, recover-deleted-secret):

- Every request needs ``api-version`` (else 400 ``BadParameter``).
- No bearer token -> 401 ``Unauthorized`` (AKV10000) with ``WWW-Authenticate: Bearer
  authorization="<authority>/<tenant>", resource="https://vault.azure.net"``; a token that
  fails signature, audience (``https://vault.azure.net``), expiry or issuer -> 401 with the
  same challenge. A valid token whose app lacks the permission -> 403 ``Forbidden``
  (``ForbiddenByRbac``).
- ``GET /secrets/{name}[/{version}]`` -> the SecretBundle (``value``, ``id`` =
  ``<vault>/secrets/<name>/<version>``, ``attributes``), else 404 ``SecretNotFound``.
- ``PUT /secrets/{name}`` (``{"value": ...}``) -> a new version; the name of a deleted but
  recoverable secret -> 409 ``Conflict`` (``ObjectIsDeletedButRecoverable``).
- ``DELETE /secrets/{name}`` -> the DeletedSecretBundle (``recoveryId``, ``deletedDate``,
  ``scheduledPurgeDate``); ``GET /deletedsecrets/{name}``; ``DELETE /deletedsecrets/{name}``
  (purge) -> 204, or 403 when purge protection is on; ``POST /deletedsecrets/{name}/recover``.
- Error bodies ``{"error": {"code", "message"[, "innererror": {"code"}]}}``.
- Throttling: 429 ``Throttled`` with ``Retry-After`` (:meth:`KeyVaultStandIn.throttle`).

Not covered: secret listing, versions listing, tags/content types, certificates and keys,
CAE claims challenges, managed HSM.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import jwt
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.fakes.entra import KEY_VAULT_RESOURCE, EntraStandIn, _self_signed
from tests.fakes.loopback import ThreadedSite
from tests.fakes.tcp_proxy import TcpProxy

PERMISSIONS = frozenset({"get", "set", "delete", "purge", "recover"})


@dataclass
class _Secret:
    versions: list[tuple[str, str, int]] = field(default_factory=list)  # (version, value, time)
    deleted: int | None = None  # deletedDate while soft-deleted


class KeyVaultStandIn:
    def __init__(self, entra: EntraStandIn, tenant_id: str, host: str = "lore-test.vault.azure.net") -> None:
        self.entra = entra
        self.tenant_id = tenant_id
        self.host = host
        self.vault_url = f"https://{host}"
        self.purge_protection = False
        self.grants: dict[str, set[str]] = {}  # appid -> permissions
        self.requests: list[tuple[str, str, bool]] = []  # (method, path, authenticated)
        self._secrets: dict[str, _Secret] = {}
        self._throttle = 0
        self._lock = threading.Lock()
        self._dir = tempfile.TemporaryDirectory(prefix="key-vault-stand-in-")
        self.ca_file = str(Path(self._dir.name) / "ca.pem")
        self.port = 0
        self._site: ThreadedSite | None = None

    # -- test controls -----------------------------------------------------------------------

    def grant(self, app_id: str, permissions: frozenset[str] | set[str] = PERMISSIONS) -> None:
        self.grants[app_id] = set(permissions)

    def throttle(self, count: int) -> None:
        """Answer the next ``count`` authenticated requests with 429."""
        self._throttle = count

    def value(self, name: str) -> str | None:
        secret = self._secrets.get(name)
        return secret.versions[-1][1] if secret and secret.versions and secret.deleted is None else None

    def is_soft_deleted(self, name: str) -> bool:
        secret = self._secrets.get(name)
        return secret is not None and secret.deleted is not None

    def exists(self, name: str) -> bool:
        return name in self._secrets

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        san = x509.SubjectAlternativeName([x509.DNSName(self.host), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
        key, cert = _self_signed(self.host, [(san, False), (x509.BasicConstraints(ca=True, path_length=None), True)])
        key_file = Path(self._dir.name) / "key.pem"
        key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        cert_file = Path(self._dir.name) / "cert.pem"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        # One bundle trusting this vault and the Entra stand-in, for the provider's ca_file.
        Path(self.ca_file).write_bytes(cert_file.read_bytes() + Path(self.entra.ca_file).read_bytes())
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cert_file), str(key_file))
        def build() -> web.Application:
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handle)
            return app

        self._site = ThreadedSite("Key Vault stand-in", build, context)
        self.port = self._site.start()
        return self

    def stop(self) -> None:
        if self._site is not None:
            self._site.stop()
            self._site = None
            self._dir.cleanup()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the service -------------------------------------------------------------------------

    def _challenge(self, message: str) -> web.Response:
        authority = f"{self.entra.base_url}/{self.tenant_id}"
        return _error(401, "Unauthorized", message, headers={
            "WWW-Authenticate": f'Bearer authorization="{authority}", resource="{KEY_VAULT_RESOURCE}"'})

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if not request.query.get("api-version"):
            return _error(400, "BadParameter", "The request URI contains an invalid API version.")
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            self.requests.append((request.method, request.path, False))
            return self._challenge("AKV10000: Request is missing a Bearer or PoP token.")
        try:
            claims = self.entra.verify_access_token(header[len("Bearer "):], KEY_VAULT_RESOURCE)
        except jwt.InvalidTokenError as exc:
            self.requests.append((request.method, request.path, False))
            return self._challenge(f"AKV10022: Invalid token: {type(exc).__name__}.")
        if claims["tid"].lower() != self.tenant_id.lower():
            return self._challenge("AKV10032: Invalid issuer.")
        self.requests.append((request.method, request.path, True))
        if self._throttle > 0:
            self._throttle -= 1
            return _error(429, "Throttled", "Request was not processed because too many requests were "
                          "received.", headers={"Retry-After": "1"})
        parts = [p for p in request.path.split("/") if p]
        body = await request.json() if request.method == "PUT" else None
        with self._lock:
            return self._route(request.method, parts, body, self.grants.get(claims["appid"], set()),
                               claims["appid"])

    def _route(self, method: str, parts: list[str], body: Any, granted: set[str], app: str) -> web.Response:
        def denied(permission: str) -> web.Response:
            return _error(403, "Forbidden", f"The user, group or application 'appid={app}' does not "
                          f"have secrets {permission} permission on key vault '{self.host}'.",
                          inner="ForbiddenByRbac")

        now = int(time.time())
        if len(parts) in (2, 3) and parts[0] == "secrets":
            name = parts[1]
            secret = self._secrets.get(name)
            if method == "GET":
                if "get" not in granted:
                    return denied("get")
                if secret is None or secret.deleted is not None or not secret.versions:
                    return _not_found("SecretNotFound", name)
                versions = [v for v in secret.versions if len(parts) == 2 or v[0] == parts[2]]
                if not versions:
                    return _not_found("SecretNotFound", name)
                return web.json_response(self._bundle(name, *versions[-1]))
            if method == "PUT" and len(parts) == 2:
                if "set" not in granted:
                    return denied("set")
                if secret is not None and secret.deleted is not None:
                    return _error(409, "Conflict", f"Secret {name} is currently in a deleted but recoverable "
                                  "state, and its name cannot be reused; in this state, the secret can "
                                  "only be recovered or purged.", inner="ObjectIsDeletedButRecoverable")
                if not isinstance(body, dict) or not isinstance(body.get("value"), str):
                    return _error(400, "BadParameter", "Property value is required.")
                secret = self._secrets.setdefault(name, _Secret())
                secret.versions.append((uuid.uuid4().hex, body["value"], now))
                return web.json_response(self._bundle(name, *secret.versions[-1]))
            if method == "DELETE" and len(parts) == 2:
                if "delete" not in granted:
                    return denied("delete")
                if secret is None or secret.deleted is not None:
                    return _not_found("SecretNotFound", name)
                secret.deleted = now
                return web.json_response(self._deleted_bundle(name, secret))
        if len(parts) in (2, 3) and parts[0] == "deletedsecrets":
            name = parts[1]
            secret = self._secrets.get(name)
            if secret is None or secret.deleted is None:
                return _not_found("DeletedSecretNotFound", name, deleted=True)
            if method == "GET" and len(parts) == 2:
                return web.json_response(self._deleted_bundle(name, secret)) if "get" in granted else denied("get")
            if method == "DELETE" and len(parts) == 2:
                if "purge" not in granted:
                    return denied("purge")
                if self.purge_protection:
                    return _error(403, "Forbidden", f"Operation \"purge\" is not allowed because purge "
                                  f"protection is enabled for key vault '{self.host}'.")
                del self._secrets[name]
                return web.Response(status=204)
            if method == "POST" and parts[2:] == ["recover"]:
                if "recover" not in granted:
                    return denied("recover")
                secret.deleted = None
                return web.json_response(self._bundle(name, *secret.versions[-1]))
        return _error(404, "NotFound", "The requested resource was not found.")

    def _bundle(self, name: str, version: str, value: str, created: int) -> dict[str, Any]:
        return {"value": value, "id": f"{self.vault_url}/secrets/{name}/{version}",
                "attributes": {"enabled": True, "created": created, "updated": created,
                               "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90}}

    def _deleted_bundle(self, name: str, secret: _Secret) -> dict[str, Any]:
        version, _, created = secret.versions[-1]
        bundle = self._bundle(name, version, "", created)
        del bundle["value"]  # a deleted secret's bundle carries no value
        deleted = secret.deleted or 0
        return {**bundle, "recoveryId": f"{self.vault_url}/deletedsecrets/{name}", "deletedDate": deleted,
                "scheduledPurgeDate": deleted + 90 * 86400}


def _error(status: int, code: str, message: str, *, inner: str | None = None,
           headers: dict[str, str] | None = None) -> web.Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if inner:
        error["innererror"] = {"code": inner}
    return web.json_response({"error": error}, status=status, headers=headers)


def _not_found(code: str, name: str, *, deleted: bool = False) -> web.Response:
    kind = "Deleted Secret" if deleted else "A secret"
    return _error(404, code, f"{kind} with (name/id) {name} was not found in this key vault. If you "
                  "recently deleted this secret you may be able to recover it using the correct "
                  "recovery command. For help resolving this issue, please see "
                  "https://go.microsoft.com/fwlink/?linkid=2125182")


class VaultProxy(TcpProxy):
    """An HTTP CONNECT proxy on loopback that tunnels every connection to ``target_port``
    (``cut`` as for :class:`TcpProxy`); ``connects`` lists the hosts asked for."""

    def __init__(self, target_port: int) -> None:
        self.connects: list[str] = []
        super().__init__(target_port)

    def _handshake(self, client: socket.socket) -> bool:
        head = b""
        while b"\r\n\r\n" not in head and len(head) < 8192:
            chunk = client.recv(4096)
            if not chunk:
                break
            head += chunk
        line = head.split(b"\r\n", 1)[0].decode("latin-1")
        if self._cut.is_set() or not line.startswith("CONNECT "):
            return False
        self.connects.append(line.split()[1])
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        return True
