"""The files source type: ``[connectors.<name>]`` with ``type = "files"``."""

from __future__ import annotations

from pathlib import Path

from connectors.base import Source, SyncConnector
from connectors.files.connector import FilesConnector
from connectors.files.settings import FilesConnectorConfig
from core.config import Config
from core.errors import ConfigError
from core.secrets import SecretStore


def build(name: str, conf: FilesConnectorConfig, app: Config, secrets: SecretStore) -> SyncConnector:
    if not conf.path:
        raise ConfigError(f"connectors.{name}.path is required for a files connector")
    try:
        return FilesConnector(Path(conf.path), app.files, instance=name, url_base=conf.url_base)
    except ConfigError as exc:
        raise ConfigError(f"connectors.{name}: {exc}") from None


SOURCE = Source(FilesConnectorConfig, build)
