"""Months of billing records moved out of PostgreSQL: their rows read in batches, their summary
kept in ``billing_archives``/``billing_archive_accounts``, their partition detached and dropped.

Only whole monthly partitions are archived, oldest first; ``verify`` reads the summaries in place
of the records (see ``store.verify``) and reads of archived months are refused by name
(``archived_before``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store import dialect, partitions
from billbook.store.partitions import Month
from billbook.store.tables import billing_archive_accounts, billing_archives, billing_records

#: Rows per batch read from a month's partition (a server-side cursor: memory stays flat).
BATCH_ROWS = 50_000
COLUMNS = tuple(c.name for c in billing_records.columns)


@dataclass(frozen=True)
class ArchivedMonth:
    month: str
    path: str
    records: int
    delta_sum: int


async def partitioned(conn: AsyncConnection) -> bool:
    return dialect.partitioned_records(conn)


async def months_before(conn: AsyncConnection, before: Month, now_ms: int) -> list[Month]:
    """Months with a partition that ends at or before ``before``'s start, oldest first; records of
    such months waiting in the default partition get their month first, so they are archived too."""
    if not dialect.partitioned_records(conn):
        return []
    await partitions.maintain(conn, now_ms)
    return [m for m in await partitions.months(conn) if m < before]


async def hold_month(conn: AsyncConnection, month: Month) -> None:
    """Keep writers out of the month's partition until the transaction ends (readers go on)."""
    await conn.execute(text(f"LOCK TABLE {month.table} IN SHARE MODE"))


async def rows(conn: AsyncConnection, month: Month) -> AsyncIterator[list[dict[str, Any]]]:
    """The month's records in id order, ``BATCH_ROWS`` at a time."""
    query = select(billing_records).where(
        billing_records.c.created_at >= month.start_ms, billing_records.c.created_at < month.end_ms
    ).order_by(billing_records.c.id)
    result = await conn.stream(query.execution_options(yield_per=BATCH_ROWS))
    try:
        async for batch in result.mappings().partitions(BATCH_ROWS):
            yield [dict(row) for row in batch]
    finally:
        await result.close()  # the cursor holds the partition open: it is dropped next


async def summarise(conn: AsyncConnection, month: Month) -> list[dict[str, int]]:
    """Per account: records, the sum of their deltas and the largest id, in the month."""
    r = billing_records.c
    query = (
        select(r.account_id, func.count().label("records"), func.sum(r.delta).label("delta_sum"), func.max(r.id).label("max_id"))
        .where(r.created_at >= month.start_ms, r.created_at < month.end_ms)
        .group_by(r.account_id)
    )
    return [{k: int(v) for k, v in row.items()} for row in (await conn.execute(query)).mappings()]


async def record(conn: AsyncConnection, month: Month, path: str, per_account: list[dict[str, int]], at: int) -> ArchivedMonth:
    """Remember what the month held, then detach its partition (``drop_detached`` drops it)."""
    done = ArchivedMonth(
        str(month), path, sum(a["records"] for a in per_account), sum(a["delta_sum"] for a in per_account)
    )
    await conn.execute(
        insert(billing_archives).values(
            month=done.month, path=path, records=done.records, delta_sum=done.delta_sum, archived_at=at
        )
    )
    if per_account:
        await conn.execute(insert(billing_archive_accounts), [a | {"month": done.month} for a in per_account])
    await conn.execute(text(f"ALTER TABLE {partitions.PARENT} DETACH PARTITION {month.table}"))
    return done


async def drop_detached(conn: AsyncConnection, month: Month) -> None:
    """Drop an archived month's detached table (in its own transaction: the archiving one still
    has the table open through its cursor)."""
    await conn.execute(text(f"DROP TABLE IF EXISTS {month.table}"))


#: Asked by every search and usage read, so built once and run as a prepared hot read.
_NEWEST_ARCHIVE = select(billing_archives.c.month, billing_archives.c.path).order_by(billing_archives.c.month.desc()).limit(1)


def newest_month() -> Any:
    """The newest archived month (``YYYY-MM``, NULL when none) as a scalar subquery: a statement
    that carries it checks, in its own snapshot, the boundary its caller assumed."""
    return select(billing_archives.c.month).order_by(billing_archives.c.month.desc()).limit(1).scalar_subquery()


def watched(conn: AsyncConnection) -> bool:
    """Whether this database's history can be archived (partitioned history: PostgreSQL)."""
    return dialect.partitioned_records(conn)


async def archived_before(conn: AsyncConnection) -> tuple[int, str, str] | None:
    """``(end_ms, month, path)`` of the newest archived month, or ``None``: records before
    ``end_ms`` are in Parquet files, not in the database. Only partitioned history is ever
    archived, so an unpartitioned database (SQLite) is not asked."""
    if not dialect.partitioned_records(conn):
        return None
    rows = await dialect.fetch(conn, _NEWEST_ARCHIVE, {})
    if not rows:
        return None
    month, path = rows[0]["month"], rows[0]["path"]
    return Month.parse(month).end_ms, month, path


async def opening_balances(conn: AsyncConnection) -> dict[int, tuple[int, int]]:
    """Per account: the sum of its archived records' deltas and their largest id."""
    a = billing_archive_accounts.c
    query = select(a.account_id, func.sum(a.delta_sum).label("s"), func.max(a.max_id).label("m")).group_by(a.account_id)
    return {int(row.account_id): (int(row.s), int(row.m)) for row in await conn.execute(query)}
