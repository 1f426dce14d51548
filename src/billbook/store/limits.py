"""Spend limits, the per-window spend rollup they are checked against, and alert thresholds.

The rollup is changed in the transaction of each charge and refund, under the account's lock
(taken by the caller), so what a charge reads here is what the next charge of the account reads.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store import dialect
from billbook.store.rows import LimitRow, SpendWindow
from billbook.store.tables import alert_settings, billing_records, spend_limits, spend_windows
from billbook.times import MS_PER_DAY
from billbook.vocabulary import BillingType

_LIMIT_COLUMNS = ("account_id", "access_key_id", "setter", "daily", "monthly", "total")


async def limits(conn: AsyncConnection, account_ids: Collection[int], subjects: Collection[str]) -> list[LimitRow]:
    """Both setters' limits of the accounts' ``subjects`` (access key ids, ``''`` for the account)."""
    if not account_ids:
        return []
    t = spend_limits.c
    query = select(*(t[c] for c in _LIMIT_COLUMNS)).where(
        dialect.one_of(conn, t.account_id, account_ids), dialect.one_of(conn, t.access_key_id, subjects)
    )
    return [LimitRow(**row) for row in (await conn.execute(query)).mappings()]


async def put_limits(conn: AsyncConnection, row: LimitRow, at: int) -> None:
    """Replace one setter's limits on a key or account (idempotent)."""
    values = {c: getattr(row, c) for c in _LIMIT_COLUMNS} | {"updated_at": at}
    statement = dialect.insert_for(dialect.name(conn), spend_limits).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=["account_id", "access_key_id", "setter"],
        set_={"daily": row.daily, "monthly": row.monthly, "total": row.total, "updated_at": at},
    )
    await conn.execute(statement)


async def windows(
    conn: AsyncConnection, account_ids: Collection[int], subjects: Collection[str], starts: Collection[int]
) -> list[SpendWindow]:
    """The accounts' windows of ``subjects`` that start on one of ``starts`` (``total``'s is 0):
    a superset of those a batch touches, bounded by the batch, never by the history."""
    if not account_ids:
        return []
    t = spend_windows.c
    query = select(spend_windows).where(
        dialect.one_of(conn, t.account_id, account_ids),
        dialect.one_of(conn, t.access_key_id, subjects),
        dialect.one_of(conn, t.start, starts),
    )
    return [SpendWindow(**row) for row in (await conn.execute(query)).mappings()]


_WINDOW_COLUMNS = ("account_id", "access_key_id", "period", "start", "amount", "alerted")


@lru_cache
def _add_spend(dialect_name: str) -> Any:
    statement = dialect.many_rows_insert(dialect_name, spend_windows, _WINDOW_COLUMNS)
    return statement.on_conflict_do_update(
        index_elements=["account_id", "access_key_id", "period", "start"],
        set_={"amount": spend_windows.c.amount + statement.excluded.amount, "alerted": statement.excluded.alerted},
    )


async def add_spend(conn: AsyncConnection, changes: Sequence[SpendWindow]) -> None:
    """Add each change's ``amount`` to its window and set its ``alerted`` level, in one statement."""
    rows = [{c: getattr(w, c) for c in _WINDOW_COLUMNS} for w in changes]
    await dialect.execute_many(conn, _add_spend(dialect.name(conn)), rows, _WINDOW_COLUMNS)


async def low_balance(conn: AsyncConnection, account_ids: Collection[int]) -> dict[int, list[int]]:
    """Each account's low-balance thresholds (accounts without any are left out)."""
    if not account_ids:
        return {}
    t = alert_settings.c
    query = select(t.account_id, t.low_balance).where(dialect.one_of(conn, t.account_id, account_ids))
    return {int(a): orjson.loads(text) for a, text in await conn.execute(query)}


async def put_low_balance(conn: AsyncConnection, account_id: int, thresholds: list[int], at: int) -> None:
    text = orjson.dumps(thresholds).decode()
    statement = dialect.insert_for(dialect.name(conn), alert_settings).values(
        account_id=account_id, low_balance=text, updated_at=at
    )
    await conn.execute(
        statement.on_conflict_do_update(index_elements=["account_id"], set_={"low_balance": text, "updated_at": at})
    )


async def all_windows(conn: AsyncConnection, account_id: int | None = None) -> list[SpendWindow]:
    """Every window row (of one account): what ``verify`` compares with the records."""
    query = select(spend_windows)
    if account_id is not None:
        query = query.where(spend_windows.c.account_id == account_id)
    return [SpendWindow(**row) for row in (await conn.execute(query)).mappings()]


async def spend_by_day(conn: AsyncConnection) -> list[tuple[int, str, int, int]]:
    """``(account_id, access_key_id, day, spend)`` recomputed from the records: deducts less their
    refunds, each counted on its deduct's UTC day."""
    r = billing_records.c
    deduct = billing_records.alias("deduct")
    day = deduct.c.created_at // MS_PER_DAY
    signed = select(
        deduct.c.account_id,
        deduct.c.access_key_id,
        day.label("day"),
        (deduct.c.price - func.coalesce(select(billing_records.c.price).where(
            r.order_id == deduct.c.order_id, r.billing_type == BillingType.REFUND
        ).scalar_subquery(), 0)).label("spent"),
    ).where(deduct.c.billing_type == BillingType.DEDUCT).subquery()
    query = select(signed.c.account_id, signed.c.access_key_id, signed.c.day, func.sum(signed.c.spent)).group_by(
        signed.c.account_id, signed.c.access_key_id, signed.c.day
    )
    return [(int(a), str(k), int(d), int(s)) for a, k, d, s in await conn.execute(query)]
