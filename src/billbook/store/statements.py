"""Reads behind the monthly statements: the month's rollup rows, the sum of the months before it,
and the records at the month's edges. Each is a few index look-ups whatever the account's size."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store.rows import EdgeRecord, MonthlyCell, Record
from billbook.store.tables import billing_monthly, billing_records
from billbook.vocabulary import BillingType


async def month_cells(conn: AsyncConnection, account_id: int, month: int) -> list[MonthlyCell]:
    """The account's ``billing_monthly`` rows of one month (``YYYYMM``), by type and model."""
    t = billing_monthly.c
    query = (
        select(t.billing_type, t.model_uuid, t.count, t.amount)
        .where(t.account_id == account_id, t.month == month)
        .order_by(t.billing_type, t.model_uuid)
    )
    return [MonthlyCell(**row) for row in (await conn.execute(query)).mappings()]


async def sum_before(conn: AsyncConnection, account_id: int, month: int) -> int:
    """The sum of every record's ``delta`` dated before ``month``: the balance at its start, in time order."""
    t = billing_monthly.c
    query = select(func.coalesce(func.sum(t.amount), 0)).where(t.account_id == account_id, t.month < month)
    return int((await conn.execute(query)).scalar_one())


async def last_before(conn: AsyncConnection, account_id: int, before_ms: int) -> EdgeRecord | None:
    """The account's last record dated before ``before_ms`` in time order (``created_at``, then
    write order): one step down the ``(account_id, created_at, id)`` index."""
    r = billing_records.c
    query = (
        select(r.uuid, r.created_at, r.balance_after)
        .where(r.account_id == account_id, r.created_at < before_ms)
        .order_by(r.created_at.desc(), r.id.desc())
        .limit(1)
    )
    row = (await conn.execute(query)).mappings().first()
    return EdgeRecord(**row) if row else None


async def recharge_by_uuid(conn: AsyncConnection, account_id: int, uuid: str) -> Record | None:
    """The account's ``recharge`` record with this uuid, or None (another account's, or another type)."""
    r = billing_records.c
    query = select(billing_records).where(
        r.uuid == uuid, r.account_id == account_id, r.billing_type == BillingType.RECHARGE
    )
    row = (await conn.execute(query)).mappings().first()
    return Record(**row) if row else None
