"""The files connector's settings: ``[connectors.<name>]`` with ``type = "files"``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from core.config import ConnectorConfig
from core.errors import ConfigError


@dataclass
class FilesConnectorConfig(ConnectorConfig):
    path: str = ""  # the folder to index (relative paths: from the working directory)
    # Where readers open the files, e.g. https://intranet.example/handbook/: citation URLs are
    # this + the path below the folder. Empty: citations show that path and no link (never the
    # server's own path).
    url_base: str = ""

    def document_source(self, name: str) -> str:
        """``files:<folder>``: documents are known by their folder, whatever the instance's name."""
        return "files:" + str(Path(self.path).resolve())

    @classmethod
    def check_instances(cls, instances: Mapping[str, ConnectorConfig], where: str) -> None:
        """Two instances may not index one folder."""
        roots: dict[Path, str] = {}
        for name, conf in instances.items():
            if isinstance(conf, cls) and conf.path:
                root = Path(conf.path).resolve()
                if root in roots:
                    raise ConfigError(
                        f"{where}: connectors {roots[root]!r} and {name!r} both index {root}; keep one"
                    )
                roots[root] = name
