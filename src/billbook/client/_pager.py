"""Reading every matching record exactly once while new records keep arriving.

Plain page numbers are not enough: a record inserted ahead of the reader shifts every later offset,
so a page boundary shows one record twice (or, newest first, skips nothing but repeats). The
cursor here pages by *time* instead, using only the search endpoint's inclusive time bounds and its
total order (``created_at``, then insertion order):

1. Freeze the window. Newest first, the first page itself is the top. Oldest first, a one-record
   probe (newest first) reads the newest matching ``created_at``, *as the server stored it*, so no
   client/server clock skew can cut off records that already exist; that becomes ``end``.
2. Keep a bound ``T`` (the lower bound oldest first, the upper bound newest first) and ask for
   page 1 of ``[T, end]`` (or ``[start, T]``). Records exactly at ``T`` may come again; the uuids
   already emitted at ``T`` are remembered and skipped. Everything strictly past ``T`` is new.
3. When a page reaches past ``T``, move ``T`` to the last ``created_at`` on it and restart at page 1;
   only that millisecond's uuids stay in memory. When a whole page sits at ``T`` (more records in one
   millisecond than a page holds), step to the next page number instead: records inserted later at
   ``T`` only ever land after the older ones oldest first, and before them newest first, which can
   cause a repeat (skipped by uuid) but never a skip.

See docs/decisions/0005-consistent-export.md for the guarantee and its limits.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from billbook.client._query import MAX_PAGE_SIZE, SearchFilters
from billbook.client.errors import APIError
from billbook.client.types import BillingPage, BillingRecord

Query = tuple[SearchFilters, str, int, int]
"""(filters, sort, page, page_size): everything one search request needs."""


@dataclass(slots=True)
class KeysetCursor:
    filters: SearchFilters
    descending: bool = False
    page_size: int = MAX_PAGE_SIZE
    #: Matching records when the read started (from its first request); None before it.
    total: int | None = None
    done: bool = False
    #: The moving bound; None until the first request fixed it.
    bound: int | None = None
    #: The frozen far end of the window (oldest first only).
    end_ms: int | None = None
    page: int = 1
    seen_at_bound: set[str] = field(default_factory=set)

    def first_query(self) -> Query:
        """Newest first: page 1 of the window. Oldest first: the probe for the newest record."""
        if self.descending:
            return (self.filters, "desc", 1, self.page_size)
        return (self.filters, "desc", 1, 1)

    def accept_first(self, page: BillingPage) -> list[BillingRecord]:
        self.total = page.total
        if not page.items:
            self.done = True
            return []
        if self.descending:
            return self.accept(page)
        self.end_ms = page.items[0].created_at_ms
        self.bound = self.filters.start_ms
        return []

    def next_query(self) -> Query:
        if self.descending:
            window = self.filters.between(self.filters.start_ms, self.bound)
            return (window, "desc", self.page, self.page_size)
        window = self.filters.between(self.bound, self.end_ms)
        return (window, "asc", self.page, self.page_size)

    def accept(self, page: BillingPage) -> list[BillingRecord]:
        """The page's records not emitted before; advances the cursor."""
        fresh = [r for r in page.items if r.uuid not in self.seen_at_bound]
        if not page.items:
            self.done = True
            return fresh
        edge = page.items[-1].created_at_ms
        self._check_direction(edge)
        if edge == self.bound:
            self.page += 1
            self.seen_at_bound.update(r.uuid for r in page.items)
        else:
            self.bound, self.page = edge, 1
            self.seen_at_bound = {r.uuid for r in page.items if r.created_at_ms == edge}
        if not page.has_more:
            self.done = True
        return fresh

    def _check_direction(self, edge: int) -> None:
        """A bound that moves backwards would loop forever: the server ignored the time filter."""
        if self.bound is None:
            return
        if (edge < self.bound) if not self.descending else (edge > self.bound):
            raise APIError(
                "the server returned records outside the requested time window,"
                " so the records cannot be read consistently"
            )
