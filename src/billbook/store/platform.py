"""Sums over every account, for the operator console's overview."""

from __future__ import annotations

from sqlalchemy import func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store.rows import PlatformTotals
from billbook.store.tables import accounts, orders
from billbook.vocabulary import OrderState

_ACCOUNTS = select(func.count(), func.coalesce(func.sum(accounts.c.balance), 0))
#: The state as a literal, not a bound value: only then do both databases use the partial index of
#: open orders (``ix_orders_account_open``) instead of reading every order.
_HELD = select(func.coalesce(func.sum(orders.c.price), 0)).where(orders.c.state == literal_column(f"'{OrderState.PRE.value}'"))


async def totals(conn: AsyncConnection) -> PlatformTotals:
    """Both sums in one snapshot (the caller's transaction); exact, as integers."""
    count, balance = (await conn.execute(_ACCOUNTS)).one()
    held = (await conn.execute(_HELD)).scalar_one()
    return PlatformTotals(accounts=int(count), balance=int(balance), held=int(held))
