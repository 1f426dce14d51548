"""What the operator reads: accounts with their money held and spent, and their keys.

Spend is deducts net of their refunds, by the deduct's UTC day, from the ``usage_daily`` rollup (a
refund counts on its deduct's day, as in usage statistics). ``spend_30d`` covers today and the 29
days before it; ``spend_month`` the UTC calendar month so far; ``spend_today`` the UTC day.

The list sorted by ``spend_30d`` reads each account's stored figure (``store.spend``), exact but
for the few accounts ``store.spend.unsettled`` names, whose spend is summed when read; ``roll_spend``
(run by every server's background sweep) keeps those few. A search with at most ``SPARSE``
matches reads them all through the search index and orders them here; a broader one walks the
sort's index with the match as a filter. See docs/decisions/0031-operator-accounts-list-at-scale.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.ledger.errors import InvalidRequest, NotFound
from billbook.store import accounts as account_store
from billbook.store import operator as store
from billbook.store import spend as spend_store
from billbook.store.operator import AccountQuery
from billbook.store.rows import AccountRow, AccountSummary, KeyInfo, ListedAccount
from billbook.times import MS_PER_DAY, now_ms

__all__ = ["ACCOUNT_SORTS", "AccountDetail", "AccountQuery", "Listing", "account", "accounts", "keys", "roll_spend"]

ACCOUNT_SORTS = ("balance", "-balance", "spend_30d", "-spend_30d", "created_at", "-created_at")
#: Days in the 30-day spend window, today included.
SPEND_DAYS = spend_store.WINDOW_DAYS
#: A search with at most this many matches is read whole and ordered here; past it, the sort's
#: index is walked with the match as a filter (then at least one row in ``SPARSE`` / total matches).
SPARSE = 1000
#: Accounts rolled per transaction (their rows locked meanwhile, as a charge locks them).
ROLL_BATCH = 500

log = logging.getLogger(__name__)


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
    offset = (page - 1) * page_size
    if q.text:
        found = await store.matching(conn, q, SPARSE + 1)
        if len(found) <= SPARSE:
            ordered = await _in_order(conn, found, q.sort, today)
            rows = [f.row() for f in ordered[offset:offset + page_size]]
            return Listing(page, page_size, len(found), await _summaries(conn, rows, today))
    total = await store.count_accounts(conn, q)
    rows = []
    if offset < total and q.sort.lstrip("-") == "spend_30d":
        rows = await _by_spend(conn, q, today, offset, page_size)
    elif offset < total:
        ids = await store.page_ids(conn, q, offset=offset, limit=page_size)
        by_id = {r.id: r for r in await store.accounts_by_id(conn, ids)}
        rows = [by_id[i] for i in ids if i in by_id]
    return Listing(page, page_size, total, await _summaries(conn, rows, today))


def _sort_key(sort: str, spend: dict[int, int]) -> Callable[[ListedAccount], tuple[int, int]]:
    field = sort.lstrip("-")
    if field == "spend_30d":
        return lambda r: (spend[r.id], r.id)
    return lambda r: (getattr(r, field), r.id)


async def _exact_spend(conn: AsyncConnection, listed: Iterable[ListedAccount], today: int) -> dict[int, int]:
    """The accounts' 30-day spend on ``today``: their stored figure, summed again where it may be
    stale (``store.spend.unsettled``) or is missing."""
    listed = list(listed)
    unsettled = await spend_store.unsettled_ids(conn, today)
    again = {r.id for r in listed if r.id in unsettled or r.stored_spend is None}
    summed = await store.spend(conn, again, today - SPEND_DAYS + 1)
    return {r.id: summed.get(r.id, 0) if r.id in again else r.stored_spend for r in listed}


async def _in_order(conn: AsyncConnection, found: list[ListedAccount], sort: str, today: int) -> list[ListedAccount]:
    spend = await _exact_spend(conn, found, today) if sort.lstrip("-") == "spend_30d" else {}
    return sorted(found, key=_sort_key(sort, spend), reverse=sort.startswith("-"))


async def _by_spend(conn: AsyncConnection, q: AccountQuery, today: int, offset: int, limit: int) -> list[AccountRow]:
    """A page by 30-day spend: the first ``offset + limit`` by stored figure among the accounts
    whose figure is exact today, merged with the few others' spend summed now."""
    descending = q.sort.startswith("-")
    unsettled = await spend_store.unsettled_ids(conn, today)
    wanted = offset + limit
    stored = await store.by_stored_spend(conn, q, descending=descending, limit=wanted + len(unsettled))
    settled = [r for r in stored if r.id not in unsettled][:wanted]
    others = await store.accounts_by_id(conn, unsettled, q)
    summed = await store.spend(conn, [r.id for r in others], today - SPEND_DAYS + 1)
    listed = settled + [ListedAccount(r.id, r.name, r.balance, r.created_at, summed.get(r.id, 0)) for r in others]
    listed.sort(key=lambda r: (r.stored_spend, r.id), reverse=descending)
    return [r.row() for r in listed[offset:offset + limit]]


async def roll_spend(transaction: Callable, *, at_ms: int | None = None) -> int:
    """Recompute the stored 30-day figures that days leaving the window made stale, since the last
    roll, up to today; returns how many accounts were rolled. ``transaction()`` opens a write
    transaction.

    Accounts go in batches, each locked as a charge locks them (id order), so a charge and the roll
    never interleave on one account; the day is marked rolled once every batch is in."""
    today = _today(at_ms)
    async with transaction() as conn:
        rolled = await spend_store.rolled(conn)
        if rolled >= today:
            return 0
        ids = await spend_store.to_roll(conn, rolled, today)
    for start in range(0, len(ids), ROLL_BATCH):
        batch = ids[start:start + ROLL_BATCH]
        async with transaction() as conn:
            await account_store.lock_many(conn, batch)
            await spend_store.recompute(conn, batch, today)
    async with transaction() as conn:
        await spend_store.set_rolled(conn, today)
    return len(ids)


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
