"""``client.billings``: search one page, iterate everything, export to a file.

Each operation is written once, as a plan in ``_BillingsBase``, ``_Records`` or ``_ExportJob``;
``Billings`` and ``AsyncBillings`` (and their iterators) only hand those plans to their loop.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import IO, Any, Generic, TypeVar, Unpack

from billbook.client._core import Call, Core, Plan
from billbook.client._export import (
    ExportFormat,
    RecordWriter,
    atomic_text_file,
    format_for,
    record_writer,
)
from billbook.client._http import AsyncLoop, SyncLoop
from billbook.client._pager import KeysetCursor, Query
from billbook.client._query import MAX_PAGE_SIZE, SearchFilters, SearchParams, sort_value
from billbook.client.types import BillingPage, BillingRecord, SortOrder

SEARCH_PATH = "/api/v3/billings/search"
#: Records between two progress callbacks: often enough for a smooth bar, rare enough to be free.
PROGRESS_EVERY = 100
ProgressCallback = Callable[[int, int], None]
"""Called as ``(records_written, total_at_start)`` while an export runs."""
Out = str | os.PathLike[str] | IO[str]
Loop = TypeVar("Loop", SyncLoop, AsyncLoop)
PageSource = Callable[[Query], Plan[BillingPage]]


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What an export wrote, and the window it froze (inclusive, epoch milliseconds)."""

    written: int
    total_at_start: int
    format: ExportFormat
    start_ms: int | None
    end_ms: int | None


def _search_call(query: Query) -> Call[BillingPage]:
    filters, sort, page, page_size = query
    body = filters.body(sort=sort, page=page, page_size=page_size)
    return Call("POST", SEARCH_PATH, "search result", lambda d: BillingPage.from_wire(d, page_size), body)


class _Records(Generic[Loop]):
    """Every matching record exactly once, fetched a page at a time (see ``_pager``).

    ``total`` is the number of matching records when the read started: None until the first
    request, which ``get_total()`` makes if iteration has not.
    """

    def __init__(self, loop: Loop, pages: PageSource, cursor: KeysetCursor) -> None:
        self._loop: Loop = loop
        self._pages = pages
        self._cursor = cursor
        self._buffer: deque[BillingRecord] = deque()

    @property
    def total(self) -> int | None:
        return self._cursor.total

    @property
    def window(self) -> tuple[int | None, int | None]:
        """The inclusive (start, end) read, in epoch milliseconds; end is frozen once started."""
        c = self._cursor
        return (c.filters.start_ms, c.end_ms if c.end_ms is not None else c.filters.end_ms)

    def total_plan(self) -> Plan[int]:
        """The total, asking for the first page if no request has been made yet."""
        if self._cursor.total is None:
            page = yield from self._pages(self._cursor.first_query())
            self._buffer.extend(self._cursor.accept_first(page))
        assert self._cursor.total is not None
        return self._cursor.total

    def next_plan(self) -> Plan[BillingRecord | None]:
        """The next record, or None at the end."""
        yield from self.total_plan()
        while not self._buffer and not self._cursor.done:
            page = yield from self._pages(self._cursor.next_query())
            self._buffer.extend(self._cursor.accept(page))
        return self._buffer.popleft() if self._buffer else None


class BillingIterator(_Records[SyncLoop], Iterator[BillingRecord]):
    """``for record in ...``."""

    def get_total(self) -> int:
        return self._loop.run(self.total_plan())

    def __iter__(self) -> BillingIterator:
        return self

    def __next__(self) -> BillingRecord:
        record = self._loop.run(self.next_plan())
        if record is None:
            raise StopIteration
        return record


class AsyncBillingIterator(_Records[AsyncLoop], AsyncIterator[BillingRecord]):
    """``async for record in ...``."""

    async def get_total(self) -> int:
        return await self._loop.run(self.total_plan())

    def __aiter__(self) -> AsyncBillingIterator:
        return self

    async def __anext__(self) -> BillingRecord:
        record = await self._loop.run(self.next_plan())
        if record is None:
            raise StopAsyncIteration
        return record


