"""Monthly partitions of ``billing_records`` on PostgreSQL, kept by billbook itself.

The table is ``PARTITION BY RANGE (created_at)`` with one partition per UTC month
(``billing_records_pYYYYMM``) and a DEFAULT partition that takes any record whose month has no
partition yet (a charge back-dated into a month before the first one, or past the months made
ahead). ``maintain`` makes the months ahead of now (and a year back) and gives every month found in the default
partition its own partition, moving those rows; it runs at every start and from
``billbook partitions``. SQLite keeps one plain table: nothing here runs there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store import dialect

PARENT = "billing_records"
DEFAULT = "billing_records_default"
#: Months made ahead of the current one (as pg_partman's default premake): few, since every month
#: is planned for by every query that cannot prune; more come at each start or `billbook partitions`.
AHEAD_MONTHS = 4
#: Months made before the current one: a charge back-dated up to a year lands in its own month.
BACK_MONTHS = 12
#: Months before this one never get a partition of their own: their records (back-dated far into
#: the past) stay in the default partition.
FLOOR = "2000-01"
_NAME = re.compile(r"^billing_records_p(\d{4})(\d{2})$")


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    @classmethod
    def parse(cls, value: str) -> Month:
        """``YYYY-MM``; ``ValueError`` naming the expected form otherwise."""
        found = re.fullmatch(r"(\d{4})-(\d{2})", value)
        if not found or not 1 <= int(found[2]) <= 12:
            raise ValueError(f"expected a month as YYYY-MM, got {value!r}")
        return cls(int(found[1]), int(found[2]))

    @classmethod
    def of_ms(cls, ms: int) -> Month:
        at = datetime.fromtimestamp(ms / 1000, tz=UTC)
        return cls(at.year, at.month)

    def plus(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    @property
    def start_ms(self) -> int:
        return int(datetime(self.year, self.month, 1, tzinfo=UTC).timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        """The first millisecond of the next month (partition bounds are half-open)."""
        return self.plus(1).start_ms

    @property
    def table(self) -> str:
        return f"billing_records_p{self.year:04d}{self.month:02d}"

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def month_of_table(name: str) -> Month | None:
    found = _NAME.match(name)
    return Month(int(found[1]), int(found[2])) if found else None


async def months(conn: AsyncConnection) -> list[Month]:
    """The months that have a partition, oldest first."""
    rows = await conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = :parent"
        ),
        {"parent": PARENT},
    )
    return sorted(m for (name,) in rows if (m := month_of_table(name)) is not None)


async def create_month(conn: AsyncConnection, month: Month) -> int:
    """Give ``month`` its partition; rows of that month waiting in the default partition move into
    it in this transaction. Returns how many moved.

    The new table is filled before it is attached: attaching checks that the default partition
    holds no row of the month any more, and the month's rows are never out of the table."""
    low, high = month.start_ms, month.end_ms
    await conn.execute(text(f"CREATE TABLE {month.table} (LIKE {PARENT} INCLUDING DEFAULTS)"))
    moved = await conn.execute(
        text(
            f"WITH moved AS (DELETE FROM {DEFAULT} WHERE created_at >= {low} AND created_at < {high} RETURNING *)"
            f" INSERT INTO {month.table} SELECT * FROM moved"
        )
    )
    await conn.execute(
        text(f"ALTER TABLE {PARENT} ATTACH PARTITION {month.table} FOR VALUES FROM ({low}) TO ({high})")
    )
    return int(moved.rowcount or 0)


async def _default_has_rows(conn: AsyncConnection) -> bool:
    found = await conn.execute(
        text(f"SELECT 1 FROM {DEFAULT} WHERE created_at >= :floor LIMIT 1"), {"floor": Month.parse(FLOOR).start_ms}
    )
    return found.first() is not None


async def _default_months(conn: AsyncConnection) -> list[Month]:
    rows = await conn.execute(
        text(f"SELECT DISTINCT created_at / 86400000 AS day FROM {DEFAULT} WHERE created_at >= :floor"),
        {"floor": Month.parse(FLOOR).start_ms},
    )
    return sorted({Month.of_ms(int(day) * 86_400_000) for (day,) in rows})


async def make_months(conn: AsyncConnection, first: Month, last: Month) -> list[Month]:
    """Give every month from ``first`` to ``last`` that has none its partition (a bulk load makes
    its range first, so that its rows go straight into their months). Returns the months made."""
    have = set(await months(conn))
    made = []
    month = first
    while month <= last:
        if month not in have:
            await create_month(conn, month)
            made.append(month)
        month = month.plus(1)
    return made


async def maintain(conn: AsyncConnection, now_ms: int, ahead: int = AHEAD_MONTHS, back: int = BACK_MONTHS) -> list[Month]:
    """Make the partitions of this month, ``back`` months before it and ``ahead`` months after it,
    and of every month with records in the default partition (from ``FLOOR`` on). Returns the
    months made.

    Takes the table's exclusive lock for the few statements it runs (writers wait, readers of
    other transactions too); at start, or from a scheduled ``billbook partitions``."""
    if not dialect.partitioned_records(conn):
        return []
    current = Month.of_ms(now_ms)
    ahead_months = {current.plus(i) for i in range(-back, ahead + 1)}
    if ahead_months <= set(await months(conn)) and not await _default_has_rows(conn):
        return []  # the usual start: nothing to make, and no lock taken
    await conn.execute(text(f"LOCK TABLE {PARENT} IN SHARE ROW EXCLUSIVE MODE"))
    have = set(await months(conn))
    made = sorted((ahead_months | set(await _default_months(conn))) - have)
    for month in made:
        await create_month(conn, month)
    return made
