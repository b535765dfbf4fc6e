"""Configured connector instances (``[connectors.<name>]``) -> SyncConnectors and schedules."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from connectors.base import SyncConnector
from connectors.sync.scheduler import ScheduledConnector
from core.config import (
    Config,
    ConfigError,
    ConfluenceConnectorConfig,
    ConnectorConfig,
    FilesConnectorConfig,
)
from core.secrets import SecretStore


def connector_source(name: str, conf: ConnectorConfig) -> str:
    """The ``source`` its documents carry (stable: changing it re-indexes everything)."""
    if isinstance(conf, FilesConnectorConfig):
        return "files:" + str(Path(conf.path).resolve())
    return f"{conf.type}:{name}"


def build_connector(name: str, conf: ConnectorConfig, app: Config, secrets: SecretStore) -> SyncConnector:
    if isinstance(conf, FilesConnectorConfig):
        from connectors.files import FilesConnector

        if not conf.path:
            raise ConfigError(f"connectors.{name}.path is required for a files connector")
        try:
            return FilesConnector(Path(conf.path), app.files, instance=name, url_base=conf.url_base)
        except ConfigError as exc:
            raise ConfigError(f"connectors.{name}: {exc}") from None
    if isinstance(conf, ConfluenceConnectorConfig):
        from connectors.confluence.connector import ConfluenceConnector

        return ConfluenceConnector.from_config(name, conf, secrets, app.files)
    raise ConfigError(f"connectors.{name}: unsupported type {conf.type!r}")


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
