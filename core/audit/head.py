"""Serializing appends: every writer (thread, process or replica) takes the chain's lock, then
reads the head, inside the transaction that inserts. Without the lock two writers could read
the same head and fork the chain (the primary key on ``seq`` would then refuse the second
insert rather than let it fork, but the event would be lost).

PostgreSQL: a transaction-level advisory lock, released by the commit, keyed by the schema so
that deployments sharing a database in different schemas do not wait on each other. Under READ
COMMITTED the head query that follows sees the previous holder's committed row. SQLite:
``BEGIN IMMEDIATE`` takes the database's write lock before the head is read (a deferred
transaction would read, then fail to upgrade in WAL mode once another writer committed).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Connection, Table, desc, select, text

from core.audit.chain import GENESIS
from core.db.engine import Database
from core.db.tables import AuditCheckpointRow, AuditEventRow

EVENTS = cast(Table, AuditEventRow.__table__)
CHECKPOINTS = cast(Table, AuditCheckpointRow.__table__)


@dataclass(frozen=True)
class Head:
    seq: int  # 0 for an empty chain
    hash: str


@contextmanager
def locked_chain(db: Database) -> Iterator[Connection]:
    """A connection holding the chain's write lock in an open transaction, committed when the
    block ends normally and rolled back otherwise."""
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.audit_events'))"))
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.rollback()
            raise
        conn.commit()


def read_head(conn: Connection) -> Head:
    row = conn.execute(select(EVENTS.c.seq, EVENTS.c.hash).order_by(desc(EVENTS.c.seq)).limit(1)).first()
    if row is not None:
        return Head(int(row.seq), str(row.hash))
    # Every prune appends its own event, so an empty table after a checkpoint means rows were
    # deleted by hand; appending after the checkpoint keeps verify's report about that precise.
    cp = conn.execute(
        select(CHECKPOINTS.c.last_seq, CHECKPOINTS.c.last_hash).order_by(desc(CHECKPOINTS.c.last_seq)).limit(1)
    ).first()
    return Head(int(cp.last_seq), str(cp.last_hash)) if cp is not None else Head(0, GENESIS)
