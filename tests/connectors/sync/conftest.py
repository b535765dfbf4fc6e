"""The sync engine over a fresh LanceDB index and the hash embedder, on each database engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.sync import SyncEngine
from core.db import Database
from retrieval.chunking import Chunker
from retrieval.embedding import HashEmbedder
from retrieval.index.lance import LanceIndex

EMB = HashEmbedder(64)


@pytest.fixture
def engine(database: Database, tmp_path: Path) -> SyncEngine:
    index = LanceIndex(tmp_path / "index", EMB.dimension)
    return SyncEngine(database, index, EMB, Chunker(EMB.token_counts, 60, 10), batch_chunks=2)
