"""The customer's billing search: exact total, a total order, and one page of joined records.

Deep pages cost about what the first page costs. ``billing_daily`` says how many matching records
each UTC day holds, so the page's global offset is turned into a day to start from plus a small
offset within that day; the database then walks at most one day of index entries, not every record
before the page. Searches that the daily counts cannot answer (model, key or prediction filters)
count and skip with the index.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.ledger import archive
from billbook.store import billing as billing_store
from billbook.store import search as search_store
from billbook.store.rows import RecordView
from billbook.store.search import Criteria
from billbook.times import MS_PER_DAY
from billbook.vocabulary import BillingType

BILLING_TYPES = tuple(BillingType)

__all__ = ["BILLING_TYPES", "Criteria", "Page", "RecordView", "record_views", "search"]


@dataclass(frozen=True)
class Page:
    page: int
    page_size: int
    total: int
    items: list[RecordView]

    @property
    def has_more(self) -> bool:
        return self.page * self.page_size < self.total


@dataclass(frozen=True)
class Segment:
    """Records with ``low <= created_at <= high``; ``count`` of them match."""

    low: int | None
    high: int | None
    count: int


def _days(c: Criteria) -> tuple[int | None, int | None, list[tuple[int, int]]]:
    """The whole UTC days inside the range (open ends stay open) and the part-days at its edges.

    Returns ``(first_day, last_day, edges)``; ``first_day > last_day`` means the range lies within
    one day, and then the single edge is the whole range.
    """
    start, end = c.start_ms, c.end_ms
    first = None if start is None else -(-start // MS_PER_DAY)
    last = None if end is None else (end + 1) // MS_PER_DAY - 1
    if first is not None and last is not None and first > last:
        return first, last, [(start, end)]  # type: ignore[list-item]
    edges = []
    if start is not None and first is not None and start < first * MS_PER_DAY:
        edges.append((start, first * MS_PER_DAY - 1))
    if end is not None and last is not None and (last + 1) * MS_PER_DAY <= end:
        edges.append(((last + 1) * MS_PER_DAY, end))
    return first, last, edges


async def _segments(conn: AsyncConnection, c: Criteria) -> list[Segment]:
    """The range cut into whole days (counted by the rollup) and part-days at its edges (counted
    by the index), in ascending time; empty segments left out."""
    first, last, edges = _days(c)
    segments = [Segment(low, high, await search_store.count(conn, c, low, high)) for low, high in edges]
    if first is None or last is None or first <= last:
        for day, n in await search_store.day_counts(conn, c, first, last):
            segments.append(Segment(day * MS_PER_DAY, (day + 1) * MS_PER_DAY - 1, n))
    return sorted((s for s in segments if s.count), key=lambda s: s.low if s.low is not None else -1)


async def _total(conn: AsyncConnection, c: Criteria) -> int:
    """The exact total, summed in the database: what the first page needs, without a row per day."""
    first, last, edges = _days(c)
    total = sum([await search_store.count(conn, c, low, high) for low, high in edges])
    if first is None or last is None or first <= last:
        total += await search_store.day_total(conn, c, first, last)
    return total


async def _page_by_day(conn: AsyncConnection, c: Criteria, page: int, page_size: int) -> Page:
    offset = (page - 1) * page_size
    if offset == 0:
        total = await _total(conn, c)
        items = await search_store.page(conn, c, c.start_ms, c.end_ms, offset=0, limit=page_size) if total else []
        return Page(page, page_size, total, items)
    segments = await _segments(conn, c)
    total = sum(s.count for s in segments)
    if offset >= total:
        return Page(page, page_size, total, [])
    ordered = segments if c.ascending else list(reversed(segments))
    skipped = 0
    for segment in ordered:
        if offset < skipped + segment.count:
            break
        skipped += segment.count
    within = offset - skipped
    if within + page_size <= segment.count and within > segment.count // 2:
        # The page lies in the segment's far half: walk the segment from its other end (the order is
        # total, so the same records come back reversed), at most half a segment of index entries.
        flipped = replace(c, ascending=not c.ascending)
        back = segment.count - within - page_size
        items = await search_store.page(conn, flipped, segment.low, segment.high, offset=back, limit=page_size)
        return Page(page, page_size, total, items[::-1])
    # Read from the segment holding the offset to the far end of the range, in the search's order.
    low, high = (segment.low, c.end_ms) if c.ascending else (c.start_ms, segment.high)
    items = await search_store.page(conn, c, low, high, offset=within, limit=page_size)
    return Page(page, page_size, total, items)


async def _deducts_by_usage(conn: AsyncConnection, c: Criteria) -> int:
    """Deduct records of ``c``'s models and keys: whole days from ``usage_daily`` (a deduct is
    counted there on its own day), part-days at the range's edges by the index."""
    deducts = replace(c, billing_type=BillingType.DEDUCT)
    first, last, edges = _days(deducts)
    total = sum([await search_store.count(conn, deducts, low, high) for low, high in edges])
    if first is None or last is None or first <= last:
        total += await search_store.usage_total(conn, deducts, first, last, deducts=True, refunds=False)
    return total


