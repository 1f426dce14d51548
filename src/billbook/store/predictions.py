"""Queries on predictions and their orders (one order per charged prediction)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store.tables import orders, predictions
from billbook.store.bulk import insert_returning
from billbook.store.upsert import one_of


async def get_with_order(conn: AsyncConnection, uuid: str, *, lock: bool = False) -> dict | None:
    """The prediction and its order in one row (order columns prefixed ``order_``).

    ``lock`` takes the row lock on PostgreSQL so that status changes of one prediction serialize;
    on SQLite the write transaction already holds the database's write lock.
    """
    query = _with_order().where(predictions.c.uuid == uuid)
    if lock:
        query = query.with_for_update(of=(predictions, orders))
    row = (await conn.execute(query)).mappings().first()
    return dict(row) if row else None


async def set_status(conn: AsyncConnection, prediction_id: int, status: str, at: int) -> None:
    await conn.execute(
        update(predictions).where(predictions.c.id == prediction_id).values(status=status, updated_at=at)
    )


async def set_order_state(conn: AsyncConnection, order_id: int, state: str, at: int) -> None:
    await conn.execute(update(orders).where(orders.c.id == order_id).values(state=state, updated_at=at))


def _with_order() -> Any:
    return select(
        predictions,
        orders.c.id.label("order_id"),
        orders.c.uuid.label("order_uuid"),
        orders.c.state.label("order_state"),
        orders.c.price.label("order_price"),
        orders.c.origin_price.label("order_origin_price"),
    ).join(orders, orders.c.prediction_id == predictions.c.id)


async def many_with_orders(conn: AsyncConnection, uuids: Collection[str]) -> dict[str, dict]:
    """Predictions (with their orders) among ``uuids`` that exist, by uuid."""
    if not uuids:
        return {}
    query = _with_order().where(one_of(conn, predictions.c.uuid, uuids))
    return {row["uuid"]: dict(row) for row in (await conn.execute(query)).mappings()}


async def insert_many(conn: AsyncConnection, rows: Sequence[dict]) -> dict[str, int]:
    """Insert predictions; returns ``uuid -> id`` of those inserted. A uuid that a concurrent
    transaction inserted first is skipped (``ON CONFLICT DO NOTHING``), not an error."""
    if not rows:
        return {}
    full = [row | {"updated_at": row["created_at"]} for row in rows]
    inserted = await insert_returning(conn, predictions, full, ("uuid", "id"), skip_conflicts_on="uuid")
    return {uuid: int(i) for uuid, i in inserted}


async def insert_orders(conn: AsyncConnection, rows: Sequence[dict]) -> dict[int, int]:
    """Insert orders in state ``pre``; returns ``prediction_id -> order id``."""
    if not rows:
        return {}
    full = [row | {"state": "pre", "updated_at": row["created_at"]} for row in rows]
    return {int(p): int(i) for p, i in await insert_returning(conn, orders, full, ("prediction_id", "id"))}
