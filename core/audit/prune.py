"""Retention: removing the oldest events without breaking verification.

Only a prefix of the chain is removed (everything up to the first event that is recent enough),
and in the same transaction a checkpoint records the last removed seq and hash, signed with the
audit key, and a ``prune`` event is appended. Verify then starts from the checkpoint; someone
without the key who deletes the first rows cannot write a checkpoint that hides it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.exc import SQLAlchemyError

from core.audit.chain import canonical_details, checkpoint_signature, iso_utc
from core.audit.errors import AuditError
from core.audit.head import CHECKPOINTS, EVENTS, locked_chain
from core.audit.log import append_locked
from core.db.engine import Database


@dataclass(frozen=True)
class PruneResult:
    pruned: int
    through_seq: int  # last removed seq (0: nothing removed)
    cutoff: datetime
    event_seq: int | None  # the prune event's own seq


def prune_events(db: Database, key: bytes, older_than_days: int, *, now: datetime,
                 actor: str = "operator", platform: str = "cli") -> PruneResult:
    """Remove events older than ``older_than_days`` days before ``now``."""
    if older_than_days < 1:
        raise AuditError(f"the retention must be at least 1 day, not {older_than_days}")
    cutoff = now - timedelta(days=older_than_days)
    try:
        with locked_chain(db) as conn:
            first_recent = conn.execute(select(func.min(EVENTS.c.seq)).where(EVENTS.c.at >= cutoff)).scalar()
            last = conn.execute(
                select(EVENTS.c.seq, EVENTS.c.hash)
                .where(EVENTS.c.seq < first_recent if first_recent is not None else EVENTS.c.seq.is_not(None))
                .order_by(EVENTS.c.seq.desc()).limit(1)
            ).first()
            if last is None:
                return PruneResult(0, 0, cutoff, None)
            through, through_hash = int(last.seq), str(last.hash)
            count = conn.execute(delete(EVENTS).where(EVENTS.c.seq <= through)).rowcount
            conn.execute(CHECKPOINTS.insert().values(
                last_seq=through, last_hash=through_hash, count=count, at=now,
                signature=checkpoint_signature(key, through, through_hash, count, now),
            ))
            details = canonical_details({"pruned": count, "through_seq": through,
                                         "older_than_days": older_than_days, "cutoff": iso_utc(cutoff)})
            [record] = append_locked(conn, [("prune", actor, platform, details)], now)
    except SQLAlchemyError as exc:
        raise AuditError(f"cannot prune the audit log: {exc.__class__.__name__}") from None
    return PruneResult(count, through, cutoff, record.seq)
