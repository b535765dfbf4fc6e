"""Secret stores: secrets are referenced by name in config and fetched at run time.

Wiring (one ``Redactor`` shared by the store and the logs, no global registry)::

    redactor = Redactor()
    configure_logging(cfg.server.log_level, redactor)
    secrets = open_secret_store(cfg.secrets, mode=cfg.server.mode, redactor=redactor)

or ``configure_logging(level, secrets.redactor)`` after opening the store.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from core.coerce import one_of
from core.secrets.base import (
    InvalidSecretName,
    SecretNotFound,
    SecretStore,
    SecretStoreError,
    require_secret,
    validate_secret_name,
)
from core.secrets.env import EnvSecretStore, open_env_store
from core.secrets.redaction import REDACTED, Redactor, redact_patterns
from core.sections import SecretsConfig, ServerMode

__all__ = [
    "PROVIDERS",
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

# Each provider: (mode, env, redactor) -> store. ``mode`` is ``server.mode``; ``env`` stands in
# for os.environ (tests). Adding one is a module next to env.py plus one line here.
PROVIDERS: dict[str, Callable[[ServerMode, Mapping[str, str] | None, Redactor], SecretStore]] = {
    "env": open_env_store,
}


def open_secret_store(
    config: SecretsConfig,
    *,
    mode: ServerMode,
    env: Mapping[str, str] | None = None,
    redactor: Redactor | None = None,
) -> SecretStore:
    """The store named by ``secrets.provider``."""
    provider = PROVIDERS[one_of(config.provider, list(PROVIDERS), "secrets.provider")]
    return provider(mode, env, redactor if redactor is not None else Redactor())
