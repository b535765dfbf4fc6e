"""slack bots, installations, oauth states; processed events

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slack_bots",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("enterprise_id", sa.String(32), nullable=False),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("is_enterprise_install", sa.Boolean, nullable=False),
        sa.Column("app_id", sa.String(32), nullable=True),
        sa.Column("enterprise_name", sa.Text, nullable=True),
        sa.Column("team_name", sa.Text, nullable=True),
        sa.Column("bot_id", sa.String(32), nullable=False),
        sa.Column("bot_user_id", sa.String(32), nullable=False),
        sa.Column("bot_scopes", sa.Text, nullable=False),
        sa.Column("bot_token_ref", sa.Text, nullable=False),
        sa.Column("bot_refresh_token_ref", sa.Text, nullable=True),
        sa.Column("bot_token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("installed_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("enterprise_id", "team_id", name="uq_slack_bots_org_team"),
    )
    op.create_table(
        "slack_installations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("enterprise_id", sa.String(32), nullable=False),
        sa.Column("team_id", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False),
        sa.Column("is_enterprise_install", sa.Boolean, nullable=False),
        sa.Column("app_id", sa.String(32), nullable=True),
        sa.Column("enterprise_name", sa.Text, nullable=True),
        sa.Column("enterprise_url", sa.Text, nullable=True),
        sa.Column("team_name", sa.Text, nullable=True),
        sa.Column("user_scopes", sa.Text, nullable=False),
        sa.Column("user_token_ref", sa.Text, nullable=True),
        sa.Column("user_refresh_token_ref", sa.Text, nullable=True),
        sa.Column("user_token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("token_type", sa.String(16), nullable=True),
        sa.Column("installed_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "enterprise_id", "team_id", "user_id", name="uq_slack_installations_org_team_user"
        ),
    )
    op.create_index(
        "ix_slack_installations_installed_at", "slack_installations", ["installed_at"]
    )
    op.create_table(
        "slack_oauth_states",
        sa.Column("state_hash", sa.String(64), primary_key=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_slack_oauth_states_expires_at", "slack_oauth_states", ["expires_at"])
    op.create_table(
        "processed_events",
        sa.Column("event_key", sa.String(255), primary_key=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_processed_events_expires_at", "processed_events", ["expires_at"])


def downgrade() -> None:
    op.drop_table("processed_events")
    op.drop_table("slack_oauth_states")
    op.drop_table("slack_installations")
    op.drop_table("slack_bots")
