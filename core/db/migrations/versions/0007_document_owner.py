"""documents.owner: who owns or last edited each document at its source

The person a source records for a document (Confluence: the last modifier's display name, else
the creator's; files: the front matter ``owner:``), so that a reply that cannot answer can say
whom to ask. Nullable: many documents name nobody. Rows written before this revision hold NULL
until their document is read again (a sync that finds the content unchanged writes the owner
without re-embedding); the daily full run reads every document.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("owner", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("owner")
