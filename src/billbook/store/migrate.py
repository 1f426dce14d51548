"""Bring a database to the newest schema with Alembic (the server does this on every start)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from billbook.store import partitions
from billbook.store.db import Database
from billbook.times import now_ms

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection, revision: str) -> None:
    command.upgrade(alembic_config(connection), revision)


async def upgrade(db: Database, revision: str = "head") -> None:
    """Apply pending migrations in one transaction (on PostgreSQL, DDL is transactional too); at the
    newest revision, also make the months of billing records ahead of now (``partitions.maintain``)."""
    async with db.transaction(write=True) as conn:
        await conn.run_sync(_upgrade, revision)
        if revision == "head":
            await partitions.maintain(conn, now_ms())
