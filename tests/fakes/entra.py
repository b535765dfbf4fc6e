"""A loopback Microsoft Entra ID stand-in for msal's confidential-client (client credentials) flow.

It serves HTTPS on 127.0.0.1 (a random port) from its own thread and event loop, so synchronous
callers (msal, the Agents SDK's MSAL auth) and async tests in any loop can use it alike.

How msal must be configured (read from msal 1.39's ``authority.py`` / ``application.py``):

- ``authority = entra.authority(tenant_id)`` (``https://127.0.0.1:<port>/<tenant>``). msal's
  ``canonicalize`` refuses any authority or token endpoint that is not ``https`` with a host,
  which is why the stand-in serves TLS (a self-signed certificate for 127.0.0.1).
- ``instance_discovery=False`` (else msal asks ``login.microsoftonline.com/common/discovery/
  instance`` about the host) -- ``validate_authority=False`` has the same effect here.
- Trust the stand-in's certificate: set ``REQUESTS_CA_BUNDLE=entra.ca_file`` (the ``entra``
  fixture of :mod:`tests.fakes.entra_fixture` does, with ``monkeypatch``). msal's own
  ``verify=`` is not enough: requests lets ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` (set on
  these machines) override a session's ``verify`` whenever a request passes none, as msal's
  do. The variable also reaches code that builds msal itself (the Agents SDK's MSAL auth).
- msal fetches ``{authority}/v2.0/.well-known/openid-configuration`` when the application
  object is built, and posts to its ``token_endpoint`` on ``acquire_token_for_client``.

Documented behaviour covered (learn.microsoft.com/entra/identity-platform/
v2-oauth2-client-creds-grant-flow, .../certificate-credentials, .../reference-error-codes,
.../access-token-claims-reference):

- ``GET /{tenant}/v2.0/.well-known/openid-configuration``: ``issuer``
  (``.../{tenant}/v2.0``), ``authorization_endpoint``, ``token_endpoint``, ``jwks_uri``; an
  unknown tenant -> 400 ``invalid_tenant`` AADSTS90002.
- ``GET /{tenant}/discovery/v2.0/keys``: the JWKS holding the stand-in's signing key.
- ``POST /{tenant}/oauth2/v2.0/token``, form-encoded only (else 400 ``invalid_request``
  AADSTS900144-style), ``grant_type=client_credentials`` only (else 400
  ``unsupported_grant_type`` AADSTS70003); ``client_id`` required; exactly one scope, which must
  be ``<resource>/.default`` for a known resource (Graph, Bot Framework, Key Vault, and any
  added by :meth:`EntraStandIn.register_resource`, e.g. ``https://contoso.sharepoint.com``) -> else 400
  ``invalid_scope`` AADSTS1002012 / AADSTS70011; unknown tenant -> 400 ``invalid_request``
  AADSTS90002; an app not registered in the tenant -> 400 ``unauthorized_client`` AADSTS700016.
- Client authentication: either ``client_secret`` (wrong -> 401 ``invalid_client``
  AADSTS7000215) or ``client_assertion_type=urn:ietf:params:oauth:client-assertion-type:
  jwt-bearer`` + ``client_assertion``: a JWT whose header has ``alg`` RS256 (with ``x5t``, the
  SHA-1 thumbprint) or PS256 (with ``x5t#S256``, the SHA-256 thumbprint) of a certificate
  registered for the app, signed by that certificate's key, with ``aud`` = this token
  endpoint, ``iss`` = ``sub`` = the client id, ``exp`` in the future, ``nbf`` (if any) not in
  the future -> else 401 ``invalid_client`` (AADSTS700027 signature / AADSTS700024 expired /
  AADSTS700021 unknown thumbprint / AADSTS50027 malformed). Neither credential -> 401
  ``invalid_client`` AADSTS7000218. msal reuses one assertion for minutes, so ``jti`` replay is
  not refused (Entra documents none for this flow).
- Error bodies: ``error``, ``error_description`` ("AADSTSnnnn: ... Trace ID ... Correlation ID
  ... Timestamp ..."), ``error_codes``, ``timestamp``, ``trace_id``, ``correlation_id``,
  ``error_uri``.
- Success: ``token_type: Bearer``, ``expires_in``, ``ext_expires_in``, ``access_token`` -- a v1
  app-only access token (JWT, RS256, ``kid``) with ``aud`` = the resource (e.g.
  ``https://graph.microsoft.com``), ``iss`` = ``https://sts.windows.net/{tid}/``, ``tid``,
  ``appid``, ``oid``, ``idtyp: app``, ``iat``/``nbf``/``exp``, ``ver: 1.0``, and ``appidacr``:
  ``1`` for a client secret, ``2`` for a certificate (SharePoint Online refuses app-only REST
  calls with an ``appidacr: 1`` token; see :mod:`tests.fakes.sharepoint`).
- Workload identity federation (learn.microsoft.com/entra/workload-id/workload-identity-federation):
  a ``client_assertion`` without a certificate thumbprint, for an app with federated
  credentials, is an external token: RS256-signed by the registered issuer, ``aud``
  ``api://AzureADTokenExchange``, ``sub`` a registered subject -> else 401 AADSTS70021
  (AADSTS700024 when expired). The issuer's key is registered, not discovered.

Test controls: :meth:`EntraStandIn.register_app`, :meth:`EntraStandIn.register_federated_credential`,
:meth:`EntraStandIn.mint_access_token`, :attr:`EntraStandIn.issued` (every token
issued), :attr:`EntraStandIn.token_requests`, :meth:`EntraStandIn.fail_token_requests` (5xx),
:meth:`EntraStandIn.hang_token_requests`, :meth:`EntraStandIn.verify_access_token` (for other
stand-ins, e.g. Graph). Not covered: delegated flows, regional endpoints,
throttling of the token endpoint itself beyond the configured failure.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hmac
import ipaddress
import ssl
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import jwt
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from tests.fakes.loopback import ThreadedSite

GRAPH_RESOURCE = "https://graph.microsoft.com"
BOT_FRAMEWORK_RESOURCE = "https://api.botframework.com"
KEY_VAULT_RESOURCE = "https://vault.azure.net"
KNOWN_RESOURCES = (GRAPH_RESOURCE, BOT_FRAMEWORK_RESOURCE, KEY_VAULT_RESOURCE)
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_LIFETIME = 3599


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _self_signed(
    common_name: str, extensions: Sequence[tuple[x509.ExtensionType, bool]] = ()
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A new RSA key and a self-signed certificate for it, valid from 5 minutes ago for 2 days."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return key, builder.sign(key, hashes.SHA256())


def make_certificate(common_name: str = "lore-test-app") -> tuple[str, str]:
    """A new RSA key and self-signed certificate: (private key PEM, certificate PEM)."""
    key, cert = _self_signed(common_name)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _tls_certificate() -> tuple[bytes, bytes]:
    san = x509.SubjectAlternativeName(
        [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    )
    key, cert = _self_signed("127.0.0.1", [(san, False), (x509.BasicConstraints(ca=True, path_length=None), True)])
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class RegisteredApp:
    tenant_id: str
    client_id: str
    secret: str | None = None
    # SHA-1 and SHA-256 thumbprints (base64url, as in x5t / x5t#S256) -> the certificate
    certificates: dict[str, x509.Certificate] = field(default_factory=dict)
    # Federated identity credentials: (issuer, subject, the issuer's public key PEM)
    federated: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class IssuedToken:
    tenant_id: str
    client_id: str
    scope: str
    access_token: str
    claims: dict[str, Any]
    credential: str  # "secret" or "certificate"


class EntraStandIn:
    """Start with :meth:`start` (or use as a context manager); stop with :meth:`stop`."""

    def __init__(self) -> None:
        self._signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = uuid.uuid4().hex
        self._apps: dict[tuple[str, str], RegisteredApp] = {}
        self._tenants: set[str] = set()
        self._lock = threading.Lock()
        self._resources: set[str] = set(KNOWN_RESOURCES)
        self.issued: list[IssuedToken] = []
        self.token_requests = 0
        self.metadata_requests = 0
        self._fail_status: int | None = None
        self._fail_remaining: int | None = None
        self._hang = False
        self._site: ThreadedSite | None = None
        self._released: asyncio.Event | None = None
        self._dir = tempfile.TemporaryDirectory(prefix="entra-stand-in-")
        self.ca_file = str(Path(self._dir.name) / "ca.pem")
        self.port = 0

    # --- lifecycle -------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def authority(self, tenant_id: str) -> str:
        return f"{self.base_url}/{tenant_id}"

    def token_endpoint(self, tenant_id: str) -> str:
        return f"{self.base_url}/{tenant_id}/oauth2/v2.0/token"

    def start(self) -> Self:
        key_pem, cert_pem = _tls_certificate()
        key_file = Path(self._dir.name) / "key.pem"
        key_file.write_bytes(key_pem)
        Path(self.ca_file).write_bytes(cert_pem)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.ca_file, str(key_file))

        def build() -> web.Application:
            self._released = asyncio.Event()
            app = web.Application()
            app.router.add_get(
                "/{tenant}/v2.0/.well-known/openid-configuration", self._openid_configuration
            )
            app.router.add_get("/{tenant}/discovery/v2.0/keys", self._keys)
            app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
            return app

        async def release() -> None:
            if self._released is not None:
                self._released.set()

        self._site = ThreadedSite("Entra stand-in", build, context, before_stop=release)
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

    # --- test controls ---------------------------------------------------------------------

    def register_tenant(self, tenant_id: str) -> None:
        with self._lock:
            self._tenants.add(tenant_id.lower())

    def register_app(
        self,
        tenant_id: str,
        client_id: str,
        *,
        secret: str | None = None,
        certificate_pem: str | None = None,
    ) -> RegisteredApp:
        """Register (or extend) an app in a tenant, creating the tenant if needed."""
        self.register_tenant(tenant_id)
        with self._lock:
            app = self._apps.setdefault(
                (tenant_id.lower(), client_id), RegisteredApp(tenant_id, client_id)
            )
            if secret is not None:
                app.secret = secret
            if certificate_pem is not None:
                cert = x509.load_pem_x509_certificate(certificate_pem.encode("ascii"))
                app.certificates[_b64url(cert.fingerprint(hashes.SHA1()))] = cert
                app.certificates[_b64url(cert.fingerprint(hashes.SHA256()))] = cert
            return app

    def register_resource(self, resource: str) -> None:
        """Accept ``<resource>/.default`` scopes, e.g. a SharePoint tenant's
        ``https://contoso.sharepoint.com`` (each tenant's SharePoint is its own resource)."""
        with self._lock:
            self._resources.add(resource.rstrip("/"))

    def register_federated_credential(
        self, tenant_id: str, client_id: str, *, issuer: str, subject: str, public_key_pem: str
    ) -> None:
        """Trust tokens of ``issuer`` for ``subject`` as this app's client assertion (workload
        identity federation). Entra fetches the issuer's keys from its OIDC discovery document;
        the stand-in is given the key instead."""
        app = self.register_app(tenant_id, client_id)
        with self._lock:
            app.federated.append((issuer, subject, public_key_pem))

    def fail_token_requests(self, status: int | None = 503, count: int | None = None) -> None:
        """Answer token requests with ``status`` (``count`` times; None: until told otherwise;
        ``status=None`` stops failing)."""
        with self._lock:
            self._fail_status = status
            self._fail_remaining = count

    def hang_token_requests(self, hang: bool = True) -> None:
        """Token requests never answer (until :meth:`stop` or ``hang_token_requests(False)``
        for new requests)."""
        self._hang = hang

    def tokens_for(self, tenant_id: str, scope: str | None = None) -> list[IssuedToken]:
        with self._lock:
            return [
                t
                for t in self.issued
                if t.tenant_id == tenant_id.lower() and (scope is None or t.scope == scope)
            ]

    @property
    def public_key_pem(self) -> str:
        return (
            self._signing_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode("ascii")
        )

    def jwks(self) -> dict[str, Any]:
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self._signing_key.public_key(), as_dict=True)
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return {"keys": [jwk]}

    def verify_access_token(self, token: str, audience: str) -> dict[str, Any]:
        """The claims of a token this stand-in issued for ``audience``; raises
        ``jwt.InvalidTokenError`` on a bad signature, another audience, expiry or a foreign
        issuer (as a resource server such as Graph checks)."""
        header = jwt.get_unverified_header(token)
        if header.get("kid") != self.kid:
            raise jwt.InvalidTokenError("unknown signing key")
        claims: dict[str, Any] = jwt.decode(
            token,
            self._signing_key.public_key(),
            algorithms=["RS256"],
            audience=audience,
            options={"require": ["exp", "iat", "nbf", "aud", "iss", "tid", "appid"]},
        )
        if claims["iss"] != f"https://sts.windows.net/{claims['tid']}/":
            raise jwt.InvalidIssuerError("issuer does not match the tenant")
        return claims

    # --- handlers --------------------------------------------------------------------------

    def mint_access_token(
        self, tenant: str, client_id: str, resource: str, *, credential: str = "managed-identity"
    ) -> tuple[str, dict[str, Any]]:
        """A v1 app-only access token signed by this stand-in (the token endpoint's, and the one
        a managed identity endpoint stand-in hands out): (token, claims)."""
        now = int(time.time())
        claims = {
            "aud": resource,
            "iss": f"https://sts.windows.net/{tenant}/",
            "iat": now,
            "nbf": now,
            "exp": now + TOKEN_LIFETIME,
            "appid": client_id,
            "appidacr": "1" if credential == "secret" else "2",
            "idp": f"https://sts.windows.net/{tenant}/",
            "idtyp": "app",
            "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant}/{client_id}")),
            "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant}/{client_id}")),
            "tid": tenant,
            "ver": "1.0",
        }
        token = jwt.encode(
            claims, self._signing_key, algorithm="RS256", headers={"kid": self.kid, "x5t": self.kid}
        )
        return token, claims

    def _known_tenant(self, tenant: str) -> bool:
        with self._lock:
            return tenant.lower() in self._tenants

    async def _openid_configuration(self, request: web.Request) -> web.Response:
        tenant = request.match_info["tenant"]
        self.metadata_requests += 1
        if not self._known_tenant(tenant):
            return _error(
                400,
                "invalid_tenant",
                90002,
                f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID "
                "and are signing into the correct cloud.",
            )
        base = self.authority(tenant)
        return web.json_response(
            {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": f"{base}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "tenant_region_scope": "EU",
            }
        )

    async def _keys(self, request: web.Request) -> web.Response:
        return web.json_response(self.jwks())

    async def _token(self, request: web.Request) -> web.StreamResponse:
        tenant = request.match_info["tenant"].lower()
        with self._lock:
            self.token_requests += 1
            status = self._fail_status
            if status is not None and self._fail_remaining is not None:
                self._fail_remaining -= 1
                if self._fail_remaining <= 0:
                    self._fail_status = self._fail_remaining = None
        if self._hang and self._released is not None:
            await self._released.wait()
            return web.Response(status=503)
        if status is not None:
            return web.json_response(
                {
                    "error": "temporarily_unavailable",
                    "error_description": "AADSTS90033: "
                    "A transient error has occurred. Please try again.",
                    "error_codes": [90033],
                },
                status=status,
            )
        if request.content_type != "application/x-www-form-urlencoded":
            return _error(
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'grant_type'.",
            )
        form = await request.post()
        values = {k: v for k, v in form.items() if isinstance(v, str)}
        if not self._known_tenant(tenant):
            return _error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
        grant = values.get("grant_type")
        if not grant:
            return _error(
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'grant_type'.",
            )
        if grant != "client_credentials":
            return _error(
                400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type."
            )
        client_id = values.get("client_id", "")
        if not client_id:
            return _error(
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'client_id'.",
            )
        scopes = values.get("scope", "").split()
        if not scopes:
            return _error(
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'scope'.",
            )
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            return _error(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope "
                f"{' '.join(scopes)} is not valid. Client credential flows must have a "
                "scope value with /.default suffixed to the resource identifier "
                "(application ID URI).",
            )
        resource = scopes[0][: -len("/.default")]
        with self._lock:
            known = resource in self._resources
        if not known:
            return _error(
                400,
                "invalid_resource",
                500011,
                f"The resource principal named "
                f"{resource} was not found in the tenant named {tenant}.",
            )
        with self._lock:
            app = self._apps.get((tenant, client_id))
        if app is None:
            return _error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier "
                f"'{client_id}' was not found in the directory '{tenant}'.",
            )
        credential, problem = self._authenticate(app, values)
        if problem is not None:
            return _error(401, "invalid_client", problem[0], problem[1])
        token, claims = self.mint_access_token(tenant, client_id, resource, credential=credential)
        with self._lock:
            self.issued.append(IssuedToken(tenant, client_id, scopes[0], token, claims, credential))
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": TOKEN_LIFETIME,
                "ext_expires_in": TOKEN_LIFETIME,
                "access_token": token,
            },
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )

    def _authenticate(
        self, app: RegisteredApp, values: dict[str, str]
    ) -> tuple[str, tuple[int, str] | None]:
        secret = values.get("client_secret")
        assertion = values.get("client_assertion")
        if secret is not None:
            if app.secret is None or not hmac.compare_digest(secret.encode(), app.secret.encode()):
                return "secret", (
                    7000215,
                    (
                        "Invalid client secret provided. Ensure the secret being sent in the request "
                        "is the client secret value, not the client secret ID, for a secret added to "
                        f"app '{app.client_id}'."
                    ),
                )
            return "secret", None
        if assertion is not None:
            if values.get("client_assertion_type") != ASSERTION_TYPE:
                return "certificate", (50027, "Invalid client_assertion_type.")
            return "certificate", self._check_assertion(app, assertion)
        return "", (
            7000218,
            (
                "The request body must contain the following parameter: 'client_assertion' or "
                "'client_secret'."
            ),
        )

    def _check_assertion(self, app: RegisteredApp, assertion: str) -> tuple[int, str] | None:
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.InvalidTokenError:
            return 50027, "JWT token is invalid or malformed."
        alg = header.get("alg")
        if app.federated and "x5t" not in header and "x5t#S256" not in header:
            return _check_federated(app, assertion)
        if alg == "PS256":
            thumbprint = header.get("x5t#S256")
        elif alg == "RS256":
            thumbprint = header.get("x5t")
        else:
            return 50027, f"JWT token is invalid or malformed: unsupported alg {alg!r}."
        # msal sends the thumbprint padded ("...="); Entra's docs show both forms
        cert = app.certificates.get(thumbprint.rstrip("=")) if isinstance(thumbprint, str) else None
        if cert is None:
            return 700021, (
                f"Client assertion application identifier doesn't match "
                f"'client_id' parameter or the key was not found for app "
                f"'{app.client_id}'. Key ID: {thumbprint}."
            )
        try:
            claims = jwt.decode(
                assertion,
                cert.public_key(),  # type: ignore[arg-type]
                algorithms=[alg],
                audience=self.token_endpoint(app.tenant_id),
                issuer=app.client_id,
                options={"require": ["exp", "aud", "iss", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            return 700024, "Client assertion is not within its valid time range."
        except jwt.InvalidSignatureError:
            return 700027, "Client assertion failed signature validation."
        except jwt.InvalidTokenError as exc:
            return 50027, f"JWT token is invalid or malformed: {exc}."
        if claims.get("sub") != app.client_id:
            return 700023, "Client assertion subject does not match the client id."
        return None


FEDERATION_AUDIENCE = "api://AzureADTokenExchange"


def _check_federated(app: RegisteredApp, assertion: str) -> tuple[int, str] | None:
    """Workload identity federation: the assertion is the external token, signed by a trusted
    issuer, for the audience ``api://AzureADTokenExchange`` and a registered subject."""
    for issuer, subject, key_pem in app.federated:
        try:
            claims = jwt.decode(assertion, key_pem, algorithms=["RS256"], audience=FEDERATION_AUDIENCE,
                                issuer=issuer, options={"require": ["exp", "aud", "iss", "sub"]})
        except jwt.ExpiredSignatureError:
            return 700024, "Client assertion is not within its valid time range."
        except jwt.InvalidTokenError:
            continue
        if claims.get("sub") == subject:
            return None
    return 70021, "No matching federated identity record found for presented assertion."


def _error(status: int, error: str, code: int, text: str) -> web.Response:
    trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
    timestamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return web.json_response(
        {
            "error": error,
            "error_description": f"AADSTS{code}: {text} Trace ID: {trace_id} Correlation ID: "
            f"{correlation_id} Timestamp: {timestamp}",
            "error_codes": [code],
            "timestamp": timestamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": f"https://login.microsoftonline.com/error?code={code}",
        },
        status=status,
    )
