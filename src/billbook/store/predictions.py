"""Queries on predictions and their orders (one order per charged prediction)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store.tables import orders, predictions
from billbook.store.upsert import insert_for


async def insert_if_new(
    conn: AsyncConnection,
    *,
    uuid: str,
    account_id: int,
    ak_id: int,
    model_uuid: str,
    model_type: str,
    status: str,
    created_at: int,
) -> int | None:
    """Insert the prediction; ``None`` when that uuid exists already.

    ``ON CONFLICT DO NOTHING`` makes a concurrent duplicate wait for the first writer and then see
    its row, instead of failing the transaction on the unique index.
    """
    statement = (
        insert_for(conn, predictions)
        .values(
            uuid=uuid,
            account_id=account_id,
            ak_id=ak_id,
            model_uuid=model_uuid,
            model_type=model_type,
            status=status,
            created_at=created_at,
            updated_at=created_at,
        )
        .on_conflict_do_nothing(index_elements=["uuid"])
        .returning(predictions.c.id)
    )
    value = (await conn.execute(statement)).scalar_one_or_none()
    return None if value is None else int(value)


async def get_with_order(conn: AsyncConnection, uuid: str, *, lock: bool = False) -> dict | None:
    """The prediction and its order in one row (order columns prefixed ``order_``).

    ``lock`` takes the row lock on PostgreSQL so that status changes of one prediction serialize;
    on SQLite the write transaction already holds the database's write lock.
    """
    query = (
        select(
            predictions,
            orders.c.id.label("order_id"),
            orders.c.uuid.label("order_uuid"),
            orders.c.state.label("order_state"),
            orders.c.price.label("order_price"),
            orders.c.origin_price.label("order_origin_price"),
        )
        .join(orders, orders.c.prediction_id == predictions.c.id)
        .where(predictions.c.uuid == uuid)
    )
    if lock:
        query = query.with_for_update(of=predictions)
    row = (await conn.execute(query)).mappings().first()
    return dict(row) if row else None


async def set_status(conn: AsyncConnection, prediction_id: int, status: str, at: int) -> None:
    await conn.execute(
        update(predictions).where(predictions.c.id == prediction_id).values(status=status, updated_at=at)
    )


async def insert_order(
    conn: AsyncConnection,
    *,
    uuid: str,
    prediction_id: int,
    account_id: int,
    ak_id: int,
    price: int,
    origin_price: int,
    created_at: int,
) -> int:
    result = await conn.execute(
        orders.insert()
        .values(
            uuid=uuid,
            prediction_id=prediction_id,
            account_id=account_id,
            ak_id=ak_id,
            state="pre",
            price=price,
            origin_price=origin_price,
            created_at=created_at,
            updated_at=created_at,
        )
        .returning(orders.c.id)
    )
    return int(result.scalar_one())


async def set_order_state(conn: AsyncConnection, order_id: int, state: str, at: int) -> None:
    await conn.execute(update(orders).where(orders.c.id == order_id).values(state=state, updated_at=at))
