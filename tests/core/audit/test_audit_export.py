"""JSON Lines export: every field, the time window, batches, and a chain a SIEM can re-verify."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

from core.audit import GENESIS, DatabaseAuditLog, export_jsonl
from core.audit.chain import canonical_details, event_hash
from core.db import Database
from tests.core.audit.conftest import Clock, fill


def test_export_has_every_field_and_re_verifies(database: Database, audit_log: DatabaseAuditLog) -> None:
    fill(audit_log, 5)
    out = io.StringIO()
    assert export_jsonl(database, out, batch=2) == 5
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["seq"] for e in lines] == [1, 2, 3, 4, 5]
    first = lines[0]
    assert set(first) == {"seq", "at", "kind", "actor", "platform", "details", "prev_hash", "hash"}
    assert first["at"] == "2026-01-01T12:00:01.123456Z" and first["prev_hash"] == GENESIS
    assert first["details"] == {"cited": ["doc-0"], "n": 0, "outcome": "answered"}
    prev = GENESIS
    for e in lines:  # what a SIEM can do with the export alone
        at = datetime.fromisoformat(e["at"])
        assert e["prev_hash"] == prev
        assert event_hash(e["seq"], at, e["kind"], e["actor"], e["platform"], canonical_details(e["details"]),
                          e["prev_hash"]) == e["hash"]
        prev = e["hash"]


def test_since_is_inclusive_and_until_exclusive(database: Database, audit_log: DatabaseAuditLog,
                                                clock: Clock) -> None:
    clock.now = datetime(2026, 3, 1, 23, 59, 58, tzinfo=UTC)
    fill(audit_log, 1)  # 23:59:59, March 1st
    fill(audit_log, 3)  # 00:00:00 .. 00:00:02, March 2nd
    clock.now += timedelta(days=1)
    fill(audit_log, 1)  # March 3rd

    def seqs(since: datetime | None, until: datetime | None) -> list[int]:
        out = io.StringIO()
        export_jsonl(database, out, since, until, batch=1)
        return [json.loads(line)["seq"] for line in out.getvalue().splitlines()]

    march2 = datetime(2026, 3, 2, tzinfo=UTC)
    assert seqs(march2, march2 + timedelta(days=1)) == [2, 3, 4]
    assert seqs(None, march2) == [1]
    assert seqs(march2 + timedelta(seconds=1), None) == [3, 4, 5]
    assert seqs(datetime(2027, 1, 1, tzinfo=UTC), None) == []
