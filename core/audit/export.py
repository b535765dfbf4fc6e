"""JSON Lines for a SIEM: one event per line with every stored field, hashes included, so that
the receiving side can re-verify the chain. Read in batches by ``seq``: the table is never
held in memory."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from core.audit.chain import AuditRecord
from core.audit.errors import AuditError
from core.audit.head import EVENTS
from core.db.engine import Database


def iter_events(db: Database, since: datetime | None = None, until: datetime | None = None,
                *, batch: int = 1000) -> Iterator[AuditRecord]:
    """Events with ``since <= at < until``, in seq order."""
    after = -(2**62)
    while True:
        query = select(EVENTS).where(EVENTS.c.seq > after)
        if since is not None:
            query = query.where(EVENTS.c.at >= since)
        if until is not None:
            query = query.where(EVENTS.c.at < until)
        try:
            with db.engine.connect() as conn:
                rows = conn.execute(query.order_by(EVENTS.c.seq).limit(batch)).all()
        except SQLAlchemyError as exc:
            raise AuditError(f"cannot read the audit log: {exc.__class__.__name__}") from None
        if not rows:
            return
        for row in rows:
            yield AuditRecord.from_row(row)
        after = int(rows[-1].seq)


def export_jsonl(db: Database, out: TextIO, since: datetime | None = None, until: datetime | None = None,
                 *, batch: int = 1000) -> int:
    """Write the events to ``out``; returns how many."""
    count = 0
    for record in iter_events(db, since, until, batch=batch):
        out.write(json.dumps(record.as_json(), ensure_ascii=False, separators=(",", ":")) + "\n")
        count += 1
    return count
