"""Every kind of tampering with stored rows is caught at its first broken link, on both
engines, except what no hash chain can see on its own (the newest rows deleted, which an
anchored head hash catches)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select, text

from core.audit import verify_chain
from core.audit.chain import AuditRecord, event_hash
from core.audit.head import EVENTS
from core.db import Database

Filled = Callable[[int], None]


def sql(db: Database, statement: str, **params: object) -> None:
    with db.engine.begin() as conn:
        conn.execute(text(statement), params)


def hash_of(db: Database, seq: int) -> str:
    with db.engine.connect() as conn:
        return str(conn.execute(text("SELECT hash FROM audit_events WHERE seq = :s"), {"s": seq}).scalar_one())


def rehash(db: Database, seq: int) -> None:
    """What an attacker who knows the scheme does after an edit: recompute the row's hash."""
    with db.engine.begin() as conn:
        new = AuditRecord.from_row(conn.execute(select(EVENTS).where(EVENTS.c.seq == seq)).one()).computed_hash()
        conn.execute(text("UPDATE audit_events SET hash = :h WHERE seq = :s"), {"h": new, "s": seq})


def broken(db: Database) -> tuple[int, str, str]:
    result = verify_chain(db, None, batch=3)  # small batches: breaks across batch edges too
    assert result.broken is not None, "tampering not detected"
    return result.broken.seq, result.broken.kind, result.broken.reason


def test_edited_details(database: Database, filled: Filled) -> None:
    filled(10)
    sql(database, "UPDATE audit_events SET details = :d WHERE seq = 5", d='{"n":4,"outcome":"refused"}')
    seq, kind, reason = broken(database)
    assert (seq, kind) == (5, "edited") and "do not match its hash" in reason


def test_edited_details_with_the_hash_recomputed(database: Database, filled: Filled) -> None:
    filled(10)
    sql(database, "UPDATE audit_events SET actor = 'user:someone-else@example.com' WHERE seq = 5")
    rehash(database, 5)
    seq, kind, reason = broken(database)
    assert (seq, kind) == (6, "relinked") and "hash of seq 5" in reason


def test_edited_kind(database: Database, filled: Filled) -> None:
    filled(4)
    sql(database, "UPDATE audit_events SET kind = 'feedback' WHERE seq = 1")
    assert broken(database)[:2] == (1, "edited")


def test_deleted_middle_row(database: Database, filled: Filled) -> None:
    filled(10)
    sql(database, "DELETE FROM audit_events WHERE seq IN (4, 5)")
    seq, kind, reason = broken(database)
    assert (seq, kind) == (6, "gap") and reason == "seq 4-5 missing after seq 3: rows were deleted"


def test_deleted_first_row(database: Database, filled: Filled) -> None:
    filled(5)
    sql(database, "DELETE FROM audit_events WHERE seq = 1")
    seq, kind, reason = broken(database)
    assert (seq, kind) == (2, "gap") and "no pruning checkpoint covers them" in reason


def test_deleted_then_renumbered(database: Database, filled: Filled) -> None:
    filled(6)
    sql(database, "DELETE FROM audit_events WHERE seq = 3")
    for seq in (4, 5, 6):
        sql(database, "UPDATE audit_events SET seq = :n WHERE seq = :o", n=seq - 1, o=seq)
    seq, kind, reason = broken(database)
    assert (seq, kind) == (3, "renumbered") and "written as seq 4" in reason


def test_deleted_newest_rows_need_an_anchor(database: Database, filled: Filled) -> None:
    filled(8)
    anchored = verify_chain(database, None)
    assert anchored.ok and anchored.head_hash == hash_of(database, 8)
    sql(database, "DELETE FROM audit_events WHERE seq >= 7")
    truncated = verify_chain(database, None)
    assert truncated.ok and truncated.events == 6  # a bare hash chain cannot tell
    checked = verify_chain(database, None, anchor=anchored.head_hash)
    assert checked.anchor_found is False and not checked.ok
    assert verify_chain(database, None, anchor=hash_of(database, 3)).ok  # an older anchor is still there


def test_inserted_row_with_valid_hash_renumbering_the_rest(database: Database, filled: Filled) -> None:
    filled(6)
    for seq in (6, 5, 4):
        sql(database, "UPDATE audit_events SET seq = :n WHERE seq = :o", n=seq + 1, o=seq)
    with database.engine.begin() as conn:
        third = AuditRecord.from_row(conn.execute(select(EVENTS).where(EVENTS.c.seq == 3)).one())
        forged = event_hash(4, third.at, "admin", "operator", "cli", "{}", third.hash)
        conn.execute(EVENTS.insert().values(seq=4, at=third.at, kind="admin", actor="operator", platform="cli",
                                            details="{}", prev_hash=third.hash, hash=forged))
    seq, kind, reason = broken(database)
    assert (seq, kind) == (5, "renumbered") and "written as seq 4" in reason


def test_inserted_row_appended_with_a_made_up_hash(database: Database, filled: Filled) -> None:
    filled(3)
    sql(database, "INSERT INTO audit_events (seq, at, kind, actor, platform, details, prev_hash, hash) "
        "SELECT 4, at, kind, actor, platform, details, hash, :h FROM audit_events WHERE seq = 3", h="f" * 64)
    assert broken(database)[:2] == (4, "edited")


def test_swapped_rows(database: Database, filled: Filled) -> None:
    filled(8)
    sql(database, "UPDATE audit_events SET seq = -1 WHERE seq = 4")
    sql(database, "UPDATE audit_events SET seq = 4 WHERE seq = 5")
    sql(database, "UPDATE audit_events SET seq = 5 WHERE seq = -1")
    seq, kind, reason = broken(database)
    assert (seq, kind) == (4, "renumbered") and "written as seq 5" in reason


def test_relinked_row(database: Database, filled: Filled) -> None:
    filled(5)
    sql(database, "UPDATE audit_events SET prev_hash = :h WHERE seq = 3", h=hash_of(database, 1))
    rehash(database, 3)
    seq, kind, _ = broken(database)
    assert (seq, kind) == (3, "relinked")


def test_a_row_before_the_first(database: Database, filled: Filled) -> None:
    filled(3)
    sql(database, "INSERT INTO audit_events (seq, at, kind, actor, platform, details, prev_hash, hash) "
        "SELECT 0, at, kind, actor, platform, details, prev_hash, hash FROM audit_events WHERE seq = 1")
    seq, kind, reason = broken(database)
    assert (seq, kind) == (0, "renumbered")  # its hash is seq 1's
    sql(database, "DELETE FROM audit_events WHERE seq = 1")
    rehash(database, 0)
    seq, kind, reason = broken(database)
    assert (seq, kind) == (0, "start") and reason == "the row has a seq below 1: it was inserted"


@pytest.mark.parametrize("batch", [1, 2, 1000])
def test_the_walk_is_the_same_whatever_the_batch(database: Database, filled: Filled, batch: int) -> None:
    filled(7)
    result = verify_chain(database, None, batch=batch)
    assert result.ok and result.events == 7 and result.head_hash == hash_of(database, 7)
