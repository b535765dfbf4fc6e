"""Builds the retrieval stack from configuration. The embedder loads on first use: commands
that never embed (status, BM25-only search) do not pay for loading the model."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from core.config import Config
from core.db import Database, open_database
from retrieval.chunking import Chunker
from retrieval.embedding import Embedder, make_embedder
from retrieval.guard import DatabaseGuard
from retrieval.index.base import IndexBackend
from retrieval.index.registry import open_index
from retrieval.search import Searcher


@dataclass
class Runtime:
    config: Config
    db: Database = field(init=False)

    def __post_init__(self) -> None:
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        self.db = open_database(self.config.database_url, self.config.database.schema)

    @cached_property
    def embedder(self) -> Embedder:
        return make_embedder(self.config.embedding)

    @cached_property
    def index(self) -> IndexBackend:
        return open_index(self.config, self.embedder.dimension)

    @cached_property
    def chunker(self) -> Chunker:
        c = self.config.chunking
        return Chunker(self.embedder.token_counts, c.max_tokens, c.min_tokens)

    @cached_property
    def searcher(self) -> Searcher:
        # Every hit is checked against the metadata database too (retrieval.guard).
        return Searcher(self.embedder, self.index, self.config.search, DatabaseGuard(self.db))

    def close(self) -> None:
        self.db.close()
