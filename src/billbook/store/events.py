"""The outbox: events appended in the transaction of the ledger change that caused them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store import dialect, webhooks
from billbook.store.rows import Event, NewEvent
from billbook.store.tables import events


async def append(conn: AsyncConnection, new: Sequence[NewEvent]) -> None:
    """Append events in the caller's transaction; ids follow the order given. Their webhook
    deliveries are written with them (``webhooks.fan_out``), so none can be lost between the two."""
    if new:
        statement = dialect.many_rows_insert(dialect.name(conn), events, _COLUMNS)
        await dialect.execute_many(conn, statement, [asdict(e) for e in new], _COLUMNS)
        await webhooks.fan_out(conn, [e.uuid for e in new])


_COLUMNS = ("uuid", "account_id", "type", "data", "created_at")


async def after(conn: AsyncConnection, last_id: int, limit: int, account_id: int | None = None) -> list[Event]:
    """Up to ``limit`` events with an id above ``last_id``, oldest first (one account's, if given)."""
    query = select(events).where(events.c.id > last_id).order_by(events.c.id).limit(limit)
    if account_id is not None:
        query = query.where(events.c.account_id == account_id)
    return [Event(**row) for row in (await conn.execute(query)).mappings()]
