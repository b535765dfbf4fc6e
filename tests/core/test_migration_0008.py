"""Migration 0008 (the audit log's tables) up and down, on SQLite and on a real PostgreSQL,
leaving the other tables' rows alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from core.audit import AuditEvent, DatabaseAuditLog, verify_chain
from core.db import Database, open_database
from core.db.engine import migrate
from core.secrets import EnvSecretStore
from core.sections import AuditConfig
from tests.conftest import PG_URL
from tests.core.test_migration_0007 import ROW, _downgrade, _version


@pytest.fixture(params=["sqlite", "postgresql"])
def at_0007(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        db = open_database(f"sqlite:///{tmp_path / 'old.db'}", upgrade=False)
    else:
        db = open_database(PG_URL, request.getfixturevalue("pg_schema"), upgrade=False)
    migrate(db.engine, "0007")
    with db.engine.begin() as conn:
        conn.execute(text(ROW), {"h": "h" * 64})
    yield db
    db.close()


def test_up_creates_the_audit_tables_and_down_drops_them(at_0007: Database) -> None:
    engine = at_0007.engine
    migrate(engine, "0008")
    assert _version(engine) == "0008"
    assert {"audit_events", "audit_checkpoints"} <= set(inspect(engine).get_table_names())
    assert {i["name"] for i in inspect(engine).get_indexes("audit_events")} == {"ix_audit_events_at"}
    DatabaseAuditLog(at_0007, AuditConfig(), EnvSecretStore({})).record(AuditEvent("admin"))
    assert verify_chain(at_0007, None).events == 1
    _downgrade(engine, "0007")
    assert _version(engine) == "0007"
    assert not {"audit_events", "audit_checkpoints"} & set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id FROM documents")).all() == [("d1",)]
    migrate(engine, "0008")
    assert verify_chain(at_0007, None).events == 0
