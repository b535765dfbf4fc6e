"""DatabaseAuditLog on SQLite and PostgreSQL: the chain it writes, what it keeps out of rows,
the question text modes and their key."""

from __future__ import annotations

import itertools
import json
import threading

import pytest
from sqlalchemy import select

from core.audit import (
    GENESIS,
    AuditError,
    AuditEvent,
    AuditKeyError,
    AuditSink,
    DatabaseAuditLog,
    verify_chain,
)
from core.audit.chain import AuditRecord
from core.audit.head import EVENTS
from core.db import Database
from core.secrets import EnvSecretStore, Redactor
from core.sections import AuditConfig
from tests.core.audit.conftest import KEY, Clock, fill


def rows(db: Database) -> list[AuditRecord]:
    with db.engine.connect() as conn:
        return [AuditRecord.from_row(r) for r in conn.execute(select(EVENTS).order_by(EVENTS.c.seq))]


def test_events_form_one_contiguous_chain(database: Database, audit_log: DatabaseAuditLog) -> None:
    fill(audit_log, 5)
    stored = rows(database)
    assert [r.seq for r in stored] == [1, 2, 3, 4, 5]
    assert stored[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(stored))
    assert all(r.computed_hash() == r.hash for r in stored)  # timestamps survive the round trip
    assert json.loads(stored[2].details) == {"cited": ["doc-2"], "n": 2, "outcome": "answered"}
    assert stored[2].details == '{"cited":["doc-2"],"n":2,"outcome":"answered"}'  # canonical
    result = verify_chain(database, None)
    assert result.ok and result.events == 5 and (result.first_seq, result.last_seq) == (1, 5)
    assert result.summary() == f"ok: 5 events, seq 1-5, head {stored[-1].hash}"


def test_it_is_an_audit_sink(database: Database, audit_log: DatabaseAuditLog) -> None:
    sink: AuditSink = audit_log  # mypy checks the protocol here
    sink.record(AuditEvent("private_answer", actor="user:a@example.com", platform="teams",
                           details={"conversation": "channel"}))
    assert verify_chain(database, None).events == 1


def test_an_empty_log_verifies(database: Database) -> None:
    result = verify_chain(database, None)
    assert result.ok and result.events == 0 and result.head_hash == GENESIS


def test_credentials_and_secret_values_never_reach_a_row(database: Database, clock: Clock) -> None:
    store = EnvSecretStore({"LORE_SECRET_AUDIT_KEY": KEY, "LORE_SECRET_SLACK_BOT_TOKEN": "opaque-secret-value-42"},
                           redactor=Redactor())
    assert store.get("slack-bot-token") == "opaque-secret-value-42"  # registers it with the redactor
    log = DatabaseAuditLog(database, AuditConfig(), store, clock=clock)
    log.record(AuditEvent("secret_failure", actor="connector:wiki opaque-secret-value-42", platform="cli", details={
        "error": "got opaque-secret-value-42 back", "nested": [{"header": "Authorization: Bearer abcdefghijklmnop"}],
        "token": "looks-harmless", "note": "key gsk_ABCDEFGHIJKLMNOP1234 pasted",
    }))
    [row] = rows(database)
    text = row.actor + row.details
    for leaked in ("opaque-secret-value-42", "abcdefghijklmnop", "looks-harmless", "gsk_ABCDEFGHIJKLMNOP1234"):
        assert leaked not in text
    assert json.loads(row.details)["token"] == "[REDACTED]"
    assert verify_chain(database, None).ok


def test_question_text_mode_keeps_the_redacted_question(audit_log: DatabaseAuditLog) -> None:
    assert audit_log.question_details("my password=hunter22 does not work") == {
        "question": "my password=[REDACTED] does not work"}


