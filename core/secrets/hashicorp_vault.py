"""Secrets in HashiCorp Vault or OpenBao, KV version 2 (provider ``vault``, through ``hvac``).

Each secret is one KV entry ``<mount>/data/<path_prefix>/<name>`` holding ``{"value": ...}``.
Authentication, by ``auth``:

- ``token``: a token read from ``token_file`` (Vault Agent's sink file; read again at every login,
  so the Agent may replace it). Never an environment variable.
- ``approle``: ``role_id`` (not secret) and the secret id read from ``secret_id_file``.
- ``kubernetes``: ``kubernetes_role`` and the pod's service account token file.

The token's lease is renewed (``auth/token/renew-self``) at two thirds of its TTL; when the
renewal no longer extends it (the token's max TTL) or is refused, Lore logs in again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar

from core.secrets.base import (
    SecretStore,
    SecretStoreError,
    SecretStoreUnavailable,
    read_credential_file,
    validate_secret_name,
)
from core.secrets.redaction import Redactor
from core.sections import ServerMode

log = logging.getLogger("lore.secrets")

T = TypeVar("T")

_DEFAULT_AUTH_MOUNT = {"token": "token", "approle": "approle", "kubernetes": "kubernetes"}


@dataclass
class VaultSettings:
    url: str = ""  # https://vault.example.com:8200
    mount: str = "secret"  # the KV v2 engine's mount point
    path_prefix: str = "lore"
    auth: Literal["token", "approle", "kubernetes"] = "kubernetes"
    auth_mount: str = ""  # default: the method's name (approle, kubernetes)
    token_file: str = ""  # auth = token
    role_id: str = ""  # auth = approle
    secret_id_file: str = ""  # auth = approle
    kubernetes_role: str = ""  # auth = kubernetes
    kubernetes_token_file: str = "/var/run/secrets/kubernetes.io/serviceaccount/token"
    namespace: str = ""  # Vault Enterprise / OpenBao namespace
    ca_file: str = ""  # PEM bundle of a private CA; TLS verification is always on
    timeout_seconds: float = 5.0


class VaultSecretStore(SecretStore):
    name = "vault"
    can_store = True

    def __init__(self, settings: VaultSettings, redactor: Redactor, *, clock: Callable[[], float] = time.monotonic):
        import hvac

        if not settings.url:
            raise SecretStoreError("secrets.vault.url is not set (e.g. https://vault.example.com:8200)")
        self._settings = settings
        self._redactor = redactor
        self._clock = clock
        self._client = hvac.Client(
            url=settings.url,
            verify=settings.ca_file or True,
            timeout=settings.timeout_seconds,
            namespace=settings.namespace or None,
        )
        self._auth_lock = threading.Lock()
        self._renew_at: float | None = None  # None: not logged in
        self._relogin = False  # the last renewal hit the max TTL: log in next time instead
        self._granted = 0.0  # the lease a login granted, to see a capped renewal

    @property
    def redactor(self) -> Redactor:
        return self._redactor

    def where(self, name: str) -> str:
        return f"the vault KV entry {self._settings.mount}/{self._path(name)} (key 'value')"

    def get(self, name: str) -> str | None:
        import hvac.exceptions

        path = self._path(validate_secret_name(name))
        kv = self._client.secrets.kv.v2
        try:
            response = self._call("read", name, lambda: kv.read_secret_version(
                path=path, mount_point=self._settings.mount, raise_on_deleted_version=True))
        except hvac.exceptions.InvalidPath:
            return None
        value = (response.get("data") or {}).get("data", {}).get("value")
        if not isinstance(value, str) or not value:
            return None
        self._redactor.register(value, name=name)
        return value

    def put(self, name: str, value: str) -> None:
        path = self._path(validate_secret_name(name))
        kv = self._client.secrets.kv.v2
        self._call("create", name, lambda: kv.create_or_update_secret(
            path=path, secret={"value": value}, mount_point=self._settings.mount))

    def delete(self, name: str) -> None:
        import hvac.exceptions

        path = self._path(validate_secret_name(name))
        kv = self._client.secrets.kv.v2
        try:
            self._call("delete", name, lambda: kv.delete_metadata_and_all_versions(
                path=path, mount_point=self._settings.mount))
        except hvac.exceptions.InvalidPath:
            return

    def __repr__(self) -> str:
        return f"<VaultSecretStore {self._settings.url}>"

    # -- internals -------------------------------------------------------------------------

    def _path(self, name: str) -> str:
        prefix = self._settings.path_prefix.strip("/")
        return f"{prefix}/{name}" if prefix else name

    def _call(self, capability: str, name: str, action: Callable[[], T]) -> T:
        import hvac.exceptions
        import requests

        try:
            self._ensure_token()
            try:
                return action()
            except hvac.exceptions.Forbidden:
                # An expired or revoked token answers 403 too: log in once more, then judge.
                self._login()
                return action()
        except hvac.exceptions.InvalidPath:
            raise
        except hvac.exceptions.Forbidden:
            raise SecretStoreError(
                f"the vault denied access to secret {name!r}: the policy of Lore's token needs "
                f"the {capability!r} capability on {self._settings.mount}/data/{self._path('*')} "
                f"(and 'delete' on {self._settings.mount}/metadata/{self._path('*')} to delete)"
            ) from None
        except (hvac.exceptions.InternalServerError, hvac.exceptions.VaultDown,
                hvac.exceptions.BadGateway, hvac.exceptions.RateLimitExceeded,
                requests.exceptions.ConnectionError, requests.exceptions.Timeout) as exc:
            raise SecretStoreUnavailable(
                f"the vault at {self._settings.url} cannot be reached ({type(exc).__name__})"
            ) from None
        except hvac.exceptions.VaultError as exc:
            raise SecretStoreError(
                f"the vault refused an operation on secret {name!r} ({type(exc).__name__})"
            ) from None

    def _ensure_token(self) -> None:
        renew_at = self._renew_at
        if renew_at is not None and self._clock() < renew_at:
            return
        with self._auth_lock:
            if self._renew_at is None or self._relogin:
                self._login_locked()
            elif self._clock() >= self._renew_at:
                self._renew_locked()

    def _login(self) -> None:
        with self._auth_lock:
            self._login_locked()

    def _login_locked(self) -> None:
        import hvac.exceptions

        try:
            self._login_once()
        except (hvac.exceptions.Forbidden, hvac.exceptions.InvalidRequest,
                hvac.exceptions.Unauthorized) as exc:
            s = self._settings
            role = {"approle": f" (role id {s.role_id!r})", "kubernetes": f" (role {s.kubernetes_role!r})"}
            raise SecretStoreError(
                f"the vault refused Lore's {s.auth} login{role.get(s.auth, '')} ({type(exc).__name__}): "
                f"check the auth method's role binding and the credential file"
            ) from None

    def _login_once(self) -> None:
        s = self._settings
        auth = self._client.auth
        mount = s.auth_mount or _DEFAULT_AUTH_MOUNT[s.auth]
        if s.auth == "token":
            self._client.token = read_credential_file(s.token_file, "secrets.vault.token_file")
            self._redactor.register(self._client.token)
            data = self._client.auth.token.lookup_self()["data"]
            self._granted = float(data.get("ttl") or 0)
            self._schedule(self._granted, bool(data.get("renewable")))
            return
        if s.auth == "approle":
            if not s.role_id:
                raise SecretStoreError("secrets.vault.role_id is not set (auth = approle)")
            secret_id = read_credential_file(s.secret_id_file, "secrets.vault.secret_id_file")
            response = auth.approle.login(role_id=s.role_id, secret_id=secret_id, mount_point=mount)
        else:
            if not s.kubernetes_role:
                raise SecretStoreError("secrets.vault.kubernetes_role is not set (auth = kubernetes)")
            jwt = read_credential_file(s.kubernetes_token_file, "secrets.vault.kubernetes_token_file")
            response = auth.kubernetes.login(role=s.kubernetes_role, jwt=jwt, mount_point=mount)
        lease = response["auth"]
        self._client.token = lease["client_token"]
        self._redactor.register(lease["client_token"])
        self._granted = float(lease.get("lease_duration") or 0)
        self._schedule(self._granted, bool(lease.get("renewable")))
        log.info("logged in to the vault (%s auth, lease %d s)", s.auth, self._granted)

    def _renew_locked(self) -> None:
        import hvac.exceptions

        try:
            lease = self._client.auth.token.renew_self()["auth"]
        except hvac.exceptions.VaultError:
            # Revoked (403), or past its max TTL: OpenBao answers that with a 500 ("past the max
            # TTL, cannot renew"). A fresh login settles both; a vault that is down fails it too.
            self._login_locked()
            return
        granted = float(lease.get("lease_duration") or 0)
        self._schedule(granted, bool(lease.get("renewable")))
        # A renewal that grants less than the login did is capped by the token's max TTL: the
        # next step is a fresh login, before this lease runs out.
        self._relogin = self._relogin or granted < self._granted

    def _schedule(self, ttl: float, renewable: bool) -> None:
        self._relogin = not renewable
        # 0: a root or periodic-less token that never expires.
        self._renew_at = self._clock() + ttl * 2 / 3 if ttl > 0 else float("inf")


def open_vault_store(
    settings: VaultSettings, mode: ServerMode, env: Mapping[str, str] | None, redactor: Redactor
) -> VaultSecretStore:
    return VaultSecretStore(settings, redactor)

