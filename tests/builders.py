"""Small builders the tests share: files in a tree, a sync engine, the configuration as `lore`
loads it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from bot import plugins as bot_plugins
from connectors.sync import SyncEngine
from core import config
from core.db import open_database
from retrieval.chunking import Chunker
from retrieval.embedding import HashEmbedder


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


def load_config(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> config.Config:
    """The configuration as `lore` loads it (every registered plug-in's settings)."""
    return bot_plugins.load_config(path, env)
