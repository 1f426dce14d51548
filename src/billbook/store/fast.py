"""Hot read paths (authentication, search, balance) executed with as little per-query work as possible.

Their statements are built once per shape with named bind parameters. On PostgreSQL each is
compiled once to asyncpg's ``$n`` SQL and run on the transaction's own asyncpg connection, skipping
SQLAlchemy's per-execution result machinery (a third of the CPU of a search); on SQLite they run
through SQLAlchemy as usual.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Executable
from sqlalchemy.ext.asyncio import AsyncConnection

#: Keyed by the statement object itself (kept alive here, so no other statement can take its
#: identity); statements come from a finite set of shapes, so this stays small.
_compiled: dict[tuple[Any, str], tuple[str, tuple[str, ...], dict[str, Any]]] = {}


def _compile(conn: AsyncConnection, statement: Any) -> tuple[str, tuple[str, ...], dict[str, Any]]:
    key = (statement, conn.dialect.name)
    found = _compiled.get(key)
    if found is None:
        compiled = statement.compile(dialect=conn.dialect)
        found = (str(compiled), tuple(compiled.positiontup or ()), dict(compiled.params))
        _compiled[key] = found
    return found


async def fetch(conn: AsyncConnection, statement: Executable, params: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """Rows of ``statement`` (built once and kept: its compiled form is cached)."""
    if conn.dialect.name != "postgresql":
        return list((await conn.execute(statement, dict(params))).mappings())
    sql, names, defaults = _compile(conn, statement)
    raw = (await conn.get_raw_connection()).driver_connection
    return await raw.fetch(sql, *(params[n] if n in params else defaults[n] for n in names))
