"""Secrets from ``LORE_SECRET_<NAME>`` environment variables: for development only.

Environment variables leak into child processes, crash reports and ``/proc/<pid>/environ``, and
cannot be rotated without a restart; production deployments use a vault.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

from core.secrets.base import SecretStore, SecretStoreError, validate_secret_name
from core.secrets.redaction import Redactor
from core.sections import ServerMode

PREFIX = "LORE_SECRET_"

log = logging.getLogger("lore.secrets")


def env_var_name(name: str) -> str:
    """``groq-api-key`` -> ``LORE_SECRET_GROQ_API_KEY``."""
    return PREFIX + validate_secret_name(name).upper().replace("-", "_")


class EnvSecretStore(SecretStore):
    name = "env"
    can_store = False

    def __init__(self, env: Mapping[str, str] | None = None, *, redactor: Redactor | None = None):
        # The live mapping (os.environ by default), not a copy: a test or a supervisor that
        # changes it is seen at the next get().
        self._env: Mapping[str, str] = os.environ if env is None else env
        self._redactor = redactor if redactor is not None else Redactor()

    @property
    def redactor(self) -> Redactor:
        return self._redactor

    def get(self, name: str) -> str | None:
        raw = self._env.get(env_var_name(name))
        # Surrounding whitespace is a copy-paste accident (a trailing newline breaks HTTP
        # headers); an empty variable means "not set", as in most shells' conventions.
        value = raw.strip() if raw is not None else None
        if not value:
            return None
        self._redactor.register(value, name=name)
        return value

    def where(self, name: str) -> str:
        return f"the environment variable {env_var_name(name)}"

    def put(self, name: str, value: str) -> None:
        raise SecretStoreError(
            f"the env secret store is read-only: set {env_var_name(name)} in the environment "
            f"of the process, or configure a vault (secrets.provider)"
        )

    def __repr__(self) -> str:  # never the mapping: it holds the values
        return "<EnvSecretStore>"


@dataclass
class EnvSettings:
    """The env provider has no settings of its own."""


def open_env_store(
    settings: EnvSettings, mode: ServerMode, env: Mapping[str, str] | None, redactor: Redactor
) -> EnvSecretStore:
    """The ``env`` provider. Outside ``server.mode = "development"`` it works but is warned
    about, once per opening."""
    if mode != "development":
        log.warning(
            "secrets.provider is 'env': environment secrets are for development only "
            "(server.mode=%s); configure a vault for production",
            mode,
        )
    return EnvSecretStore(env, redactor=redactor)
