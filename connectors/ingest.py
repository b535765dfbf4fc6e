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

IngestReport = SyncReport

__all__ = ["IngestEngine", "IngestReport", "Progress"]


class IngestEngine(SyncEngine):
    def ingest(self, connector: Connector, progress: Progress | None = None) -> SyncReport:
        return self.run(FullScan(connector), "full", progress=progress)
