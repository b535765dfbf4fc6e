"""Secrets in Azure Key Vault (provider ``azure-key-vault``; the production default), through
``azure-keyvault-secrets`` and ``azure-identity``.

Credential kinds (``credential``), and where their bootstrap credential lives:

- ``managed-identity``: none anywhere; Azure hands the pod / VM a token through its identity
  endpoint. ``client_id`` picks a user-assigned identity.
- ``workload-identity``: a projected Kubernetes service account token file (AKS writes it;
  ``federated_token_file``, default the webhook's ``AZURE_FEDERATED_TOKEN_FILE``), exchanged
  for an Entra token; no long-lived secret.
- ``client-secret``: the app's client secret in ``client_secret_file`` (a mounted file).
- ``certificate``: a PEM certificate with its private key at ``certificate_path``.

Deleting honours soft-delete: the secret is deleted, then purged (permission *Purge*); where
purge protection forbids that, a later ``put`` of the same name recovers it (permission
*Recover*) and writes the new value.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

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

_PERMISSION = {"get": "Get (role 'Key Vault Secrets User')",
               "put": "Set and Recover (role 'Key Vault Secrets Officer')",
               "delete": "Delete and Purge (role 'Key Vault Secrets Officer')"}


@dataclass
class AzureKeyVaultSettings:
    vault_url: str = ""  # https://<vault name>.vault.azure.net
    credential: Literal["managed-identity", "workload-identity", "client-secret", "certificate"] = "managed-identity"
    tenant_id: str = ""
    client_id: str = ""
    client_secret_file: str = ""
    certificate_path: str = ""
    federated_token_file: str = ""
    authority_host: str = ""  # default: login.microsoftonline.com (sovereign clouds differ)
    ca_file: str = ""  # PEM bundle of a private CA; TLS verification is always on
    timeout_seconds: float = 5.0


class AzureKeyVaultStore(SecretStore):
    name = "azure-key-vault"
    can_store = True

    def __init__(self, settings: AzureKeyVaultSettings, redactor: Redactor) -> None:
        from azure.keyvault.secrets import SecretClient

        if not settings.vault_url.startswith("https://"):
            raise SecretStoreError(
                "secrets.azure-key-vault.vault_url must be the vault's https URL "
                "(https://<vault name>.vault.azure.net)"
            )
        self._settings = settings
        self._redactor = redactor
        transport = _transport_options(settings)
        self._client = SecretClient(settings.vault_url, _credential(settings, transport, redactor),
                                    retry_total=0, **transport)

    @property
    def redactor(self) -> Redactor:
        return self._redactor

    def where(self, name: str) -> str:
        return f"the secret {name!r} in the Key Vault {self._settings.vault_url}"

    def get(self, name: str) -> str | None:
        validate_secret_name(name)
        secret = self._call("get", name, lambda: self._client.get_secret(name))
        value = None if secret is None else secret.value
        if not value:
            return None
        self._redactor.register(value, name=name)
        return value

    def put(self, name: str, value: str) -> None:
        validate_secret_name(name)
        try:
            self._call("put", name, lambda: self._client.set_secret(name, value))
        except _Conflict:
            # Deleted but recoverable (purge protection): the name is reusable once recovered.
            self._call("put", name, lambda: self._client.begin_recover_deleted_secret(name).wait())
            self._call("put", name, lambda: self._client.set_secret(name, value))

    def delete(self, name: str) -> None:
        validate_secret_name(name)
        self._call("delete", name, lambda: self._client.begin_delete_secret(name).wait())
        try:
            self._call("delete", name, lambda: self._client.purge_deleted_secret(name))
        except SecretStoreError as exc:
            log.warning("secret %r is deleted but not purged (%s); a later write recovers it", name, exc)

    def __repr__(self) -> str:
        return f"<AzureKeyVaultStore {self._settings.vault_url}>"

    def _call(self, operation: str, name: str, action: Callable[[], T]) -> T | None:
        from azure.core.exceptions import (
            ClientAuthenticationError,
            HttpResponseError,
            ResourceExistsError,
            ResourceNotFoundError,
            ServiceRequestError,
            ServiceResponseError,
        )
        from azure.identity import CredentialUnavailableError

        try:
            return action()
        except ResourceNotFoundError:
            return None
        except ResourceExistsError:
            raise _Conflict("conflict") from None
        except CredentialUnavailableError as exc:
            raise SecretStoreError(
                f"Key Vault: the {self._settings.credential} credential is not available here "
                f"({_first_line(exc)})"
            ) from None
        except ClientAuthenticationError as exc:
            response = getattr(exc, "response", None)
            url = str(getattr(getattr(response, "request", None), "url", ""))
            if url.startswith(self._settings.vault_url) and exc.status_code in (401, 403):
                raise self._denied(operation, name, exc.status_code) from None
            # Entra's answer names the reason (AADSTS code), never the credential itself.
            raise SecretStoreError(
                f"Key Vault: signing in with the {self._settings.credential} credential failed: "
                f"{self._redactor.redact(_first_line(exc))}"
            ) from None
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise SecretStoreUnavailable(
                f"Key Vault {self._settings.vault_url} cannot be reached ({type(exc).__name__})"
            ) from None
        except HttpResponseError as exc:
            status = exc.status_code or 0
            if status in (401, 403):
                raise self._denied(operation, name, status) from None
            if status == 429 or status >= 500:
                raise SecretStoreUnavailable(
                    f"Key Vault {self._settings.vault_url} is unavailable (HTTP {status})"
                ) from None
            raise SecretStoreError(
                f"Key Vault refused {operation} of secret {name!r} (HTTP {status})"
            ) from None


    def _denied(self, operation: str, name: str, status: int | None) -> SecretStoreError:
        return SecretStoreError(
            f"Key Vault {self._settings.vault_url} denied access to secret {name!r} (HTTP {status}): "
            f"Lore's identity needs the secret permission {_PERMISSION[operation]}"
        )


class _Conflict(SecretStoreError):
    """Internal: the name belongs to a deleted but recoverable secret (HTTP 409)."""


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


def _transport_options(settings: AzureKeyVaultSettings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "connection_timeout": settings.timeout_seconds,
        "read_timeout": settings.timeout_seconds,
    }
    if settings.ca_file:
        options["connection_verify"] = settings.ca_file
    return options


def _credential(settings: AzureKeyVaultSettings, transport: dict[str, Any], redactor: Redactor) -> Any:
    from azure import identity

    common: dict[str, Any] = dict(transport)
    if settings.authority_host:
        # Named explicitly, it is trusted as named: instance discovery would only ask
        # login.microsoftonline.com whether it knows this host.
        common["authority"] = settings.authority_host
        common["disable_instance_discovery"] = True
    kind = settings.credential
    if kind == "managed-identity":
        return identity.ManagedIdentityCredential(client_id=settings.client_id or None, **transport)
    if kind == "workload-identity":
        options = {k: v for k, v in (("tenant_id", settings.tenant_id), ("client_id", settings.client_id),
                                     ("token_file_path", settings.federated_token_file)) if v}
        return identity.WorkloadIdentityCredential(**options, **common)
    if not settings.tenant_id or not settings.client_id:
        raise SecretStoreError(f"secrets.azure-key-vault: credential = {kind} needs tenant_id and client_id")
    if kind == "client-secret":
        secret = read_credential_file(settings.client_secret_file, "secrets.azure-key-vault.client_secret_file")
        redactor.register(secret)
        return identity.ClientSecretCredential(settings.tenant_id, settings.client_id, secret, **common)
    read_credential_file(settings.certificate_path, "secrets.azure-key-vault.certificate_path")
    return identity.CertificateCredential(settings.tenant_id, settings.client_id,
                                          certificate_path=settings.certificate_path, **common)


def open_azure_store(
    settings: AzureKeyVaultSettings, mode: ServerMode, env: Mapping[str, str] | None, redactor: Redactor
) -> AzureKeyVaultStore:
    return AzureKeyVaultStore(settings, redactor)
