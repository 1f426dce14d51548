"""The customer's billing search: exact total, a total order, and one page of joined records."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store import billing as billing_store
from billbook.store import search as search_store
from billbook.store.search import Criteria

BILLING_TYPES = ("deduct", "refund", "recharge", "adjust")

__all__ = ["BILLING_TYPES", "Criteria", "Page", "search"]


@dataclass(frozen=True)
class Page:
    page: int
    page_size: int
    total: int
    items: list[dict]

    @property
    def has_more(self) -> bool:
        return self.page * self.page_size < self.total


async def search(conn: AsyncConnection, criteria: Criteria, page: int, page_size: int) -> Page:
    """One page of an account's records. Past the end: no items and the true total."""
    total = await search_store.count(conn, criteria)
    offset = (page - 1) * page_size
    if offset >= total:
        return Page(page, page_size, total, [])
    ids = await search_store.page_ids(conn, criteria, offset=offset, limit=page_size)
    return Page(page, page_size, total, await billing_store.views_by_ids(conn, ids))


async def record_views(conn: AsyncConnection, ids: list[int]) -> list[dict]:
    """Joined views of specific records (what a write route returns), in the order given."""
    return await billing_store.views_by_ids(conn, ids)
