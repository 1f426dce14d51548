"""The per-day usage rollup, changed in the same transaction as the records it summarises."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, TypedDict, Unpack

from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store import dialect, spend
from billbook.store.rows import DeductWithOutcome, UsageCell
from billbook.store.tables import billing_records, predictions, usage_daily
from billbook.vocabulary import BillingType


_COLUMNS = (
    "account_id", "day", "model_uuid", "access_key_id", "model_type", "deduct_count", "deduct_amount",
    "refund_count", "refund_amount", "completed_count", "last_used_at", "last_price",
)


@lru_cache
def _upsert(dialect_name: str) -> Any:
    """Built once per dialect: this runs with every charge and status change, for many cells at a
    time (see ``dialect.execute_many``)."""
    statement = dialect.many_rows_insert(dialect_name, usage_daily, _COLUMNS)
    t, new = usage_daily.c, statement.excluded
    greatest = dialect.greatest(dialect_name)
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
    today: int,
) -> None:
    """Add counts to one rollup cell, creating it if needed; the newest charge sets ``last_price``.
    ``today``: the writer's UTC day, for the account's stored 30-day spend (``store.spend``)."""
    await add_many(
        conn,
        [{
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
            "used_at": used_at,
            "price": price,
        }],
        today=today,
    )


class UsageFilters(TypedDict, total=False):
    """Which models and keys usage is read for: any of the values given (an empty tuple, or the
    filter left out: all of them). A new filter is one entry here and one line in ``_filtered``."""

    model_uuids: tuple[str, ...]
    access_key_ids: tuple[str, ...]


def _filtered(conn: AsyncConnection, query: Any, table: Any, filters: UsageFilters) -> Any:
    """``query`` narrowed by ``filters`` on ``table``'s ``model_uuid`` and ``access_key_id``."""
    if filters.get("model_uuids"):
        query = query.where(dialect.one_of(conn, table.c.model_uuid, filters["model_uuids"]))
    if filters.get("access_key_ids"):
        query = query.where(dialect.one_of(conn, table.c.access_key_id, filters["access_key_ids"]))
    return query


async def cells(
    conn: AsyncConnection, account_id: int | None, first_day: int, last_day: int, **filters: Unpack[UsageFilters]
) -> list[UsageCell]:
    """Rollup cells of one account (``None``: every account) for days ``first_day..last_day`` (inclusive)."""
    t = usage_daily.c
    query = select(*usage_daily.c).where(t.day.between(first_day, last_day))
    if account_id is not None:
        query = query.where(t.account_id == account_id)
    query = _filtered(conn, query, usage_daily, filters)
    rows = await conn.execute(query.order_by(t.day, t.model_uuid))
    return [UsageCell(**r) for r in rows.mappings()]


async def deduct_rows(
    conn: AsyncConnection,
    account_id: int | None,
    *,
    start_ms: int | None = None,
    end_ms: int | None = None,
    **filters: Unpack[UsageFilters],
) -> list[DeductWithOutcome]:
    """Every deduct of an account (``None``: of every account) in ``[start_ms, end_ms]`` with its prediction's status and its
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
            r.account_id,
        )
        .join(predictions, p.id == r.prediction_id)
        .outerjoin(refund, (refund.c.order_id == r.order_id) & (refund.c.billing_type == BillingType.REFUND))
        .where(r.billing_type == BillingType.DEDUCT)
    )
    if account_id is not None:
        query = query.where(r.account_id == account_id)
    if start_ms is not None:
        query = query.where(r.created_at >= start_ms)
    if end_ms is not None:
        query = query.where(r.created_at <= end_ms)
    query = _filtered(conn, query, billing_records, filters)
    return [DeductWithOutcome(**row) for row in (await conn.execute(query)).mappings()]


async def add_many(conn: AsyncConnection, cells: list[dict], *, today: int) -> None:
    """``add`` for several cells in one round trip (each dict holds ``add``'s keyword arguments),
    then the accounts' stored 30-day spend, which the cells' spend changes."""
    rows = [
        {c: cell.get(c, 0) for c in _COLUMNS if c not in ("last_used_at", "last_price", "model_type")}
        | {"model_type": cell.get("model_type", ""), "last_used_at": cell.get("used_at", 0), "last_price": cell.get("price", 0)}
        for cell in cells
    ]
    await dialect.execute_many(conn, _upsert(dialect.name(conn)), rows, _COLUMNS)
    await spend.add(conn, spend.changes(cells, today))
