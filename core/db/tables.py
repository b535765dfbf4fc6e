"""Tables of the metadata database. Changing them needs a migration in migrations/versions/."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class DocumentRow(Base):
    """One indexed document: what the index holds for it, so that a sync can tell unchanged,
    changed and removed documents apart without reading the index."""

    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(String(512), primary_key=True)
    source: Mapped[str] = mapped_column(String(1024), index=True)
    source_id: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    acl: Mapped[Any] = mapped_column(JSON)  # list of clauses, each a sorted list of principals
    chunk_count: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    indexed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class GroupMembership(Base):
    """Group principal -> member email, as synced from a source (``source`` says which sync owns
    the row, so that one source's group sync never removes another's memberships)."""

    __tablename__ = "group_memberships"

    source: Mapped[str] = mapped_column(String(1024), primary_key=True)
    group: Mapped[str] = mapped_column(String(512), primary_key=True, index=True)
    member_email: Mapped[str] = mapped_column(String(320), primary_key=True, index=True)


class IngestRun(Base):
    __tablename__ = "ingest_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(1024), index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    status: Mapped[str] = mapped_column(String(32))  # running, succeeded, partial, failed
    counts: Mapped[Any] = mapped_column(JSON, default=dict)
    errors: Mapped[Any] = mapped_column(JSON, default=list)
