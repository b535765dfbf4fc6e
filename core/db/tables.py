"""Tables of the metadata database. Changing them needs a migration in migrations/versions/."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, Integer, String, Text, UniqueConstraint
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
    # Who owns or last edited it at the source (a display name, never an email or account id),
    # or None when the source records nobody: whom a reply can suggest asking. Not in the index.
    owner: Mapped[str | None] = mapped_column(Text, nullable=True)


class GroupMembership(Base):
    """Group principal -> member email, as synced from a source (``source`` says which sync owns
    the row, so that one source's group sync never removes another's memberships)."""

    __tablename__ = "group_memberships"

    source: Mapped[str] = mapped_column(String(1024), primary_key=True)
    group: Mapped[str] = mapped_column(String(512), primary_key=True, index=True)
    member_email: Mapped[str] = mapped_column(String(320), primary_key=True, index=True)


class IngestRun(Base):
    """One run of a sync job (or of `lore ingest`): the record `lore sync status` shows."""

    __tablename__ = "ingest_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(1024), index=True)
    kind: Mapped[str] = mapped_column(String(32), default="ingest")  # content, permissions, full
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    status: Mapped[str] = mapped_column(String(32))  # running, succeeded, partial, failed, interrupted
    counts: Mapped[Any] = mapped_column(JSON, default=dict)
    errors: Mapped[Any] = mapped_column(JSON, default=list)
    # "<role>:<host>:<pid>" of the process running it: a run left "running" by a process that
    # is gone is shown (and recorded) as interrupted.
    holder: Mapped[str | None] = mapped_column(String(255), nullable=True)


# Slack installs. Absent Slack ids are stored as "" (never NULL): a NULL never equals another in
# a unique constraint, on SQLite as on PostgreSQL before 15, and a workspace must have one row.
# Tokens are references made by core.tokens.TokenVault (a secret name or an AES-GCM blob bound
# to the row's ids), never plain tokens.


class SlackBot(Base):
    """The bot of one workspace (``team_id``) or, for an org-wide install, one Enterprise Grid
    org (``team_id`` ""). One row per workspace/org: the latest install or token rotation."""

    __tablename__ = "slack_bots"
    __table_args__ = (UniqueConstraint("enterprise_id", "team_id", name="uq_slack_bots_org_team"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    enterprise_id: Mapped[str] = mapped_column(String(32), default="")
    team_id: Mapped[str] = mapped_column(String(32), default="")
    is_enterprise_install: Mapped[bool] = mapped_column(Boolean, default=False)
    app_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    enterprise_name: Mapped[str | None] = mapped_column(Text, nullable=True)
    team_name: Mapped[str | None] = mapped_column(Text, nullable=True)
    bot_id: Mapped[str] = mapped_column(String(32))
    bot_user_id: Mapped[str] = mapped_column(String(32))
    bot_scopes: Mapped[str] = mapped_column(Text, default="")  # comma-separated, as Slack sends
    bot_token_ref: Mapped[str] = mapped_column(Text)
    bot_refresh_token_ref: Mapped[str | None] = mapped_column(Text, nullable=True)
    bot_token_expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    installed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SlackInstallation(Base):
    """One installer (``user_id``) of the app in a workspace or org: who installed it when, and
    their user token if the app asked for user scopes. The bot token is in ``slack_bots``, so
    that revoking one user's token never loses the workspace's bot."""

    __tablename__ = "slack_installations"
    __table_args__ = (
        UniqueConstraint(
            "enterprise_id", "team_id", "user_id", name="uq_slack_installations_org_team_user"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    enterprise_id: Mapped[str] = mapped_column(String(32), default="")
    team_id: Mapped[str] = mapped_column(String(32), default="")
    user_id: Mapped[str] = mapped_column(String(32))
    is_enterprise_install: Mapped[bool] = mapped_column(Boolean, default=False)
    app_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    enterprise_name: Mapped[str | None] = mapped_column(Text, nullable=True)
    enterprise_url: Mapped[str | None] = mapped_column(Text, nullable=True)
    team_name: Mapped[str | None] = mapped_column(Text, nullable=True)
    user_scopes: Mapped[str] = mapped_column(Text, default="")
    user_token_ref: Mapped[str | None] = mapped_column(Text, nullable=True)
    user_refresh_token_ref: Mapped[str | None] = mapped_column(Text, nullable=True)
    user_token_expires_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    token_type: Mapped[str | None] = mapped_column(String(16), nullable=True)
    installed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class SlackOAuthState(Base):
    """A pending OAuth ``state`` (CSRF token of the install flow), single use. Only its SHA-256
    is stored: reading the database does not let anyone complete someone else's install."""

    __tablename__ = "slack_oauth_states"

    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class ProcessedEvent(Base):
    """Events already handled (Slack retries re-deliver them), shared by all replicas."""

    __tablename__ = "processed_events"

    event_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class AnswerFeedback(Base):
    """A "helpful" / "not helpful" click on an answer. ``answer_ref`` is the surface's own
    reference to the answer message (Slack: channel and message ts); no question or answer text
    is stored, so feedback never holds document content."""

    __tablename__ = "answer_feedback"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    platform: Mapped[str] = mapped_column(String(32))
    workspace: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[str] = mapped_column(String(255))
    answer_ref: Mapped[str] = mapped_column(String(512), index=True)
    helpful: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class SyncLease(Base):
    """Which replica runs a sync job (e.g. "confluence:main:content") until ``expires_at``. The
    ``token`` is new on each acquisition: only the holder of the current token may renew or
    release, so a replica that lost its lease (paused past expiry, then taken over) cannot touch
    the new holder's. See core.leases."""

    __tablename__ = "sync_leases"

    job: Mapped[str] = mapped_column(String(255), primary_key=True)
    holder: Mapped[str] = mapped_column(String(255))
    token: Mapped[str] = mapped_column(String(64))
    acquired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class SyncCheckpoint(Base):
    """Where a source's sync job got to (the connector's own JSON state), saved as the run
    progresses so that a crash resumes instead of starting over. Written only by the holder of
    the job's lease (see connectors.sync.state)."""

    __tablename__ = "sync_checkpoints"

    source: Mapped[str] = mapped_column(String(1024), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditEventRow(Base):
    """One audit event (core.audit). Append-only: rows are only ever inserted, and deleted only
    as a prefix by pruning. ``hash`` is SHA-256 over every other column (core.audit.chain), so
    that each row commits to the one before it; ``seq`` is contiguous from 1."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(Text)
    platform: Mapped[str] = mapped_column(String(32))
    details: Mapped[str] = mapped_column(Text)  # canonical JSON, as hashed
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpointRow(Base):
    """What pruning removed: the last pruned event's seq and hash, signed with the audit key,
    so that a chain whose first rows are gone still verifies and a deletion without the key
    does not."""

    __tablename__ = "audit_checkpoints"

    last_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    last_hash: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(BigInteger)  # events this prune removed
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    signature: Mapped[str] = mapped_column(String(64))  # HMAC-SHA256, hex
