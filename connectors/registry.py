"""The source types, and configured connector instances (``[connectors.<name>]``) -> sync
connectors and schedules.

``SOURCES`` is the one table of source types: a type's name (the ``type`` of its instances),
its settings model and how an instance is built (a :class:`~connectors.base.Source`). Adding a
source is a new package under connectors/ with its settings model (a ConnectorConfig subclass,
in its ``settings.py``) and a ``source.py`` declaring ``SOURCE = Source(settings, build)``, plus
one line in the table; the configuration loader, ``lore sync`` and the server's scheduler then
know it.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from connectors.base import Source, SyncConnector
from connectors.confluence import source as confluence
from connectors.files import source as files
from connectors.files.settings import FilesConnectorConfig
from connectors.sharepoint import source as sharepoint
from connectors.sync.scheduler import ScheduledConnector
from core.config import Config, ConnectorConfig
from core.errors import ConfigError
from core.secrets import SecretStore

SOURCES: dict[str, Source[Any]] = {
    "files": files.SOURCE,
    "confluence": confluence.SOURCE,
    "sharepoint": sharepoint.SOURCE,
}


def source_settings() -> dict[str, type[ConnectorConfig]]:
    """Each source type's settings model, for the configuration loader (core.config.Plugins)."""
    return {name: source.settings for name, source in SOURCES.items()}


def connector_source(name: str, conf: ConnectorConfig) -> str:
    """The ``source`` its documents carry (stable: changing it re-indexes everything)."""
    return conf.document_source(name)


def build_connector(name: str, conf: ConnectorConfig, app: Config, secrets: SecretStore) -> SyncConnector:
    source = SOURCES.get(conf.type)
    if source is None or not isinstance(conf, source.settings):
        raise ConfigError(f"connectors.{name}: unsupported type {conf.type!r}")
    return source.build(name, conf, app, secrets)


def files_connector_for(app: Config, root: Path) -> tuple[str, FilesConnectorConfig] | None:
    """The configured files connector that indexes ``root``, if any (`lore ingest PATH` then
    runs as that connector: same group namespace, URLs and lease)."""
    wanted = root.resolve()
    for name, conf in sorted(app.connectors.items()):
        if isinstance(conf, FilesConnectorConfig) and conf.path and Path(conf.path).resolve() == wanted:
            return name, conf
    return None


def overlapping_files_connector(app: Config, root: Path) -> str | None:
    """A configured files connector whose folder contains ``root`` or lies inside it."""
    wanted = root.resolve()
    for name, conf in sorted(app.connectors.items()):
        if isinstance(conf, FilesConnectorConfig) and conf.path:
            theirs = Path(conf.path).resolve()
            if theirs != wanted and (wanted.is_relative_to(theirs) or theirs.is_relative_to(wanted)):
                return name
    return None


def intervals(conf: ConnectorConfig) -> dict[str, timedelta]:
    return {
        "content": timedelta(minutes=conf.content_interval_minutes),
        "permissions": timedelta(minutes=conf.permissions_interval_minutes),
        "full": timedelta(hours=conf.full_interval_hours),
    }


def scheduled_targets(app: Config, secrets: SecretStore) -> list[ScheduledConnector]:
    """The enabled connector instances, built lazily on each run (a secret rotated in the vault
    is picked up; a broken one fails that run, not the server)."""
    targets = []
    for name, conf in sorted(app.connectors.items()):
        if not conf.enabled:
            continue
        targets.append(
            ScheduledConnector(
                name=name,
                source=connector_source(name, conf),
                build=lambda name=name, conf=conf: build_connector(name, conf, app, secrets),  # type: ignore[misc]
                intervals=intervals(conf),
            )
        )
    return targets
