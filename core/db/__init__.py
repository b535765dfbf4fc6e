"""Metadata database: SQLAlchemy 2 models on SQLite (default) or PostgreSQL, Alembic migrations."""

from core.db.engine import Database, as_utc, open_database
from core.db.tables import Base, DocumentRow, GroupMembership, IngestRun

__all__ = ["Base", "Database", "DocumentRow", "GroupMembership", "IngestRun", "as_utc", "open_database"]
