"""Archiving old months of billing records to Parquet (``billbook archive``).

Each month is one transaction: its partition is locked against writers, its records are written
to ``<dir>/billing_records-YYYY-MM.parquet`` (pyarrow, zstd), the file is read back and its row
count and sums compared with the database's, and only then is the month's summary recorded and
its partition detached and dropped. A failure leaves the month in the database (a file written
before it may be overwritten by the next run). Rollups (``usage_daily``, ``billing_daily``) stay.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.ledger.errors import Archived, BillbookError, InvalidRequest
from billbook.store import archive as store
from billbook.store.archive import ArchivedMonth
from billbook.store.partitions import Month
from billbook.times import now_ms

Transaction = Callable[[], AbstractAsyncContextManager[AsyncConnection]]


def _schema():  # noqa: ANN202 - a pyarrow schema, imported late (an optional dependency)
    import pyarrow as pa

    text, big, num = pa.string(), pa.int64(), pa.int32()
    types = {"account_id": num, "ak_id": num, "billing_type": text, "uuid": text, "model_uuid": text,
             "access_key_id": text, "reference": text, "reason": text}
    return pa.schema([(c, types.get(c, big)) for c in store.COLUMNS])


async def _write(batches: AsyncIterator[list[dict]], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = _schema()
    partial = path.with_suffix(".parquet.partial")
    with pq.ParquetWriter(partial, schema, compression="zstd") as writer:
        async for rows in batches:
            writer.write_table(pa.Table.from_pylist(rows, schema=schema))
    with open(partial, "rb") as f:
        os.fsync(f.fileno())
    partial.replace(path)


def parquet_totals(path: Path) -> tuple[int, int]:
    """``(rows, sum of delta)`` of an archive file, read back from the file itself."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["delta"])
    return table.num_rows, int(pc.sum(table["delta"]).as_py() or 0)


async def archive_month(conn: AsyncConnection, month: Month, out: Path) -> ArchivedMonth:
    await store.hold_month(conn, month)
    path = out / f"billing_records-{month}.parquet"
    await _write(store.rows(conn, month), path)
    per_account = await store.summarise(conn, month)
    expected = (sum(a["records"] for a in per_account), sum(a["delta_sum"] for a in per_account))
    if parquet_totals(path) != expected:
        raise BillbookError(f"{path} does not hold what month {month} holds; nothing was archived")
    return await store.record(conn, month, str(path.resolve()), per_account, now_ms())


async def archive(transaction: Transaction, before: str, out: Path) -> list[ArchivedMonth]:
    """Archive every month before ``before`` (``YYYY-MM``), oldest first, one transaction each."""
    try:
        cut = Month.parse(before)
    except ValueError as exc:
        raise InvalidRequest(f"before: {exc}") from None
    if cut > Month.of_ms(now_ms()):
        raise InvalidRequest("before must not be after the current month")
    out.mkdir(parents=True, exist_ok=True)
    async with transaction() as conn:
        months = await store.months_before(conn, cut, now_ms())
        if not months and not await store.partitioned(conn):
            raise InvalidRequest("archiving needs PostgreSQL (billing records are partitioned by month there)")
    done = []
    for month in months:
        async with transaction() as conn:
            done.append(await archive_month(conn, month, out))
        async with transaction() as conn:
            await store.drop_detached(conn, month)
    return done


#: Per database (its engine), the archive boundary this process last read: ``archived_before``'s
#: answer. Months are only ever added to the archive, so a boundary seen is never wrong, only
#: possibly behind; a search that assumes it checks it in its own statement (``known_boundary``).
_seen: WeakKeyDictionary[Any, tuple[int, str, str] | None] = WeakKeyDictionary()
#: Nothing read yet in this process.
UNSEEN: Any = object()


def known_boundary(conn: AsyncConnection) -> tuple[int, str, str] | None:
    """The boundary to assume without asking: ``None`` (nothing archived) where history is never
    archived; otherwise the one last read here, or ``UNSEEN``."""
    if not store.watched(conn):
        return None
    return _seen.get(conn.sync_engine, UNSEEN)


def still_current(assumed: tuple[int, str, str] | None, newest_month: str | None) -> bool:
    """Whether ``assumed`` is the boundary a statement's ``store.newest_month()`` column found; the
    caller asks again (``online_from``) when not."""
    return (assumed[1] if assumed else None) == newest_month


def check_online(found: tuple[int, str, str] | None, start_ms: int | None, end_ms: int | None) -> int | None:
    """A search's start against the boundary ``found``: a start (or an end with no start) in an
    archived month is refused (410, naming the month and its file); no start becomes the first
    millisecond still online, so an open range covers what the database holds. Unchanged when
    nothing was archived."""
    if found is None:
        return start_ms
    online, month, path = found
    reaching = start_ms if start_ms is not None else end_ms
    if reaching is not None and reaching < online:
        field = "start_time" if start_ms is not None else "end_time"
        raise Archived(
            f"{field}: records before {Month.of_ms(online)} were archived (months up to {month}, "
            f"the last in {path}); ask from {Month.of_ms(online)}-01 on"
        )
    return start_ms if start_ms is not None else online


async def online_from(conn: AsyncConnection, start_ms: int | None, end_ms: int | None) -> int | None:
    """``check_online`` against the archive as this transaction sees it (and remembered)."""
    found = await store.archived_before(conn)
    if store.watched(conn):
        _seen[conn.sync_engine] = found
    return check_online(found, start_ms, end_ms)


async def archived_end(conn: AsyncConnection) -> int | None:
    """The first millisecond still online, or ``None`` when nothing was archived."""
    found = await store.archived_before(conn)
    return found[0] if found else None


def archived_error(what: str, at: int) -> Archived:
    """``what`` belongs to an archived month."""
    return Archived(f"{what} is dated in {Month.of_ms(at)}, an archived month: its records are in Parquet files now")


async def refuse_archived(conn: AsyncConnection, at: int | None, what: str) -> None:
    """Refuse a write dated in an archived month (it would be out of reach of every search)."""
    if at is None:
        return
    end = await archived_end(conn)
    if end is not None and at < end:
        raise archived_error(what, at)
