"""A writable in-memory secret store for tests: it behaves like Key Vault / Vault / AWS Secrets
Manager (can_store), including registering every value it hands out with its redactor."""

from __future__ import annotations

from core.secrets.base import SecretStore
from core.secrets.redaction import Redactor


class MemorySecretStore(SecretStore):
    name = "memory"
    can_store = True

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self._redactor = Redactor()

    @property
    def redactor(self) -> Redactor:
        return self._redactor

    def get(self, name: str) -> str | None:
        value = self.values.get(name)
        if value is not None:
            self._redactor.register(value, name=name)
        return value

    def put(self, name: str, value: str) -> None:
        self.values[name] = value

    def delete(self, name: str) -> None:
        self.values.pop(name, None)