def test_hash_mode_keeps_only_a_keyed_hash(database: Database, store: EnvSecretStore) -> None:
    log = DatabaseAuditLog(database, AuditConfig(question_text="hash"), store)
    first = log.question_details("What is the parental leave policy?")
    assert set(first) == {"question_hmac"} and len(str(first["question_hmac"])) == 64
    assert log.question_details("What is the parental leave policy?") == first  # countable
    assert log.question_details("What is the travel policy?") != first
    other_key = EnvSecretStore({"LORE_SECRET_AUDIT_KEY": "B" * 43 + "="})
    assert DatabaseAuditLog(database, AuditConfig(question_text="hash"), other_key).question_details(
        "What is the parental leave policy?") != first  # keyed: no dictionary attack without the key


@pytest.mark.parametrize("value, problem", [(None, "is not set"), ("c2hvcnQ=", "not base64 of 32 bytes"),
                                            ("not base64 at all!!", "not base64 of 32 bytes")])
def test_hash_mode_refuses_to_start_without_a_good_key(database: Database, value: str | None, problem: str) -> None:
    env = {} if value is None else {"LORE_SECRET_AUDIT_KEY": value}
    with pytest.raises(AuditKeyError, match=problem) as info:
        DatabaseAuditLog(database, AuditConfig(question_text="hash"), EnvSecretStore(env))
    assert "LORE_SECRET_AUDIT_KEY" in str(info.value)
    if value is not None:
        assert value not in str(info.value)
    DatabaseAuditLog(database, AuditConfig(question_text="text"), EnvSecretStore(env))  # text mode needs none


def test_details_that_are_not_json_are_refused(audit_log: DatabaseAuditLog, database: Database) -> None:
    with pytest.raises(AuditError, match="not a JSON value"):
        audit_log.record(AuditEvent("admin", details={"when": object()}))  # type: ignore[dict-item]
    with pytest.raises(AuditError, match="non-finite"):
        audit_log.record(AuditEvent("admin", details={"latency_ms": float("nan")}))
    assert rows(database) == []


def test_a_database_failure_is_an_audit_error(audit_log: DatabaseAuditLog, database: Database) -> None:
    database.engine.dispose()
    with database.engine.begin() as conn:
        conn.execute(EVENTS.delete())
        conn.exec_driver_sql("DROP TABLE audit_events")
    with pytest.raises(AuditError, match="cannot store a question audit event"):
        fill(audit_log, 1)


def test_threads_appending_at_once_keep_one_chain(database: Database, store: EnvSecretStore) -> None:
    log = DatabaseAuditLog(database, AuditConfig(), store)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            fill(log, 15)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    result = verify_chain(database, None)
    assert result.ok and result.events == 90 and result.last_seq == 90


def test_append_many_writes_consecutive_links_in_one_transaction(database: Database,
                                                                 audit_log: DatabaseAuditLog) -> None:
    fill(audit_log, 2)
    batch = audit_log.append_many([AuditEvent("feedback", details={"helpful": i % 2 == 0}) for i in range(5)])
    assert [r.seq for r in batch] == [3, 4, 5, 6, 7]
    assert batch[0].prev_hash == rows(database)[1].hash
    assert audit_log.append_many([]) == []
    assert verify_chain(database, None).events == 7
    with pytest.raises(AuditError, match="at most 32 characters"):  # one bad event: none stored
        audit_log.append_many([AuditEvent("admin"), AuditEvent("admin", platform="x" * 33)])
    assert len(rows(database)) == 7


def test_names_and_odd_characters_are_kept(database: Database, audit_log: DatabaseAuditLog) -> None:
    audit_log.record(AuditEvent("secret_failure", actor="slack:T1:U1\x00", platform="slack", details={
        "secret_name": "groq-api-key", "operation": "get", "error": "SecretStoreError", "text": "nul \x00 é 雪"}))
    [row] = rows(database)
    assert row.actor == "slack:T1:U1\ufffd"
    assert json.loads(row.details) == {"secret_name": "groq-api-key", "operation": "get",
                                       "error": "SecretStoreError", "text": "nul \x00 é 雪"}
    assert verify_chain(database, None).ok
