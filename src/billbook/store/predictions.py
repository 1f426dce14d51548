"""Queries on predictions and their orders (one order per charged prediction)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store import dialect
from billbook.store.rows import PredictionWithOrder
from billbook.store.tables import orders, predictions, prefixed
from billbook.vocabulary import OrderState, PredictionStatus

_WITH_ORDER = select(
    predictions.c.id.label("prediction_id"),
    *(c for c in predictions.c if c.name != "id"),
    *prefixed(orders, "order", "id", "uuid", "state", "price", "origin_price", "price_version_id", "inputs"),
).join(orders, orders.c.prediction_id == predictions.c.id)


async def get_with_order(conn: AsyncConnection, uuid: str, *, lock: bool = False) -> PredictionWithOrder | None:
    """The prediction and its order in one row.

    ``lock`` takes the row lock on PostgreSQL so that status changes of one prediction serialize;
    on SQLite the write transaction already holds the database's write lock.
    """
    query = _WITH_ORDER.where(predictions.c.uuid == uuid)
    if lock:
        query = query.with_for_update(of=(predictions, orders))
    row = (await conn.execute(query)).mappings().first()
    return PredictionWithOrder(**row) if row else None


async def set_status(conn: AsyncConnection, prediction_id: int, status: PredictionStatus, at: int) -> None:
    await conn.execute(
        update(predictions).where(predictions.c.id == prediction_id).values(status=status, updated_at=at)
    )


async def set_order_state(conn: AsyncConnection, order_id: int, state: OrderState, at: int) -> None:
    await conn.execute(update(orders).where(orders.c.id == order_id).values(state=state, updated_at=at))


async def many_with_orders(conn: AsyncConnection, uuids: Collection[str]) -> dict[str, PredictionWithOrder]:
    """Predictions (with their orders) among ``uuids`` that exist, by uuid."""
    if not uuids:
        return {}
    query = _WITH_ORDER.where(dialect.one_of(conn, predictions.c.uuid, uuids))
    return {row["uuid"]: PredictionWithOrder(**row) for row in (await conn.execute(query)).mappings()}


async def insert_many(conn: AsyncConnection, rows: Sequence[dict]) -> dict[str, int]:
    """Insert predictions (``uuid, account_id, ak_id, model_uuid, model_type, status, created_at``);
    returns ``uuid -> prediction id`` of those inserted. A uuid that a concurrent transaction
    inserted first is skipped (``ON CONFLICT DO NOTHING``), not an error."""
    if not rows:
        return {}
    full = [row | {"updated_at": row["created_at"]} for row in rows]
    inserted = await dialect.insert_returning(conn, predictions, full, ("uuid", "id"), skip_conflicts_on="uuid")
    return {uuid: int(i) for uuid, i in inserted}


async def insert_orders(conn: AsyncConnection, rows: Sequence[dict]) -> dict[int, int]:
    """Insert orders in state ``pre`` (``uuid, prediction_id, account_id, ak_id, price,
    origin_price, created_at``); returns ``prediction id -> order id``."""
    if not rows:
        return {}
    full = [row | {"state": OrderState.PRE, "updated_at": row["created_at"]} for row in rows]
    return {int(p): int(i) for p, i in await dialect.insert_returning(conn, orders, full, ("prediction_id", "id"))}
