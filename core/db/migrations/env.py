"""Alembic environment: always run with a connection handed over by core.db.engine.migrate."""

from alembic import context

from core.db.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through core.db.engine.migrate (or `lore db upgrade`)")
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
