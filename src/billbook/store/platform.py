"""Sums over every account, for the operator console's overview."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store.rows import PlatformTotals
from billbook.store.tables import accounts, orders
from billbook.vocabulary import OrderState

_ACCOUNTS = select(func.count(), func.coalesce(func.sum(accounts.c.balance), 0))
_HELD = select(func.coalesce(func.sum(orders.c.price), 0)).where(orders.c.state == OrderState.PRE.value)


async def totals(conn: AsyncConnection) -> PlatformTotals:
    """Both sums in one snapshot (the caller's transaction); exact, as integers."""
    count, balance = (await conn.execute(_ACCOUNTS)).one()
    held = (await conn.execute(_HELD)).scalar_one()
    return PlatformTotals(accounts=int(count), balance=int(balance), held=int(held))