class _ExportJob:
    """One export: where it writes, in which format, and the plan that reads and writes."""

    def __init__(self, out: Out, fmt: ExportFormat | None, on_progress: ProgressCallback | None) -> None:
        self.out = out
        self.format = _resolve_format(out, fmt)
        self.on_progress = on_progress

    def plan(self, records: _Records[Any]) -> Plan[ExportResult]:
        with self._stream() as stream:
            return (yield from self._write(records, stream))

    def _stream(self) -> AbstractContextManager[IO[str]]:
        """A path is written atomically (see ``atomic_text_file``); a stream as it is."""
        if isinstance(self.out, str | os.PathLike):
            return atomic_text_file(self.out)
        return nullcontext(self.out)

    def _write(self, records: _Records[Any], stream: IO[str]) -> Plan[ExportResult]:
        write: RecordWriter = record_writer(stream, self.format)
        total = yield from records.total_plan()
        self._progress(0, total)
        written = 0
        while (record := (yield from records.next_plan())) is not None:
            write(record)
            written += 1
            if written % PROGRESS_EVERY == 0:
                self._progress(written, total)
        self._progress(written, total)
        start_ms, end_ms = records.window
        return ExportResult(written, total, self.format, start_ms, end_ms)

    def _progress(self, written: int, total: int) -> None:
        if self.on_progress:
            self.on_progress(written, total)


def _resolve_format(out: Out, fmt: ExportFormat | None) -> ExportFormat:
    if fmt is not None:
        if fmt not in ("csv", "jsonl"):
            raise ValueError("format must be 'csv' or 'jsonl'")
        return fmt
    if isinstance(out, str | os.PathLike):
        return format_for(out)
    raise ValueError("format is required when writing to a stream")


class _BillingsBase(Generic[Loop]):
    """The plans behind ``client.billings``; the subclasses only run them on their loop."""

    def __init__(self, core: Core, loop: Loop) -> None:
        self._core = core
        self._loop: Loop = loop

    def _pages(self, query: Query) -> Plan[BillingPage]:
        return self._core.request(_search_call(query))

    def _search(self, sort: str, page: int, page_size: int, filters: SearchParams) -> Plan[BillingPage]:
        return self._pages((SearchFilters.build(**filters), sort, page, page_size))

    def _cursor(self, sort: str, page_size: int, filters: SearchParams) -> KeysetCursor:
        built = SearchFilters.build(**filters)
        built.body(sort=sort, page=1, page_size=page_size)  # check now, not mid-iteration
        return KeysetCursor(built, descending=sort_value(sort).endswith("DESC"), page_size=page_size)


class Billings(_BillingsBase[SyncLoop]):
    def search(
        self, *, sort: SortOrder | str = "desc", page: int = 1, page_size: int = 10, **filters: Unpack[SearchParams]
    ) -> BillingPage:
        """One page of records. Times are inclusive; a ``date`` as ``end_time`` covers that day."""
        return self._loop.run(self._search(sort, page, page_size, filters))

    def iter(
        self, *, sort: SortOrder | str = "desc", page_size: int = MAX_PAGE_SIZE, **filters: Unpack[SearchParams]
    ) -> BillingIterator:
        """Every matching record, lazily, exactly once even while records are being added."""
        return BillingIterator(self._loop, self._pages, self._cursor(sort, page_size, filters))

    def export(
        self, out: Out, *, format: ExportFormat | None = None, on_progress: ProgressCallback | None = None,
        page_size: int = MAX_PAGE_SIZE, **filters: Unpack[SearchParams]
    ) -> ExportResult:
        """Write every matching record, oldest first, to a path (atomically) or an open stream."""
        job = _ExportJob(out, format, on_progress)
        return self._loop.run(job.plan(self.iter(sort="asc", page_size=page_size, **filters)))


class AsyncBillings(_BillingsBase[AsyncLoop]):
    async def search(
        self, *, sort: SortOrder | str = "desc", page: int = 1, page_size: int = 10, **filters: Unpack[SearchParams]
    ) -> BillingPage:
        """One page of records. Times are inclusive; a ``date`` as ``end_time`` covers that day."""
        return await self._loop.run(self._search(sort, page, page_size, filters))

    def iter(
        self, *, sort: SortOrder | str = "desc", page_size: int = MAX_PAGE_SIZE, **filters: Unpack[SearchParams]
    ) -> AsyncBillingIterator:
        """Every matching record, lazily, exactly once even while records are being added."""
        return AsyncBillingIterator(self._loop, self._pages, self._cursor(sort, page_size, filters))

    async def export(
        self, out: Out, *, format: ExportFormat | None = None, on_progress: ProgressCallback | None = None,
        page_size: int = MAX_PAGE_SIZE, **filters: Unpack[SearchParams]
    ) -> ExportResult:
        """Write every matching record, oldest first, to a path (atomically) or an open stream."""
        job = _ExportJob(out, format, on_progress)
        return await self._loop.run(job.plan(self.iter(sort="asc", page_size=page_size, **filters)))
