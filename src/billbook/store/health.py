"""The cheapest query that proves the database answers."""

from __future__ import annotations

from sqlalchemy import literal_column, select

from billbook.store import dialect
from billbook.store.db import Database

#: Built once and run as a prepared hot read: load balancers ask every few seconds.
_PING = select(literal_column("1").label("one"))


async def ping(db: Database) -> bool:
    """``SELECT 1`` on a pooled connection. On PostgreSQL outside any transaction: one round trip,
    not the four of a read transaction (``BEGIN``, the planner settings, the query, ``COMMIT``)."""
    async with db.connection() as conn:
        rows = await dialect.fetch(conn, _PING, {})
    return bool(rows) and rows[0]["one"] == 1
