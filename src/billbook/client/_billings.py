"""``client.billings``: search one page, iterate everything, export to a file."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

from billbook.client._convert import TimeInput
from billbook.client._export import (
    ExportFormat,
    RecordWriter,
    atomic_text_file,
    format_for,
    record_writer,
)
from billbook.client._http import AsyncSender, SyncSender, decode
from billbook.client._pager import KeysetCursor, Query
from billbook.client._query import MAX_PAGE_SIZE, SearchFilters, sort_value
from billbook.client.types import BillingPage, BillingRecord, BillingType, SortOrder

SEARCH_PATH = "/api/v3/billings/search"
#: Records between two progress callbacks: often enough for a smooth bar, rare enough to be free.
PROGRESS_EVERY = 100
ProgressCallback = Callable[[int, int], None]
"""Called as ``(records_written, total_at_start)`` while an export runs."""


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What an export wrote, and the window it froze (inclusive, epoch milliseconds)."""

    written: int
    total_at_start: int
    format: ExportFormat
    start_ms: int | None
    end_ms: int | None


def _descending(sort: str) -> bool:
    return sort_value(sort).endswith("DESC")


def _body(query: Query) -> dict[str, Any]:
    filters, sort, page, page_size = query
    return filters.body(sort=sort, page=page, page_size=page_size)


def _page(data: Any, query: Query) -> BillingPage:
    return decode("search result", lambda d: BillingPage.from_wire(d, page_size=query[3]), data)


class BillingIterator(Iterator[BillingRecord]):
    """Every matching record exactly once, fetched a page at a time (see ``_pager``).

    ``total`` is the number of matching records when the read started: None until the first
    request, which ``get_total()`` makes if iteration has not.
    """

    def __init__(self, fetch: Callable[[Query], BillingPage], cursor: KeysetCursor) -> None:
        self._fetch = fetch
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

    def get_total(self) -> int:
        self._prime()
        assert self._cursor.total is not None
        return self._cursor.total

    def _prime(self) -> None:
        if self._cursor.total is None:
            page = self._fetch(self._cursor.first_query())
            self._buffer.extend(self._cursor.accept_first(page))

    def __iter__(self) -> BillingIterator:
        return self

    def __next__(self) -> BillingRecord:
        self._prime()
        while not self._buffer:
            if self._cursor.done:
                raise StopIteration
            self._buffer.extend(self._cursor.accept(self._fetch(self._cursor.next_query())))
        return self._buffer.popleft()


class AsyncBillingIterator(AsyncIterator[BillingRecord]):
    """The asynchronous twin of ``BillingIterator``: ``async for record in ...``."""

    def __init__(self, fetch: Callable[[Query], Any], cursor: KeysetCursor) -> None:
        self._fetch = fetch
        self._cursor = cursor
        self._buffer: deque[BillingRecord] = deque()

    @property
    def total(self) -> int | None:
        return self._cursor.total

    @property
    def window(self) -> tuple[int | None, int | None]:
        c = self._cursor
        return (c.filters.start_ms, c.end_ms if c.end_ms is not None else c.filters.end_ms)

    async def get_total(self) -> int:
        await self._prime()
        assert self._cursor.total is not None
        return self._cursor.total

    async def _prime(self) -> None:
        if self._cursor.total is None:
            page = await self._fetch(self._cursor.first_query())
            self._buffer.extend(self._cursor.accept_first(page))

    def __aiter__(self) -> AsyncBillingIterator:
        return self

    async def __anext__(self) -> BillingRecord:
        await self._prime()
        while not self._buffer:
            if self._cursor.done:
                raise StopAsyncIteration
            page = await self._fetch(self._cursor.next_query())
            self._buffer.extend(self._cursor.accept(page))
        return self._buffer.popleft()


