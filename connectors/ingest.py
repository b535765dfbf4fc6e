"""`lore ingest`: one full sync of a connector that scans its whole source (the files connector).

It is the sync engine's ``full`` job on the scanning connector: deletion detection from a
complete listing, every document read (unchanged ones write nothing), group memberships. See
connectors.sync for the rules (crash safety, fail closed, failed listings delete nothing).
"""

from __future__ import annotations

from connectors.base import Connector
from connectors.sync.engine import Progress, SyncEngine
from connectors.sync.full_scan import FullScan
from connectors.sync.report import SyncReport
from core.db import Database
from retrieval.chunking import Chunker
from retrieval.embedding import Embedder
from retrieval.index.base import IndexBackend

IngestReport = SyncReport

__all__ = ["IngestEngine", "IngestReport", "Progress"]


class IngestEngine:
    def __init__(
        self,
        db: Database,
        index: IndexBackend,
        embedder: Embedder,
        chunker: Chunker,
        *,
        batch_chunks: int = 256,
    ) -> None:
        self.db = db
        self.index = index
        self.sync = SyncEngine(db, index, embedder, chunker, batch_chunks=batch_chunks)

    def run(self, connector: Connector, progress: Progress | None = None) -> SyncReport:
        return self.sync.run(FullScan(connector), "full", progress=progress)
