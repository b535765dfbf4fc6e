"""The metadata database on SQLite and on a real PostgreSQL (own schema per test)."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, select

from core.db import Database, DocumentRow, IngestRun, open_database
from core.db.engine import DatabaseError
from core.memberships import (
    MembershipError,
    groups_of,
    members_of,
    principals_for,
    replace_group_memberships,
)


def test_migrations_create_the_tables(database: Database) -> None:
    names = set(inspect(database.engine).get_table_names())
    assert {"documents", "group_memberships", "ingest_runs", "alembic_version", "answer_feedback",
            "sync_leases"} <= names


def test_document_rows_round_trip(database: Database) -> None:
    now = datetime.now(UTC)
    with database.session() as s:
        s.add(DocumentRow(id="d1", source="files:/x", source_id="a.md", title="A", url="u",
                          content_hash="h" * 64, acl=[["org:members"]], chunk_count=3,
                          updated_at=now, indexed_at=now))
    with database.session() as s:
        row = s.get(DocumentRow, "d1")
        assert row is not None
        assert row.acl == [["org:members"]]
        assert row.chunk_count == 3


def test_memberships_are_replaced_per_namespace(database: Database) -> None:
    a, b = "group:files:a:", "group:files:b:"
    assert replace_group_memberships(database, "files:/a", a, {a + "eng": frozenset({"A@x.io", "b@x.io"})})
    assert replace_group_memberships(database, "files:/b", b, {b + "eng": frozenset({"c@x.io"})})
    # Two sources' groups named alike are two principals.
    assert members_of(database, a + "eng") == {"a@x.io", "b@x.io"}
    assert members_of(database, b + "eng") == {"c@x.io"}
    # Same snapshot again: nothing changes.
    assert not replace_group_memberships(database, "files:/a", a, {a + "eng": frozenset({"a@x.io", "b@x.io"})})
    # b leaves eng in namespace a; namespace b's rows are untouched.
    assert replace_group_memberships(database, "files:/a", a, {a + "eng": frozenset({"a@x.io"})})
    assert members_of(database, a + "eng") == {"a@x.io"}
    assert members_of(database, b + "eng") == {"c@x.io"}
    assert groups_of(database, "B@x.io") == set()


def test_a_source_cannot_write_outside_its_namespace(database: Database) -> None:
    a, b = "group:files:a:", "group:files:b:"
    replace_group_memberships(database, "files:/b", b, {b + "hr": frozenset({"carol@x.io"})})
    with pytest.raises(MembershipError, match="may only define groups group:files:a:"):
        replace_group_memberships(database, "files:/a", a, {b + "hr": frozenset({"mallory@x.io"})})
    with pytest.raises(MembershipError):
        replace_group_memberships(database, "files:/a", a, {"group:files:hr": frozenset({"mallory@x.io"})})
    assert members_of(database, b + "hr") == {"carol@x.io"}
    # A namespace whose LIKE pattern would match others (``_`` is a wildcard) stays its own.
    replace_group_memberships(database, "files:/u", "group:files:a_b:", {"group:files:a_b:x": frozenset({"u@x.io"})})
    replace_group_memberships(database, "files:/v", "group:files:axb:", {})
    assert members_of(database, "group:files:a_b:x") == {"u@x.io"}


def test_a_moved_folder_takes_its_namespace_over(database: Database) -> None:
    ns = "group:files:handbook:"
    replace_group_memberships(database, "files:/old", ns, {ns + "eng": frozenset({"a@x.io"})})
    assert replace_group_memberships(database, "files:/new", ns, {ns + "eng": frozenset({"b@x.io"})})
    assert members_of(database, ns + "eng") == {"b@x.io"}


def test_principals_for(database: Database) -> None:
    ns = "group:files:s:"
    replace_group_memberships(database, "s", ns, {ns + "eng": frozenset({"a@x.io"})})
    assert principals_for(database, "A@x.io", org_member=True) == [ns + "eng", "org:members", "user:a@x.io"]
    assert principals_for(database, "a@x.io", org_member=False) == [ns + "eng", "user:a@x.io"]


def test_ingest_runs_json_columns(database: Database) -> None:
    with database.session() as s:
        s.add(IngestRun(source="s", started_at=datetime.now(UTC), status="running",
                        counts={"indexed": 2}, errors=["x"]))
    with database.session() as s:
        run = s.execute(select(IngestRun)).scalar_one()
        assert run.counts == {"indexed": 2} and run.errors == ["x"]


def test_reopening_is_idempotent(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'x.db'}"
    open_database(url).close()
    db = open_database(url)  # migrations already at head: no error, no change
    db.ping()
    db.close()


def test_unreachable_database_is_a_clear_error() -> None:
    with pytest.raises(DatabaseError, match="cannot open metadata database"):
        open_database("postgresql://postgres:secretpw@127.0.0.1:1/none")


def test_password_never_in_error() -> None:
    with pytest.raises(DatabaseError) as info:
        open_database("postgresql://postgres:secretpw@127.0.0.1:1/none")
    assert "secretpw" not in str(info.value)


def test_unsupported_database() -> None:
    with pytest.raises(DatabaseError, match="unsupported database"):
        open_database("mysql://root@localhost/x")
