"""Small builders the tests share: files in a tree, a sync engine, the configuration as `lore`
loads it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from connectors.registry import source_settings
from connectors.sync import SyncEngine
from core import config
from core.db import open_database
from core.secrets import PROVIDERS
from retrieval.chunking import Chunker
from retrieval.embedding import HashEmbedder
from retrieval.index.registry import BACKENDS


def write(root: Path, relpath: str, content: str | bytes) -> Path:
    path = root / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def sync_engine(folder: Path, *, dimension: int = 16, max_tokens: int = 50, min_tokens: int = 5) -> SyncEngine:
    """A sync engine on SQLite and LanceDB in ``folder``, with the hash embedder."""
    from retrieval.index.lance import LanceIndex

    folder.mkdir(parents=True, exist_ok=True)
    emb = HashEmbedder(dimension)
    db = open_database(f"sqlite:///{folder / 'lore.db'}")
    return SyncEngine(db, LanceIndex(folder / "index", emb.dimension), emb, Chunker(emb.token_counts, max_tokens, min_tokens))


def plugins() -> config.Plugins:
    """Every plug-in kind's table, as bot.cli composes them."""
    return config.Plugins(sources=source_settings(), index_backends=BACKENDS, secret_providers=PROVIDERS)


def load_config(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> config.Config:
    """core.config.load_config with the tables of ``plugins()``."""
    return config.load_config(path, env, plugins=plugins())
