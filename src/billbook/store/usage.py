"""The per-day usage rollup, changed in the same transaction as the records it summarises."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, case, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store.bulk import as_arrays, unnest_source
from billbook.store.tables import billing_records, predictions, usage_daily


_COLUMNS = (
    "account_id", "day", "model_uuid", "access_key_id", "model_type", "deduct_count", "deduct_amount",
    "refund_count", "refund_amount", "completed_count", "last_used_at", "last_price",
)


@lru_cache
def _upsert(dialect: str, *, arrays: bool = False) -> Any:
    """Built once per dialect: this runs with every charge and status change. With ``arrays``
    (PostgreSQL), many cells travel as one array per column in a single statement."""
    module = sqlite if dialect == "sqlite" else postgresql
    if arrays:
        source = unnest_source({c: usage_daily.c[c].type for c in _COLUMNS})
        statement = module.insert(usage_daily).from_select(list(_COLUMNS), source)
    else:
        statement = module.insert(usage_daily).values({c: bindparam(c) for c in _COLUMNS})
    t, new = usage_daily.c, statement.excluded
    greatest = func.max if dialect == "sqlite" else func.greatest
    return statement.on_conflict_do_update(
        index_elements=["account_id", "day", "model_uuid", "access_key_id"],
        set_={
            "deduct_count": t.deduct_count + new.deduct_count,
            "deduct_amount": t.deduct_amount + new.deduct_amount,
            "refund_count": t.refund_count + new.refund_count,
            "refund_amount": t.refund_amount + new.refund_amount,
            "completed_count": t.completed_count + new.completed_count,
            "model_type": case((new.model_type != "", new.model_type), else_=t.model_type),
            # The newest charge's price; on a tie in the same millisecond, the higher price.
            "last_price": case(
                (new.deduct_count == 0, t.last_price),
                (new.last_used_at > t.last_used_at, new.last_price),
                (new.last_used_at == t.last_used_at, greatest(t.last_price, new.last_price)),
                else_=t.last_price,
            ),
            "last_used_at": greatest(t.last_used_at, new.last_used_at),
        },
    )


async def add(
    conn: AsyncConnection,
    *,
    account_id: int,
    day: int,
    model_uuid: str,
    access_key_id: str,
    model_type: str = "",
    deduct_count: int = 0,
    deduct_amount: int = 0,
    refund_count: int = 0,
    refund_amount: int = 0,
    completed_count: int = 0,
    used_at: int = 0,
    price: int = 0,
) -> None:
    """Add counts to one rollup cell, creating it if needed; the newest charge sets ``last_price``."""
    await conn.execute(
        _upsert(conn.dialect.name),
        {
            "account_id": account_id,
            "day": day,
            "model_uuid": model_uuid,
            "access_key_id": access_key_id,
            "model_type": model_type,
            "deduct_count": deduct_count,
            "deduct_amount": deduct_amount,
            "refund_count": refund_count,
            "refund_amount": refund_amount,
            "completed_count": completed_count,
            "last_used_at": used_at,
            "last_price": price,
        },
    )


async def cells(
    conn: AsyncConnection,
    account_id: int,
    first_day: int,
    last_day: int,
    *,
    model_uuids: tuple[str, ...] = (),
    access_key_ids: tuple[str, ...] = (),
) -> list[dict]:
    """Rollup cells of one account for days ``first_day..last_day`` (inclusive)."""
    t = usage_daily.c
    query = select(usage_daily).where(t.account_id == account_id, t.day.between(first_day, last_day))
    if model_uuids:
        query = query.where(t.model_uuid.in_(model_uuids))
    if access_key_ids:
        query = query.where(t.access_key_id.in_(access_key_ids))
    rows = await conn.execute(query.order_by(t.day, t.model_uuid))
    return [dict(r) for r in rows.mappings()]


async def deduct_rows(
    conn: AsyncConnection,
    account_id: int,
    *,
    start_ms: int | None = None,
    end_ms: int | None = None,
    model_uuids: tuple[str, ...] = (),
    access_key_ids: tuple[str, ...] = (),
) -> list[dict]:
    """Every deduct of an account in ``[start_ms, end_ms]`` with its prediction's status and its
    refund, if any: the raw material the rollup summarises (edge days of a range, ``verify``)."""
    r, p = billing_records.c, predictions.c
    refund = billing_records.alias("refund")
    query = (
        select(
            r.created_at,
            r.price,
            r.model_uuid,
            r.access_key_id,
            p.model_type,
            p.status,
            refund.c.price.label("refund_price"),
        )
        .join(predictions, p.id == r.prediction_id)
        .outerjoin(refund, (refund.c.order_id == r.order_id) & (refund.c.billing_type == "refund"))
        .where(r.account_id == account_id, r.billing_type == "deduct")
    )
    if start_ms is not None:
        query = query.where(r.created_at >= start_ms)
    if end_ms is not None:
        query = query.where(r.created_at <= end_ms)
    if model_uuids:
        query = query.where(r.model_uuid.in_(model_uuids))
    if access_key_ids:
        query = query.where(r.access_key_id.in_(access_key_ids))
    return [dict(row) for row in (await conn.execute(query)).mappings()]


async def add_many(conn: AsyncConnection, cells: list[dict]) -> None:
    """``add`` for several cells in one round trip (each dict holds ``add``'s keyword arguments)."""
    if cells:
        rows = [
            {c: cell.get(c, 0) for c in _COLUMNS if c not in ("last_used_at", "last_price", "model_type")}
            | {"model_type": cell.get("model_type", ""), "last_used_at": cell.get("used_at", 0), "last_price": cell.get("price", 0)}
            for cell in cells
        ]
        if conn.dialect.name == "postgresql":
            await conn.execute(_upsert("postgresql", arrays=True), as_arrays(rows, _COLUMNS))
        else:
            await conn.execute(_upsert(conn.dialect.name), rows)
