"""What the operator reads: accounts with their money held and spent, and their keys.

Spend is deducts net of their refunds, by the deduct's UTC day, from the ``usage_daily`` rollup (a
refund counts on its deduct's day, as in usage statistics). ``spend_30d`` covers today and the 29
days before it; ``spend_month`` the UTC calendar month so far; ``spend_today`` the UTC day.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.ledger.errors import InvalidRequest, NotFound
from billbook.store import accounts as account_store
from billbook.store import operator as store
from billbook.store.operator import AccountQuery
from billbook.store.rows import AccountSummary, KeyInfo
from billbook.times import MS_PER_DAY, now_ms

__all__ = ["ACCOUNT_SORTS", "AccountDetail", "AccountQuery", "Listing", "account", "accounts", "keys"]

ACCOUNT_SORTS = ("balance", "-balance", "-spend_30d", "created_at", "-created_at")
#: Days in the 30-day spend window, today included.
SPEND_DAYS = 30


T = TypeVar("T")


@dataclass(frozen=True)
class Listing(Generic[T]):
    page: int
    page_size: int
    total: int
    items: list[T]

    @property
    def has_more(self) -> bool:
        return self.page * self.page_size < self.total


def _today(at_ms: int | None) -> int:
    return (now_ms() if at_ms is None else at_ms) // MS_PER_DAY


def _month_start_day(today: int) -> int:
    day = datetime.fromtimestamp(today * 86_400, UTC)
    return int(day.replace(day=1).timestamp()) // 86_400


async def _summaries(conn: AsyncConnection, rows: list, today: int) -> list[AccountSummary]:
    ids = [r.id for r in rows]
    held = await store.held(conn, ids)
    spend = await store.spend(conn, ids, today - SPEND_DAYS + 1)
    keys_n = await store.active_keys(conn, ids)
    return [
        AccountSummary(r.id, r.name, r.balance, held.get(r.id, 0), spend.get(r.id, 0), keys_n.get(r.id, 0), r.created_at)
        for r in rows
    ]


async def accounts(conn: AsyncConnection, q: AccountQuery, page: int, page_size: int, *, at_ms: int | None = None) -> Listing[AccountSummary]:
    """One page of accounts matching ``q`` in its order, with the exact total."""
    if q.sort not in ACCOUNT_SORTS:
        raise InvalidRequest(f"sort must be one of {', '.join(ACCOUNT_SORTS)}")
    today = _today(at_ms)
    total = await store.count_accounts(conn, q)
    offset = (page - 1) * page_size
    rows = []
    if offset < total:
        rows = await store.page_accounts(conn, q, first_day=today - SPEND_DAYS + 1, offset=offset, limit=page_size)
    return Listing(page, page_size, total, await _summaries(conn, rows, today))


@dataclass(frozen=True)
class AccountDetail:
    summary: AccountSummary
    spend_today: int
    spend_month: int
    keys: list[KeyInfo]


async def account(conn: AsyncConnection, account_id: int, *, at_ms: int | None = None) -> AccountDetail:
    """One account: balance, held, spend today / this month / 30 days, and its keys (at most
    100, newest first; the keys route pages through more)."""
    row = await account_store.get(conn, account_id)
    if row is None:
        raise NotFound(f"account {account_id} not found")
    today = _today(at_ms)
    (summary,) = await _summaries(conn, [row], today)
    spend_today = (await store.spend(conn, [account_id], today)).get(account_id, 0)
    spend_month = (await store.spend(conn, [account_id], _month_start_day(today))).get(account_id, 0)
    key_rows = await store.keys_page(conn, account_id, offset=0, limit=100)
    return AccountDetail(summary, spend_today, spend_month, key_rows)


async def keys(conn: AsyncConnection, account_id: int, page: int, page_size: int) -> Listing[KeyInfo]:
    if await account_store.get(conn, account_id) is None:
        raise NotFound(f"account {account_id} not found")
    total = await store.count_keys(conn, account_id)
    offset = (page - 1) * page_size
    items = await store.keys_page(conn, account_id, offset=offset, limit=page_size) if offset < total else []
    return Listing(page, page_size, total, items)
