"""Every difference between SQLite and PostgreSQL that the queries see, in one place.

The rest of ``store/`` asks this module and never tests a dialect's name itself. The differences:

1. **Engines and transactions** (``store.db``, not here): SQLite runs in WAL mode with a write
   engine whose transactions start with ``BEGIN IMMEDIATE`` behind an in-process lock and a read
   engine of plain deferred transactions; PostgreSQL has one pooled asyncpg engine whose
   transactions are begun by hand (``store.pg_transaction``), reads ``REPEATABLE READ READ ONLY``
   with their planner settings in the same message, JIT off; behind a transaction-mode pooler the statement caches are off
   (``fetch`` below then prepares unnamed statements in the transaction); reads that may lag go
   to replicas (``store.replicas``).
2. **Row locks**: ``SELECT … FOR UPDATE`` locks rows on PostgreSQL; SQLAlchemy renders nothing on
   SQLite, where the write transaction already holds the database's write lock. Queries write
   ``with_for_update()`` and get the right thing on both.
3. **Inserts that handle a conflict** (``ON CONFLICT DO …``) are built from each dialect's own
   ``insert`` construct: ``insert_for``.
4. **A list as one parameter**: ``column = ANY(:array)`` on PostgreSQL (one parameter and one
   cached plan however long the list), ``column IN (…)`` on SQLite: ``one_of`` (values bound now)
   and ``among`` (a named parameter of a statement built once).
5. **Many rows in one statement**: on PostgreSQL the rows travel as one typed array per column and
   ``unnest`` expands them (``INSERT … SELECT``, ``UPDATE … FROM``: one round trip); SQLite, in
   process, runs the one-row statement as ``executemany``: ``many_rows_insert``, ``many_rows``
   and ``execute_many``; ``insert_returning`` for inserts that report the ids they made.
6. **The larger of two values**: ``greatest`` on PostgreSQL, the two-argument ``max`` on SQLite.
7. **Hot reads** (authentication, search, balance): on PostgreSQL a statement is compiled once to
   asyncpg's ``$n`` SQL and run on the transaction's own asyncpg connection, skipping SQLAlchemy's
   per-execution result machinery (a third of the CPU of a search); on SQLite it runs through
   SQLAlchemy: ``fetch``.
8. **Integer keys** (``store.tables.BigId``): 64-bit on PostgreSQL; SQLite's rowid alias must be
   declared ``INTEGER`` to autoincrement.
9. **Window functions and ``UPDATE … FROM``** (``billbook verify``, migrations) need SQLite 3.33 or
   newer; PostgreSQL has both.
10. **Partitioned history**: on PostgreSQL ``billing_records`` is partitioned by month
   (``store.partitions``); a unique constraint there would have to include ``created_at``, so the
   idempotency keys live in the unpartitioned ``billing_record_keys`` and lookups by reference or
   order go through it; a record is fetched by ``(created_at, id)`` so that one partition is read.
   SQLite keeps one table with its unique constraints: ``partitioned_records``.
11. **Search of account names** (the operator's accounts list): a name holding the query anywhere,
   in any case, by trigrams: on PostgreSQL ``lower(name) LIKE`` through a ``pg_trgm`` GIN index
   (``ix_accounts_name_trgm``; a GIN index is read by bitmap scans only, which read transactions
   otherwise leave off, so ``bitmap_scans`` turns them on around the search); on SQLite the FTS5
   table ``accounts_name_fts`` (``trigram`` tokenizer, which folds case) kept in step with
   ``accounts`` by triggers, asked with a phrase. A query shorter than a trigram matches names
   starting with it, by the index on ``lower(name)``, compared by code point (``COLLATE "C"`` on
   PostgreSQL, SQLite's own binary order): ``name_matches``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Executable, Integer, Select, Table, and_, any_, bindparam, cast, extract, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from billbook.store.pg_transaction import driver

T = TypeVar("T")

POSTGRESQL = "postgresql"
SQLITE = "sqlite"
_PG = postgresql.dialect()


def name(conn: AsyncConnection) -> str:
    """``"sqlite"`` or ``"postgresql"``: part of the key of statements built once per dialect."""
    return conn.dialect.name


def partitioned_records(conn: AsyncConnection) -> bool:
    """Whether ``billing_records`` is partitioned, with its unique keys in ``billing_record_keys``."""
    return name(conn) == POSTGRESQL


def insert_for(dialect: str, table: Table) -> Any:
    """The dialect's ``insert`` construct, which has ``on_conflict_do_*``."""
    return (sqlite if dialect == SQLITE else postgresql).insert(table)


def greatest(dialect: str) -> Any:
    """The SQL function returning the larger of its arguments."""
    return func.max if dialect == SQLITE else func.greatest


# --- a list as one parameter ----------------------------------------------------------------------


