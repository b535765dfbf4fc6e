"""The sync engine: one reliable way for every connector to keep the index fresh.

writer.py applies documents to the index and the metadata rows; state.py keeps checkpoints and
run records; engine.py runs the three jobs (content, permissions, full reconciliation);
scheduler.py runs them on a timer in the server, one replica per connector at a time (leases);
full_scan.py adapts a connector that can only scan everything.
"""

from connectors.sync.engine import JOB_KINDS, SyncEngine
from connectors.sync.report import SyncReport

__all__ = ["JOB_KINDS", "SyncEngine", "SyncReport"]
