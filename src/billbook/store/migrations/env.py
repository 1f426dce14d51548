"""Alembic environment: runs on the connection that ``billbook.store.migrate`` hands it."""

from __future__ import annotations

from alembic import context

from billbook.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reached by a bare `alembic` call
    raise RuntimeError("run migrations with `billbook db upgrade`")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
