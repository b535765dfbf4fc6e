"""The Confluence source type: ``[connectors.<name>]`` with ``type = "confluence"``."""

from __future__ import annotations

from connectors.base import Source, SyncConnector
from connectors.confluence.connector import ConfluenceConnector
from connectors.confluence.settings import ConfluenceConnectorConfig
from core.config import Config
from core.secrets import SecretStore


def build(name: str, conf: ConfluenceConnectorConfig, app: Config, secrets: SecretStore) -> SyncConnector:
    return ConfluenceConnector.from_config(name, conf, secrets, app.files)


SOURCE = Source(ConfluenceConnectorConfig, build)
