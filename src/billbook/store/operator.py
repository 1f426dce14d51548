"""The operator's reads of accounts: the list (search, sorts, exact total), money held in open
orders, spend from the ``usage_daily`` rollup, and keys.

A page of the list is chosen first, from the accounts table and its indexes alone (``balance``,
``created_at``), and only then are its at most 100 accounts' held money, spend and key counts read,
each by an index led by ``account_id``: a page costs the same at 100 accounts or 100,000. Sorting
by 30-day spend is the exception: it needs every account's sum over the rollup's last 30 days.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store import dialect
from billbook.store.rows import AccountRow, KeyInfo
from billbook.store.tables import access_keys, accounts, orders, usage_daily

a = accounts.c


@dataclass(frozen=True)
class AccountQuery:
    """``text`` matches an account's name (case-insensitive, anywhere) or, when it is a number, its id."""

    text: str | None = None
    sort: str = "-created_at"


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _matching(q: AccountQuery) -> ColumnElement[bool] | None:
    if not q.text:
        return None
    by_name = func.lower(a.name).like(f"%{_escaped(q.text.lower())}%", escape="\\")
    if q.text.isdigit() and len(q.text) <= 10:
        return or_(a.id == int(q.text), by_name)
    return by_name


_ORDERS = {
    "balance": (a.balance.asc(), a.id.asc()),
    "-balance": (a.balance.desc(), a.id.desc()),
    "created_at": (a.created_at.asc(), a.id.asc()),
    "-created_at": (a.created_at.desc(), a.id.desc()),
}


async def count_accounts(conn: AsyncConnection, q: AccountQuery) -> int:
    query = select(func.count()).select_from(accounts)
    where = _matching(q)
    if where is not None:
        query = query.where(where)
    return int((await conn.execute(query)).scalar_one())


async def page_accounts(conn: AsyncConnection, q: AccountQuery, *, first_day: int, offset: int, limit: int) -> list[AccountRow]:
    """One page of accounts in the query's order. ``first_day``: the first day of the 30-day
    window, for the spend sort."""
    where = _matching(q)
    if q.sort == "-spend_30d":
        u = usage_daily.c
        spend = (
            select(u.account_id, func.sum(u.deduct_amount - u.refund_amount).label("spend"))
            .where(u.day >= first_day)
            .group_by(u.account_id)
            .subquery("spend")
        )
        query = (
            select(a.id, a.name, a.balance, a.created_at)
            .select_from(accounts.outerjoin(spend, spend.c.account_id == a.id))
            .order_by(func.coalesce(spend.c.spend, 0).desc(), a.id.desc())
        )
    else:
        query = select(a.id, a.name, a.balance, a.created_at).order_by(*_ORDERS[q.sort])
    if where is not None:
        query = query.where(where)
    rows = await conn.execute(query.offset(offset).limit(limit))
    return [AccountRow(**r) for r in rows.mappings()]


async def held(conn: AsyncConnection, account_ids: Collection[int]) -> dict[int, int]:
    """Money in orders still ``pre``, per account (by the partial index of open orders)."""
    if not account_ids:
        return {}
    o = orders.c
    query = (
        select(o.account_id, func.sum(o.price).label("held"))
        .where(dialect.one_of(conn, o.account_id, account_ids), o.state == literal_column("'pre'"))
        .group_by(o.account_id)
    )
    return {int(r.account_id): int(r.held) for r in await conn.execute(query)}


async def spend(conn: AsyncConnection, account_ids: Collection[int], first_day: int, last_day: int | None = None) -> dict[int, int]:
    """Deducts net of their refunds per account over days ``first_day..last_day`` (by deduct day)."""
    if not account_ids:
        return {}
    u = usage_daily.c
    query = select(u.account_id, func.sum(u.deduct_amount - u.refund_amount).label("spend")).where(
        dialect.one_of(conn, u.account_id, account_ids), u.day >= first_day
    )
    if last_day is not None:
        query = query.where(u.day <= last_day)
    return {int(r.account_id): int(r.spend) for r in await conn.execute(query.group_by(u.account_id))}


async def active_keys(conn: AsyncConnection, account_ids: Collection[int]) -> dict[int, int]:
    """Keys not revoked, per account."""
    if not account_ids:
        return {}
    k = access_keys.c
    query = (
        select(k.account_id, func.count().label("n"))
        .where(dialect.one_of(conn, k.account_id, account_ids), k.revoked_at.is_(None))
        .group_by(k.account_id)
    )
    return {int(r.account_id): int(r.n) for r in await conn.execute(query)}


_KEY_INFO = select(
    access_keys.c.id.label("ak_id"), access_keys.c.access_key_id, access_keys.c.account_id,
    access_keys.c.name, access_keys.c.created_at, access_keys.c.revoked_at,
)


async def count_keys(conn: AsyncConnection, account_id: int) -> int:
    query = select(func.count()).select_from(access_keys).where(access_keys.c.account_id == account_id)
    return int((await conn.execute(query)).scalar_one())


async def keys_page(conn: AsyncConnection, account_id: int, *, offset: int, limit: int) -> list[KeyInfo]:
    """An account's keys, newest first (revoked ones included, with their time)."""
    query = (
        _KEY_INFO.where(access_keys.c.account_id == account_id)
        .order_by(access_keys.c.created_at.desc(), access_keys.c.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return [KeyInfo(**r) for r in (await conn.execute(query)).mappings()]

