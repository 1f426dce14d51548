"""``INSERT … ON CONFLICT`` in the dialect of the connection (SQLite and PostgreSQL spell it alike)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


def insert_for(conn: AsyncConnection, table: Table) -> Any:
    """The dialect's ``insert`` construct, which has ``on_conflict_do_*``."""
    module = sqlite if conn.dialect.name == "sqlite" else postgresql
    return module.insert(table)
