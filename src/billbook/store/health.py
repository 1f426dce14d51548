"""The cheapest query that proves the database answers."""

from __future__ import annotations

from sqlalchemy import literal_column, select
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store import dialect

#: Built once and run as a prepared hot read: load balancers ask every few seconds.
_PING = select(literal_column("1").label("one"))


async def ping(conn: AsyncConnection) -> bool:
    rows = await dialect.fetch(conn, _PING, {})
    return bool(rows) and rows[0]["one"] == 1