def one_of(conn: AsyncConnection, column: Any, values: Collection[Any]) -> ColumnElement[bool]:
    """``column`` is one of ``values`` (bound now; a 1,000-charge batch is still one parameter on
    PostgreSQL)."""
    if name(conn) == POSTGRESQL:
        return column == any_(bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(list(values))


def among(dialect: str, column: Any, parameter: str) -> ColumnElement[bool]:
    """``column`` is one of the list passed later as ``parameter``, for statements built once."""
    if dialect == POSTGRESQL:
        return column == any_(bindparam(parameter, type_=postgresql.ARRAY(column.type)))
    return column.in_(bindparam(parameter, expanding=True))


# --- many rows in one statement -------------------------------------------------------------------


def unnest_source(columns: Mapping[str, Any]) -> Select:
    """``SELECT unnest(:a) AS a, unnest(:b) AS b, …`` (PostgreSQL): a whole list of rows as one
    array parameter per column (``columns`` maps names to SQL types), read back in lockstep."""
    return select(
        *(func.unnest(bindparam(c, type_=postgresql.ARRAY(sql_type))).label(c) for c, sql_type in columns.items())
    )


def many_rows(dialect: str, columns: Mapping[str, Any]) -> Any:
    """The rows of an ``execute_many`` as a FROM source with one column per name (``columns`` maps
    names to SQL types): the arrays expanded on PostgreSQL, one row of named parameters on SQLite."""
    if dialect == POSTGRESQL:
        return unnest_source(columns).subquery("rows")
    return select(*(bindparam(c, type_=sql_type).label(c) for c, sql_type in columns.items())).subquery("rows")


def many_rows_insert(dialect: str, table: Table, columns: Sequence[str]) -> Any:
    """``INSERT`` of the rows of an ``execute_many`` into ``columns`` of ``table`` (the dialect's
    construct, so ``on_conflict_do_*`` can follow)."""
    statement = insert_for(dialect, table)
    if dialect == POSTGRESQL:
        return statement.from_select(list(columns), unnest_source({c: table.c[c].type for c in columns}))
    return statement.values({c: bindparam(c) for c in columns})


async def execute_many(conn: AsyncConnection, statement: Executable, rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Run a statement built by ``many_rows_insert`` or over ``many_rows`` once for all ``rows``:
    one array per column on PostgreSQL, ``executemany`` on SQLite."""
    if not rows:
        return
    if name(conn) == POSTGRESQL:
        await conn.execute(statement, {c: [row[c] for row in rows] for c in columns})
    else:
        await conn.execute(statement, [{c: row[c] for c in columns} for row in rows])


@lru_cache
def _unnest_insert_sql(table: Table, columns: tuple[str, ...], returning: tuple[str, ...], skip_conflicts_on: str | None) -> str:
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
    rows: Sequence[Mapping[str, Any]],
    returning: tuple[str, ...],
    *,
    skip_conflicts_on: str | None = None,
) -> list[tuple[Any, ...]]:
    """Insert ``rows`` (mappings with the same keys) and return the ``returning`` columns of each
    row inserted. Ids are taken in the order of ``rows``; the result's order is not promised. With
    ``skip_conflicts_on``, rows that collide on that unique column are skipped instead of failing
    the transaction."""
    if not rows:
        return []
    columns = tuple(rows[0])
    if name(conn) == POSTGRESQL:
        sql = _unnest_insert_sql(table, columns, returning, skip_conflicts_on)
        arrays = [[row[c] for row in rows] for c in columns]
        return [tuple(r) for r in await driver(conn).fetch(sql, *arrays)]
    statement = insert_for(SQLITE, table)
    if skip_conflicts_on:
        statement = statement.on_conflict_do_nothing(index_elements=[skip_conflicts_on])
    statement = statement.returning(*(table.c[c] for c in returning))
    return [tuple(r) for r in await conn.execute(statement, [dict(row) for row in rows])]


# --- hot reads ------------------------------------------------------------------------------------

#: Keyed by the statement object itself (kept alive here, so no other statement can take its
#: identity); statements come from a finite set of shapes, so this stays small.
_compiled: dict[Any, tuple[str, tuple[str, ...], dict[str, Any]] | None] = {}


def _compiled_once(conn: AsyncConnection, statement: Any) -> tuple[str, tuple[str, ...], dict[str, Any]] | None:
    """The statement's SQL, parameter order and defaults for this connection's dialect, compiled
    once; ``None`` where the SQL is only final once the parameters are known (an expanding ``IN``)."""
    key = (statement, name(conn))
    if key not in _compiled:
        compiled = statement.compile(dialect=conn.dialect)
        sql = str(compiled)
        _compiled[key] = None if "POSTCOMPILE" in sql else (sql, tuple(compiled.positiontup or ()), dict(compiled.params))
    return _compiled[key]


async def fetch(conn: AsyncConnection, statement: Executable, params: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    """Rows of ``statement`` (built once and kept: its compiled form is cached) as mappings of
    column name to value, run on the driver's own connection: asyncpg's ``fetch`` on PostgreSQL, the
    ``sqlite3`` cursor on SQLite (which runs on the event loop's thread, see ``sqlite_loop``)."""
    found = _compiled_once(conn, statement)
    if found is None:
        return list((await conn.execute(statement, dict(params))).mappings())
    sql, names, defaults = found
    values = [params[n] if n in params else defaults[n] for n in names]
    raw = driver(conn)
    if name(conn) == POSTGRESQL:
        return await raw.fetch(sql, *values)
    cursor = raw.execute(sql, values)
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


async def fetch_rows(conn: AsyncConnection, statement: Executable, params: Mapping[str, Any], row: Callable[..., T]) -> list[T]:
    """``fetch``, each row made by ``row`` from the driver's row positionally: the statement selects
    ``row``'s fields in order (a named tuple's), so no mapping is built per row."""
    found = _compiled_once(conn, statement)
    if found is None:
        return [row(**mapping) for mapping in (await conn.execute(statement, dict(params))).mappings()]
    sql, names, defaults = found
    values = [params[n] if n in params else defaults[n] for n in names]
    raw = driver(conn)
    rows = await raw.fetch(sql, *values) if name(conn) == POSTGRESQL else raw.execute(sql, values).fetchall()
    return [row(*r) for r in rows]


# --- calendar -------------------------------------------------------------------------------------


def utc_month(conn: AsyncConnection, ms: Any) -> ColumnElement[int]:
    """The UTC month (``YYYYMM`` as an integer) of epoch milliseconds ``ms``, computed in SQL."""
    seconds = ms // 1000
    if name(conn) == POSTGRESQL:
        return cast(func.to_char(func.timezone("UTC", func.to_timestamp(seconds)), "YYYYMM"), Integer)
    return cast(func.strftime("%Y%m", seconds, "unixepoch"), Integer)


def utc_month_start_day(conn: AsyncConnection, day: Any) -> ColumnElement[int]:
    """The first UTC day (days since the epoch) of the month holding ``day``, computed in SQL: the
    day less its day of the month, plus one."""
    seconds = day * 86_400
    if name(conn) == POSTGRESQL:
        day_of_month = cast(extract("day", func.timezone("UTC", func.to_timestamp(seconds))), Integer)
    else:
        day_of_month = cast(func.strftime("%d", seconds, "unixepoch"), Integer)
    return day - day_of_month + 1


# --- search of account names ---------------------------------------------------------------------

#: Characters of a trigram: shorter queries match names by their start.
TRIGRAM = 3
#: The SQLite FTS5 table of account names (rowid = ``accounts.id``), made by migration 0012.
NAME_FTS = "accounts_name_fts"


def _like_escaped(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _lowered(dialect_name: str, name_column: Any) -> Any:
    lowered = func.lower(name_column)
    return lowered.collate("C") if dialect_name == POSTGRESQL else lowered


def name_matches(dialect_name: str, id_column: Any, name_column: Any, query: str) -> ColumnElement[bool]:
    """``name_column`` holds ``query`` anywhere (any case); under ``TRIGRAM`` characters, starts with it."""
    lowered = query.lower()
    if len(query) < TRIGRAM:
        column = _lowered(dialect_name, name_column)
        after = lowered[:-1] + chr(min(ord(lowered[-1]) + 1, 0x10FFFF))
        return and_(column >= lowered, column < after, func.lower(name_column).like(f"{_like_escaped(lowered)}%", escape="\\"))
    if dialect_name == POSTGRESQL:
        return func.lower(name_column).like(f"%{_like_escaped(lowered)}%", escape="\\")
    phrase = '"' + query.replace('"', '""') + '"'
    found = text(f"SELECT rowid FROM {NAME_FTS} WHERE {NAME_FTS} MATCH :name_phrase").bindparams(name_phrase=phrase)
    return id_column.in_(found.columns(rowid=Integer))


@asynccontextmanager
async def bitmap_scans(conn: AsyncConnection) -> AsyncIterator[None]:
    """Bitmap scans allowed for the statements inside (PostgreSQL: the trigram index's only way in),
    then as they were (read transactions keep them off)."""
    if name(conn) != POSTGRESQL:
        yield
        return
    before = (await conn.execute(text("SHOW enable_bitmapscan"))).scalar_one()
    await conn.execute(text("SET LOCAL enable_bitmapscan = on"))
    try:
        yield
    finally:
        await conn.execute(text(f"SET LOCAL enable_bitmapscan = {'on' if before == 'on' else 'off'}"))
