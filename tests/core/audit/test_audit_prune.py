"""Retention: pruning leaves a signed checkpoint and a prune event, so the rest still verifies;
deleting rows, or forging a checkpoint, without the key does not."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from core.audit import AuditError, AuditKeyError, DatabaseAuditLog, prune_events, verify_chain
from core.audit.chain import AuditRecord, checkpoint_signature
from core.audit.head import CHECKPOINTS, EVENTS
from core.db import Database
from tests.core.audit.conftest import Clock, fill


def old_and_new(log: DatabaseAuditLog, clock: Clock) -> None:
    """Six events 40 days ago, then four today."""
    fill(log, 6)
    clock.now += timedelta(days=40)
    fill(log, 4)


def test_prune_keeps_the_chain_verifiable(database: Database, audit_log: DatabaseAuditLog, clock: Clock,
                                          key: bytes) -> None:
    old_and_new(audit_log, clock)
    result = prune_events(database, key, 30, now=clock.now)
    assert (result.pruned, result.through_seq, result.event_seq) == (6, 6, 11)
    with database.engine.connect() as conn:
        seqs = [r.seq for r in conn.execute(select(EVENTS.c.seq).order_by(EVENTS.c.seq))]
        prune_event = AuditRecord.from_row(conn.execute(select(EVENTS).where(EVENTS.c.seq == 11)).one())
    assert seqs == [7, 8, 9, 10, 11]
    assert prune_event.kind == "prune" and '"pruned":6' in prune_event.details
    verified = verify_chain(database, key)
    assert verified.ok and (verified.events, verified.first_seq, verified.pruned_through) == (5, 7, 6)
    assert "seq 1-6 pruned (signed checkpoint)" in verified.summary()
    fill(audit_log, 2)  # appends continue after the prune
    assert verify_chain(database, key).events == 7


def test_a_second_prune_and_nothing_to_prune(database: Database, audit_log: DatabaseAuditLog, clock: Clock,
                                             key: bytes) -> None:
    old_and_new(audit_log, clock)
    prune_events(database, key, 30, now=clock.now)
    assert prune_events(database, key, 30, now=clock.now).pruned == 0
    clock.now += timedelta(days=40)
    again = prune_events(database, key, 30, now=clock.now)
    assert (again.pruned, again.through_seq) == (5, 11)  # everything, the first prune event too
    verified = verify_chain(database, key)
    assert verified.ok and (verified.events, verified.first_seq) == (1, 12)


def test_only_a_prefix_is_pruned(database: Database, audit_log: DatabaseAuditLog, clock: Clock, key: bytes) -> None:
    fill(audit_log, 2)
    clock.now += timedelta(days=40)
    fill(audit_log, 1)
    clock.now -= timedelta(days=40)  # a replica with a clock far behind writes an "old" event
    fill(audit_log, 1)
    clock.now += timedelta(days=40)
    assert prune_events(database, key, 30, now=clock.now).through_seq == 2  # seq 4 waits for seq 3
    assert verify_chain(database, key).ok


def test_verifying_a_pruned_chain_needs_the_key(database: Database, audit_log: DatabaseAuditLog, clock: Clock,
                                                key: bytes) -> None:
    old_and_new(audit_log, clock)
    prune_events(database, key, 30, now=clock.now)
    with pytest.raises(AuditKeyError, match="needs the audit key"):
        verify_chain(database, None)
    assert verify_chain(database, b"\x01" * 32).broken is not None  # another key: not this checkpoint


def test_deleting_rows_after_a_prune_is_detected(database: Database, audit_log: DatabaseAuditLog, clock: Clock,
                                                 key: bytes) -> None:
    old_and_new(audit_log, clock)
    prune_events(database, key, 30, now=clock.now)
    with database.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_events WHERE seq <= 8"))
    result = verify_chain(database, key)
    assert result.broken is not None and (result.broken.seq, result.broken.kind) == (9, "gap")
    assert "checkpoint covers only seq 1-6" in result.broken.reason


def test_a_forged_checkpoint_is_detected(database: Database, audit_log: DatabaseAuditLog, clock: Clock,
                                         key: bytes) -> None:
    old_and_new(audit_log, clock)
    prune_events(database, key, 30, now=clock.now)
    with database.engine.begin() as conn:  # hide deleted seq 7-8 by moving the checkpoint along
        eight = conn.execute(select(EVENTS.c.hash).where(EVENTS.c.seq == 8)).scalar_one()
        conn.execute(text("DELETE FROM audit_events WHERE seq <= 8"))
        conn.execute(CHECKPOINTS.update().values(last_seq=8, last_hash=eight, count=8,
                                                 signature=checkpoint_signature(b"\x02" * 32, 8, eight, 8, clock.now)))
    result = verify_chain(database, key)
    assert result.broken is not None and result.broken.kind == "checkpoint"
    assert "signature is not valid" in result.broken.reason


def test_a_deleted_checkpoint_is_detected(database: Database, audit_log: DatabaseAuditLog, clock: Clock,
                                          key: bytes) -> None:
    old_and_new(audit_log, clock)
    prune_events(database, key, 30, now=clock.now)
    with database.engine.begin() as conn:
        conn.execute(CHECKPOINTS.delete())
    result = verify_chain(database, key)
    assert result.broken is not None and (result.broken.seq, result.broken.kind) == (7, "gap")


def test_retention_below_one_day_is_refused(database: Database, key: bytes, clock: Clock) -> None:
    with pytest.raises(AuditError, match="at least 1 day"):
        prune_events(database, key, 0, now=clock.now)
