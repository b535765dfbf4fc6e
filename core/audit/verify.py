"""Walking the chain: every hash recomputed, every link and ``seq`` checked, in batches (memory
does not grow with the table), inside one read transaction (a snapshot: appends and prunes
running meanwhile do not show up half-done).

What a hash chain cannot see: the newest rows deleted (the chain just ends earlier) and rows
appended by someone who can write the table (SHA-256 needs no key). ``VerifyResult`` gives the
head's seq and hash so operators can anchor them elsewhere (their SIEM); ``anchor`` checks
that an anchored hash is still in the chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Connection, select
from sqlalchemy.exc import SQLAlchemyError

from core.audit.chain import GENESIS, AuditRecord, signature_valid
from core.audit.errors import AuditError, AuditKeyError
from core.audit.head import CHECKPOINTS, EVENTS
from core.db.engine import Database, as_utc

BreakKind = Literal["edited", "renumbered", "relinked", "gap", "start", "checkpoint"]


@dataclass(frozen=True)
class Break:
    seq: int
    kind: BreakKind
    reason: str

    def __str__(self) -> str:
        return f"seq {self.seq}: {self.reason}"


@dataclass(frozen=True)
class VerifyResult:
    events: int
    first_seq: int | None
    last_seq: int | None
    head_hash: str
    pruned_through: int  # last seq removed by pruning, 0 when never pruned
    broken: Break | None
    anchor_found: bool | None = None  # None: no anchor asked for

    @property
    def ok(self) -> bool:
        return self.broken is None and self.anchor_found is not False

    def summary(self) -> str:
        if self.events == 0:
            return f"ok: 0 events (pruned through seq {self.pruned_through})" if self.pruned_through \
                else "ok: 0 events"
        pruned = f", seq 1-{self.pruned_through} pruned (signed checkpoint)" if self.pruned_through else ""
        return (f"ok: {self.events} events, seq {self.first_seq}-{self.last_seq}{pruned}, "
                f"head {self.head_hash}")


def _snapshot(conn: Connection) -> Connection:
    if conn.dialect.name == "postgresql":
        return conn.execution_options(isolation_level="REPEATABLE READ")
    conn.exec_driver_sql("BEGIN")  # pysqlite would run each SELECT in its own transaction
    return conn


def _content_break(rec: AuditRecord) -> Break | None:
    if rec.computed_hash() == rec.hash:
        return None
    for other in (rec.seq - 1, rec.seq + 1):
        if other >= 1 and rec.computed_hash(other) == rec.hash:
            how = "a row inserted before it, or rows swapped" if other < rec.seq else \
                "a row deleted before it, or rows swapped"
            return Break(rec.seq, "renumbered", f"this row was written as seq {other}: rows were "
                         f"renumbered ({how})")
    return Break(rec.seq, "edited", "the row's contents do not match its hash: it was edited, "
                 "or forged and inserted")


def _start_break(rec: AuditRecord, cp_seq: int, cp_hash: str) -> Break | None:
    expected = cp_seq + 1
    if rec.seq > expected:
        covered = f"the checkpoint covers only seq 1-{cp_seq}" if cp_seq else "no pruning checkpoint covers them"
        return Break(rec.seq, "gap", f"seq {expected}-{rec.seq - 1} are missing from the start of the "
                     f"chain and {covered}: rows were deleted")
    if rec.seq < expected:
        where = f"precedes the pruning checkpoint (seq 1-{cp_seq} were pruned)" if cp_seq else "has a seq below 1"
        return Break(rec.seq, "start", f"the row {where}: it was inserted")
    if rec.prev_hash != cp_hash:
        what = "the genesis value" if cp_seq == 0 else f"the checkpoint's hash of seq {cp_seq}"
        return Break(rec.seq, "relinked", f"prev_hash is not {what}: the row was replaced or relinked")
    return None


def _link_break(prev: AuditRecord, rec: AuditRecord) -> Break | None:
    if rec.seq != prev.seq + 1:
        missing = f"seq {prev.seq + 1}" if rec.seq == prev.seq + 2 else f"seq {prev.seq + 1}-{rec.seq - 1}"
        return Break(rec.seq, "gap", f"{missing} missing after seq {prev.seq}: rows were deleted")
    if rec.prev_hash != prev.hash:
        return Break(rec.seq, "relinked", f"prev_hash does not match the hash of seq {prev.seq}: seq "
                     f"{prev.seq} was replaced or edited with its hash recomputed, or this row was relinked")
    return None


def verify_chain(db: Database, key: bytes | None, *, batch: int = 1000, anchor: str | None = None) -> VerifyResult:
    """Check the whole chain and return the first broken link, if any. ``key`` (the audit key)
    is needed once the chain was pruned: it checks the checkpoint's signature (without it,
    ``AuditKeyError``)."""
    try:
        with db.engine.connect() as conn:
            try:
                return _walk(_snapshot(conn), key, batch, anchor)
            finally:
                conn.rollback()
    except SQLAlchemyError as exc:
        raise AuditError(f"cannot read the audit log: {exc.__class__.__name__}") from None


def _walk(conn: Connection, key: bytes | None, batch: int, anchor: str | None) -> VerifyResult:
    cp = conn.execute(select(CHECKPOINTS).order_by(CHECKPOINTS.c.last_seq.desc()).limit(1)).first()
    cp_seq, cp_hash = (int(cp.last_seq), str(cp.last_hash)) if cp is not None else (0, GENESIS)
    found = None if anchor is None else anchor == cp_hash and cp is not None

    def result(count: int, first: int | None, last: AuditRecord | None, broken: Break | None) -> VerifyResult:
        return VerifyResult(count, first, last.seq if last else None, last.hash if last else cp_hash,
                            cp_seq, broken, found)

    if cp is not None:
        if key is None:  # not a broken chain: one that cannot be checked here
            raise AuditKeyError("the audit log was pruned: verifying its signed checkpoint needs the "
                                "audit key (the secret named by audit.key_secret)")
        if not signature_valid(key, cp_seq, cp_hash, int(cp._mapping["count"]), as_utc(cp.at), str(cp.signature)):
            return result(0, None, None, Break(cp_seq, "checkpoint", "the pruning checkpoint's signature "
                          "is not valid: it was forged or altered (or the audit key changed)"))
    prev: AuditRecord | None = None
    first: int | None = None
    count = 0
    while True:
        after = prev.seq if prev is not None else -(2**62)
        rows = conn.execute(select(EVENTS).where(EVENTS.c.seq > after).order_by(EVENTS.c.seq).limit(batch)).all()
        if not rows:
            return result(count, first, prev, None)
        for row in rows:
            rec = AuditRecord.from_row(row)
            # Contents first: a renumbered row also breaks its link, but "renumbered" says more.
            broken = _content_break(rec) or (
                _start_break(rec, cp_seq, cp_hash) if prev is None else _link_break(prev, rec))
            if broken is not None:
                return result(count, first, prev, broken)
            if anchor is not None and rec.hash == anchor:
                found = True
            first = rec.seq if first is None else first
            prev, count = rec, count + 1