class _Exporter:
    """Shared bookkeeping of the sync and async exports: writer, counts, progress."""

    def __init__(self, stream: IO[str], fmt: ExportFormat, on_progress: ProgressCallback | None):
        self.write: RecordWriter = record_writer(stream, fmt)
        self.format = fmt
        self.on_progress = on_progress
        self.written = 0

    def add(self, record: BillingRecord, total: int) -> None:
        self.write(record)
        self.written += 1
        if self.on_progress and self.written % PROGRESS_EVERY == 0:
            self.on_progress(self.written, total)

    def finish(self, total: int, window: tuple[int | None, int | None]) -> ExportResult:
        if self.on_progress:
            self.on_progress(self.written, total)
        return ExportResult(self.written, total, self.format, window[0], window[1])


Out = str | os.PathLike[str] | IO[str]


def _resolve_format(out: Out, fmt: ExportFormat | None) -> ExportFormat:
    if fmt is not None:
        if fmt not in ("csv", "jsonl"):
            raise ValueError("format must be 'csv' or 'jsonl'")
        return fmt
    if isinstance(out, str | os.PathLike):
        return format_for(out)
    raise ValueError("format is required when writing to a stream")


class Billings:
    def __init__(self, sender: SyncSender) -> None:
        self._sender = sender

    def search(
        self,
        *,
        billing_type: BillingType | None = None,
        prediction_uuids: Sequence[str] | None = None,
        model_uuid: str | Sequence[str] | None = None,
        access_key_uuid: str | Sequence[str] | None = None,
        start_time: TimeInput | None = None,
        end_time: TimeInput | None = None,
        sort: SortOrder | str = "desc",
        page: int = 1,
        page_size: int = 10,
    ) -> BillingPage:
        """One page of records. Times are inclusive; a ``date`` as ``end_time`` covers that day."""
        filters = SearchFilters.build(
            billing_type=billing_type,
            prediction_uuids=prediction_uuids,
            model_uuid=model_uuid,
            access_key_uuid=access_key_uuid,
            start_time=start_time,
            end_time=end_time,
        )
        return self._fetch((filters, sort, page, page_size))

    def iter(
        self,
        *,
        billing_type: BillingType | None = None,
        prediction_uuids: Sequence[str] | None = None,
        model_uuid: str | Sequence[str] | None = None,
        access_key_uuid: str | Sequence[str] | None = None,
        start_time: TimeInput | None = None,
        end_time: TimeInput | None = None,
        sort: SortOrder | str = "desc",
        page_size: int = MAX_PAGE_SIZE,
    ) -> BillingIterator:
        """Every matching record, lazily, exactly once even while records are being added."""
        filters = SearchFilters.build(
            billing_type=billing_type,
            prediction_uuids=prediction_uuids,
            model_uuid=model_uuid,
            access_key_uuid=access_key_uuid,
            start_time=start_time,
            end_time=end_time,
        )
        filters.body(sort=sort, page=1, page_size=page_size)  # validate now, not mid-iteration
        cursor = KeysetCursor(filters, descending=_descending(sort), page_size=page_size)
        return BillingIterator(self._fetch, cursor)

    def export(
        self,
        out: Out,
        *,
        format: ExportFormat | None = None,
        billing_type: BillingType | None = None,
        prediction_uuids: Sequence[str] | None = None,
        model_uuid: str | Sequence[str] | None = None,
        access_key_uuid: str | Sequence[str] | None = None,
        start_time: TimeInput | None = None,
        end_time: TimeInput | None = None,
        on_progress: ProgressCallback | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> ExportResult:
        """Write every matching record, oldest first, to a path (atomically) or an open stream."""
        fmt = _resolve_format(out, format)
        records = self.iter(
            billing_type=billing_type,
            prediction_uuids=prediction_uuids,
            model_uuid=model_uuid,
            access_key_uuid=access_key_uuid,
            start_time=start_time,
            end_time=end_time,
            sort="asc",
            page_size=page_size,
        )
        if isinstance(out, str | os.PathLike):
            with atomic_text_file(out) as stream:
                return self._write(records, stream, fmt, on_progress)
        return self._write(records, out, fmt, on_progress)

    @staticmethod
    def _write(
        records: BillingIterator, stream: IO[str], fmt: ExportFormat, on_progress: ProgressCallback | None
    ) -> ExportResult:
        exporter = _Exporter(stream, fmt, on_progress)
        total = records.get_total()
        if on_progress:
            on_progress(0, total)
        for record in records:
            exporter.add(record, total)
        return exporter.finish(total, records.window)

    def _fetch(self, query: Query) -> BillingPage:
        data = self._sender.request("POST", SEARCH_PATH, _body(query))
        return _page(data, query)


class AsyncBillings:
    def __init__(self, sender: AsyncSender) -> None:
        self._sender = sender

    async def search(
        self,
        *,
        billing_type: BillingType | None = None,
        prediction_uuids: Sequence[str] | None = None,
        model_uuid: str | Sequence[str] | None = None,
        access_key_uuid: str | Sequence[str] | None = None,
        start_time: TimeInput | None = None,
        end_time: TimeInput | None = None,
        sort: SortOrder | str = "desc",
        page: int = 1,
        page_size: int = 10,
    ) -> BillingPage:
        """One page of records. Times are inclusive; a ``date`` as ``end_time`` covers that day."""
        filters = SearchFilters.build(
            billing_type=billing_type,
            prediction_uuids=prediction_uuids,
            model_uuid=model_uuid,
            access_key_uuid=access_key_uuid,
            start_time=start_time,
            end_time=end_time,
        )
        return await self._fetch((filters, sort, page, page_size))

    def iter(
        self,
        *,
        billing_type: BillingType | None = None,
        prediction_uuids: Sequence[str] | None = None,
        model_uuid: str | Sequence[str] | None = None,
        access_key_uuid: str | Sequence[str] | None = None,
        start_time: TimeInput | None = None,
        end_time: TimeInput | None = None,
        sort: SortOrder | str = "desc",
        page_size: int = MAX_PAGE_SIZE,
    ) -> AsyncBillingIterator:
        """Every matching record, lazily, exactly once even while records are being added."""
        filters = SearchFilters.build(
            billing_type=billing_type,
            prediction_uuids=prediction_uuids,
            model_uuid=model_uuid,
            access_key_uuid=access_key_uuid,
            start_time=start_time,
            end_time=end_time,
        )
        filters.body(sort=sort, page=1, page_size=page_size)
        cursor = KeysetCursor(filters, descending=_descending(sort), page_size=page_size)
        return AsyncBillingIterator(self._fetch, cursor)

    async def export(
        self,
        out: Out,
        *,
        format: ExportFormat | None = None,
        billing_type: BillingType | None = None,
        prediction_uuids: Sequence[str] | None = None,
        model_uuid: str | Sequence[str] | None = None,
        access_key_uuid: str | Sequence[str] | None = None,
        start_time: TimeInput | None = None,
        end_time: TimeInput | None = None,
        on_progress: ProgressCallback | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> ExportResult:
        """Write every matching record, oldest first, to a path (atomically) or an open stream."""
        fmt = _resolve_format(out, format)
        records = self.iter(
            billing_type=billing_type,
            prediction_uuids=prediction_uuids,
            model_uuid=model_uuid,
            access_key_uuid=access_key_uuid,
            start_time=start_time,
            end_time=end_time,
            sort="asc",
            page_size=page_size,
        )
        if isinstance(out, str | os.PathLike):
            with atomic_text_file(out) as stream:
                return await self._write(records, stream, fmt, on_progress)
        return await self._write(records, out, fmt, on_progress)

    @staticmethod
    async def _write(
        records: AsyncBillingIterator,
        stream: IO[str],
        fmt: ExportFormat,
        on_progress: ProgressCallback | None,
    ) -> ExportResult:
        exporter = _Exporter(stream, fmt, on_progress)
        total = await records.get_total()
        if on_progress:
            on_progress(0, total)
        async for record in records:
            exporter.add(record, total)
        return exporter.finish(total, records.window)

    async def _fetch(self, query: Query) -> BillingPage:
        data = await self._sender.request("POST", SEARCH_PATH, _body(query))
        return _page(data, query)
