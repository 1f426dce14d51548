"""The customer's billing search: exact total, a total order, and one page of joined records.

Deep pages cost about what the first page costs. ``billing_daily`` says how many matching records
each UTC day holds, so the page's global offset is turned into a day to start from plus a small
offset within that day; the database then walks at most one day of index entries, not every record
before the page. Searches that the daily counts cannot answer (model, key or prediction filters)
count and skip with the index.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store import billing as billing_store
from billbook.store import search as search_store
from billbook.store.search import Criteria
from billbook.times import MS_PER_DAY

BILLING_TYPES = ("deduct", "refund", "recharge", "adjust")

__all__ = ["BILLING_TYPES", "Criteria", "Page", "record_views", "search"]


@dataclass(frozen=True)
class Page:
    page: int
    page_size: int
    total: int
    items: list[dict]

    @property
    def has_more(self) -> bool:
        return self.page * self.page_size < self.total


@dataclass(frozen=True)
class Segment:
    """Records with ``low <= created_at <= high``; ``count`` of them match."""

    low: int | None
    high: int | None
    count: int


async def _segments(conn: AsyncConnection, c: Criteria) -> list[Segment]:
    """The search's range cut into whole days (counted by the rollup) and part-days at its edges
    (counted by the index), in ascending time."""
    start, end = c.start_ms, c.end_ms
    first_full = None if start is None else -(-start // MS_PER_DAY)
    last_full = None if end is None else (end + 1) // MS_PER_DAY - 1
    if first_full is not None and last_full is not None and first_full > last_full:
        return [Segment(start, end, await search_store.count(conn, c, start, end))]  # within one day
    segments = []
    if start is not None and start < first_full * MS_PER_DAY:  # type: ignore[operator]
        high = first_full * MS_PER_DAY - 1  # type: ignore[operator]
        segments.append(Segment(start, high, await search_store.count(conn, c, start, high)))
    for day, n in await search_store.day_counts(conn, c, first_full, last_full):
        segments.append(Segment(day * MS_PER_DAY, (day + 1) * MS_PER_DAY - 1, n))
    if end is not None and (last_full + 1) * MS_PER_DAY <= end:  # type: ignore[operator]
        low = (last_full + 1) * MS_PER_DAY  # type: ignore[operator]
        segments.append(Segment(low, end, await search_store.count(conn, c, low, end)))
    return [s for s in segments if s.count]


async def _page_by_day(conn: AsyncConnection, c: Criteria, page: int, page_size: int) -> Page:
    segments = await _segments(conn, c)
    total = sum(s.count for s in segments)
    offset = (page - 1) * page_size
    if offset >= total:
        return Page(page, page_size, total, [])
    ordered = segments if c.ascending else list(reversed(segments))
    skipped = 0
    for segment in ordered:
        if offset < skipped + segment.count:
            break
        skipped += segment.count
    # Read from the segment holding the offset to the far end of the range, in the search's order.
    low, high = (segment.low, c.end_ms) if c.ascending else (c.start_ms, segment.high)
    items = await search_store.page(conn, c, low, high, offset=offset - skipped, limit=page_size)
    return Page(page, page_size, total, items)


async def _page_by_index(conn: AsyncConnection, c: Criteria, page: int, page_size: int) -> Page:
    total = await search_store.count(conn, c, c.start_ms, c.end_ms)
    offset = (page - 1) * page_size
    if offset >= total:
        return Page(page, page_size, total, [])
    items = await search_store.page(conn, c, c.start_ms, c.end_ms, offset=offset, limit=page_size)
    return Page(page, page_size, total, items)


async def search(conn: AsyncConnection, criteria: Criteria, page: int, page_size: int) -> Page:
    """One page of an account's records. Past the end: no items and the true total."""
    if criteria.by_day:
        return await _page_by_day(conn, criteria, page, page_size)
    return await _page_by_index(conn, criteria, page, page_size)


async def record_views(conn: AsyncConnection, ids: list[int]) -> list[dict]:
    """Joined views of specific records (what a write route returns), in the order given."""
    return await billing_store.views_by_ids(conn, ids)