async def _index_total(conn: AsyncConnection, c: Criteria) -> int:
    """The exact total of a model or key search without counting every matching record.

    Only deducts and refunds carry a model and a key, and ``usage_daily`` counts each of them once,
    under the record's model and key, but a refund on its deduct's day: so the rollup answers
    deducts by day, and refunds only over all time. Refunds in a time range are counted by the
    index (they are the few). Prediction filters touch at most a hundred predictions' records."""
    by_usage = (c.model_uuids or c.access_key_ids) and not c.prediction_uuids
    if not by_usage or c.billing_type not in (None, BillingType.DEDUCT, BillingType.REFUND):
        return await search_store.count(conn, c, c.start_ms, c.end_ms)
    if c.start_ms is None and c.end_ms is None:
        return await search_store.usage_total(
            conn, c, None, None,
            deducts=c.billing_type in (None, BillingType.DEDUCT), refunds=c.billing_type in (None, BillingType.REFUND),
        )
    total = 0
    if c.billing_type in (None, BillingType.DEDUCT):
        total += await _deducts_by_usage(conn, c)
    if c.billing_type in (None, BillingType.REFUND):
        refunds = replace(c, billing_type=BillingType.REFUND)
        total += await search_store.count(conn, refunds, c.start_ms, c.end_ms)
    return total


async def _page_by_index(conn: AsyncConnection, c: Criteria, page: int, page_size: int) -> Page:
    total = await _index_total(conn, c)
    offset = (page - 1) * page_size
    if offset >= total:
        return Page(page, page_size, total, [])
    items = await search_store.page(conn, c, c.start_ms, c.end_ms, offset=offset, limit=page_size)
    return Page(page, page_size, total, items)


async def _first_page(conn: AsyncConnection, criteria: Criteria, page_size: int) -> Page | None:
    """Page 1 of a search the daily counts answer whole, with its total and the archive check in
    one statement (the commonest search, in one round trip): the archive boundary this process saw
    last is assumed and checked in the same snapshot. ``None`` where that does not apply (part-days
    at the range's edges, no boundary seen yet, or a boundary that has moved since)."""
    assumed = archive.known_boundary(conn)
    if assumed is archive.UNSEEN:
        return None
    start = archive.check_online(assumed, criteria.start_ms, criteria.end_ms)
    c = replace(criteria, start_ms=start) if start != criteria.start_ms else criteria
    first, last, edges = _days(c)
    if edges:
        return None
    found = await search_store.first_page(conn, c, first, last, limit=page_size)
    if not archive.still_current(assumed, found.archived_month):
        return None
    return Page(1, page_size, found.total, found.items)


async def search(conn: AsyncConnection, criteria: Criteria, page: int, page_size: int) -> Page:
    """One page of an account's records. Past the end: no items and the true total.

    Archived months are out of reach: a start in one of them is refused (410, naming the archive);
    without a start the search begins at the first month still online."""
    if page == 1 and criteria.by_day and (found := await _first_page(conn, criteria, page_size)) is not None:
        return found
    start = await archive.online_from(conn, criteria.start_ms, criteria.end_ms)
    if start != criteria.start_ms:
        criteria = replace(criteria, start_ms=start)
    if criteria.by_day:
        return await _page_by_day(conn, criteria, page, page_size)
    return await _page_by_index(conn, criteria, page, page_size)


async def record_views(conn: AsyncConnection, ids: list[int]) -> list[RecordView]:
    """Joined views of specific records (what a write route returns), in the order given."""
    return await billing_store.views_by_ids(conn, ids)
