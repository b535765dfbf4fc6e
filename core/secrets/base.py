"""The secret store contract: secrets are looked up by name at run time, never kept in config.

``get`` returns ``None`` when a secret is not set: callers such as ``llm.provider = "auto"``
treat a missing optional secret as a normal state. Where a secret is mandatory, use
``require_secret``, which raises ``SecretNotFound`` naming the secret and the store (names are not
secret; values never appear in any error message of this package).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol

from core.errors import CoreError
from core.secrets.redaction import Redactor, redact_patterns

# Key Vault's rules (1-127 alphanumerics and dashes) narrowed to lower case, so that one name is
# valid in every vault and maps one-to-one onto an environment variable name.
_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,125}[a-z0-9])?")


class SecretStoreError(CoreError):
    """A secret store failed or refused an operation. The message never contains a value."""


class SecretStoreUnavailable(SecretStoreError):
    """The vault cannot be reached (connection error, timeout, 5xx, throttling) and no cached
    value may be served: reads fail closed rather than answer "not set"."""


class InvalidSecretName(SecretStoreError, ValueError):
    pass


class SecretNotFound(SecretStoreError, LookupError):
    """A mandatory secret is not set (raised by ``require_secret``, never by ``get``)."""


def validate_secret_name(name: str) -> str:
    """Return ``name`` if it is a valid secret name, else raise ``InvalidSecretName``."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        # A name is not a secret, but a value passed by mistake as a name could be: a long
        # one is not echoed, a short one only with credential shapes masked.
        short = isinstance(name, str) and len(name) <= 40
        shown = redact_patterns(repr(name)) if short else f"<{type(name).__name__}>"
        raise InvalidSecretName(
            f"invalid secret name {shown}: use 1-127 lowercase letters, digits and dashes, "
            f"starting and ending with a letter or digit (e.g. 'groq-api-key')"
        )
    return name


class SecretStore(Protocol):
    @property
    def name(self) -> str:
        """Short provider name for messages and logs ("env", "azure-key-vault", ...)."""
        ...

    @property
    def redactor(self) -> Redactor:
        """Every value ``get`` returns is registered here; logging redacts what it holds."""
        ...

    @property
    def can_store(self) -> bool:
        """Whether ``put`` is supported."""
        ...

    def get(self, name: str) -> str | None:
        """The secret's value, or ``None`` when it is not set. Raises ``InvalidSecretName``
        for a malformed name and ``SecretStoreError`` when the store cannot be reached."""
        ...

    def put(self, name: str, value: str) -> None:
        """Create or replace a secret; ``SecretStoreError`` where unsupported."""
        ...

    def delete(self, name: str) -> None:
        """Delete a secret (a revoked token's). Default, inherited by a store that subclasses
        this protocol: unsupported, ``SecretStoreError``."""
        raise SecretStoreError(f"the {self.name} secret store cannot delete secrets")

    def health(self) -> str:
        """``"ok"``, ``"degraded: ..."`` (serving cached values while the vault is unreachable)
        or ``"error: ..."`` (reads fail closed: /readyz answers 503). Default: ``"ok"``, for a
        store that has no remote side (env)."""
        return "ok"

    def where(self, name: str) -> str:
        """Where an operator sets the secret ``name``, for messages. Default: its name in this
        store."""
        return f"secret {name!r} in the {self.name} secret store"


def require_secret(store: SecretStore, name: str) -> str:
    value = store.get(name)
    if value is None:
        raise SecretNotFound(f"secret {name!r} is not set: set {store.where(name)}")
    return value


def read_credential_file(path: str, setting: str) -> str:
    """A vault's bootstrap credential from a mounted file (a token sink, a client secret), or
    ``SecretStoreError`` naming the setting; never the contents."""
    if not path:
        raise SecretStoreError(f"{setting} is not set")
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SecretStoreError(f"{setting}: cannot read {path} ({exc.strerror})") from None
    if not text:
        raise SecretStoreError(f"{setting}: {path} is empty")
    return text
