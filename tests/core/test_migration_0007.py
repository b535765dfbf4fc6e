"""Migration 0007 (documents.owner) up and down, on SQLite and on a real PostgreSQL, keeping the
rows that were there."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, inspect, text

from core.db import Database, open_database
from core.db.engine import MIGRATIONS, migrate
from tests.conftest import PG_URL

ROW = (
    "INSERT INTO documents (id, source, source_id, title, url, content_hash, acl, chunk_count, "
    "updated_at, indexed_at) VALUES ('d1', 'files:/x', 'a.md', 'A', '', :h, '[[\"org:members\"]]', 2, "
    "NULL, '2026-12-01 10:00:00')"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def at_0006(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database migrated to 0006 only, holding one document row."""
    if request.param == "sqlite":
        db = open_database(f"sqlite:///{tmp_path / 'old.db'}", upgrade=False)
    else:
        db = open_database(PG_URL, request.getfixturevalue("pg_schema"), upgrade=False)
    migrate(db.engine, "0006")
    with db.engine.begin() as conn:
        conn.execute(text(ROW), {"h": "h" * 64})
    yield db
    db.close()


def _downgrade(engine: Engine, revision: str) -> None:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def _columns(engine: Engine) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns("documents")}


def _version(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one())


def test_upgrade_adds_a_nullable_owner_and_keeps_rows(at_0006: Database) -> None:
    engine = at_0006.engine
    assert "owner" not in _columns(engine)
    migrate(engine, "0007")
    assert _version(engine) == "0007"
    [owner] = [c for c in inspect(engine).get_columns("documents") if c["name"] == "owner"]
    assert owner["nullable"]
    with engine.begin() as conn:
        assert conn.execute(text("SELECT id, owner, chunk_count FROM documents")).all() == [("d1", None, 2)]
        conn.execute(text("UPDATE documents SET owner = 'Priya Raman (People team)' WHERE id = 'd1'"))
        assert conn.execute(text("SELECT owner FROM documents")).scalar_one() == "Priya Raman (People team)"


def test_downgrade_drops_the_owner_and_keeps_rows(at_0006: Database) -> None:
    engine = at_0006.engine
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE documents SET owner = 'Jonas Keller' WHERE id = 'd1'"))
    _downgrade(engine, "0006")
    assert _version(engine) == "0006"
    assert "owner" not in _columns(engine)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT id, content_hash, chunk_count FROM documents")).all() == [
            ("d1", "h" * 64, 2)
        ]
    migrate(engine)  # and up again
    assert "owner" in _columns(engine)


def test_the_migrated_schema_is_what_the_models_declare(database: Database) -> None:
    """DocumentRow.owner (and every other column) is exactly what the migrations create."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from core.db import Base

    with database.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
