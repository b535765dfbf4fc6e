"""Opening the metadata database and bringing its schema up to date."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from core.errors import CoreError

MIGRATIONS = Path(__file__).parent / "migrations"
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def as_utc(value: datetime) -> datetime:
    """A datetime read back from the database, as an aware UTC datetime: SQLite hands back
    naive datetimes (everything is written in UTC), PostgreSQL aware ones in the session's zone."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class DatabaseError(CoreError, RuntimeError):
    """The metadata database cannot be used: an unsupported URL or schema name, or it cannot be
    opened."""


@dataclass
class Database:
    engine: Engine
    sessions: sessionmaker[Session]

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends normally, rolled back otherwise."""
        with self.sessions.begin() as s:
            yield s

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def close(self) -> None:
        self.engine.dispose()


def _engine(url: str, schema: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")  # readers (the server) never block the ingest
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        args = {"connect_timeout": 10}
        if schema:
            if not _SCHEMA_NAME.match(schema):
                raise DatabaseError(f"invalid PostgreSQL schema name {schema!r}")
            args["options"] = f"-csearch_path={schema}"  # type: ignore[assignment]
        engine = create_engine(parsed, connect_args=args, pool_pre_ping=True)
        if schema:
            with engine.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        return engine
    raise DatabaseError(
        f"unsupported database {parsed.get_backend_name()!r}: use sqlite:///path or postgresql://"
    )


def migrate(engine: Engine, revision: str = "head") -> None:
    """Run Alembic migrations up to ``revision`` (tests of a migration stop before it)."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def open_database(url: str, schema: str = "", *, upgrade: bool = True) -> Database:
    try:
        engine = _engine(url, schema)
        if upgrade:
            migrate(engine)
    except DatabaseError:
        raise
    except Exception as exc:  # connection refused, bad credentials, ...
        safe = make_url(url).render_as_string(hide_password=True)
        raise DatabaseError(f"cannot open metadata database {safe}: {exc.__class__.__name__}: "
                            f"{str(exc).splitlines()[0] if str(exc) else ''}") from exc
    return Database(engine, sessionmaker(engine, expire_on_commit=False))
