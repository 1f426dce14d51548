"""Multi-row inserts that return what they created, fast on both databases.

On PostgreSQL the rows travel as one typed array per column and are expanded by ``unnest`` in a
single ``INSERT … SELECT`` (one round trip, one prepared statement, no per-row parameter work).
SQLite, in-process, takes SQLAlchemy's ``executemany`` with ``RETURNING``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store.upsert import insert_for

_PG = postgresql.dialect()


@lru_cache
def _unnest_sql(table: Table, columns: tuple[str, ...], returning: tuple[str, ...], skip_conflicts_on: str | None) -> str:
    types = [table.c[c].type.compile(dialect=_PG) for c in columns]
    arrays = ", ".join(f"${i}::{t}[]" for i, t in enumerate(types, start=1))
    conflict = f" ON CONFLICT ({skip_conflicts_on}) DO NOTHING" if skip_conflicts_on else ""
    return (
        f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"
        f"{conflict} RETURNING {', '.join(returning)}"
    )


async def insert_returning(
    conn: AsyncConnection,
    table: Table,
    rows: Sequence[dict],
    returning: tuple[str, ...],
    *,
    skip_conflicts_on: str | None = None,
) -> list[tuple[Any, ...]]:
    """Insert ``rows`` (dicts with the same keys) and return the ``returning`` columns of each row
    inserted, in no promised order. With ``skip_conflicts_on``, rows that collide on that unique
    column are skipped instead of failing the transaction."""
    if not rows:
        return []
    columns = tuple(rows[0])
    if conn.dialect.name == "postgresql":
        raw = await conn.get_raw_connection()
        sql = _unnest_sql(table, columns, returning, skip_conflicts_on)
        arrays = [[row[c] for row in rows] for c in columns]
        return [tuple(r) for r in await raw.driver_connection.fetch(sql, *arrays)]
    statement = insert_for(conn, table)
    if skip_conflicts_on:
        statement = statement.on_conflict_do_nothing(index_elements=[skip_conflicts_on])
    statement = statement.returning(*(table.c[c] for c in returning))
    return [tuple(r) for r in await conn.execute(statement, list(rows))]


def unnest_source(columns: dict[str, Any]) -> Any:
    """``SELECT unnest(:a) AS a, unnest(:b) AS b, …`` (PostgreSQL): a whole list of rows as one
    array parameter per column (``columns`` maps names to SQL types), read back in lockstep."""
    return select(
        *(func.unnest(bindparam(name, type_=postgresql.ARRAY(sql_type))).label(name) for name, sql_type in columns.items())
    )


def as_arrays(rows: Sequence[dict], columns: Iterable[str]) -> dict[str, list]:
    """Rows as one list per column, the parameters of an ``unnest_source``."""
    return {c: [row[c] for row in rows] for c in columns}
