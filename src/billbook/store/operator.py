"""The operator's reads of accounts: the list (search, sorts, exact total), money held in open
orders, spend from the ``usage_daily`` rollup, and keys.

A page of the list is chosen first, from the accounts table and its indexes alone (``balance``,
``created_at``; ids first, then the page's rows), or from ``account_spend``'s stored 30-day figures
(``store.spend``), and only then are its at most 100 accounts' held money, spend and key counts
read, each by an index led by ``account_id``: a page costs the same at 100 accounts or 100,000. A
search reads its matches through a trigram index (``dialect.name_matches``).
"""

from __future__ import annotations

from collections.abc import Collection
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, literal_column, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store import accounts as account_store
from billbook.store import dialect
from billbook.store.rows import AccountRow, KeyInfo, ListedAccount
from billbook.store.tables import access_keys, account_spend, accounts, orders, usage_daily

a = accounts.c


@dataclass(frozen=True)
class AccountQuery:
    """``text`` matches an account's name (case-insensitive, anywhere; under three characters, at
    its start) or, when it is a number, its id."""

    text: str | None = None
    sort: str = "-created_at"


def _matching(conn: AsyncConnection, q: AccountQuery) -> ColumnElement[bool] | None:
    if not q.text:
        return None
    by_name = dialect.name_matches(dialect.name(conn), a.id, a.name, q.text)
    if q.text.isdigit() and len(q.text) <= 10:
        return or_(a.id == int(q.text), by_name)
    return by_name


def _where(conn: AsyncConnection, query, q: AccountQuery):  # noqa: ANN001, ANN202
    where = _matching(conn, q)
    return query if where is None else query.where(where)


def _search_plans(conn: AsyncConnection, q: AccountQuery | None) -> AbstractAsyncContextManager[None]:
    """What a search's statements need from the planner (``dialect.bitmap_scans``); nothing otherwise."""
    return dialect.bitmap_scans(conn) if q is not None and q.text else nullcontext()


_ORDERS = {
    "balance": (a.balance.asc(), a.id.asc()),
    "-balance": (a.balance.desc(), a.id.desc()),
    "created_at": (a.created_at.asc(), a.id.asc()),
    "-created_at": (a.created_at.desc(), a.id.desc()),
}
_ROW = (a.id, a.name, a.balance, a.created_at)


async def count_accounts(conn: AsyncConnection, q: AccountQuery) -> int:
    """The exact number of accounts matching ``q``: all of them from ``account_count``, else counted
    through the search's index."""
    if not q.text:
        return await account_store.count(conn)
    query = _where(conn, select(func.count()).select_from(accounts), q)
    async with _search_plans(conn, q):
        return int((await conn.execute(query)).scalar_one())


async def matching(conn: AsyncConnection, q: AccountQuery, limit: int) -> list[ListedAccount]:
    """At most ``limit`` accounts matching ``q`` (which has text), with their sort keys and stored
    30-day spend (None if the account has no row), in no order: through the search's index."""
    s = account_spend.c
    query = select(*_ROW, s.amount.label("stored_spend")).select_from(
        accounts.outerjoin(account_spend, s.account_id == a.id)
    )
    async with _search_plans(conn, q):
        rows = await conn.execute(_where(conn, query, q).limit(limit))
    return [ListedAccount(**r) for r in rows.mappings()]


async def page_ids(conn: AsyncConnection, q: AccountQuery, *, offset: int, limit: int) -> list[int]:
    """The ids of one page of accounts in the query's (index) order, from the index alone: a deep
    page reads index entries, not rows (``accounts_by_id`` reads the page's rows)."""
    query = _where(conn, select(a.id).order_by(*_ORDERS[q.sort]), q).offset(offset).limit(limit)
    return [int(r[0]) for r in await conn.execute(query)]


async def by_stored_spend(conn: AsyncConnection, q: AccountQuery, *, descending: bool, limit: int) -> list[ListedAccount]:
    """The first ``limit`` accounts (matching ``q``) by stored 30-day spend, then id, by the index
    on ``account_spend (amount, account_id)``."""
    s = account_spend.c
    order = (s.amount.desc(), s.account_id.desc()) if descending else (s.amount.asc(), s.account_id.asc())
    query = (
        select(*_ROW, s.amount.label("stored_spend"))
        .select_from(account_spend.join(accounts, a.id == s.account_id))
        .order_by(*order)
        .limit(limit)
    )
    return [ListedAccount(**r) for r in (await conn.execute(_where(conn, query, q))).mappings()]


async def accounts_by_id(conn: AsyncConnection, account_ids: Collection[int], q: AccountQuery | None = None) -> list[AccountRow]:
    """The accounts among ``account_ids`` (that match ``q``, if given), in no order."""
    if not account_ids:
        return []
    query = select(*_ROW).where(dialect.one_of(conn, a.id, account_ids))
    if q is not None:
        query = _where(conn, query, q)
    async with _search_plans(conn, q):
        return [AccountRow(**r) for r in (await conn.execute(query)).mappings()]


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

