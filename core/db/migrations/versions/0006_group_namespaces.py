"""group namespaces per connector instance; who runs each sync run

Group principals of files and Confluence sources now name their connector instance
(``group:files:<instance>:<name>``), because two sources could define groups of the same name
and each would then grant the other's members. Memberships in the old form are deleted rather
than guessed into a namespace: until each connector's next permission or full run re-reads its
groups and rewrites its documents' ACL fields (no re-embedding), documents restricted to those
groups are readable by nobody. Failing closed is the point.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    memberships = sa.table("group_memberships", sa.column("group", sa.String))
    op.execute(
        memberships.delete().where(
            sa.or_(memberships.c.group.like("group:files:%"), memberships.c.group.like("group:confluence:%"))
        )
    )
    with op.batch_alter_table("ingest_runs") as batch:
        batch.add_column(sa.Column("holder", sa.String(255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ingest_runs") as batch:
        batch.drop_column("holder")
