"""The index backends: the one table of them, and the configured one opened.

``BACKENDS`` maps a backend's name (``index.backend``) to its settings model, read from
``[index.<name>]`` (``LORE_INDEX_<NAME>_<KEY>``), which opens the backend
(retrieval.index.base.IndexSettings). Adding a backend is a module next to lance.py with its
IndexBackend and its settings model, plus one line in the table.
"""

from __future__ import annotations

from core.coerce import one_of
from core.config import Config
from retrieval.index.base import IndexBackend, IndexSettings
from retrieval.index.lance import LanceSettings

BACKENDS: dict[str, type[IndexSettings]] = {
    "lance": LanceSettings,
}


def index_settings(config: Config) -> IndexSettings:
    """The configured backend's settings (its defaults for a Config built in code)."""
    name = one_of(config.index.backend, list(BACKENDS), "index.backend")
    settings: IndexSettings | None = config.index_backends.get(name)
    return settings if settings is not None else BACKENDS[name]()


def open_index(config: Config, dimension: int) -> IndexBackend:
    return index_settings(config).open(config.data_dir, dimension)


def open_existing_index(config: Config) -> IndexBackend | None:
    """The configured index as it is, without an embedder; None when there is none yet."""
    return index_settings(config).open_existing(config.data_dir)


def index_location(config: Config) -> str:
    return index_settings(config).location(config.data_dir)
