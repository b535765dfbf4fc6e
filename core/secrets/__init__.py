"""Secret stores: secrets are referenced by name in config and fetched at run time.

Wiring (one ``Redactor`` shared by the store and the logs, no global registry)::

    redactor = Redactor()
    configure_logging(cfg.server.log_level, redactor)
    secrets = open_secret_store(cfg.secrets, mode=cfg.server.mode, redactor=redactor)

or ``configure_logging(level, secrets.redactor)`` after opening the store.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from core.config import ConfigError, SecretsConfig
from core.secrets.base import (
    InvalidSecretName,
    SecretNotFound,
    SecretStore,
    SecretStoreError,
    require_secret,
    validate_secret_name,
)
from core.secrets.env import EnvSecretStore
from core.secrets.redaction import REDACTED, Redactor, redact_patterns

__all__ = [
    "REDACTED",
    "EnvSecretStore",
    "InvalidSecretName",
    "Redactor",
    "SecretNotFound",
    "SecretStore",
    "SecretStoreError",
    "open_secret_store",
    "redact_patterns",
    "require_secret",
    "validate_secret_name",
]

log = logging.getLogger("lore.secrets")

PROVIDERS = ("env",)
PLANNED = "Azure Key Vault, HashiCorp Vault / OpenBao and AWS Secrets Manager"


def open_secret_store(
    config: SecretsConfig,
    *,
    mode: str,
    env: Mapping[str, str] | None = None,
    redactor: Redactor | None = None,
) -> SecretStore:
    """The store named by ``secrets.provider``. ``mode`` is ``server.mode``: outside
    "development" the env store works but is warned about, once per opening."""
    redactor = redactor if redactor is not None else Redactor()
    if config.provider == "env":
        if mode != "development":
            log.warning(
                "secrets.provider is 'env': environment secrets are for development only "
                "(server.mode=%s); configure a vault for production",
                mode,
            )
        return EnvSecretStore(env, redactor=redactor)
    raise ConfigError(
        f"secrets.provider {config.provider!r} is not supported; allowed: "
        f"{', '.join(PROVIDERS)} ({PLANNED} support comes in a later issue)"
    )
