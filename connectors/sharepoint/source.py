"""The SharePoint Online source type: ``[connectors.<name>]`` with ``type = "sharepoint"``."""

from __future__ import annotations

from connectors.base import Source, SyncConnector
from core.config import Config
from core.secrets import SecretStore

from .connector import SharePointConnector
from .settings import SharePointConnectorConfig


def build(name: str, conf: SharePointConnectorConfig, app: Config, secrets: SecretStore) -> SyncConnector:
    return SharePointConnector.from_config(name, conf, secrets, app.files)


SOURCE = Source(SharePointConnectorConfig, build)
