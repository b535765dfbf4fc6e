"""The tamper-evident audit log: events in the metadata database, each carrying the hash of the
one before it (chain.py), appended by one writer at a time across replicas (head.py, log.py),
checked by verify.py, pruned behind a signed checkpoint (prune.py), exported as JSON Lines
(export.py)."""

from core.audit.chain import GENESIS, AuditRecord
from core.audit.errors import AuditError, AuditKeyError
from core.audit.events import AuditEvent, AuditKind, AuditSink
from core.audit.export import export_jsonl, iter_events
from core.audit.keys import load_audit_key
from core.audit.log import DatabaseAuditLog
from core.audit.prune import PruneResult, prune_events
from core.audit.verify import Break, VerifyResult, verify_chain

__all__ = [
    "GENESIS", "AuditError", "AuditEvent", "AuditKeyError", "AuditKind", "AuditRecord", "AuditSink",
    "Break", "DatabaseAuditLog", "PruneResult", "VerifyResult", "export_jsonl", "iter_events",
    "load_audit_key", "prune_events", "verify_chain",
]
