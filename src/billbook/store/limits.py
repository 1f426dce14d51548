"""Spend limits, the per-window spend rollup they are checked against, and alert thresholds.

The rollup is changed in the transaction of each charge and refund, under the account's lock
(taken by the caller), so what a charge reads here is what the next charge of the account reads.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from functools import lru_cache
from typing import Any

import orjson
from sqlalchemy import case, select
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store import dialect
from billbook.store.rows import LimitRow, SpendWindow
from billbook.store.tables import alert_settings, spend_limits, spend_windows

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
def _add_spend(dialect_name: str, keep_alerted: bool) -> Any:
    statement = dialect.many_rows_insert(dialect_name, spend_windows, _WINDOW_COLUMNS)
    t, new = spend_windows.c, statement.excluded
    # Kept: the window was not read; spend going back re-arms it, as ``SpendBook`` would.
    alerted = case((new.amount < 0, 0), else_=t.alerted) if keep_alerted else new.alerted
    return statement.on_conflict_do_update(
        index_elements=["account_id", "access_key_id", "period", "start"],
        set_={"amount": t.amount + new.amount, "alerted": alerted},
    )


async def add_spend(conn: AsyncConnection, changes: Sequence[SpendWindow], *, keep_alerted: bool = False) -> None:
    """Add each change's ``amount`` to its window and set its ``alerted`` level, in one statement.
    With ``keep_alerted``, a window's stored level is kept instead (0 when the change is negative),
    and a new window's is 0: for windows of subjects without limits."""
    rows = [{c: getattr(w, c) for c in _WINDOW_COLUMNS} for w in changes]
    await dialect.execute_many(conn, _add_spend(dialect.name(conn), keep_alerted), rows, _WINDOW_COLUMNS)


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


