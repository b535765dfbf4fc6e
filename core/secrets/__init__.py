"""Secret stores: secrets are referenced by name in config and fetched at run time.

Wiring (one ``Redactor`` shared by the store and the logs, no global registry)::

    redactor = Redactor()
    configure_logging(cfg.server.log_level, redactor)
    secrets = open_secret_store(cfg.secrets, mode=cfg.server.mode, redactor=redactor,
                                settings=cfg.secret_providers.get(cfg.secrets.provider),
                                on_failure=audit_secret_failure)

or ``configure_logging(level, secrets.redactor)`` after opening the store. ``on_failure(name,
operation, error class name)`` hears of every failed vault operation (the audit log's sink);
``secrets.health()`` is ``"ok"``, ``"degraded: ..."`` or ``"error: ..."`` (/readyz: 503 on
error).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from core.coerce import one_of
from core.config import Config
from core.secrets.aws_secrets_manager import AwsSecretsManagerSettings, open_aws_store
from core.secrets.azure_key_vault import AzureKeyVaultSettings, open_azure_store
from core.secrets.base import (
    InvalidSecretName,
    SecretNotFound,
    SecretStore,
    SecretStoreError,
    SecretStoreUnavailable,
    require_secret,
    validate_secret_name,
)
from core.secrets.cache import CachedSecretStore, FailureCallback
from core.secrets.env import EnvSecretStore, EnvSettings, open_env_store
from core.secrets.hashicorp_vault import VaultSettings, open_vault_store
from core.secrets.redaction import REDACTED, Redactor, redact_patterns
from core.sections import SecretsConfig, ServerMode

__all__ = [
    "PROVIDERS",
    "REDACTED",
    "CachedSecretStore",
    "EnvSecretStore",
    "InvalidSecretName",
    "Provider",
    "Redactor",
    "SecretNotFound",
    "SecretStore",
    "SecretStoreError",
    "SecretStoreUnavailable",
    "open_configured_store",
    "open_secret_store",
    "redact_patterns",
    "require_secret",
    "validate_secret_name",
]



@dataclass(frozen=True)
class Provider:
    """A secret provider: its settings model (``[secrets.<name>]``, env
    ``LORE_SECRETS_<NAME>_<KEY>``) and its factory ``(settings, mode, env, redactor) -> store``.
    ``cached``: reads go through :class:`CachedSecretStore` (every vault; not ``env``, which
    reads the live environment)."""

    settings: type[Any]
    open: Callable[[Any, ServerMode, Mapping[str, str] | None, Redactor], SecretStore]
    cached: bool = True


# ``mode`` is ``server.mode``; ``env`` stands in for os.environ (tests). Adding a provider is a
# module next to env.py (its settings dataclass and factory) plus one line here.
PROVIDERS: dict[str, Provider] = {
    "env": Provider(EnvSettings, open_env_store, cached=False),
    "azure-key-vault": Provider(AzureKeyVaultSettings, open_azure_store),
    "vault": Provider(VaultSettings, open_vault_store),
    "aws-secrets-manager": Provider(AwsSecretsManagerSettings, open_aws_store),
}


def provider_settings() -> dict[str, type[Any]]:
    """Settings model by provider name, for the settings loader (core.config.Plugins)."""
    return {name: provider.settings for name, provider in PROVIDERS.items()}


def open_secret_store(
    config: SecretsConfig,
    *,
    mode: ServerMode,
    settings: Any | None = None,
    env: Mapping[str, str] | None = None,
    redactor: Redactor | None = None,
    on_failure: FailureCallback | None = None,
    clock: Callable[[], float] | None = None,
) -> SecretStore:
    """The store named by ``secrets.provider``, with ``settings`` (its ``[secrets.<provider>]``
    table, ``Config.secret_providers[provider]``; its defaults when None). A vault's store
    caches (``secrets.cache_seconds``) and reports each failed vault operation to
    ``on_failure(name, operation, error class name)``."""
    name = one_of(config.provider, list(PROVIDERS), "secrets.provider")
    provider = PROVIDERS[name]
    store = provider.open(
        settings if settings is not None else provider.settings(),
        mode, env, redactor if redactor is not None else Redactor(),
    )
    if not provider.cached:
        return store
    if clock is None:
        return CachedSecretStore(store, cache_seconds=config.cache_seconds, on_failure=on_failure)
    return CachedSecretStore(store, cache_seconds=config.cache_seconds, on_failure=on_failure, clock=clock)


def open_configured_store(
    cfg: Config, *, redactor: Redactor | None = None, on_failure: FailureCallback | None = None,
) -> SecretStore:
    """The store ``cfg`` configures (``[secrets]`` and its provider's table): what the server and
    every command open."""
    return open_secret_store(cfg.secrets, mode=cfg.server.mode, redactor=redactor, on_failure=on_failure,
                             settings=cfg.secret_providers.get(cfg.secrets.provider))
